//! The bodies of the audit, internal, pipeline and health routes (see `mod.rs`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ops::history::Entry;

// ---- GET /batches/{batch_id}/events ----

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// RFC 3339: only the events up to this moment, and the batch as it stood then.
    #[param(format = DateTime)]
    pub as_of: Option<String>,
    /// `true`: instead, the batch's verifiable export (`toq-media-export/1`: its events, the
    /// latest signed checkpoint and the Merkle proof of its head), checkable offline with
    /// `toq-media audit check` or the README's script. An export carries every event: `asOf`
    /// does not apply to it.
    pub proof: Option<bool>,
}

// ---- GET /audit/key ----

/// The key audit checkpoints are signed with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"algorithm": "Ed25519",
    "publicKey": "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"}))]
pub struct AuditKey {
    pub algorithm: &'static str,
    /// 32 bytes, lowercase hex.
    pub public_key: String,
}

/// Every event of the batch in order, and the state they lead to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"asOf": null, "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "deleted": false,
    "status": "PENDING_UPLOAD",
    "events": [{"sequence": 1, "type": "Requested", "version": "1", "occurredAt": "2025-11-11T14:00:05.120Z",
        "actor": {"userId": "7", "role": "photographer"}, "requestId": "0193a5b2-7c3a-7000-8000-000000000001",
        "statusAfter": "PENDING_UPLOAD",
        "payload": {"Requested": {"batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "listingId": 123,
            "batchReference": "2025-11-11T14:00Z-slot-123", "files": []}}}]}))]
pub struct BatchEvents {
    pub as_of: Option<DateTime<Utc>>,
    pub batch_id: String,
    pub deleted: bool,
    pub events: Vec<Entry>,
    /// The batch status after the last listed event; null when there is none.
    pub status: Option<&'static str>,
}

/// The history, or with `proof=true` the export (`toq-media-export/1`), which carries no
/// `batchId` and is told apart by its `format`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchHistory {
    Events(BatchEvents),
    Export(Box<toq_evidence::export::Export>),
}

// ---- PUT /internal/listings/{listing_id} ----

/// The platform's facts about a listing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"status": "PENDING_PHOTO_PROCESSING", "ownerUserId": 12, "photographerUserId": 7,
    "projectMedia": false}))]
pub struct ListingRequest {
    /// The platform's listing status by name, e.g. `PENDING_PHOTO_PROCESSING`.
    #[schema(required = true, nullable = false, pattern = "^[A-Z_]{1,64}$")]
    pub status: Option<String>,
    #[schema(required = true, nullable = false, minimum = 1)]
    #[serde(default, deserialize_with = "aggregates::json_int::opt_u64")]
    pub owner_user_id: Option<u64>,
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "aggregates::json_int::opt_u64")]
    pub photographer_user_id: Option<u64>,
    /// Whether the owner may upload project media (default false).
    pub project_media: Option<bool>,
}

// ---- GET /internal/cleanup/candidates ----

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CleanupQuery {
    /// RFC 3339; batches last changed before it (default: now).
    #[param(format = DateTime)]
    pub before: Option<String>,
    /// 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"before": "2025-11-12T00:00:00.000Z", "candidates": [{
    "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "listingIdentityId": 123, "status": "FAILED",
    "reason": "UPLOAD_EXPIRED", "updatedAt": "2025-11-11T14:40:00.000Z",
    "objectKeys": ["123/raw/photo/horizontal/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/01-photo-1-IMG_2907.jpg"]}]}))]
pub struct CleanupCandidates {
    pub before: String,
    pub candidates: Vec<CleanupCandidate>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CleanupCandidate {
    pub batch_id: String,
    pub listing_identity_id: u64,
    /// Raw and rendition keys.
    pub object_keys: Vec<String>,
    /// `DELETED` or `UPLOAD_EXPIRED`.
    pub reason: &'static str,
    pub status: &'static str,
    pub updated_at: String,
}

// ---- POST /callback ----

/// The result body is the pipeline contract's (API.md §6), shared by the callback, the results
/// queue and the built-in worker.
pub use aggregates::AssetOutput;
pub use toq_contract::result::CallbackBody;

/// The result was recorded, or was a duplicate or for an older attempt and changed nothing.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "accepted"}))]
pub struct CallbackAccepted {
    pub status: &'static str,
}

// ---- /healthz, /readyz ----

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    pub status: &'static str,
}

/// `ready` with the database and its migration count, or `not ready` with the reason.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"database": "sqlite", "migrations": 2, "status": "ready"}))]
pub struct Readiness {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrations: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub status: &'static str,
}
