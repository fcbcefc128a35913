//! The one intake of pipeline results (API.md §6), whichever way they arrive — the signed
//! callback, the results queue, the built-in worker — so that all are held to one set of rules:
//! stale attempts and duplicates change nothing, foreign or malformed outputs are refused and
//! counted, and a result that makes the batch READY moves its listing before the caller answers.

use aggregates::MediaBatchError;
use toq_contract::result::ResultMessage;

use crate::engine::{Actor, CommandError, Engine};
use crate::process::ready_listing;
use crate::telemetry::ResultRefusal;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// No such batch, or a job the batch does not know: the result can never apply, and says
    /// nothing about its sender (a result that raced a delete, a long-retried message).
    #[error(transparent)]
    Unknown(MediaBatchError),
    /// The batch refused the result; counted in the callback errors under `refusal`.
    #[error("the result was refused: {error}")]
    Refused {
        refusal: ResultRefusal,
        error: MediaBatchError,
    },
    /// The event store failed or stayed contended: worth trying again later.
    #[error(transparent)]
    Store(CommandError),
}

/// Records `result` on its batch, then follows a READY batch on to its listing.
pub async fn apply(
    engine: &Engine,
    result: ResultMessage,
    actor: &Actor,
) -> Result<(), IntakeError> {
    let (batch_id, command) = result.into_command(chrono::Utc::now());
    let committed = match engine.batch(batch_id, command, actor).await {
        Ok(events) => events,
        Err(CommandError::Batch(
            error @ (MediaBatchError::UnknownJob | MediaBatchError::NotFound),
        )) => return Err(IntakeError::Unknown(error)),
        Err(CommandError::Batch(error)) => {
            let refusal = match error {
                MediaBatchError::ForeignRendition(_) => ResultRefusal::ForeignKey,
                _ => ResultRefusal::Malformed,
            };
            refusal.count();
            return Err(IntakeError::Refused { refusal, error });
        }
        Err(e) => return Err(IntakeError::Store(e)),
    };
    // The relay catches up on whatever this misses, so a failure here only delays the listing.
    if let Err(e) = ready_listing::follow(engine, &committed).await {
        tracing::warn!(error = %e, %batch_id, "moving a READY batch's listing failed; the relay will catch up");
    }
    Ok(())
}
