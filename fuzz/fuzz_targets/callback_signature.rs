//! The pipeline callback's signature check (API.md §6), which runs on unauthenticated input
//! before anything else looks at the request.
//!
//! Input: the `X-Toq-Timestamp` value, a newline, the `X-Toq-Signature` value, a newline, then
//! the raw body; a header whose line is missing (or is not UTF-8, as the HTTP layer would not
//! give it to us as text) is absent. The oracle is the contract written out independently of
//! `verify`: accepted exactly when the timestamp is within the window, the header is at most
//! `MAX_HEADER_BYTES` of at most `MAX_CANDIDATES` comma-separated items each `v1=` and 64 hex
//! characters (else `Malformed`), and one of them is the HMAC we compute here.
#![no_main]

use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use toq_signing::callback::{
    MAX_CANDIDATES, MAX_HEADER_BYTES, SignatureError, WINDOW_SECONDS, sign, verify,
};

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

fn well_formed(header: &str) -> bool {
    let items: Vec<&str> = header.split(',').map(str::trim).collect();
    header.len() <= MAX_HEADER_BYTES
        && items.len() <= MAX_CANDIDATES
        && items.iter().all(|item| {
            item.strip_prefix("v1=")
                .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        })
}

/// What `verify` must answer for a header, given whether the timestamp is fresh.
fn expected(fresh: bool, header: &str, want: &str) -> Result<(), SignatureError> {
    let carried = header.split(',').any(|part| {
        part.trim()
            .strip_prefix("v1=")
            .is_some_and(|h| h.eq_ignore_ascii_case(want))
    });
    match (fresh, well_formed(header), carried) {
        (false, _, _) => Err(SignatureError::Stale),
        (true, false, _) => Err(SignatureError::Malformed),
        (true, true, true) => Ok(()),
        (true, true, false) => Err(SignatureError::Invalid),
    }
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
    let fresh = in_window(timestamp);
    assert_eq!(
        verdict,
        expected(fresh, signature, &want),
        "timestamp {timestamp:?}, signature {signature:?}"
    );

    // A sender that signs this very body is accepted, also next to another well-formed
    // candidate (a header carries two while a secret is rotated).
    let good = sign(SECRET, timestamp, body);
    assert_eq!(good, format!("v1={want}"));
    assert_eq!(
        verify(SECRET, Some(timestamp), Some(&good), body, NOW),
        expected(fresh, &good, &want)
    );
    let both = format!("{signature},{good}");
    assert_eq!(
        verify(SECRET, Some(timestamp), Some(&both), body, NOW),
        expected(fresh, &both, &want),
        "signature {both:?}"
    );
});
