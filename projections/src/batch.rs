//! How MediaBatch events shape `media_batches`, `media_assets` and `media_jobs`.

use std::collections::BTreeMap;

use aggregates::{
    AssetOutcome, AssetStatus, AssetType, BatchId, BatchStatus, Checksum, ClientId, JobId,
    JobStatus, ListingId, MediaBatchEvent, ObjectKey, RequestedFile, RetryScope, Sequence,
};

use crate::outbox::{self, OutboxMessage};
use crate::table::{Cell, MEDIA_ASSETS, MEDIA_BATCHES, MEDIA_JOBS, Row};
use crate::time::stamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    pub batch_id: BatchId,
    pub listing_id: ListingId,
    pub batch_reference: String,
    pub status: BatchStatus,
    pub status_message: Option<String>,
    pub failure_code: Option<String>,
    pub attempt: u32,
    pub current_job_id: Option<String>,
    pub deleted_at: Option<String>,
    pub upload_expires_at: String,
    pub received_at: Option<String>,
    pub ready_at: Option<String>,
    /// The attempt whose renditions are the newest complete set, downloadable during a retry.
    pub ready_attempt: Option<u32>,
    /// The ZIP of originals of the READY attempt, with its length.
    pub zip_key: Option<String>,
    pub zip_bytes: Option<u64>,
    pub asset_count: u32,
    pub total_bytes: u64,
    pub created_at: String,
    pub updated_at: String,
    pub last_seq: i64,
}

impl BatchRow {
    /// Open batches block new ones: the column is unique, and NULL once the batch is closed.
    pub fn open_listing_id(&self) -> Option<u64> {
        let open = self.status.is_open();
        (open && self.deleted_at.is_none()).then_some(self.listing_id.get())
    }

    fn row(&self) -> Row {
        Row {
            table: MEDIA_BATCHES.name,
            cells: vec![
                self.batch_id.into(),
                self.listing_id.into(),
                self.batch_reference.clone().into(),
                self.status.as_str().into(),
                self.status_message.clone().into(),
                self.failure_code.clone().into(),
                self.attempt.into(),
                self.current_job_id.clone().into(),
                self.open_listing_id().into(),
                self.deleted_at.is_some().into(),
                self.deleted_at.clone().into(),
                self.upload_expires_at.clone().into(),
                self.received_at.clone().into(),
                self.ready_at.clone().into(),
                self.ready_attempt.into(),
                self.zip_key.clone().into(),
                self.zip_bytes.into(),
                self.asset_count.into(),
                self.total_bytes.into(),
                self.created_at.clone().into(),
                self.updated_at.clone().into(),
                self.last_seq.into(),
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRow {
    pub client_id: ClientId,
    pub sequence: Sequence,
    pub title: Option<String>,
    pub asset_type: AssetType,
    pub content_type: String,
    pub filename: String,
    pub bytes: u64,
    pub checksum: Checksum,
    pub status: AssetStatus,
    pub raw_key: ObjectKey,
    pub renditions: BTreeMap<String, String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_millis: Option<u64>,
    pub page_count: Option<u32>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub updated_at: String,
    pub last_seq: i64,
}

impl AssetRow {
    /// A file waiting for its upload, as its manifest entry describes it.
    fn requested(f: &RequestedFile, at: &str, seq: i64) -> Self {
        Self {
            client_id: f.file.client_id.clone(),
            sequence: f.file.sequence,
            title: f.file.title.clone(),
            asset_type: f.file.asset_type,
            content_type: f.file.content_type.clone(),
            filename: f.file.filename.clone(),
            bytes: f.file.bytes,
            checksum: f.file.checksum,
            status: AssetStatus::PendingUpload,
            raw_key: f.raw_key.clone(),
            renditions: BTreeMap::new(),
            width: None,
            height: None,
            duration_millis: None,
            page_count: None,
            error_code: None,
            error_message: None,
            metadata: f.file.metadata.clone(),
            updated_at: at.to_owned(),
            last_seq: seq,
        }
    }

    fn row(&self, batch_id: BatchId) -> Row {
        Row {
            table: MEDIA_ASSETS.name,
            cells: vec![
                batch_id.into(),
                self.client_id.as_str().into(),
                u32::from(self.sequence.get()).into(),
                self.title.clone().into(),
                self.asset_type.as_str().into(),
                self.content_type.clone().into(),
                self.filename.clone().into(),
                self.bytes.into(),
                self.checksum.to_hex().into(),
                self.status.as_str().into(),
                self.raw_key.as_str().into(),
                json(&self.renditions),
                self.width.into(),
                self.height.into(),
                self.duration_millis.into(),
                self.page_count.into(),
                self.error_code.clone().into(),
                self.error_message.clone().into(),
                json(&self.metadata),
                self.updated_at.clone().into(),
                self.last_seq.into(),
            ],
        }
    }
}

fn json(map: &BTreeMap<String, String>) -> Cell {
    Cell::Text(serde_json::to_string(map).expect("a string map always serializes"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub job_id: JobId,
    pub attempt: u32,
    /// `PENDING`, `RUNNING`, `SUCCEEDED` or `FAILED`.
    pub status: JobStatus,
    pub scope: RetryScope,
    pub reason: Option<String>,
    pub asset_count: u32,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub last_seq: i64,
}

impl JobRow {
    fn row(&self, batch: &BatchRow) -> Row {
        Row {
            table: MEDIA_JOBS.name,
            cells: vec![
                self.job_id.to_string().into(),
                batch.batch_id.into(),
                batch.listing_id.into(),
                self.attempt.into(),
                self.status.as_str().into(),
                self.scope.as_str().into(),
                self.reason.clone().into(),
                self.asset_count.into(),
                self.created_at.clone().into(),
                self.started_at.clone().into(),
                self.completed_at.clone().into(),
                self.last_seq.into(),
            ],
        }
    }
}

/// One batch's rows in all three tables. `None` until its `Requested` event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchView {
    pub batch: Option<BatchRow>,
    /// In sequence order.
    pub assets: Vec<AssetRow>,
    /// In attempt order.
    pub jobs: Vec<JobRow>,
}

impl BatchView {
    pub fn last_seq(&self) -> i64 {
        self.batch.as_ref().map_or(0, |b| b.last_seq)
    }

    pub fn rows(&self) -> Vec<Row> {
        let Some(batch) = &self.batch else {
            return vec![];
        };
        let mut rows = vec![batch.row()];
        rows.extend(self.assets.iter().map(|a| a.row(batch.batch_id)));
        rows.extend(self.jobs.iter().map(|j| j.row(batch)));
        rows
    }

    /// Applies the event at `seq` of this batch; an event at or below the last applied
    /// sequence is a no-op. Returns the messages its commit must publish.
    pub fn apply(&mut self, seq: i64, event: &MediaBatchEvent) -> Vec<OutboxMessage> {
        if seq <= self.last_seq() {
            return vec![];
        }
        let at = stamp(event.at());
        if let MediaBatchEvent::Requested(e) = event {
            self.batch = Some(BatchRow {
                batch_id: e.batch_id,
                listing_id: e.listing_id,
                batch_reference: e.batch_reference.clone(),
                status: BatchStatus::PendingUpload,
                status_message: None,
                failure_code: None,
                attempt: 0,
                current_job_id: None,
                deleted_at: None,
                upload_expires_at: stamp(e.upload_expires_at),
                received_at: None,
                ready_at: None,
                ready_attempt: None,
                zip_key: None,
                zip_bytes: None,
                asset_count: u32::try_from(e.files.len()).unwrap_or(u32::MAX),
                total_bytes: e.files.iter().map(|f| f.file.bytes).sum(),
                created_at: at.clone(),
                updated_at: at.clone(),
                last_seq: seq,
            });
            self.assets = e
                .files
                .iter()
                .map(|f| AssetRow::requested(f, &at, seq))
                .collect();
            return vec![];
        }
        let Some(batch) = self.batch.as_mut() else {
            return vec![];
        };
        batch.last_seq = seq;
        batch.updated_at = at.clone();
        let touch = |asset: &mut AssetRow| {
            asset.updated_at = at.clone();
            asset.last_seq = seq;
        };
        match event {
            MediaBatchEvent::Requested(_) => {}
            MediaBatchEvent::Received(e) => {
                batch.status = BatchStatus::Received;
                batch.attempt = e.attempt;
                batch.current_job_id = Some(e.job_id.to_string());
                batch.received_at = Some(at.clone());
                // every file on first receipt; after a replacement, the replaced ones
                let mut uploaded = 0;
                for asset in self
                    .assets
                    .iter_mut()
                    .filter(|a| a.status != AssetStatus::Processed)
                {
                    asset.status = AssetStatus::Uploaded;
                    uploaded += 1;
                    touch(asset);
                }
                let scope = if uploaded == batch.asset_count {
                    RetryScope::All
                } else {
                    RetryScope::FailedOnly
                };
                self.jobs.push(JobRow {
                    job_id: e.job_id,
                    attempt: e.attempt,
                    status: JobStatus::Pending,
                    scope,
                    reason: None,
                    asset_count: uploaded,
                    created_at: at.clone(),
                    started_at: None,
                    completed_at: None,
                    last_seq: seq,
                });
                return vec![outbox::job(batch, &self.assets, &self.jobs)];
            }
            MediaBatchEvent::RetryRequested(e) => {
                batch.status = BatchStatus::Received;
                batch.status_message = Some(e.reason.clone());
                batch.failure_code = None;
                batch.attempt = e.attempt;
                batch.current_job_id = Some(e.job_id.to_string());
                if let Some(previous) = self.jobs.last_mut()
                    && previous.completed_at.is_none()
                {
                    previous.status = JobStatus::Failed;
                    previous.completed_at = Some(at.clone());
                    previous.last_seq = seq;
                }
                for asset in &mut self.assets {
                    if e.assets.contains(&asset.client_id) {
                        asset.status = AssetStatus::Uploaded;
                        asset.error_code = None;
                        asset.error_message = None;
                        touch(asset);
                    }
                }
                self.jobs.push(JobRow {
                    job_id: e.job_id,
                    attempt: e.attempt,
                    status: JobStatus::Pending,
                    scope: e.scope,
                    reason: Some(e.reason.clone()),
                    asset_count: u32::try_from(e.assets.len()).unwrap_or(u32::MAX),
                    created_at: at.clone(),
                    started_at: None,
                    completed_at: None,
                    last_seq: seq,
                });
                return vec![outbox::job(batch, &self.assets, &self.jobs)];
            }
            MediaBatchEvent::FilesReplaced(e) => {
                batch.status = BatchStatus::PendingUpload;
                batch.status_message = None;
                batch.failure_code = None;
                batch.upload_expires_at = stamp(e.upload_expires_at);
                for f in &e.files {
                    let Some(asset) = self
                        .assets
                        .iter_mut()
                        .find(|a| a.client_id == f.file.client_id)
                    else {
                        continue;
                    };
                    *asset = AssetRow::requested(f, &at, seq);
                }
                batch.total_bytes = self.assets.iter().map(|a| a.bytes).sum();
            }
            MediaBatchEvent::Processing(_) => {
                batch.status = BatchStatus::Processing;
                for asset in self
                    .assets
                    .iter_mut()
                    .filter(|a| a.status == AssetStatus::Uploaded)
                {
                    asset.status = AssetStatus::Processing;
                    touch(asset);
                }
                if let Some(job) = self.jobs.last_mut() {
                    job.status = JobStatus::Running;
                    job.started_at = Some(at.clone());
                    job.last_seq = seq;
                }
            }
            MediaBatchEvent::AssetProcessed(e) => {
                if let Some(asset) = self.assets.iter_mut().find(|a| a.client_id == e.client_id) {
                    match &e.outcome {
                        AssetOutcome::Succeeded {
                            renditions,
                            width,
                            height,
                            duration_millis,
                            page_count,
                        } => {
                            asset.status = AssetStatus::Processed;
                            asset.renditions = renditions
                                .iter()
                                .map(|(size, key)| (size.clone(), key.to_string()))
                                .collect();
                            asset.width = *width;
                            asset.height = *height;
                            asset.duration_millis = *duration_millis;
                            asset.page_count = *page_count;
                        }
                        AssetOutcome::Failed {
                            error_code,
                            error_message,
                        } => {
                            asset.status = AssetStatus::Failed;
                            asset.error_code = Some(error_code.clone());
                            asset.error_message = Some(error_message.clone());
                        }
                    }
                    touch(asset);
                }
            }
            MediaBatchEvent::Ready(e) => {
                batch.status = BatchStatus::Ready;
                batch.status_message = None;
                batch.ready_at = Some(at.clone());
                batch.ready_attempt = Some(e.attempt);
                batch.zip_key = e.zip.as_ref().map(|z| z.object_key.to_string());
                batch.zip_bytes = e.zip.as_ref().map(|z| z.bytes);
                finish_job(&mut self.jobs, JobStatus::Succeeded, &at, seq);
                return vec![outbox::media_ready(batch)];
            }
            MediaBatchEvent::Failed(e) => {
                batch.status = BatchStatus::Failed;
                batch.status_message = Some(e.message.clone());
                batch.failure_code = Some(e.code.clone());
                // Assets the failed job never reported fail with the batch's reason.
                let unfinished = |a: &&mut AssetRow| a.status.is_unfinished();
                for asset in self.assets.iter_mut().filter(unfinished) {
                    asset.status = AssetStatus::Failed;
                    asset.error_code = Some(e.code.clone());
                    asset.error_message = Some(e.message.clone());
                    touch(asset);
                }
                if e.job_id.is_some() {
                    finish_job(&mut self.jobs, JobStatus::Failed, &at, seq);
                }
            }
            MediaBatchEvent::Deleted(_) => batch.deleted_at = Some(at.clone()),
        }
        vec![]
    }
}

fn finish_job(jobs: &mut [JobRow], status: JobStatus, at: &str, seq: i64) {
    if let Some(job) = jobs.last_mut() {
        job.status = status;
        job.completed_at = Some(at.to_owned());
        job.last_seq = seq;
    }
}
