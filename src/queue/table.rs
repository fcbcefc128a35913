//! The `job_queue` table as an SQS-like queue: at-least-once delivery with a visibility
//! timeout, a receive count and a dead-letter flag, on any backend the event store runs on.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use projections::time::stamp;

use super::{Message, QueueError};
pub use crate::store::Depth;
use crate::store::{Enqueue, Queued, Store};

/// One named queue in `job_queue`; cheap to clone.
#[derive(Clone)]
pub struct TableQueue {
    store: Store,
    queue: String,
    visibility: chrono::Duration,
    max_receives: i64,
}

/// Candidates read beyond `max`, so that losing a few claims to other consumers still fills
/// the batch.
const SLACK: usize = 8;

impl TableQueue {
    /// `visibility`: how long a received message stays hidden before it is delivered again;
    /// `max_receives`: deliveries before the message is dead-lettered instead.
    pub fn new(store: Store, queue: &str, visibility: Duration, max_receives: i64) -> Self {
        Self {
            store,
            queue: queue.to_owned(),
            visibility: to_chrono(visibility),
            max_receives,
        }
    }

    pub fn name(&self) -> &str {
        &self.queue
    }

    pub fn max_receives(&self) -> i64 {
        self.max_receives
    }

    /// Enqueues, visible at once. False when a message with `key` is already in this queue, so
    /// a producer may send the same message again safely.
    pub async fn send(
        &self,
        key: &str,
        payload: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<bool, QueueError> {
        let attributes = serde_json::to_string(attributes).expect("a string map serializes");
        let now = stamp(Utc::now());
        let message = Enqueue {
            queue: &self.queue,
            key,
            payload,
            attributes: &attributes,
            now: &now,
        };
        Ok(self.store.enqueue(&message).await?)
    }

    /// Claims up to `max` visible messages, longest-waiting first (for fresh messages, the oldest),
    /// hiding each for the visibility timeout. Each claim is one conditional UPDATE, so two
    /// consumers never both win a message, with no `SKIP LOCKED` (absent from SQLite and older
    /// MariaDB). A message already received `max_receives` times is dead-lettered instead.
    pub async fn receive(&self, max: usize) -> Result<Vec<Message>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        let (now_s, hidden_until) = (stamp(now), stamp(now + self.visibility));
        let limit = i64::try_from(max + SLACK).unwrap_or(i64::MAX);
        let candidates = self
            .store
            .visible_messages(&self.queue, &now_s, limit)
            .await?;
        let mut out = Vec::with_capacity(max);
        for row in candidates {
            if out.len() == max {
                break;
            }
            if row.receive_count >= self.max_receives {
                self.store.mark_dead(row.id, &now_s).await?;
                continue;
            }
            let receipt = uuid::Uuid::now_v7().to_string();
            // False when another consumer claimed it first.
            if self
                .store
                .claim(row.id, &receipt, &hidden_until, &now_s)
                .await?
            {
                let mut message = message(row, receipt)?;
                message.receive_count += 1;
                out.push(message);
            }
        }
        Ok(out)
    }

    /// Removes the message this receipt delivered. False when the receipt is stale (the
    /// message was delivered again since, or is already gone).
    pub async fn delete(&self, receipt: &str) -> Result<bool, QueueError> {
        Ok(self.store.delete_delivered(&self.queue, receipt).await?)
    }

    /// Keeps the message hidden for `by` from now, for a consumer that needs longer. False
    /// when the receipt is stale.
    pub async fn extend(&self, receipt: &str, by: Duration) -> Result<bool, QueueError> {
        let until = stamp(Utc::now() + to_chrono(by));
        Ok(self
            .store
            .hide_delivered(&self.queue, receipt, &until)
            .await?)
    }

    pub async fn depth(&self) -> Result<Depth, QueueError> {
        let now = stamp(Utc::now());
        Ok(self.store.queue_depth(&self.queue, &now).await?)
    }

    /// Dead messages, oldest first, for an operator to inspect (their receipt is the last one).
    pub async fn dead_letters(&self, limit: i64) -> Result<Vec<Message>, QueueError> {
        let rows = self.store.dead_messages(&self.queue, limit).await?;
        rows.into_iter()
            .map(|row| {
                let receipt = row.receipt.clone().unwrap_or_default();
                message(row, receipt)
            })
            .collect()
    }
}

fn message(row: Queued, receipt: String) -> Result<Message, QueueError> {
    let attributes = serde_json::from_str(&row.attributes)
        .map_err(|source| QueueError::Attributes { id: row.id, source })?;
    Ok(Message {
        id: row.id.to_string(),
        receipt,
        payload: row.payload,
        attributes,
        receive_count: row.receive_count,
        enqueued_at: row.enqueued_at,
    })
}

/// Capped at a century ("for ever" in practice), so that adding it to now cannot overflow and
/// the stamp keeps its four-digit year, which is what makes it sort as text.
fn to_chrono(d: Duration) -> chrono::Duration {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
    chrono::Duration::from_std(d.min(CENTURY)).expect("a century fits")
}
