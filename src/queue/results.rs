//! The results consumer: applies pipeline results from the results queue (the callback body of
//! API.md §6) through the one intake (`crate::intake`), as the signed callback does.
//!
//! A message is deleted only once its result is recorded or judged stale (an older attempt, a
//! duplicate, a job the batch does not know), so a crash just redelivers it and the aggregate
//! ignores what it already has. A message that can never apply (not JSON, refused fields) is
//! counted, logged and moved aside, and the loop goes on.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::sqs::Outgoing;
use super::{Message, SqsQueue};
use toq_contract::result::{CallbackBody, ResultMessage};

use crate::engine::{Actor, Engine};
use crate::intake::{self, IntakeError};
use crate::telemetry::ResultRefusal;

pub struct Results {
    engine: Arc<Engine>,
    queue: SqsQueue,
    aside: Option<SqsQueue>,
}

/// Pause after a failed receive.
const BACKOFF: Duration = Duration::from_secs(1);

impl Results {
    pub fn new(engine: Arc<Engine>, queue: SqsQueue, aside: Option<SqsQueue>) -> Self {
        Self {
            engine,
            queue,
            aside,
        }
    }

    /// Receives and applies results until `shutdown` turns true (or its sender is gone).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(queue = self.queue.url(), "results consumer started");
        while !*shutdown.borrow() {
            let received = tokio::select! {
                received = self.queue.receive(super::sqs::MAX_BATCH) => received,
                changed = shutdown.changed() => if changed.is_err() { break } else { continue },
            };
            match received {
                Ok(messages) => {
                    for message in &messages {
                        self.handle(message).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "receiving results failed; trying again");
                    tokio::time::sleep(BACKOFF).await;
                }
            }
        }
        tracing::info!("results consumer stopped");
    }

    /// One message: deleted once applied or judged stale (a duplicate, an older attempt, a job
    /// the batch does not know); moved aside when it can never apply (or, without a side
    /// queue, left for the redrive policy); left for redelivery when the store failed.
    async fn handle(&self, message: &Message) {
        match self.apply(message).await {
            Ok(()) => {
                if let Err(e) = self.queue.delete(&message.receipt).await {
                    tracing::warn!(message_id = %message.id, error = %e, "deleting an applied result failed; its redelivery will change nothing");
                }
            }
            Err(Failure::Unusable(why)) => {
                tracing::error!(
                    message_id = %message.id, receive_count = message.receive_count, error = %why,
                    "unusable result message; moving it aside"
                );
                self.move_aside(message, &why).await;
            }
            Err(Failure::Retry(e)) => tracing::warn!(
                message_id = %message.id, error = %e,
                "applying a result failed; it will be delivered again"
            ),
        }
    }

    /// Applied, or judged stale or unknown (nothing to retry); the failure otherwise.
    async fn apply(&self, message: &Message) -> Result<(), Failure> {
        let body: CallbackBody = serde_json::from_str(&message.payload).map_err(|e| {
            ResultRefusal::Unusable.count();
            Failure::Unusable(format!("not a result body: {e}"))
        })?;
        let result = ResultMessage::try_from(body).map_err(|errors| {
            ResultRefusal::Malformed.count();
            let fields: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            Failure::Unusable(fields.join("; "))
        })?;
        let actor = Actor {
            traceparent: message.attributes.get("Traceparent").cloned(),
            ..Actor::system("pipeline")
        };
        match intake::apply(&self.engine, result, &actor).await {
            Ok(()) | Err(IntakeError::Unknown(_)) => Ok(()),
            Err(IntakeError::Refused { error, .. }) => {
                Err(Failure::Unusable(format!("{error} ({error:?})")))
            }
            Err(e @ IntakeError::Store(_)) => Err(Failure::Retry(e)),
        }
    }

    async fn move_aside(&self, message: &Message, why: &str) {
        let Some(aside) = &self.aside else {
            return;
        };
        let mut attributes = message.attributes.clone();
        attributes.insert("Error".into(), why.chars().take(256).collect());
        let sent = aside
            .send(&Outgoing {
                key: message.id.clone(),
                group: "unusable".into(),
                body: message.payload.clone(),
                attributes,
            })
            .await;
        match sent {
            Ok(()) => {
                if let Err(e) = self.queue.delete(&message.receipt).await {
                    tracing::warn!(message_id = %message.id, error = %e, "deleting a moved result failed");
                }
            }
            Err(e) => {
                tracing::warn!(message_id = %message.id, error = %e, "moving a result aside failed; trying again later");
            }
        }
    }
}

enum Failure {
    /// Never applicable (counted under its kind where it was refused): moved aside.
    Unusable(String),
    Retry(IntakeError),
}
