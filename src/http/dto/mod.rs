//! The request and response bodies of every route (API.md), defined once: the handlers read and
//! write these types and `openapi.rs` describes the same types, so code and document cannot drift.
//!
//! Request fields are `Option`s so that every missing or broken field is reported in one 422
//! (`VALIDATION_FAILED`) instead of a 400 for the first one; `#[schema(required)]` marks what
//! the contract requires. Responses that used to be `json!` bodies keep their fields in
//! alphabetical order, the order `json!` wrote them in, so their bytes did not change.

use std::collections::BTreeMap;

use aggregates::{RawConfirmedFile, RawFile, RawManifest};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

mod ops;
pub use ops::*;

/// `reason`: what the schema states of the 1–500 characters after trimming.
fn reason() -> utoipa::openapi::Object {
    aggregates::openapi::trimmed(500, true)
}

fn one_of(values: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::Type::String,
            utoipa::openapi::Type::Null,
        ]))
        .enum_values(Some(values.iter().copied().map(Some).chain([None])))
        .build()
}

fn scope() -> utoipa::openapi::Object {
    let names: Vec<&str> = aggregates::RetryScope::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    one_of(&names)
}

fn resolution() -> utoipa::openapi::Object {
    one_of(&crate::http::input::RESOLUTIONS)
}

/// Every non-2xx body (API.md, Conventions).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"code": 422, "error": "VALIDATION_FAILED", "message": "1 field(s) are invalid",
    "details": {"errors": [{"field": "files[3].checksum", "message": "must be 64 hex characters or base64 of 32 bytes"}]}}))]
pub struct ErrorBody {
    /// The HTTP status again.
    pub code: u16,
    /// `{"errors": [FieldError]}` for `VALIDATION_FAILED`; `{"files": [{clientId, problem,
    /// expectedBytes, actualBytes}]}` for `UPLOAD_MISMATCH`; `{"batchId"}` for
    /// `OPEN_BATCH_EXISTS`; otherwise `{}`.
    #[schema(value_type = Object)]
    pub details: Value,
    /// The stable machine code, e.g. `VALIDATION_FAILED`.
    pub error: &'static str,
    pub message: String,
}

/// The refusals every JSON route of a caller with a token can answer (API.md, Conventions),
/// documented once and listed in each route's `responses(...)` beside its own.
#[derive(utoipa::IntoResponses)]
pub enum JsonRefusals {
    #[response(status = 400, description = "`INVALID_JSON`")]
    InvalidJson(ErrorBody),
    #[response(status = 401, description = "`UNAUTHORIZED`")]
    Unauthorized(ErrorBody),
    #[response(status = 413, description = "`PAYLOAD_TOO_LARGE`")]
    PayloadTooLarge(ErrorBody),
    #[response(status = 500, description = "`INTERNAL`")]
    Internal(ErrorBody),
}

// ---- POST /uploads ----

/// A new batch: the listing and the manifest of its files.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"listingIdentityId": 123, "batchReference": "2025-11-11T14:00Z-slot-123",
    "files": [{"clientId": "photo-1", "assetType": "PHOTO_HORIZONTAL", "orientation": "HORIZONTAL",
        "filename": "IMG_2907.jpg", "contentType": "image/jpeg", "bytes": 5242880,
        "checksum": "4ee0c4b2e3f1a0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5", "title": "Sala social",
        "sequence": 1, "metadata": {"room": "living"}}]}))]
pub struct CreateBatchRequest {
    #[schema(
        required = true,
        nullable = false,
        minimum = 1,
        maximum = 9007199254740991.0
    )]
    #[serde(default, deserialize_with = "aggregates::json_int::opt_u64")]
    pub listing_identity_id: Option<u64>,
    #[serde(flatten)]
    pub manifest: RawManifest,
}

/// The batch and one signed upload per file.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"listingIdentityId": 123, "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "status": "PENDING_UPLOAD", "uploadUrlTtlSeconds": 900, "expiresAt": "2025-11-11T14:15:00.000Z",
    "files": [{"clientId": "photo-1", "sequence": 1,
        "objectKey": "123/raw/photo/horizontal/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/01-photo-1-IMG_2907.jpg",
        "uploadUrl": "https://media.example/storage/123/raw/photo/horizontal/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/01-photo-1-IMG_2907.jpg?X-Toq-Expires=1762870500&X-Toq-Signature=9f2c...",
        "method": "PUT",
        "headers": {"Content-Type": "image/jpeg", "Content-Length": "5242880",
            "x-amz-checksum-sha256": "TuDEsuPxoNnIt6b15NPCsaD56NfGtaTz4tHAuaj35tU="}}]}))]
pub struct BatchCreated {
    pub listing_identity_id: u64,
    pub batch_id: String,
    pub status: &'static str,
    pub upload_url_ttl_seconds: i64,
    /// When the signed URLs expire.
    pub expires_at: String,
    pub files: Vec<UploadTicket>,
}

/// How to upload one file: the signed URL binds method, key, content type, length and checksum.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadTicket {
    pub client_id: String,
    pub sequence: u32,
    pub object_key: String,
    pub upload_url: String,
    pub method: &'static str,
    /// Send exactly these headers with the upload.
    pub headers: BTreeMap<String, String>,
}

// ---- POST /uploads/complete ----

/// Confirms the uploads: each `clientId` of the manifest exactly once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"listingIdentityId": 123, "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "files": [{"clientId": "photo-1",
        "objectKey": "123/raw/photo/horizontal/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/01-photo-1-IMG_2907.jpg",
        "bytes": 5242880, "checksum": "4ee0c4b2e3f1a0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5",
        "etag": "\"4ee0c4b2\""}]}))]
pub struct CompleteRequest {
    #[schema(
        required = true,
        nullable = false,
        minimum = 1,
        maximum = 9007199254740991.0
    )]
    #[serde(default, deserialize_with = "aggregates::json_int::opt_u64")]
    pub listing_identity_id: Option<u64>,
    #[schema(required = true, nullable = false, format = Uuid)]
    pub batch_id: Option<String>,
    #[schema(required = true, nullable = false, min_items = 1)]
    pub files: Option<Vec<RawConfirmedFile>>,
}

/// The uploads matched the manifest; processing is queued.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"listingIdentityId": 123, "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "jobId": "0193a5b3-1a2b-7c3d-8e4f-5a6b7c8d9e0f", "status": "RECEIVED", "estimatedDurationSeconds": 132}))]
pub struct UploadsReceived {
    pub listing_identity_id: u64,
    pub batch_id: String,
    pub job_id: String,
    pub status: &'static str,
    /// Derived from the files' count and size.
    pub estimated_duration_seconds: u64,
}

// ---- POST /uploads/replace ----

/// New uploads for the files of a FAILED batch that failed or never arrived: manifest entries
/// as in `POST /uploads`, each with the `clientId` and `sequence` of the file it replaces.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"listingIdentityId": 123, "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "files": [{"clientId": "photo-1", "assetType": "PHOTO_HORIZONTAL", "filename": "IMG_2907.jpg",
        "contentType": "image/jpeg", "bytes": 5242880,
        "checksum": "4ee0c4b2e3f1a0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5", "sequence": 1}]}))]
pub struct ReplaceRequest {
    #[schema(
        required = true,
        nullable = false,
        minimum = 1,
        maximum = 9007199254740991.0
    )]
    #[serde(default, deserialize_with = "aggregates::json_int::opt_u64")]
    pub listing_identity_id: Option<u64>,
    #[schema(required = true, nullable = false, format = Uuid)]
    pub batch_id: Option<String>,
    #[schema(required = true, nullable = false, min_items = 1, max_items = 60)]
    pub files: Option<Vec<RawFile>>,
}

// ---- POST /uploads/retry ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"listingIdentityId": 123, "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "reason": "renditions were too dark", "scope": "ALL"}))]
pub struct RetryRequest {
    #[schema(
        required = true,
        nullable = false,
        minimum = 1,
        maximum = 9007199254740991.0
    )]
    #[serde(default, deserialize_with = "aggregates::json_int::opt_u64")]
    pub listing_identity_id: Option<u64>,
    #[schema(required = true, nullable = false, format = Uuid)]
    pub batch_id: Option<String>,
    /// 1–500 characters after trimming.
    #[schema(required = true, schema_with = reason)]
    pub reason: Option<String>,
    /// `FAILED_ONLY` (default) or `ALL`; on a READY batch only `ALL` reprocesses anything.
    #[schema(schema_with = scope)]
    pub scope: Option<String>,
}

/// A new attempt is queued.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"listingIdentityId": 123, "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "jobId": "0193a5c0-0b1c-7d2e-9f3a-4b5c6d7e8f90", "attempt": 2, "status": "RECEIVED"}))]
pub struct RetryAccepted {
    pub listing_identity_id: u64,
    pub batch_id: String,
    pub job_id: String,
    pub attempt: u32,
    pub status: &'static str,
}

// ---- POST /status ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"listingIdentityId": 123, "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"}))]
pub struct StatusRequest {
    #[schema(
        required = true,
        nullable = false,
        minimum = 1,
        maximum = 9007199254740991.0
    )]
    #[serde(default, deserialize_with = "aggregates::json_int::opt_u64")]
    pub listing_identity_id: Option<u64>,
    #[schema(required = true, nullable = false, format = Uuid)]
    pub batch_id: Option<String>,
}

/// A batch, its current job and its assets sorted by `sequence`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"listingIdentityId": 123, "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "batchReference": "2025-11-11T14:00Z-slot-123", "status": "PROCESSING", "statusMessage": null,
    "failureCode": null, "attempt": 1, "createdAt": "2025-11-11T14:00:05.120Z",
    "updatedAt": "2025-11-11T14:03:40.002Z", "uploadExpiresAt": "2025-11-11T14:15:05.120Z",
    "progress": {"total": 60, "processed": 42, "failed": 1},
    "job": {"jobId": "0193a5b3-1a2b-7c3d-8e4f-5a6b7c8d9e0f", "status": "RUNNING",
        "createdAt": "2025-11-11T14:02:10.400Z", "startedAt": "2025-11-11T14:02:11.000Z", "completedAt": null},
    "assets": [{"clientId": "photo-1", "sequence": 1, "title": "Sala social", "assetType": "PHOTO_HORIZONTAL",
        "status": "PROCESSED",
        "rawObjectKey": "123/raw/photo/horizontal/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/01-photo-1-IMG_2907.jpg",
        "renditions": {"thumbnail": "123/thumbnail/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/01-photo-1.jpg",
            "large": "123/large/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/01-photo-1.jpg"},
        "width": 4032, "height": 3024, "errorCode": null, "errorMessage": null, "metadata": {"room": "living"}}]}))]
#[schema(as = BatchStatus)]
pub struct StatusReport {
    pub assets: Vec<AssetReport>,
    /// The processing attempt (0 before the uploads are confirmed).
    pub attempt: u32,
    pub batch_id: String,
    pub batch_reference: String,
    pub created_at: String,
    /// Why a FAILED batch failed, e.g. `UPLOAD_EXPIRED`, `JOB_TIMEOUT`.
    pub failure_code: Option<&'static str>,
    pub job: Option<JobReport>,
    pub listing_identity_id: u64,
    pub progress: Progress,
    /// `PENDING_UPLOAD`, `RECEIVED`, `PROCESSING`, `READY` or `FAILED`.
    pub status: &'static str,
    pub status_message: Option<String>,
    pub updated_at: String,
    pub upload_expires_at: String,
    /// The ZIP of the batch's originals, once a job has succeeded.
    pub zip: Option<ZipReport>,
}

/// The batch's ZIP of originals (stored, one entry per asset: `{sequence:02}-{clientId}-{filename}`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZipReport {
    pub bytes: u64,
    pub object_key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Progress {
    pub failed: usize,
    pub processed: usize,
    pub total: usize,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = JobStatus)]
pub struct JobReport {
    pub completed_at: Option<String>,
    pub created_at: String,
    pub job_id: String,
    pub started_at: Option<String>,
    /// `PENDING`, `RUNNING`, `SUCCEEDED` or `FAILED`.
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AssetStatus)]
pub struct AssetReport {
    pub asset_type: &'static str,
    pub client_id: String,
    /// A video's length.
    pub duration_millis: Option<u64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub height: Option<u32>,
    pub metadata: BTreeMap<String, String>,
    /// A document's page count.
    pub page_count: Option<u32>,
    pub raw_object_key: String,
    /// Object keys by size: `thumbnail`, `small`, `medium`, `large`; a video's `web`; the
    /// `original` of what passed through unprocessed.
    pub renditions: BTreeMap<String, String>,
    pub sequence: u32,
    /// `PENDING_UPLOAD`, `UPLOADED`, `PROCESSING`, `PROCESSED` or `FAILED`.
    pub status: &'static str,
    pub title: Option<String>,
    pub width: Option<u32>,
}

// ---- POST /downloads ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"listingIdentityId": 123, "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "resolution": "large"}))]
pub struct DownloadsRequest {
    #[schema(
        required = true,
        nullable = false,
        minimum = 1,
        maximum = 9007199254740991.0
    )]
    #[serde(default, deserialize_with = "aggregates::json_int::opt_u64")]
    pub listing_identity_id: Option<u64>,
    /// Without it, the listing's newest READY batch.
    #[schema(format = Uuid)]
    pub batch_id: Option<String>,
    /// `thumbnail`, `small`, `medium`, `large` (default), `web` (videos' web rendition, other
    /// assets' `large`), `original`, or `zip` (one entry: the batch's ZIP of originals).
    #[schema(schema_with = resolution)]
    pub resolution: Option<String>,
}

/// Signed GET URLs for a READY batch.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"listingIdentityId": 123, "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "generatedAt": "2025-11-11T15:00:00.000Z", "ttlSeconds": 3600,
    "downloads": [{"clientId": "photo-1", "sequence": 1, "assetType": "PHOTO_HORIZONTAL", "title": "Sala social",
        "resolution": "large",
        "url": "https://media.example/storage/123/large/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/01-photo-1.jpg?X-Toq-Expires=1762876800&X-Toq-Signature=5d1e...",
        "expiresAt": "2025-11-11T16:00:00.000Z",
        "previewUrl": "https://media.example/storage/123/thumbnail/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/01-photo-1.jpg?X-Toq-Expires=1762876800&X-Toq-Signature=77ab...",
        "width": 4032, "height": 3024, "metadata": {"room": "living"}}]}))]
pub struct Downloads {
    pub batch_id: String,
    pub downloads: Vec<Download>,
    pub generated_at: String,
    pub listing_identity_id: u64,
    pub ttl_seconds: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Download {
    pub asset_type: &'static str,
    pub client_id: String,
    pub expires_at: String,
    pub height: Option<u32>,
    pub metadata: BTreeMap<String, String>,
    /// The thumbnail's signed URL.
    pub preview_url: Option<String>,
    pub resolution: &'static str,
    pub sequence: u32,
    pub title: Option<String>,
    pub url: String,
    pub width: Option<u32>,
}

// ---- POST /batches/delete ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"listingIdentityId": 123, "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "reason": "uploaded to the wrong listing"}))]
pub struct DeleteRequest {
    #[schema(
        required = true,
        nullable = false,
        minimum = 1,
        maximum = 9007199254740991.0
    )]
    #[serde(default, deserialize_with = "aggregates::json_int::opt_u64")]
    pub listing_identity_id: Option<u64>,
    #[schema(required = true, nullable = false, format = Uuid)]
    pub batch_id: Option<String>,
    /// 1–500 characters after trimming.
    #[schema(required = true, schema_with = reason)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "deleted": true,
    "listingIdentityId": 123}))]
pub struct BatchDeleted {
    pub batch_id: String,
    pub deleted: bool,
    pub listing_identity_id: u64,
}
