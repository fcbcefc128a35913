//! Why a media batch refused a command. Each refusal has the stable code of API.md.

use serde::Serialize;

use crate::manifest::FieldError;
use crate::media_batch::failure::FailureCode;
use crate::values::ClientId;

/// One confirmed upload that does not match its manifest entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadProblem {
    pub client_id: ClientId,
    /// `MISSING`, `SIZE_MISMATCH` or `CHECKSUM_MISMATCH`.
    pub problem: FailureCode,
    pub expected_bytes: u64,
    pub actual_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaBatchError {
    #[error("the request has {} invalid field(s)", .0.len())]
    Invalid(Vec<FieldError>),
    /// A result names renditions outside the batch's own keys (another listing's, batch's or
    /// attempt's objects): refused whole, as a validation failure with the fields named.
    #[error("{} rendition(s) lie outside this batch's own keys", .0.len())]
    ForeignRendition(Vec<FieldError>),
    #[error("the listing is {status}, not awaiting media")]
    ListingNotAwaitingMedia { status: String },
    #[error("the batch already exists")]
    AlreadyRequested,
    #[error("the batch does not exist")]
    NotFound,
    #[error("the batch is {status}, not PENDING_UPLOAD")]
    NotPendingUpload { status: &'static str },
    #[error("the upload window of this batch has expired")]
    UploadExpired,
    #[error("{} upload(s) do not match the manifest", .0.len())]
    UploadMismatch(Vec<UploadProblem>),
    #[error("the batch is {status}; only READY or FAILED batches can be retried")]
    NotTerminal { status: &'static str },
    #[error("there is nothing to retry")]
    NothingToRetry,
    #[error("the batch already used its {max} attempts")]
    RetryLimitReached { max: u32 },
    /// Only a FAILED batch's failed or never-uploaded files can be replaced.
    #[error("{reason}")]
    NotReplaceable {
        reason: String,
        /// The named files that cannot be replaced (empty when the batch is the reason).
        client_ids: Vec<ClientId>,
    },
    #[error("the batch is being processed and cannot be deleted now")]
    Processing,
    #[error("the job is not one of this batch's jobs")]
    UnknownJob,
}

impl MediaBatchError {
    /// The machine code clients see in `error`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) | Self::ForeignRendition(_) => "VALIDATION_FAILED",
            Self::ListingNotAwaitingMedia { .. } => "LISTING_NOT_AWAITING_MEDIA",
            Self::AlreadyRequested => "BATCH_ALREADY_EXISTS",
            Self::NotFound => "BATCH_NOT_FOUND",
            Self::NotPendingUpload { .. } => "BATCH_NOT_PENDING_UPLOAD",
            Self::UploadExpired => FailureCode::UploadExpired.as_str(),
            Self::UploadMismatch(_) => "UPLOAD_MISMATCH",
            Self::NotTerminal { .. } => "BATCH_NOT_TERMINAL",
            Self::NothingToRetry => "NOTHING_TO_RETRY",
            Self::RetryLimitReached { .. } => "RETRY_LIMIT_REACHED",
            Self::NotReplaceable { .. } => "ASSET_NOT_REPLACEABLE",
            Self::Processing => "BATCH_PROCESSING",
            Self::UnknownJob => "JOB_NOT_FOUND",
        }
    }
}
