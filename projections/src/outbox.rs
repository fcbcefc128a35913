//! The messages a commit must publish, written in the same transaction as its events.

use aggregates::AssetStatus;
use serde_json::{Value, json};

use crate::batch::{AssetRow, BatchRow, JobRow};

/// Topic of the processing job (API.md §6), for the job queue.
pub const PROCESSING_JOB: &str = "processing.job";
/// Internal: the listing of a READY batch moves to owner approval.
pub const MEDIA_READY: &str = "listing.media_ready";
/// For the platform: a listing's status changed.
pub const LISTING_STATUS_CHANGED: &str = "listing.status_changed";

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub topic: &'static str,
    pub payload: Value,
}

/// The job message of the batch's newest job: the assets it must process.
pub(crate) fn job(batch: &BatchRow, assets: &[AssetRow], jobs: &[JobRow]) -> OutboxMessage {
    let job = jobs.last().expect("a job was just added");
    let assets: Vec<Value> = assets
        .iter()
        .filter(|a| a.status == AssetStatus::Uploaded)
        .map(|a| {
            json!({
                "clientId": a.client_id,
                "sequence": a.sequence,
                "assetType": a.asset_type,
                "contentType": a.content_type,
                "rawKey": a.raw_key,
                "bytes": a.bytes,
                "checksum": a.checksum,
            })
        })
        .collect();
    OutboxMessage {
        topic: PROCESSING_JOB,
        payload: json!({
            "jobId": job.job_id,
            "batchId": batch.batch_id,
            "listingIdentityId": batch.listing_id,
            "attempt": job.attempt,
            "assets": assets,
        }),
    }
}

pub(crate) fn media_ready(batch: &BatchRow) -> OutboxMessage {
    OutboxMessage {
        topic: MEDIA_READY,
        payload: json!({
            "listingIdentityId": batch.listing_id,
            "batchId": batch.batch_id,
            "attempt": batch.attempt,
        }),
    }
}
