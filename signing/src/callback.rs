//! The pipeline callback's signature: `X-Toq-Signature: v1=<hex HMAC-SHA256(secret, timestamp +
//! "." + raw body)>` with `X-Toq-Timestamp` within ±300 s, checked before the body is parsed.
//!
//! The check runs on unauthenticated input, so its cost must not depend on what the sender
//! puts in the header: the header's shape is checked first (a few `v1=` items of exactly 64
//! hex characters, a bounded length), and the MAC over the body is computed once, whatever
//! the number of candidates.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const WINDOW_SECONDS: i64 = 300;
/// Candidates one header may carry: the current secret's and, while a secret is rotated,
/// the previous one's, with room to spare.
pub const MAX_CANDIDATES: usize = 4;
/// Longer headers are refused unread: four items of `v1=` and 64 hex characters, commas and
/// some white space fit well within it.
pub const MAX_HEADER_BYTES: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("X-Toq-Timestamp and X-Toq-Signature are required")]
    Missing,
    #[error("the timestamp is not within {WINDOW_SECONDS} seconds of the server's clock")]
    Stale,
    #[error(
        "X-Toq-Signature must be 1 to {MAX_CANDIDATES} comma-separated items `v1=` and 64 hex \
         characters, at most {MAX_HEADER_BYTES} bytes"
    )]
    Malformed,
    #[error("the signature does not match the body")]
    Invalid,
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The header value a sender puts in `X-Toq-Signature`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    format!(
        "v1={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Stale)?;
    // `abs_diff`: a claimed timestamp near i64::MIN must not overflow the distance.
    if now.abs_diff(at) > WINDOW_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let candidates = candidates(signature)?;
    let tag: [u8; 32] = mac(secret, timestamp, body).finalize().into_bytes().into();
    // Every candidate is compared, in constant time, so the answer's timing says nothing
    // about which one came close.
    let matched = candidates
        .iter()
        .fold(0u8, |any, c| any | c.ct_eq(&tag).unwrap_u8());
    if matched == 1 {
        Ok(())
    } else {
        Err(SignatureError::Invalid)
    }
}

/// The header's `v1=` MACs, or `Malformed` before any of them is hashed against the body.
fn candidates(header: &str) -> Result<Vec<[u8; 32]>, SignatureError> {
    if header.len() > MAX_HEADER_BYTES {
        return Err(SignatureError::Malformed);
    }
    let items: Vec<&str> = header.split(',').map(str::trim).collect();
    if items.len() > MAX_CANDIDATES {
        return Err(SignatureError::Malformed);
    }
    items
        .into_iter()
        .map(|item| {
            let mut out = [0u8; 32];
            item.strip_prefix("v1=")
                .filter(|h| h.len() == 64)
                .and_then(|h| hex::decode_to_slice(h, &mut out).ok())
                .map(|()| out)
                .ok_or(SignatureError::Malformed)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_bodies_verify_within_the_window_only() {
        let sig = sign(b"k", "1000", b"{}");
        assert_eq!(verify(b"k", Some("1000"), Some(&sig), b"{}", 1300), Ok(()));
        assert_eq!(
            verify(b"k", Some("1000"), Some(&sig), b"{}", 1301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(b"k", Some("1000"), Some(&sig), b"{} ", 1000),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(b"x", Some("1000"), Some(&sig), b"{}", 1000),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(b"k", Some("1001"), Some(&sig), b"{}", 1000),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(b"k", None, Some(&sig), b"{}", 1000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(b"k", Some("soon"), Some(&sig), b"{}", 1000),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn rotation_candidates_verify_and_malformed_headers_are_refused_unhashed() {
        let good = sign(b"k", "1000", b"{}");
        let other = sign(b"old", "1000", b"{}");
        let ok = |h: &str| verify(b"k", Some("1000"), Some(h), b"{}", 1000);
        assert_eq!(ok(&format!("{other}, {good}")), Ok(()));
        assert_eq!(
            ok(&format!("{other},{other}")),
            Err(SignatureError::Invalid)
        );
        assert_eq!(ok(&good.to_uppercase().replace("V1=", "v1=")), Ok(()));
        let five = [other.as_str(); 4].join(",") + "," + &good;
        for bad in [
            "",
            "v1=",
            "v1=abc",
            "v2=00",
            &good[..good.len() - 1],
            &format!("{good}0"),
            &format!("{good},"),
            &five,
            &format!("{good}{}", " ".repeat(MAX_HEADER_BYTES)),
            &format!("v1={}", "zz".repeat(32)),
        ] {
            assert_eq!(ok(bad), Err(SignatureError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn thirty_thousand_empty_candidates_are_refused_by_shape() {
        let header = format!("v1={}", ",v1=".repeat(30_000));
        let verdict = verify(b"k", Some("1000"), Some(&header), &[b'x'; 1 << 20], 1000);
        assert_eq!(verdict, Err(SignatureError::Malformed));
    }

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        let now = 1_763_000_000;
        for at in [i64::MIN, now - i64::MAX - 1, i64::MAX] {
            let ts = at.to_string();
            let sig = sign(b"k", &ts, b"{}");
            assert_eq!(
                verify(b"k", Some(&ts), Some(&sig), b"{}", now),
                Err(SignatureError::Stale),
                "{ts}"
            );
        }
    }
}
