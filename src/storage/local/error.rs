//! Why the local store refused an upload, with the API's code and status for each reason.

use std::io;

use crate::storage::signing::SignatureError;

/// Why an upload was refused. `code()` is the stable `error` of the API error body.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("the URL was signed for Content-Type {signed:?}, the request sent {sent:?}")]
    ContentTypeMismatch {
        signed: String,
        sent: Option<String>,
    },
    #[error("the URL was signed for exactly {signed} bytes, the body has more")]
    TooLong { signed: u64 },
    #[error("the URL was signed for exactly {signed} bytes, the body has {received}")]
    SizeMismatch { signed: u64, received: u64 },
    #[error("the body's SHA-256 is {received}, the URL was signed for {signed}")]
    ChecksumMismatch { signed: String, received: String },
    #[error("the request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error("the key {0:?} is not a storable object key")]
    InvalidKey(String),
    #[error("the object store failed: {0}")]
    Storage(#[from] io::Error),
}

impl UploadError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Signature(SignatureError::Expired(_)) => "SIGNATURE_EXPIRED",
            Self::Signature(_) => "SIGNATURE_INVALID",
            Self::ContentTypeMismatch { .. } => "CONTENT_TYPE_MISMATCH",
            Self::TooLong { .. } | Self::SizeMismatch { .. } => "SIZE_MISMATCH",
            Self::ChecksumMismatch { .. } => "CHECKSUM_MISMATCH",
            Self::BodyUnreadable(_) => "BODY_UNREADABLE",
            Self::InvalidKey(_) => "INVALID_KEY",
            Self::Storage(_) => "STORAGE_ERROR",
        }
    }

    /// The HTTP status: 403 when the URL does not authorise the request, 400 when the request
    /// does not match what it authorises, 500 when the disk failed.
    pub fn status(&self) -> u16 {
        match self {
            Self::Signature(_) => 403,
            Self::Storage(_) => 500,
            _ => 400,
        }
    }
}
