//! HMAC-SHA256 signed URLs for the local object store.
//!
//! The store has no accounts: whoever holds a URL may do exactly what it was signed for and
//! nothing else. A PUT URL binds the method, the key, the expiry, the Content-Type, the exact
//! length and the SHA-256 of the body, so the bytes the client declared in its manifest are the
//! only bytes the store will accept under that key. A GET URL binds the method, the key and the
//! expiry.
//!
//! The canonical string is the method, the key and the bound values joined with `'\n'`. None of
//! them can contain a newline (keys refuse control characters, the others are digits, hex or a
//! content type checked below), so no two different requests share a canonical string.
//!
//! A URL verifies only in the exact spelling it was issued in: the query is rebuilt from the
//! parsed values and compared byte for byte. Clients use these URLs verbatim, and one spelling
//! per grant means no layer in between can read a parameter differently from us.

use std::fmt::Write as _;

use aggregates::{Checksum, ObjectKey};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const EXPIRES: &str = "X-Toq-Expires";
pub const CONTENT_TYPE: &str = "X-Toq-Content-Type";
pub const LENGTH: &str = "X-Toq-Length";
pub const SHA256: &str = "X-Toq-Sha256";
pub const SIGNATURE: &str = "X-Toq-Signature";

/// The HTTP method a URL is signed for; part of the canonical string, so a download URL can
/// never be replayed as an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Put,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
        }
    }
}

/// What a PUT URL allows to be stored: this content type, exactly this many bytes, this digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTerms {
    pub content_type: String,
    pub bytes: u64,
    pub checksum: Checksum,
}

/// What a verified URL grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Download,
    Upload(UploadTerms),
}

/// A request whose signature, spelling and expiry have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub key: ObjectKey,
    pub expires_at: DateTime<Utc>,
    pub grant: Grant,
}

/// Why a URL does not authorise the request. Only `Expired` is reported for a URL we really
/// issued; the others do not say which part was wrong beyond what the URL itself shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the URL lacks the signed parameter {0}")]
    Missing(&'static str),
    #[error("the signed URL is malformed: {0}")]
    Malformed(String),
    #[error("the signed URL expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("the signature does not match this request")]
    Invalid,
}

fn malformed<T>(why: impl Into<String>) -> Result<T, SignatureError> {
    Err(SignatureError::Malformed(why.into()))
}

/// Signs and verifies URLs with one secret.
#[derive(Clone)]
pub struct Signer {
    /// Keyed once; cloned for each signature.
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { .. }")
    }
}

impl Signer {
    /// Panics on an empty secret: it would let anyone sign, and failing open is never right.
    pub fn new(secret: &[u8]) -> Self {
        assert!(
            !secret.is_empty(),
            "the URL signing secret must not be empty"
        );
        let mac = Hmac::new_from_slice(secret).expect("HMAC accepts keys of any length");
        Self { mac }
    }

    /// The query string of a PUT URL for `key`, valid until `expires` (unix seconds).
    pub fn sign_put(&self, key: &ObjectKey, expires: i64, terms: &UploadTerms) -> String {
        self.sign(Method::Put, key, expires, Some(terms))
    }

    /// The query string of a GET URL for `key`, valid until `expires` (unix seconds).
    pub fn sign_get(&self, key: &ObjectKey, expires: i64) -> String {
        self.sign(Method::Get, key, expires, None)
    }

    fn sign(
        &self,
        method: Method,
        key: &ObjectKey,
        expires: i64,
        terms: Option<&UploadTerms>,
    ) -> String {
        let tag = self.tag(&canonical(method, key, expires, terms));
        spell_query(expires, terms, &hex::encode(tag))
    }

    fn tag(&self, canonical: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(canonical.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Checks a request against its URL: `encoded_key` is the path after `/storage/` as it
    /// arrived (percent-encoded), `query` the raw query string. Checks run in this order:
    /// parameters present and well-formed, exact spelling, signature (constant time), expiry —
    /// so `Expired` is only ever reported for a URL we issued.
    pub fn verify(
        &self,
        method: Method,
        encoded_key: &str,
        query: &str,
        now: DateTime<Utc>,
    ) -> Result<SignedRequest, SignatureError> {
        let key = ObjectKey::parse(&percent_decode(encoded_key)?)
            .or_else(|e| malformed(format!("object key: {e}")))?;
        let params = Params::parse(method, query)?;
        let expires: i64 = params.number(EXPIRES)?;
        let terms = match method {
            Method::Get => None,
            Method::Put => Some(UploadTerms {
                content_type: params.content_type()?,
                bytes: params.number(LENGTH)?,
                checksum: Checksum::parse(params.get(SHA256)?)
                    .or_else(|_| malformed(format!("{SHA256} must be 64 hex characters")))?,
            }),
        };
        let signature = params.get(SIGNATURE)?;
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if signature.len() != 64 || !signature.bytes().all(lower_hex) {
            return malformed(format!("{SIGNATURE} must be 64 lowercase hex characters"));
        }
        if spell_query(expires, terms.as_ref(), signature) != query {
            return malformed("the query is not in the form it was issued in");
        }
        let tag =
            hex::decode(signature).or_else(|_| malformed(format!("{SIGNATURE} is not hex")))?;
        let mut mac = self.mac.clone();
        mac.update(canonical(method, &key, expires, terms.as_ref()).as_bytes());
        mac.verify_slice(&tag)
            .map_err(|_| SignatureError::Invalid)?;
        let expires_at = DateTime::from_timestamp(expires, 0)
            .ok_or_else(|| SignatureError::Malformed(format!("{EXPIRES} is out of range")))?;
        if now >= expires_at {
            return Err(SignatureError::Expired(expires_at));
        }
        let grant = terms.map_or(Grant::Download, Grant::Upload);
        Ok(SignedRequest {
            key,
            expires_at,
            grant,
        })
    }
}

/// The string the signature covers.
fn canonical(method: Method, key: &ObjectKey, expires: i64, terms: Option<&UploadTerms>) -> String {
    let mut out = format!("{}\n{}\n{expires}", method.as_str(), key.as_str());
    if let Some(t) = terms {
        let _ = write!(
            out,
            "\n{}\n{}\n{}",
            t.content_type,
            t.bytes,
            t.checksum.to_hex()
        );
    }
    out
}

/// The one spelling of a signed query: fixed order, every value percent-encoded.
fn spell_query(expires: i64, terms: Option<&UploadTerms>, signature: &str) -> String {
    let mut pairs = vec![(EXPIRES, expires.to_string())];
    if let Some(t) = terms {
        pairs.push((CONTENT_TYPE, t.content_type.clone()));
        pairs.push((LENGTH, t.bytes.to_string()));
        pairs.push((SHA256, t.checksum.to_hex()));
    }
    pairs.push((SIGNATURE, signature.to_owned()));
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        percent_encode_into(&mut out, &value);
    }
    out
}

/// The signed parameters of a query, each present at most once.
struct Params {
    pairs: Vec<(&'static str, String)>,
}

impl Params {
    fn parse(method: Method, query: &str) -> Result<Self, SignatureError> {
        let expected: &[&'static str] = match method {
            Method::Get => &[EXPIRES, SIGNATURE],
            Method::Put => &[EXPIRES, CONTENT_TYPE, LENGTH, SHA256, SIGNATURE],
        };
        let mut pairs: Vec<(&'static str, String)> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(name)?;
            let Some(&known) = expected.iter().find(|e| **e == name) else {
                return malformed(format!(
                    "unexpected parameter {name:?} for a {} URL",
                    method.as_str()
                ));
            };
            if pairs.iter().any(|(n, _)| *n == known) {
                return malformed(format!("{known} appears more than once"));
            }
            pairs.push((known, percent_decode(value)?));
        }
        Ok(Self { pairs })
    }

    fn get(&self, name: &'static str) -> Result<&str, SignatureError> {
        self.pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .ok_or(SignatureError::Missing(name))
    }

    fn number<N: std::str::FromStr>(&self, name: &'static str) -> Result<N, SignatureError> {
        self.get(name)?
            .parse()
            .or_else(|_| malformed(format!("{name} must be an integer")))
    }

    /// A content type is printable ASCII: it goes back out as a header and into the canonical
    /// string, where a newline would blur the field boundaries.
    fn content_type(&self) -> Result<String, SignatureError> {
        let value = self.get(CONTENT_TYPE)?;
        if value.is_empty() || !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return malformed(format!("{CONTENT_TYPE} must be printable ASCII"));
        }
        Ok(value.to_owned())
    }
}

/// Bytes that stand for themselves in a URL (RFC 3986 "unreserved"); everything else is escaped.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn percent_encode_into(out: &mut String, raw: &str) {
    for b in raw.bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// A key as a URL path: each segment percent-encoded, joined by `/`.
pub fn encode_key(key: &ObjectKey) -> String {
    let mut out = String::with_capacity(key.as_str().len());
    for (i, segment) in key.as_str().split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        percent_encode_into(&mut out, segment);
    }
    out
}

/// Decodes `%XX` escapes; other characters pass through, as some are already decoded by the
/// HTTP layer. `+` is literal: these are paths and signed values, not form fields.
pub fn percent_decode(raw: &str) -> Result<String, SignatureError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(b) = hex else {
                return malformed("a percent escape is not two hex digits");
            };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).or_else(|_| malformed("percent escapes do not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_763_000_000;

    fn signer() -> Signer {
        Signer::new(b"test secret, 32 bytes or so.....")
    }
    fn key() -> ObjectKey {
        ObjectKey::parse("123/raw/photo/horizontal/0193a5b2/01-photo-1-IMG 2907+é.jpg").unwrap()
    }
    fn terms() -> UploadTerms {
        UploadTerms {
            content_type: "image/jpeg".into(),
            bytes: 5_242_880,
            checksum: Checksum::from_bytes([7; 32]),
        }
    }
    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(NOW, 0).unwrap()
    }
    fn put_query() -> String {
        signer().sign_put(&key(), NOW + 900, &terms())
    }
    fn verify_put(query: &str) -> Result<SignedRequest, SignatureError> {
        signer().verify(Method::Put, &encode_key(&key()), query, now())
    }
    /// Replaces one parameter's value, keeping the spelling canonical.
    fn with_param(query: &str, name: &str, value: &str) -> String {
        let mut encoded = String::new();
        percent_encode_into(&mut encoded, value);
        query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((n, _)) if n == name => format!("{n}={encoded}"),
                _ => p.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    #[test]
    fn put_roundtrip_returns_the_bound_terms() {
        let signed = verify_put(&put_query()).unwrap();
        assert_eq!(signed.key, key());
        assert_eq!(signed.grant, Grant::Upload(terms()));
        assert_eq!(signed.expires_at.timestamp(), NOW + 900);
    }

    #[test]
    fn get_roundtrip_and_no_crossing_methods() {
        let query = signer().sign_get(&key(), NOW + 60);
        let path = encode_key(&key());
        let signed = signer().verify(Method::Get, &path, &query, now()).unwrap();
        assert_eq!(signed.grant, Grant::Download);
        assert!(signer().verify(Method::Put, &path, &query, now()).is_err());
        assert!(
            signer()
                .verify(Method::Get, &path, &put_query(), now())
                .is_err()
        );
    }

    #[test]
    fn tampering_any_bound_field_is_invalid() {
        let q = put_query();
        for (name, value) in [
            (EXPIRES, (NOW + 901).to_string()),
            (CONTENT_TYPE, "image/png".to_owned()),
            (LENGTH, "5242881".to_owned()),
            (SHA256, Checksum::from_bytes([8; 32]).to_hex()),
        ] {
            let tampered = with_param(&q, name, &value);
            assert_eq!(
                verify_put(&tampered),
                Err(SignatureError::Invalid),
                "{name}"
            );
        }
        let other_key = ObjectKey::parse("123/raw/photo/horizontal/0193a5b2/02-x.jpg").unwrap();
        let moved = signer().verify(Method::Put, &encode_key(&other_key), &q, now());
        assert_eq!(moved, Err(SignatureError::Invalid));
        let other_secret =
            Signer::new(b"another secret").verify(Method::Put, &encode_key(&key()), &q, now());
        assert_eq!(other_secret, Err(SignatureError::Invalid));
    }

    #[test]
    fn expired_only_after_the_signature_checks() {
        let q = signer().sign_put(&key(), NOW - 1, &terms());
        assert!(matches!(verify_put(&q), Err(SignatureError::Expired(_))));
        let at_expiry = signer().sign_put(&key(), NOW, &terms());
        assert!(matches!(
            verify_put(&at_expiry),
            Err(SignatureError::Expired(_))
        ));
        let forged = with_param(&q, LENGTH, "1");
        assert_eq!(verify_put(&forged), Err(SignatureError::Invalid));
    }

    #[test]
    fn missing_unknown_duplicate_and_respelled_parameters_are_refused() {
        let q = put_query();
        let without_sha: Vec<_> = q.split('&').filter(|p| !p.starts_with(SHA256)).collect();
        assert_eq!(
            verify_put(&without_sha.join("&")),
            Err(SignatureError::Missing(SHA256))
        );
        for bad in [
            format!("{q}&extra=1"),
            format!("{q}&{EXPIRES}=1"),
            q.replace("image%2Fjpeg", "image/jpeg"),
            q.replace("%2F", "%2f"),
            with_param(&q, SIGNATURE, &q[q.len() - 64..].to_uppercase()),
        ] {
            assert!(
                matches!(verify_put(&bad), Err(SignatureError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_that_escape_are_malformed() {
        for path in [
            "a/../b",
            "a/%2E%2E/b",
            "..%2Fx",
            "/etc/passwd",
            "a//b",
            "%ZZ",
        ] {
            let r = signer().verify(Method::Put, path, &put_query(), now());
            assert!(matches!(r, Err(SignatureError::Malformed(_))), "{path}");
        }
    }

    #[test]
    fn encoding_roundtrips_every_key() {
        let k = key();
        let encoded = encode_key(&k);
        assert!(
            encoded
                .bytes()
                .all(|b| is_unreserved(b) || b == b'/' || b == b'%')
        );
        assert_eq!(percent_decode(&encoded).unwrap(), k.as_str());
    }

    /// One edit of a query string: replace, insert or delete the character at a position.
    #[derive(Debug, Clone)]
    enum Edit {
        Replace(usize, char),
        Insert(usize, char),
        Delete(usize),
    }

    fn apply(query: &str, edit: &Edit) -> String {
        let mut chars: Vec<char> = query.chars().collect();
        let len = chars.len();
        match *edit {
            Edit::Replace(i, c) => chars[i % len] = c,
            Edit::Insert(i, c) => chars.insert(i % (len + 1), c),
            Edit::Delete(i) => {
                chars.remove(i % len);
            }
        }
        chars.into_iter().collect()
    }

    fn edits() -> impl Strategy<Value = Vec<Edit>> {
        let c = prop_oneof![
            proptest::char::range('!', '~'),
            Just('%'),
            Just('&'),
            Just('='),
            Just('+')
        ];
        let edit = prop_oneof![
            (any::<usize>(), c.clone()).prop_map(|(i, c)| Edit::Replace(i, c)),
            (any::<usize>(), c).prop_map(|(i, c)| Edit::Insert(i, c)),
            any::<usize>().prop_map(Edit::Delete),
        ];
        proptest::collection::vec(edit, 1..4)
    }

    proptest! {
        #[test]
        fn no_modified_query_verifies(edits in edits(), get in any::<bool>()) {
            let (method, query) = if get {
                (Method::Get, signer().sign_get(&key(), NOW + 60))
            } else {
                (Method::Put, put_query())
            };
            let modified = edits.iter().fold(query.clone(), |q, e| apply(&q, e));
            prop_assume!(modified != query);
            let verdict = signer().verify(method, &encode_key(&key()), &modified, now());
            prop_assert!(verdict.is_err(), "{} verified", modified);
        }
    }
}
