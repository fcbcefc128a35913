//! Reports the worker's results: onto the results queue when there is one (as an external
//! pipeline would), else straight into the one intake (`crate::intake`), so that the built-in
//! worker and an external pipeline are held to one set of rules.

use std::collections::BTreeMap;

use aggregates::{AssetOutput, ResultStatus, ZipOutput};
use sha2::{Digest, Sha256};
use toq_contract::result::{CallbackBody, ResultMessage};

use super::job::Job;
use crate::engine::{Actor, Engine};
use crate::intake::{self, IntakeError};
use crate::queue::SqsQueue;
use crate::queue::sqs::{Outgoing, SqsError};

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
    /// The intake refused the result or failed to store it.
    #[error(transparent)]
    Intake(IntakeError),
    /// The results queue did not take the report; worth trying again later.
    #[error(transparent)]
    Queue(#[from] SqsError),
}

/// Reports one step of a job: `RUNNING` with the outputs so far, or `SUCCEEDED` with all
/// (and the batch ZIP, when one was made).
pub async fn report(
    engine: &Engine,
    results: Option<&SqsQueue>,
    job: &Job,
    status: ResultStatus,
    outputs: Vec<AssetOutput>,
    zip: Option<ZipOutput>,
) -> Result<Reported, ReportError> {
    let message = ResultMessage {
        job_id: job.job_id,
        batch_id: job.batch_id,
        attempt: job.attempt,
        status,
        outputs,
        zip,
        failure_reason: None,
    };
    let Some(queue) = results else {
        let actor = Actor {
            traceparent: job.traceparent.clone(),
            ..Actor::system("worker")
        };
        return match intake::apply(engine, message, &actor).await {
            Ok(()) => Ok(Reported::Accepted),
            Err(IntakeError::Unknown(_)) => Ok(Reported::UnknownJob),
            Err(e) => Err(ReportError::Intake(e)),
        };
    };
    let body = CallbackBody::from(&message);
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
