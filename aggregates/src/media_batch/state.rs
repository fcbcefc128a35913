//! The state a media batch is rebuilt into from its events, and how each event changes it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::media_batch::events::{AssetOutcome, MediaBatchEvent, RequestedFile};
use crate::values::{BatchId, ClientId, JobId, ListingId, ObjectKey};
use crate::wire::wire_enum;

wire_enum! {
    /// `PENDING_UPLOAD → RECEIVED → PROCESSING → READY | FAILED`, and back to `RECEIVED` on retry.
    pub enum BatchStatus {
        PendingUpload = "PENDING_UPLOAD",
        Received = "RECEIVED",
        Processing = "PROCESSING",
        Ready = "READY",
        Failed = "FAILED",
    }
}

impl BatchStatus {
    /// An open batch blocks new batches for its listing.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::PendingUpload | Self::Received | Self::Processing
        )
    }
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Ready | Self::Failed)
    }
    /// Whether downloads may be served: a READY batch, or one being retried whose last complete
    /// renditions (of the attempt that was READY) stay downloadable until the new attempt ends.
    pub fn serves_downloads(self, ready_attempt: Option<u32>) -> bool {
        self == Self::Ready
            || (ready_attempt.is_some() && matches!(self, Self::Received | Self::Processing))
    }
}

wire_enum! {
    /// An asset's row in the read model (API.md §3 `assets[].status`): `PENDING_UPLOAD`, then
    /// `UPLOADED → PROCESSING → PROCESSED | FAILED`, and back to `UPLOADED` on retry.
    pub enum AssetStatus {
        PendingUpload = "PENDING_UPLOAD",
        Uploaded = "UPLOADED",
        Processing = "PROCESSING",
        Processed = "PROCESSED",
        Failed = "FAILED",
    }
}

impl AssetStatus {
    /// Still waiting for the current job's result.
    pub fn is_unfinished(self) -> bool {
        matches!(self, Self::Uploaded | Self::Processing)
    }
}

wire_enum! {
    /// A processing job's row in the read model: `PENDING → RUNNING → SUCCEEDED | FAILED`.
    pub enum JobStatus {
        Pending = "PENDING",
        Running = "RUNNING",
        Succeeded = "SUCCEEDED",
        Failed = "FAILED",
    }
}

/// Where one asset stands in the current attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AssetProgress {
    /// Not part of the current job (kept from an earlier attempt), or not uploaded yet.
    Idle,
    /// Waiting for a result of the current job.
    Pending,
    Succeeded,
    Failed {
        error_code: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetState {
    pub file: RequestedFile,
    pub progress: AssetProgress,
    /// The newest successful renditions, kept across retries until replaced.
    pub renditions: BTreeMap<String, ObjectKey>,
}

impl AssetState {
    pub fn succeeded(&self) -> bool {
        self.progress == AssetProgress::Succeeded
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub id: BatchId,
    pub listing_id: ListingId,
    pub status: BatchStatus,
    pub deleted: bool,
    pub upload_expires_at: DateTime<Utc>,
    /// In sequence order.
    pub assets: Vec<AssetState>,
    /// Job ids by attempt: `jobs[0]` is attempt 1. Empty until the uploads were confirmed.
    pub jobs: Vec<JobId>,
    /// The last time the current job was created or made progress.
    pub last_progress_at: DateTime<Utc>,
    /// How many times failed files were replaced (each time under new keys).
    #[serde(default)]
    pub replacements: u32,
}

impl Batch {
    pub fn attempt(&self) -> u32 {
        u32::try_from(self.jobs.len()).unwrap_or(u32::MAX)
    }
    pub fn current_job(&self) -> Option<JobId> {
        self.jobs.last().copied()
    }
    pub fn asset(&self, client: &ClientId) -> Option<&AssetState> {
        self.assets
            .iter()
            .find(|a| &a.file.file.client_id == client)
    }
    fn asset_mut(&mut self, client: &ClientId) -> Option<&mut AssetState> {
        self.assets
            .iter_mut()
            .find(|a| &a.file.file.client_id == client)
    }
    /// Assets of the current job still waiting for a result.
    pub fn pending(&self) -> impl Iterator<Item = &AssetState> {
        self.assets
            .iter()
            .filter(|a| a.progress == AssetProgress::Pending)
    }
}

/// The aggregate's state: `None` until the batch was requested.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaBatch {
    pub batch: Option<Batch>,
}

impl MediaBatch {
    /// Applies one event. Total: events are facts, so nothing here can refuse.
    pub(crate) fn evolve(&mut self, event: MediaBatchEvent) {
        if let MediaBatchEvent::Requested(e) = event {
            self.batch = Some(Batch {
                id: e.batch_id,
                listing_id: e.listing_id,
                status: BatchStatus::PendingUpload,
                deleted: false,
                upload_expires_at: e.upload_expires_at,
                assets: e
                    .files
                    .into_iter()
                    .map(|file| AssetState {
                        file,
                        progress: AssetProgress::Idle,
                        renditions: BTreeMap::new(),
                    })
                    .collect(),
                jobs: Vec::new(),
                last_progress_at: e.at,
                replacements: 0,
            });
            return;
        }
        let Some(batch) = self.batch.as_mut() else {
            return;
        };
        match event {
            MediaBatchEvent::Requested(_) => {}
            MediaBatchEvent::Received(e) => {
                batch.status = BatchStatus::Received;
                batch.jobs.push(e.job_id);
                batch.last_progress_at = e.at;
                // every file on first receipt; after a replacement, the replaced ones
                for asset in batch.assets.iter_mut().filter(|a| !a.succeeded()) {
                    asset.progress = AssetProgress::Pending;
                }
            }
            MediaBatchEvent::FilesReplaced(e) => {
                batch.status = BatchStatus::PendingUpload;
                batch.upload_expires_at = e.upload_expires_at;
                batch.replacements = e.replacement;
                for file in e.files {
                    if let Some(asset) = batch.asset_mut(&file.file.client_id) {
                        asset.file = file;
                        asset.progress = AssetProgress::Idle;
                        asset.renditions.clear();
                    }
                }
            }
            MediaBatchEvent::RetryRequested(e) => {
                batch.status = BatchStatus::Received;
                batch.jobs.push(e.job_id);
                batch.last_progress_at = e.at;
                for asset in &mut batch.assets {
                    if e.assets.contains(&asset.file.file.client_id) {
                        asset.progress = AssetProgress::Pending;
                    }
                }
            }
            MediaBatchEvent::Processing(e) => {
                batch.status = BatchStatus::Processing;
                batch.last_progress_at = e.at;
            }
            MediaBatchEvent::AssetProcessed(e) => {
                batch.last_progress_at = e.at;
                if let Some(asset) = batch.asset_mut(&e.client_id) {
                    asset.progress = match e.outcome {
                        AssetOutcome::Succeeded { renditions, .. } => {
                            asset.renditions = renditions;
                            AssetProgress::Succeeded
                        }
                        AssetOutcome::Failed { error_code, .. } => {
                            AssetProgress::Failed { error_code }
                        }
                    };
                }
            }
            MediaBatchEvent::Ready(_) => batch.status = BatchStatus::Ready,
            MediaBatchEvent::Failed(_) => {
                batch.status = BatchStatus::Failed;
                for asset in &mut batch.assets {
                    if asset.progress == AssetProgress::Pending {
                        asset.progress = AssetProgress::Idle;
                    }
                }
            }
            MediaBatchEvent::Deleted(_) => batch.deleted = true,
        }
    }
}
