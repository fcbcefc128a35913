//! Every failure code a batch or one of its assets can carry (`failureCode` of a batch,
//! `errorCode` of an asset in API.md §3–§4), spelled in one place.

use std::fmt;

/// A stable failure code. The batch-level ones are [`FailureCode::BATCH`]; the others belong
/// to one asset (or, for the upload checks, to one file of a refused completion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureCode {
    /// The uploads were not completed within the upload window and its grace.
    UploadExpired,
    /// No result arrived within the job timeout, and no attempt is left.
    JobTimeout,
    /// The job finished with at least one failed asset.
    AssetsFailed,
    /// The pipeline reported the job itself as failed (also each asset it left waiting).
    PipelineFailed,
    /// A finished job reported nothing for this asset.
    MissingOutput,
    /// No object was uploaded for the file.
    Missing,
    /// The object's size is not the manifest's.
    SizeMismatch,
    /// The object's SHA-256 is not the manifest's.
    ChecksumMismatch,
    /// The object store could not be read.
    StorageError,
    /// Not a media format the pipeline processes.
    UnsupportedMedia,
    /// More pixels, or more decode memory, than the pipeline allows.
    ImageTooLarge,
    /// A missing, truncated or broken image.
    DecodeFailed,
}

impl FailureCode {
    /// The codes a whole batch fails with.
    pub const BATCH: [Self; 4] = [
        Self::UploadExpired,
        Self::JobTimeout,
        Self::AssetsFailed,
        Self::PipelineFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UploadExpired => "UPLOAD_EXPIRED",
            Self::JobTimeout => "JOB_TIMEOUT",
            Self::AssetsFailed => "ASSETS_FAILED",
            Self::PipelineFailed => "PIPELINE_FAILED",
            Self::MissingOutput => "MISSING_OUTPUT",
            Self::Missing => "MISSING",
            Self::SizeMismatch => "SIZE_MISMATCH",
            Self::ChecksumMismatch => "CHECKSUM_MISMATCH",
            Self::StorageError => "STORAGE_ERROR",
            Self::UnsupportedMedia => "UNSUPPORTED_MEDIA",
            Self::ImageTooLarge => "IMAGE_TOO_LARGE",
            Self::DecodeFailed => "DECODE_FAILED",
        }
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
