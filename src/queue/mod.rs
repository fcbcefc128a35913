//! Queues: jobs to the worker, results back, listing events out, and the outbox relay that
//! feeds them.
//!
//! - `table`: the embedded default, a table (`job_queue`) in the event store's database, so
//!   the relay moves a committed outbox row into it in one local transaction. It behaves like
//!   SQS (visibility timeout, receive count, dead letter), so consumers are written once.
//! - `sqs`: Amazon SQS; the relay deletes an outbox row only after SQS accepted its message.
//! - `relay`: outbox → queues. `results`: the results queue → the `MediaBatch` aggregate.

pub mod relay;
pub mod results;
pub mod sqs;
pub mod table;

use std::collections::BTreeMap;
use std::time::Duration;

pub use relay::{JOBS, LISTING_EVENTS, Sinks, relay_once};
pub use sqs::{SqsError, SqsQueue};
pub use table::{Depth, TableQueue};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue database: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("queue message {id} has unreadable attributes: {source}")]
    Attributes { id: i64, source: serde_json::Error },
    #[error(transparent)]
    Sqs(#[from] SqsError),
}

/// A received message. `receipt` names this one delivery: `delete` and `extend` need it, and a
/// later delivery of the same message gets a new one, so a slow consumer cannot touch it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub receipt: String,
    pub payload: String,
    pub attributes: BTreeMap<String, String>,
    /// How many times it has been received, this delivery included.
    pub receive_count: i64,
    /// When the relay put it on the queue (RFC 3339), for queue-wait metrics.
    pub enqueued_at: String,
}

/// The queue a consumer reads: the table queue or SQS. Cheap to clone.
#[derive(Clone)]
pub enum JobQueue {
    Table(TableQueue),
    Sqs(SqsQueue),
}

impl JobQueue {
    pub fn name(&self) -> &str {
        match self {
            Self::Table(q) => q.name(),
            Self::Sqs(q) => q.url(),
        }
    }

    pub async fn receive(&self, max: usize) -> Result<Vec<Message>, QueueError> {
        match self {
            Self::Table(q) => q.receive(max).await,
            Self::Sqs(q) => Ok(q.receive(max).await?),
        }
    }

    pub async fn delete(&self, receipt: &str) -> Result<bool, QueueError> {
        match self {
            Self::Table(q) => q.delete(receipt).await,
            Self::Sqs(q) => Ok(q.delete(receipt).await?),
        }
    }

    pub async fn extend(&self, receipt: &str, by: Duration) -> Result<bool, QueueError> {
        match self {
            Self::Table(q) => q.extend(receipt, by).await,
            Self::Sqs(q) => Ok(q.extend(receipt, by).await?),
        }
    }

    /// Messages waiting and in flight (the table queue also counts its dead letters; SQS keeps
    /// them in another queue).
    pub async fn depth(&self) -> Result<Depth, QueueError> {
        match self {
            Self::Table(q) => q.depth().await,
            Self::Sqs(q) => {
                let (visible, in_flight) = q.depth().await?;
                Ok(Depth {
                    visible,
                    in_flight,
                    dead: 0,
                })
            }
        }
    }

    /// Deliveries after which the queue dead-letters a message, if it does.
    pub async fn max_receives(&self) -> Option<i64> {
        match self {
            Self::Table(q) => Some(q.max_receives()),
            Self::Sqs(q) => q.max_receives().await,
        }
    }

    /// Counts a message whose last delivery failed: the queue dead-letters it now (the table
    /// queue at its next receive, SQS by its redrive policy).
    pub async fn note_failed_delivery(&self, message: &Message) {
        if self
            .max_receives()
            .await
            .is_some_and(|max| message.receive_count >= max)
        {
            metrics::counter!("media_processing_dlq_messages_total").increment(1);
            tracing::error!(
                queue = self.name(), message_id = %message.id, receive_count = message.receive_count,
                "message failed its last delivery; it goes to the dead-letter queue"
            );
        }
    }
}
