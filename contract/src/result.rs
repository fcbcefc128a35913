//! The result message of API.md §6, whichever way it arrives (signed callback, results queue,
//! built-in worker), and the `RecordResult` command it asks for.

use aggregates::{
    AssetOutput, BatchId, FieldError, JobId, MediaBatchCommand, RecordResult, ResultStatus,
    ZipOutput,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A processing result as the pipeline sends it: ids and status as text, checked by
/// [`ResultMessage::try_from`], so that every broken field is named in one answer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "jobId": "0193a5b3-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
    "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "attempt": 1, "status": "SUCCEEDED",
    "outputs": [{"clientId": "photo-1",
        "rawKey": "123/raw/photo/horizontal/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/01-photo-1-IMG_2907.jpg",
        "renditions": {
            "thumbnail": "123/processed/photo/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/1/thumbnail/01-photo-1.jpg",
            "large": "123/processed/photo/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/1/large/01-photo-1.jpg"},
        "width": 4032, "height": 3024}]})))]
pub struct CallbackBody {
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub job_id: String,
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub batch_id: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub attempt: u32,
    /// `RUNNING`, `SUCCEEDED` or `FAILED`.
    pub status: String,
    #[serde(default)]
    pub outputs: Vec<AssetOutput>,
    /// The batch's ZIP of originals, with `SUCCEEDED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<ZipOutput>,
    pub failure_reason: Option<String>,
}

/// A result with its ids and status parsed: what the intake takes, whichever way it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultMessage {
    pub job_id: JobId,
    pub batch_id: BatchId,
    pub attempt: u32,
    pub status: ResultStatus,
    /// Checked by the batch itself, which knows its assets and keys.
    pub outputs: Vec<AssetOutput>,
    pub zip: Option<ZipOutput>,
    pub failure_reason: Option<String>,
}

impl ResultMessage {
    /// The command this result asks for at `now`, for the batch it names.
    pub fn into_command(self, now: DateTime<Utc>) -> (BatchId, MediaBatchCommand) {
        let command = MediaBatchCommand::RecordResult(RecordResult {
            job_id: self.job_id,
            attempt: self.attempt,
            status: self.status,
            outputs: self.outputs,
            zip: self.zip,
            failure_reason: self.failure_reason,
            now,
        });
        (self.batch_id, command)
    }
}

impl TryFrom<CallbackBody> for ResultMessage {
    /// Every broken field, named at once.
    type Error = Vec<FieldError>;

    fn try_from(body: CallbackBody) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let batch_id = BatchId::parse(&body.batch_id)
            .map_err(|e| errors.push(FieldError::new("batchId", e.to_string())));
        let job_id = JobId::parse(&body.job_id)
            .map_err(|e| errors.push(FieldError::new("jobId", e.to_string())));
        let status = ResultStatus::parse(&body.status)
            .map_err(|e| errors.push(FieldError::new("status", e.to_string())));
        if body.attempt == 0 {
            errors.push(FieldError::new("attempt", "must be at least 1"));
        }
        let (Ok(batch_id), Ok(job_id), Ok(status), true) =
            (batch_id, job_id, status, errors.is_empty())
        else {
            return Err(errors);
        };
        Ok(Self {
            job_id,
            batch_id,
            attempt: body.attempt,
            status,
            outputs: body.outputs,
            zip: body.zip,
            failure_reason: body.failure_reason,
        })
    }
}

impl From<&ResultMessage> for CallbackBody {
    /// The wire form, for a results queue an external pipeline would write.
    fn from(m: &ResultMessage) -> Self {
        Self {
            job_id: m.job_id.to_string(),
            batch_id: m.batch_id.to_string(),
            attempt: m.attempt,
            status: m.status.as_str().to_owned(),
            outputs: m.outputs.clone(),
            zip: m.zip.clone(),
            failure_reason: m.failure_reason.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(job: &str, batch: &str, attempt: u32, status: &str) -> CallbackBody {
        CallbackBody {
            job_id: job.into(),
            batch_id: batch.into(),
            attempt,
            status: status.into(),
            outputs: vec![],
            zip: None,
            failure_reason: None,
        }
    }

    #[test]
    fn every_broken_field_is_named_at_once() {
        let errors = ResultMessage::try_from(body("x", "y", 0, "DONE")).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["batchId", "jobId", "status", "attempt"]);
    }

    #[test]
    fn a_well_formed_result_becomes_its_command() {
        let job = "0193a5b3-1a2b-7c3d-8e4f-5a6b7c8d9e0f";
        let batch = "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b";
        let now = Utc::now();
        let message = ResultMessage::try_from(body(job, batch, 2, "FAILED")).unwrap();
        assert_eq!(CallbackBody::from(&message).status, "FAILED");
        let (id, command) = message.into_command(now);
        assert_eq!(id.to_string(), batch);
        let MediaBatchCommand::RecordResult(r) = command else {
            panic!("{command:?}")
        };
        assert_eq!((r.attempt, r.status, r.now), (2, ResultStatus::Failed, now));
        assert_eq!(r.job_id.to_string(), job);
    }
}
