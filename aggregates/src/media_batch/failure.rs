//! Every failure code a batch or one of its assets can carry (`failureCode` of a batch,
//! `errorCode` of an asset in API.md §3–§4), spelled in one place.

use crate::wire::wire_enum;

wire_enum! {
    /// A stable failure code. The batch-level ones are [`FailureCode::BATCH`]; the others belong
    /// to one asset (or, for the upload checks, to one file of a refused completion).
    pub enum FailureCode {
        /// The uploads were not completed within the upload window and its grace.
        UploadExpired = "UPLOAD_EXPIRED",
        /// No result arrived within the job timeout, and no attempt is left.
        JobTimeout = "JOB_TIMEOUT",
        /// The job finished with at least one failed asset.
        AssetsFailed = "ASSETS_FAILED",
        /// The pipeline reported the job itself as failed (also each asset it left waiting).
        PipelineFailed = "PIPELINE_FAILED",
        /// A finished job reported nothing for this asset.
        MissingOutput = "MISSING_OUTPUT",
        /// No object was uploaded for the file.
        Missing = "MISSING",
        /// The object's size is not the manifest's.
        SizeMismatch = "SIZE_MISMATCH",
        /// The object's SHA-256 is not the manifest's.
        ChecksumMismatch = "CHECKSUM_MISMATCH",
        /// The object store could not be read.
        StorageError = "STORAGE_ERROR",
        /// Not a media format the pipeline processes.
        UnsupportedMedia = "UNSUPPORTED_MEDIA",
        /// More pixels, or more decode memory, than the pipeline allows.
        ImageTooLarge = "IMAGE_TOO_LARGE",
        /// A missing, truncated or broken image, video or document.
        DecodeFailed = "DECODE_FAILED",
        /// A video longer than the pipeline allows.
        VideoTooLong = "VIDEO_TOO_LONG",
        /// A document that cannot be opened without a password.
        DocumentEncrypted = "DOCUMENT_ENCRYPTED",
        /// A tool (ffmpeg, pdftoppm) ran past its wall-clock limit and was killed.
        ProcessingTimeout = "PROCESSING_TIMEOUT",
    }
}

impl FailureCode {
    /// The codes a whole batch fails with.
    pub const BATCH: [Self; 4] = [
        Self::UploadExpired,
        Self::JobTimeout,
        Self::AssetsFailed,
        Self::PipelineFailed,
    ];
}
