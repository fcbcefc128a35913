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
}

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
    };
    let claims = B64.encode(serde_json::to_vec(&claims).expect("claims serialize"));
    let signing_input = format!("{header}.{claims}");
    let mut m = mac(secret);
    m.update(signing_input.as_bytes());
    format!("{signing_input}.{}", B64.encode(m.finalize().into_bytes()))
}

/// Verifies signature, algorithm and expiry (`now` in unix seconds) and returns the caller.
pub fn verify(token: &str, secret: &[u8], now: i64) -> Result<Caller, JwtError> {
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
    if claims.exp <= now {
        return Err(JwtError::Expired);
    }
    let user_id = match &claims.sub {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|id| *id > 0)
    .ok_or_else(|| JwtError::Claims("sub must be a positive user id".into()))?;
    let role = Role::parse(&claims.role)
        .ok_or_else(|| JwtError::Claims(format!("unknown role {:?}", claims.role)))?;
    Ok(Caller { user_id, role })
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

    #[test]
    fn a_signed_token_verifies() {
        assert_eq!(verify(&sign(ME, 1000, SECRET), SECRET, 999), Ok(ME));
    }

    #[test]
    fn expired_wrong_key_and_tampered_tokens_are_refused() {
        let token = sign(ME, 1000, SECRET);
        assert_eq!(verify(&token, SECRET, 1000), Err(JwtError::Expired));
        assert_eq!(verify(&token, b"other", 0), Err(JwtError::Signature));
        let admin = B64.encode(br#"{"sub":"7","role":"admin","exp":1000}"#);
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = &admin;
        assert_eq!(
            verify(&parts.join("."), SECRET, 0),
            Err(JwtError::Signature)
        );
    }

    #[test]
    fn other_algorithms_and_none_are_refused() {
        let claims = r#"{"sub":7,"role":"admin","exp":9999999999}"#;
        let none = format!(
            "{}.{}.",
            B64.encode(r#"{"alg":"none"}"#),
            B64.encode(claims)
        );
        assert_eq!(verify(&none, SECRET, 0), Err(JwtError::Algorithm));
        let hs512 = forge(r#"{"alg":"HS512"}"#, claims, SECRET);
        assert_eq!(verify(&hs512, SECRET, 0), Err(JwtError::Algorithm));
    }

    #[test]
    fn claims_must_name_a_user_and_a_known_role() {
        let bad_role = forge(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":7,"role":"root","exp":10}"#,
            SECRET,
        );
        assert!(matches!(
            verify(&bad_role, SECRET, 0),
            Err(JwtError::Claims(_))
        ));
        let no_user = forge(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":"abc","role":"owner","exp":10}"#,
            SECRET,
        );
        assert!(matches!(
            verify(&no_user, SECRET, 0),
            Err(JwtError::Claims(_))
        ));
        let numeric = forge(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":12,"role":"owner","exp":10}"#,
            SECRET,
        );
        assert_eq!(
            verify(&numeric, SECRET, 0),
            Ok(Caller {
                user_id: 12,
                role: Role::Owner
            })
        );
        for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(
                verify(junk, SECRET, 0),
                Err(JwtError::Malformed),
                "{junk:?}"
            );
        }
    }
}
