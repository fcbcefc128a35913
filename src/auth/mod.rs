//! Who is calling: HS256 JWTs for people, a shared token for the platform, an HMAC for the
//! processing pipeline.

pub mod jwt;
/// The callback signature lives in `toq-signing`, which the fuzz targets build on their own.
pub use toq_signing::callback as signature;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Photographer,
    Owner,
    Admin,
    Auditor,
}

impl Role {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "photographer" => Some(Self::Photographer),
            "owner" => Some(Self::Owner),
            "admin" => Some(Self::Admin),
            "auditor" => Some(Self::Auditor),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Photographer => "photographer",
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Auditor => "auditor",
        }
    }
}

/// An authenticated person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: u64,
    pub role: Role,
}

/// Equality for shared secrets whose timing tells nothing, not even the secret's length: both
/// sides are hashed to 32 bytes first, and the digests compared in constant time.
pub fn same_secret(given: &[u8], secret: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    bool::from(Sha256::digest(given).ct_eq(&Sha256::digest(secret)))
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn only_the_same_bytes_are_the_same_secret() {
        let secret = b"0123456789abcdef0123456789abcdef";
        assert!(same_secret(secret, secret));
        assert!(!same_secret(&secret[..31], secret));
        assert!(!same_secret(b"", secret));
        assert!(!same_secret(b"0123456789abcdef0123456789abcdeF", secret));
        assert!(!same_secret(&[secret.as_slice(), b"0"].concat(), secret));
    }
}
