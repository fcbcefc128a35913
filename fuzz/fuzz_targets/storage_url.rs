//! The local object store's signed URLs: `Signer::verify` is all that stands between anyone
//! holding (or guessing at) a URL and the store's files.
//!
//! Input: one request line, `GET <key as it arrived after /storage/>?<raw query>` (or `PUT`).
//! The seeds are URLs signed with `SECRET`, valid at `NOW`, so that mutations start from the
//! accepting path. Oracle: whatever verifies is, byte for byte, the query the signer issues for
//! that key and grant (one spelling per grant is what keeps proxies from reading a different
//! request than we checked), and every key the store could be asked for survives signing.
#![no_main]

use aggregates::ObjectKey;
use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use toq_signing::url::{Grant, Method, Signer, encode_key, percent_decode};

const SECRET: &[u8] = b"fuzz storage secret";
const NOW: i64 = 1_763_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Some((method, target)) = line.split_once(' ') else {
        return;
    };
    let method = match method {
        "GET" => Method::Get,
        "PUT" => Method::Put,
        _ => return,
    };
    let (encoded_key, query) = target.split_once('?').unwrap_or((target, ""));
    let signer = Signer::new(SECRET);
    let now = DateTime::from_timestamp(NOW, 0).unwrap();

    if let Ok(signed) = signer.verify(method, encoded_key, query, now) {
        let expires = signed.expires_at.timestamp();
        let reissued = match (&signed.grant, method) {
            (Grant::Download, Method::Get) => signer.sign_get(&signed.key, expires),
            (Grant::Upload(terms), Method::Put) => signer.sign_put(&signed.key, expires, terms),
            (grant, _) => panic!("{grant:?} granted to a {method:?}"),
        };
        assert_eq!(reissued, query);
        assert_eq!(
            percent_decode(encoded_key).as_deref(),
            Ok(signed.key.as_str())
        );
        assert!(signed.expires_at > now);
    }

    // Any key that parses can be signed for and verifies as itself, however odd its characters:
    // otherwise a stored object could become unreachable through its own download URL.
    if let Some(key) = percent_decode(encoded_key)
        .ok()
        .and_then(|k| ObjectKey::parse(&k).ok())
    {
        let query = signer.sign_get(&key, NOW + 60);
        let signed = signer.verify(Method::Get, &encode_key(&key), &query, now);
        assert_eq!(signed.map(|s| s.key), Ok(key));
    }
});
