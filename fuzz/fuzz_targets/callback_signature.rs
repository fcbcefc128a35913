//! The pipeline callback's signature check (API.md §6), which runs on unauthenticated input
//! before anything else looks at the request.
//!
//! Input: the `X-Toq-Timestamp` value, a newline, the `X-Toq-Signature` value, a newline, then
//! the raw body; a header whose line is missing (or is not UTF-8, as the HTTP layer would not
//! give it to us as text) is absent. The oracle is the contract written out independently of
//! `verify`: accepted exactly when the timestamp is within the window and some comma-separated
//! element of the header is `v1=` and the HMAC we compute here.
#![no_main]

use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use toq_signing::callback::{SignatureError, WINDOW_SECONDS, sign, verify};

const SECRET: &[u8] = b"fuzz callback secret";
/// A fixed clock, so that a crash reproduces; the seeds carry timestamps near it.
const NOW: i64 = 1_763_000_000;

fn expected_hex(timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn in_window(timestamp: &str) -> bool {
    // `abs_diff`: the distance must not overflow, whatever the sender claims.
    let at = timestamp.trim().parse::<i64>();
    at.is_ok_and(|at| at.abs_diff(NOW) <= WINDOW_SECONDS.unsigned_abs())
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let timestamp = lines.next().and_then(|l| std::str::from_utf8(l).ok());
    let signature = lines.next().and_then(|l| std::str::from_utf8(l).ok());
    let body = lines.next().unwrap_or_default();

    let verdict = verify(SECRET, timestamp, signature, body, NOW);
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        assert_eq!(verdict, Err(SignatureError::Missing));
        return;
    };
    let want = expected_hex(timestamp, body);
    let carried = signature.split(',').any(|part| {
        part.trim()
            .strip_prefix("v1=")
            .is_some_and(|h| h.eq_ignore_ascii_case(&want))
    });
    let expected = match (in_window(timestamp), carried) {
        (false, _) => Err(SignatureError::Stale),
        (true, true) => Ok(()),
        (true, false) => Err(SignatureError::Invalid),
    };
    assert_eq!(
        verdict, expected,
        "timestamp {timestamp:?}, signature {signature:?}"
    );

    // A sender that signs this very body is accepted, also next to whatever else the header
    // held (it may carry several `v1=` values, as while a secret is rotated).
    let good = sign(SECRET, timestamp, body);
    assert_eq!(good, format!("v1={want}"));
    let fresh = if in_window(timestamp) {
        Ok(())
    } else {
        Err(SignatureError::Stale)
    };
    assert_eq!(
        verify(SECRET, Some(timestamp), Some(&good), body, NOW),
        fresh
    );
    let both = format!("{signature},{good}");
    assert_eq!(
        verify(SECRET, Some(timestamp), Some(&both), body, NOW),
        fresh
    );
});
