//! HS256 JSON Web Tokens, and nothing else: any other `alg` (including `none`) is refused. Kept to
//! this small verifier rather than a general JWT crate, whose RSA/EC back-ends this service never
//! uses.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{Caller, Role};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token is not a JWT")]
    Malformed,
    #[error("only HS256 tokens are accepted")]
    Algorithm,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token lives longer than the maximum of {0} seconds")]
    TooLong(i64),
    #[error("the token's claims are invalid: {0}")]
    Claims(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The user id; a number, or a string holding one.
    sub: serde_json::Value,
    role: String,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
}

/// Clocks of the token's issuer and of this server may disagree by this many seconds.
pub const LEEWAY_SECONDS: i64 = 30;

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// Signs a token for `caller` valid until `exp` (unix seconds).
pub fn sign(caller: Caller, exp: i64, secret: &[u8]) -> String {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = Claims {
        sub: caller.user_id.to_string().into(),
        role: caller.role.as_str().to_owned(),
        exp,
        nbf: None,
        iat: None,
    };
    let claims = B64.encode(serde_json::to_vec(&claims).expect("claims serialize"));
    let signing_input = format!("{header}.{claims}");
    let mut m = mac(secret);
    m.update(signing_input.as_bytes());
    format!("{signing_input}.{}", B64.encode(m.finalize().into_bytes()))
}

/// Verifies signature, algorithm and the time claims (`now` in unix seconds, with
/// [`LEEWAY_SECONDS`] either way on `exp`, `nbf` and `iat`), and returns the caller. A token
/// may live at most `max_lifetime` seconds, counted from its `iat` (or `nbf`, or now): a
/// leaked token must not stay good for years.
pub fn verify(token: &str, secret: &[u8], now: i64, max_lifetime: i64) -> Result<Caller, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: Header = B64
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Malformed)?;
    if header.alg != "HS256" {
        return Err(JwtError::Algorithm);
    }
    let signature = B64.decode(s).map_err(|_| JwtError::Malformed)?;
    let mut m = mac(secret);
    m.update(h.as_bytes());
    m.update(b".");
    m.update(c.as_bytes());
    m.verify_slice(&signature)
        .map_err(|_| JwtError::Signature)?;
    let claims: Claims = B64
        .decode(c)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Malformed)?;
    check_times(&claims, now, max_lifetime)?;
    let user_id = user_id(&claims.sub)
        .ok_or_else(|| JwtError::Claims("sub must be a positive user id in digits".into()))?;
    let role = Role::parse(&claims.role)
        .ok_or_else(|| JwtError::Claims(format!("unknown role {:?}", claims.role)))?;
    Ok(Caller { user_id, role })
}

/// `exp`, `nbf`, `iat` and the lifetime, in 128-bit arithmetic: hostile claims near the ends
/// of `i64` must not overflow.
fn check_times(claims: &Claims, now: i64, max_lifetime: i64) -> Result<(), JwtError> {
    let (now, leeway) = (i128::from(now), i128::from(LEEWAY_SECONDS));
    let exp = i128::from(claims.exp);
    if exp + leeway <= now {
        return Err(JwtError::Expired);
    }
    let future = |t: Option<i64>| t.is_some_and(|t| i128::from(t) > now + leeway);
    if future(claims.nbf) || future(claims.iat) {
        return Err(JwtError::NotYetValid);
    }
    let from = claims.iat.or(claims.nbf).map_or(now, i128::from);
    if exp - from > i128::from(max_lifetime) {
        return Err(JwtError::TooLong(max_lifetime));
    }
    Ok(())
}

/// A positive user id: a JSON integer, or a string of digits in canonical form (no sign, no
/// leading zero, no white space), so that one user has one spelling.
fn user_id(sub: &serde_json::Value) -> Option<u64> {
    match sub {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok().filter(|id: &u64| id.to_string() == *s)
        }
        _ => None,
    }
    .filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret";
    const ME: Caller = Caller {
        user_id: 7,
        role: Role::Photographer,
    };

    fn forge(header: &str, claims: &str, secret: &[u8]) -> String {
        let input = format!("{}.{}", B64.encode(header), B64.encode(claims));
        let mut m = mac(secret);
        m.update(input.as_bytes());
        format!("{input}.{}", B64.encode(m.finalize().into_bytes()))
    }

    const DAY: i64 = 86_400;

    #[test]
    fn a_signed_token_verifies() {
        assert_eq!(verify(&sign(ME, 1000, SECRET), SECRET, 999, DAY), Ok(ME));
    }

    #[test]
    fn expired_wrong_key_and_tampered_tokens_are_refused() {
        let token = sign(ME, 1000, SECRET);
        assert_eq!(
            verify(&token, SECRET, 1029, DAY),
            Ok(ME),
            "within the leeway"
        );
        assert_eq!(verify(&token, SECRET, 1030, DAY), Err(JwtError::Expired));
        assert_eq!(verify(&token, b"other", 0, DAY), Err(JwtError::Signature));
        let admin = B64.encode(br#"{"sub":"7","role":"admin","exp":1000}"#);
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = &admin;
        assert_eq!(
            verify(&parts.join("."), SECRET, 0, DAY),
            Err(JwtError::Signature)
        );
    }

    #[test]
    fn not_before_issued_at_and_the_lifetime_are_honoured() {
        let claims = |extra: &str| {
            forge(
                r#"{"alg":"HS256"}"#,
                &format!(r#"{{"sub":7,"role":"photographer",{extra}}}"#),
                SECRET,
            )
        };
        let at = |token: &str, now| verify(token, SECRET, now, DAY);
        let early = claims(r#""exp":5000,"nbf":2000"#);
        assert_eq!(at(&early, 1969), Err(JwtError::NotYetValid));
        assert_eq!(at(&early, 1970), Ok(ME), "within the leeway");
        let from_the_future = claims(r#""exp":5000,"iat":2000"#);
        assert_eq!(at(&from_the_future, 1969), Err(JwtError::NotYetValid));
        let a_year = claims(&format!(r#""exp":{},"iat":1000"#, 1000 + 365 * DAY));
        assert_eq!(at(&a_year, 1000), Err(JwtError::TooLong(DAY)));
        let no_iat = claims(&format!(r#""exp":{}"#, 1001 + DAY));
        assert_eq!(at(&no_iat, 1000), Err(JwtError::TooLong(DAY)));
        assert_eq!(at(&no_iat, 1001), Ok(ME));
        for extreme in [
            format!(r#""exp":{},"iat":{}"#, i64::MAX, i64::MIN),
            format!(r#""exp":{},"nbf":{}"#, i64::MIN, i64::MAX),
        ] {
            assert!(at(&claims(&extreme), 1000).is_err(), "{extreme}");
        }
    }

    #[test]
    fn other_algorithms_and_none_are_refused() {
        let claims = r#"{"sub":7,"role":"admin","exp":9999999999}"#;
        let none = format!(
            "{}.{}.",
            B64.encode(r#"{"alg":"none"}"#),
            B64.encode(claims)
        );
        assert_eq!(verify(&none, SECRET, 0, DAY), Err(JwtError::Algorithm));
        let hs512 = forge(r#"{"alg":"HS512"}"#, claims, SECRET);
        assert_eq!(verify(&hs512, SECRET, 0, DAY), Err(JwtError::Algorithm));
    }

    #[test]
    fn claims_must_name_a_user_and_a_known_role() {
        let bad_role = forge(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":7,"role":"root","exp":10}"#,
            SECRET,
        );
        assert!(matches!(
            verify(&bad_role, SECRET, 0, DAY),
            Err(JwtError::Claims(_))
        ));
        for sub in [
            r#""abc""#, r#""+12""#, r#""012""#, r#"" 12""#, r#""12 ""#, "12.0", "-12", r#""0""#,
        ] {
            let odd = forge(
                r#"{"alg":"HS256"}"#,
                &format!(r#"{{"sub":{sub},"role":"owner","exp":10}}"#),
                SECRET,
            );
            assert!(
                matches!(verify(&odd, SECRET, 0, DAY), Err(JwtError::Claims(_))),
                "{sub}"
            );
        }
        let numeric = forge(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":12,"role":"owner","exp":10}"#,
            SECRET,
        );
        assert_eq!(
            verify(&numeric, SECRET, 0, DAY),
            Ok(Caller {
                user_id: 12,
                role: Role::Owner
            })
        );
        for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(
                verify(junk, SECRET, 0, DAY),
                Err(JwtError::Malformed),
                "{junk:?}"
            );
        }
    }
}
