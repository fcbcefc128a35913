//! The results consumer: applies pipeline results from the results queue (the callback body of
//! API.md §6) through the same intake as the signed callback.
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
use crate::engine::{Actor, Engine};
use crate::http::dto::CallbackBody;
use crate::worker::report::{self, ReportError, Reported};

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded (or a duplicate the aggregate ignored), and deleted.
    Applied,
    /// For a job the batch does not know (or no batch), and deleted.
    Stale,
    /// Could never apply: moved to the side queue, or without one left for the queue's
    /// redrive policy to move after its last delivery.
    Unusable,
    /// The store failed: left to be delivered again.
    Retry,
}

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

    pub async fn handle(&self, message: &Message) -> Outcome {
        let outcome = match self.apply(message).await {
            Ok(Reported::Accepted) => Outcome::Applied,
            Ok(Reported::UnknownJob) => Outcome::Stale,
            Err(Failure::Unusable(why)) => {
                metrics::counter!("media_processing_callback_errors_total", "reason" => "unusable")
                    .increment(1);
                tracing::error!(
                    message_id = %message.id, receive_count = message.receive_count, error = %why,
                    "unusable result message; moving it aside"
                );
                return self.move_aside(message, &why).await;
            }
            Err(Failure::Retry(why)) => {
                tracing::warn!(
                    message_id = %message.id, error = %why,
                    "applying a result failed; it will be delivered again"
                );
                return Outcome::Retry;
            }
        };
        if let Err(e) = self.queue.delete(&message.receipt).await {
            tracing::warn!(message_id = %message.id, error = %e, "deleting an applied result failed; its redelivery will change nothing");
        }
        outcome
    }

    async fn apply(&self, message: &Message) -> Result<Reported, Failure> {
        let body: CallbackBody = serde_json::from_str(&message.payload)
            .map_err(|e| Failure::Unusable(format!("not a result body: {e}")))?;
        let actor = Actor {
            traceparent: message.attributes.get("Traceparent").cloned(),
            ..Actor::system("pipeline")
        };
        report::apply(&self.engine, body, &actor)
            .await
            .map_err(|e| match e {
                ReportError::Refused(why) => Failure::Unusable(why),
                other => Failure::Retry(other.to_string()),
            })
    }

    async fn move_aside(&self, message: &Message, why: &str) -> Outcome {
        let Some(aside) = &self.aside else {
            return Outcome::Unusable;
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
                Outcome::Unusable
            }
            Err(e) => {
                tracing::warn!(message_id = %message.id, error = %e, "moving a result aside failed; trying again later");
                Outcome::Retry
            }
        }
    }
}

enum Failure {
    Unusable(String),
    Retry(String),
}
