//! What may be asked of a media batch. Every command carries `now`: the aggregate reads no clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::manifest::{Manifest, ManifestFile, RawConfirmedFile};
use crate::media_batch::events::RetryScope;
use crate::values::{BatchId, Checksum, ClientId, JobId, ListingId, ListingStatus};
use crate::wire::wire_enum;

#[derive(Debug, Clone, PartialEq)]
pub enum MediaBatchCommand {
    RequestUploads(RequestUploads),
    ConfirmUploads(ConfirmUploads),
    StartProcessing(StartProcessing),
    RecordResult(RecordResult),
    Retry(Retry),
    ReplaceFiles(ReplaceFiles),
    Delete(Delete),
    ExpireUpload(ExpireUpload),
    TimeOutJob(TimeOutJob),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestUploads {
    pub batch_id: BatchId,
    pub listing_id: ListingId,
    /// The listing's status as this service last saw it.
    pub listing_status: ListingStatus,
    pub manifest: Manifest,
    pub upload_ttl: Duration,
    pub now: DateTime<Utc>,
}

/// What the object store holds under a file's raw key, as the caller observed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredObject {
    pub bytes: u64,
    pub checksum: Checksum,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmUploads {
    pub files: Vec<RawConfirmedFile>,
    /// Per confirmed client id, the stored object (`None`: nothing stored under its key).
    pub stored: BTreeMap<ClientId, Option<StoredObject>>,
    pub job_id: JobId,
    /// How long after the upload URLs expire a confirmation is still taken.
    pub grace: Duration,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartProcessing {
    pub job_id: JobId,
    pub now: DateTime<Utc>,
}

wire_enum! {
    /// What a pipeline reports of a job (API.md §6 `status`).
    pub enum ResultStatus {
        Running = "RUNNING",
        Succeeded = "SUCCEEDED",
        Failed = "FAILED",
    }
}

/// One asset's result as a pipeline reported it (API.md §6 `outputs[]`), not yet trusted.
/// One asset's outcome as the pipeline reports it (API.md §6 `outputs[]`): its wire shape is
/// this type's, whichever way the result arrives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = CallbackOutput))]
#[serde(rename_all = "camelCase")]
pub struct AssetOutput {
    pub client_id: String,
    pub raw_key: Option<String>,
    /// Object keys by rendition name (`thumbnail`, `small`, `medium`, `large`, or `original`
    /// for the asset's own raw key), each under
    /// `{listing}/processed/{segment}/{batchId}/{attempt}/`.
    #[serde(default)]
    pub renditions: BTreeMap<String, String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_millis: Option<u64>,
    /// A document's page count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_count: Option<u32>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// The batch's ZIP of originals as the pipeline reports it with `SUCCEEDED` (API.md §6 `zip`),
/// not yet trusted: its key must lie under the attempt's ZIP prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = CallbackZip))]
#[serde(rename_all = "camelCase")]
pub struct ZipOutput {
    pub object_key: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordResult {
    pub job_id: JobId,
    pub attempt: u32,
    pub status: ResultStatus,
    pub outputs: Vec<AssetOutput>,
    /// Only with `SUCCEEDED`; kept when the job takes the batch to READY.
    pub zip: Option<ZipOutput>,
    pub failure_reason: Option<String>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub job_id: JobId,
    pub scope: RetryScope,
    pub reason: String,
    pub max_attempts: u32,
    pub now: DateTime<Utc>,
}

/// New uploads for the files of a FAILED batch that failed or never arrived (API.md §3b).
#[derive(Debug, Clone, PartialEq)]
pub struct ReplaceFiles {
    /// Checked on their own ([`Manifest::parse_replacements`]); the batch checks each against
    /// the file it replaces.
    pub files: Vec<ManifestFile>,
    /// The batch's total after the replacement, the kept files included, stays within this.
    pub max_total_bytes: u64,
    /// The next attempt counts against the same cap as a retry.
    pub max_attempts: u32,
    pub upload_ttl: Duration,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    pub reason: String,
    pub now: DateTime<Utc>,
}

/// Sent by the reconciler: fail the batch if its uploads never completed in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpireUpload {
    pub grace: Duration,
    pub now: DateTime<Utc>,
}

/// Sent by the reconciler: the current job made no progress for `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeOutJob {
    pub timeout: Duration,
    pub max_attempts: u32,
    /// The job of the next attempt, used when one is still allowed.
    pub next_job_id: JobId,
    pub now: DateTime<Utc>,
}
