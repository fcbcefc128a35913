//! The messages a commit must publish, written in the same transaction as its events.

use aggregates::AssetStatus;
use serde_json::Value;
use toq_contract::job::{JobAsset, JobMessage};
use toq_contract::listing::MediaReady;

use crate::batch::{AssetRow, BatchRow, JobRow};

pub use toq_contract::job::PROCESSING_JOB;
pub use toq_contract::listing::{LISTING_STATUS_CHANGED, MEDIA_READY};

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub topic: &'static str,
    pub payload: Value,
}

/// The job message of the batch's newest job: the assets it must process.
pub(crate) fn job(batch: &BatchRow, assets: &[AssetRow], jobs: &[JobRow]) -> OutboxMessage {
    let job = jobs.last().expect("a job was just added");
    let message = JobMessage {
        job_id: job.job_id,
        batch_id: batch.batch_id,
        listing_identity_id: batch.listing_id,
        attempt: job.attempt,
        assets: assets
            .iter()
            .filter(|a| a.status == AssetStatus::Uploaded)
            .map(|a| JobAsset {
                client_id: a.client_id.clone(),
                sequence: a.sequence,
                asset_type: a.asset_type,
                content_type: a.content_type.clone(),
                raw_key: a.raw_key.clone(),
                bytes: a.bytes,
                checksum: a.checksum,
            })
            .collect(),
        traceparent: None,
    };
    OutboxMessage {
        topic: PROCESSING_JOB,
        payload: serde_json::to_value(message).expect("a message serializes"),
    }
}

pub(crate) fn media_ready(batch: &BatchRow) -> OutboxMessage {
    let ready = MediaReady {
        listing_identity_id: batch.listing_id,
        batch_id: batch.batch_id,
        attempt: batch.attempt,
    };
    OutboxMessage {
        topic: MEDIA_READY,
        payload: serde_json::to_value(ready).expect("a message serializes"),
    }
}
