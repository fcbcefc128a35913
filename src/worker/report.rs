//! Reports results, onto the results queue or straight through the intake of the pipeline's
//! signed callback (`CallbackBody::into_command` of `toq-contract`), so that the built-in worker and an external
//! pipeline are held to one set of rules: stale attempts and duplicates change nothing, bad
//! outputs are refused.

use std::collections::BTreeMap;

use aggregates::MediaBatchError;
use sha2::{Digest, Sha256};

use super::job::Job;
use crate::engine::{Actor, CommandError, Engine};
use crate::http::dto::{CallbackBody, CallbackOutput};
use crate::queue::SqsQueue;
use crate::queue::sqs::{Outgoing, SqsError};
use crate::telemetry::ResultRefusal;

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
    /// The result is one the intake refuses (from the built-in worker: a bug, not a passing
    /// condition); `refusal` says of which kind, for the callback errors counter.
    #[error("the result was refused: {why}")]
    Refused { refusal: ResultRefusal, why: String },
    /// The event store failed or stayed contended; worth trying again later.
    #[error(transparent)]
    Command(CommandError),
    /// The results queue did not take the report; worth trying again later.
    #[error(transparent)]
    Queue(#[from] SqsError),
}

/// Reports one step of a job: onto the results queue when there is one (as an external
/// pipeline would), else straight into the aggregate.
pub async fn report(
    engine: &Engine,
    results: Option<&SqsQueue>,
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
    let Some(queue) = results else {
        let actor = Actor {
            traceparent: job.traceparent.clone(),
            ..Actor::system("worker")
        };
        return apply(engine, body, &actor).await;
    };
    let text = serde_json::to_string(&body).expect("a callback body serializes");
    queue
        .send(&Outgoing {
            // Same report, same key: a FIFO queue drops the duplicate of a redelivered job.
            key: hex::encode(Sha256::digest(&text)),
            group: body.batch_id.clone(),
            attributes: [
                ("BatchId", Some(&body.batch_id)),
                ("JobId", Some(&body.job_id)),
                ("Traceparent", job.traceparent.as_ref()),
            ]
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?.clone())))
            .collect::<BTreeMap<_, _>>(),
            body: text,
        })
        .await?;
    Ok(Reported::Accepted)
}

/// Applies a result as the signed callback does; the one intake for the built-in worker, the
/// results queue and the callback's rules.
pub async fn apply(
    engine: &Engine,
    body: CallbackBody,
    actor: &Actor,
) -> Result<Reported, ReportError> {
    let batch_hint = body.batch_id.clone();
    let (batch_id, command) =
        body.into_command(chrono::Utc::now())
            .map_err(|errors| ReportError::Refused {
                refusal: ResultRefusal::Malformed,
                why: errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
    match engine.batch(batch_id, command, actor).await {
        Ok(()) => {}
        Err(CommandError::Batch(MediaBatchError::UnknownJob | MediaBatchError::NotFound)) => {
            return Ok(Reported::UnknownJob);
        }
        Err(CommandError::Batch(e)) => {
            let refusal = match e {
                MediaBatchError::ForeignRendition(_) => ResultRefusal::ForeignKey,
                _ => ResultRefusal::Malformed,
            };
            let why = format!("{e} ({e:?})");
            return Err(ReportError::Refused { refusal, why });
        }
        Err(e) => return Err(ReportError::Command(e)),
    }
    // Read your writes, as the callback does: a READY batch's listing moves now. The relay
    // settles too, so a failure here only delays it.
    if let Err(e) = engine.settle_ready_batches().await {
        tracing::warn!(error = %e, batch_id = %batch_hint, "settling ready batches failed");
    }
    Ok(Reported::Accepted)
}
