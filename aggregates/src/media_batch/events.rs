//! What happened to a media batch. Payloads are camelCase JSON, read by auditors as they are.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::manifest::ManifestFile;
use crate::values::{BatchId, ClientId, JobId, ListingId, ObjectKey};
use crate::wire::wire_enum;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MediaBatchEvent {
    /// A manifest was accepted and upload URLs handed out: `PENDING_UPLOAD`.
    Requested(Requested),
    /// Every upload was verified and the first processing job created: `RECEIVED`.
    Received(Received),
    /// A finished batch is to be processed again under a new job: `RECEIVED`.
    RetryRequested(RetryRequested),
    /// A FAILED batch takes new uploads for the files that failed: `PENDING_UPLOAD` again,
    /// every other asset keeping its renditions.
    FilesReplaced(FilesReplaced),
    /// The pipeline started on the current job: `PROCESSING`.
    Processing(Processing),
    /// One asset of the current job finished, well or badly.
    AssetProcessed(AssetProcessed),
    /// Every asset has its renditions: `READY`.
    Ready(Ready),
    /// The batch cannot become ready under its current attempt: `FAILED`.
    Failed(Failed),
    /// Soft delete: gone from queries and open-batch checks, kept in history.
    Deleted(Deleted),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requested {
    pub batch_id: BatchId,
    pub listing_id: ListingId,
    pub batch_reference: String,
    pub files: Vec<RequestedFile>,
    pub upload_expires_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestedFile {
    #[serde(flatten)]
    pub file: ManifestFile,
    pub raw_key: ObjectKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Received {
    pub job_id: JobId,
    pub attempt: u32,
    /// Entity tags the client reported, kept for support; verification used size and SHA-256.
    pub etags: BTreeMap<ClientId, String>,
    pub at: DateTime<Utc>,
}

wire_enum! {
    /// Which assets a retry reprocesses.
    pub enum RetryScope {
        /// Every asset that has not succeeded.
        FailedOnly = "FAILED_ONLY",
        All = "ALL",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryRequested {
    pub job_id: JobId,
    pub attempt: u32,
    pub scope: RetryScope,
    pub reason: String,
    /// The assets the new job processes, in sequence order.
    pub assets: Vec<ClientId>,
    /// Started by the reconciler after a job timed out, not by a person.
    pub automatic: bool,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilesReplaced {
    /// 1 for the batch's first replacement: its new raw keys lie under `r{replacement}/`.
    pub replacement: u32,
    /// The replacing files, in sequence order, with their new raw keys.
    pub files: Vec<RequestedFile>,
    pub upload_expires_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Processing {
    pub job_id: JobId,
    pub attempt: u32,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetProcessed {
    pub job_id: JobId,
    pub attempt: u32,
    pub client_id: ClientId,
    pub outcome: AssetOutcome,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum AssetOutcome {
    #[serde(rename = "SUCCEEDED", rename_all = "camelCase")]
    Succeeded {
        renditions: BTreeMap<String, ObjectKey>,
        width: Option<u32>,
        height: Option<u32>,
        duration_millis: Option<u64>,
        /// Absent from events written before documents had previews.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page_count: Option<u32>,
    },
    #[serde(rename = "FAILED", rename_all = "camelCase")]
    Failed {
        error_code: String,
        error_message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    pub job_id: JobId,
    pub attempt: u32,
    pub at: DateTime<Utc>,
    /// The ZIP of the batch's originals, when the pipeline made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<BatchZip>,
}

/// The batch's ZIP of originals: its key, under the attempt's ZIP prefix, and its length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchZip {
    pub object_key: ObjectKey,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failed {
    /// The job that failed, if the batch got as far as processing.
    pub job_id: Option<JobId>,
    pub attempt: u32,
    /// One of [`FailureCode::BATCH`](super::failure::FailureCode::BATCH).
    pub code: String,
    pub message: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl MediaBatchEvent {
    /// When it happened, as the command that caused it said.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Requested(e) => e.at,
            Self::Received(e) => e.at,
            Self::RetryRequested(e) => e.at,
            Self::FilesReplaced(e) => e.at,
            Self::Processing(e) => e.at,
            Self::AssetProcessed(e) => e.at,
            Self::Ready(e) => e.at,
            Self::Failed(e) => e.at,
            Self::Deleted(e) => e.at,
        }
    }
}

impl DomainEvent for MediaBatchEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Requested(_) => "Requested",
            Self::Received(_) => "Received",
            Self::RetryRequested(_) => "RetryRequested",
            Self::FilesReplaced(_) => "FilesReplaced",
            Self::Processing(_) => "Processing",
            Self::AssetProcessed(_) => "AssetProcessed",
            Self::Ready(_) => "Ready",
            Self::Failed(_) => "Failed",
            Self::Deleted(_) => "Deleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
