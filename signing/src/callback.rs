//! The pipeline callback's signature: `X-Toq-Signature: v1=<hex HMAC-SHA256(secret, timestamp +
//! "." + raw body)>` with `X-Toq-Timestamp` within ±300 s, checked before the body is parsed.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const WINDOW_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("X-Toq-Timestamp and X-Toq-Signature are required")]
    Missing,
    #[error("the timestamp is not within {WINDOW_SECONDS} seconds of the server's clock")]
    Stale,
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
    let given = signature
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(|h| hex::decode(h).ok());
    for candidate in given {
        if mac(secret, timestamp, body)
            .verify_slice(&candidate)
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(SignatureError::Invalid)
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
