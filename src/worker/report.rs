//! Reports results through the same intake as the pipeline's signed callback
//! (`CallbackBody::into_command`), so that the built-in worker and an external pipeline are held
//! to one set of rules: stale attempts and duplicates change nothing, bad outputs are refused.

use aggregates::MediaBatchError;

use super::job::Job;
use crate::engine::{Actor, CommandError, Engine};
use crate::http::dto::{CallbackBody, CallbackOutput};

/// `RUNNING`, `SUCCEEDED` or `FAILED`, as API.md §6 spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Succeeded,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
        }
    }
}

/// How the batch took a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// Accepted: recorded, or a duplicate the aggregate ignored.
    Accepted,
    /// The batch does not know this job (or there is no such batch): the message can never
    /// succeed, so it is dropped rather than retried.
    UnknownJob,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The worker produced something the intake refuses: a bug, not a passing condition.
    #[error("the result was refused: {0}")]
    Refused(String),
    /// The event store failed or stayed contended; worth trying again later.
    #[error(transparent)]
    Command(CommandError),
}

pub async fn report(
    engine: &Engine,
    job: &Job,
    status: Status,
    outputs: Vec<CallbackOutput>,
) -> Result<Reported, ReportError> {
    let body = CallbackBody {
        job_id: job.job_id.to_string(),
        batch_id: job.batch_id.to_string(),
        attempt: job.attempt,
        status: status.as_str().to_owned(),
        outputs,
        failure_reason: None,
    };
    let (batch_id, command) = body
        .into_command()
        .map_err(|e| ReportError::Refused(e.to_string()))?;
    match engine
        .batch(batch_id, command, &Actor::system("worker"))
        .await
    {
        Ok(()) => {}
        Err(CommandError::Batch(MediaBatchError::UnknownJob | MediaBatchError::NotFound)) => {
            return Ok(Reported::UnknownJob);
        }
        Err(CommandError::Batch(e)) => return Err(ReportError::Refused(format!("{e} ({e:?})"))),
        Err(e) => return Err(ReportError::Command(e)),
    }
    // Read your writes, as the callback does: a READY batch's listing moves now. The relay
    // settles too, so a failure here only delays it.
    if let Err(e) = engine.settle_ready_batches().await {
        tracing::warn!(error = %e, batch_id = %job.batch_id, "settling ready batches failed");
    }
    Ok(Reported::Accepted)
}
