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

/// Constant-time equality for shared secrets.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
