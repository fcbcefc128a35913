//! Audit evidence that holds against someone with write access to the database: each event's
//! hash chains it to its stream's previous one ([`chain`]); a [`checkpoint`] signs the Merkle
//! root ([`merkle`]) over every stream's head with a key kept outside the database; an
//! [`export`] carries one stream's events and the proof of its head, for an offline check.
//!
//! No I/O and no database here: the service writes and reads the files, an auditor's tool
//! needs only this crate (or the README's Python) and the public key.

pub mod chain;
pub mod checkpoint;
pub mod export;
pub mod merkle;

pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// Why evidence does not hold.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("malformed evidence: {0}")]
    Format(String),
    #[error("signed by {0}, not by the trusted key")]
    UntrustedKey(String),
    #[error("the checkpoint's signature does not verify")]
    BadSignature,
    #[error("the heads do not make the signed Merkle root")]
    RootMismatch,
    #[error("event {sequence} does not chain onto the events before it")]
    Chain { sequence: i64 },
    #[error("event {sequence} is not the head the checkpoint signed")]
    HeadMismatch { sequence: i64 },
}

/// A public key from its hex form (what `audit key` prints).
pub fn verifying_key(hex_key: &str) -> Result<VerifyingKey, EvidenceError> {
    let bytes = checkpoint::decode::<32>("the public key", hex_key.trim())?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| EvidenceError::Format("not an Ed25519 public key".into()))
}
