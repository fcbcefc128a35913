//! The `job_queue` table as an SQS-like queue: at-least-once delivery with a visibility
//! timeout, a receive count and a dead-letter flag, on any backend the event store runs on.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use projections::time::stamp;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{Message, QueueError};
use crate::store::Store;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    pub visible: i64,
    pub in_flight: i64,
    pub dead: i64,
}

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
        let sql = "SELECT COUNT(*) FROM job_queue WHERE queue = ? AND message_key = ?";
        let existing: i64 = sqlx::query_scalar(self.store.dialect().sql(sql))
            .bind(&self.queue)
            .bind(key)
            .fetch_one(self.store.pool())
            .await?;
        if existing > 0 {
            return Ok(false);
        }
        let attributes = serde_json::to_string(attributes).expect("a string map serializes");
        let inserted = insert(
            self.store.pool(),
            &self.store,
            &self.queue,
            key,
            payload,
            &attributes,
        )
        .await;
        match inserted {
            Ok(()) => Ok(true),
            // A concurrent send of the same key won between the check and the insert.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Claims up to `max` visible messages, longest-waiting first (for fresh messages, the oldest),
    /// hiding each for the visibility timeout. Each claim is one conditional UPDATE, so two
    /// consumers never both win a message, with no `SKIP LOCKED` (absent from SQLite and older
    /// MariaDB). A message already received `max_receives` times is dead-lettered instead.
    pub async fn receive(&self, max: usize) -> Result<Vec<Message>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let dialect = self.store.dialect();
        let pool = self.store.pool();
        let now = Utc::now();
        let (now_s, hidden_until) = (stamp(now), stamp(now + self.visibility));
        let sql = "SELECT id, payload, attributes, receive_count, enqueued_at FROM job_queue \
                   WHERE queue = ? AND dead = 0 AND visible_at <= ? ORDER BY visible_at, id LIMIT ?";
        let candidates = sqlx::query(dialect.sql(sql))
            .bind(&self.queue)
            .bind(&now_s)
            .bind(i64::try_from(max + SLACK).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await?;
        let mut out = Vec::with_capacity(max);
        for row in candidates {
            if out.len() == max {
                break;
            }
            let id: i64 = row.try_get("id")?;
            let receive_count: i64 = row.try_get("receive_count")?;
            if receive_count >= self.max_receives {
                let sql =
                    "UPDATE job_queue SET dead = 1 WHERE id = ? AND dead = 0 AND visible_at <= ?";
                let marked = sqlx::query(dialect.sql(sql))
                    .bind(id)
                    .bind(&now_s)
                    .execute(pool)
                    .await;
                if let Err(e) = marked
                    && !dialect.is_transient(&e)
                {
                    return Err(e.into());
                }
                continue;
            }
            let receipt = uuid::Uuid::now_v7().to_string();
            let sql = "UPDATE job_queue SET receipt = ?, visible_at = ?, receive_count = receive_count + 1 \
                       WHERE id = ? AND dead = 0 AND visible_at <= ?";
            let claimed = sqlx::query(dialect.sql(sql))
                .bind(&receipt)
                .bind(&hidden_until)
                .bind(id)
                .bind(&now_s)
                .execute(pool)
                .await;
            match claimed {
                Ok(r) if r.rows_affected() == 1 => {
                    let mut message = message(&row, receipt)?;
                    message.receive_count += 1;
                    out.push(message);
                }
                // Another consumer claimed it first.
                Ok(_) => {}
                // Held up by another writer: left for the next receive.
                Err(e) if dialect.is_transient(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// Removes the message this receipt delivered. False when the receipt is stale (the
    /// message was delivered again since, or is already gone).
    pub async fn delete(&self, receipt: &str) -> Result<bool, QueueError> {
        let sql = "DELETE FROM job_queue WHERE queue = ? AND receipt = ?";
        let done = sqlx::query(self.store.dialect().sql(sql))
            .bind(&self.queue)
            .bind(receipt)
            .execute(self.store.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Keeps the message hidden for `by` from now, for a consumer that needs longer. False
    /// when the receipt is stale.
    pub async fn extend(&self, receipt: &str, by: Duration) -> Result<bool, QueueError> {
        let until = stamp(Utc::now() + to_chrono(by));
        let sql =
            "UPDATE job_queue SET visible_at = ? WHERE queue = ? AND receipt = ? AND dead = 0";
        let done = sqlx::query(self.store.dialect().sql(sql))
            .bind(until)
            .bind(&self.queue)
            .bind(receipt)
            .execute(self.store.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn depth(&self) -> Result<Depth, QueueError> {
        let sql = "SELECT COUNT(CASE WHEN dead = 0 AND visible_at <= ? THEN 1 END), \
                   COUNT(CASE WHEN dead = 0 AND visible_at > ? THEN 1 END), \
                   COUNT(CASE WHEN dead <> 0 THEN 1 END) FROM job_queue WHERE queue = ?";
        let now = stamp(Utc::now());
        let row = sqlx::query(self.store.dialect().sql(sql))
            .bind(&now)
            .bind(&now)
            .bind(&self.queue)
            .fetch_one(self.store.pool())
            .await?;
        Ok(Depth {
            visible: row.try_get(0)?,
            in_flight: row.try_get(1)?,
            dead: row.try_get(2)?,
        })
    }

    /// Dead messages, oldest first, for an operator to inspect (their receipt is the last one).
    pub async fn dead_letters(&self, limit: i64) -> Result<Vec<Message>, QueueError> {
        let sql = "SELECT id, payload, attributes, receive_count, enqueued_at, receipt FROM job_queue \
                   WHERE queue = ? AND dead <> 0 ORDER BY id LIMIT ?";
        let rows = sqlx::query(self.store.dialect().sql(sql))
            .bind(&self.queue)
            .bind(limit)
            .fetch_all(self.store.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let receipt: Option<String> = row.try_get("receipt")?;
                message(row, receipt.unwrap_or_default())
            })
            .collect()
    }
}

/// Inserts one visible message; shared with the relay, which runs it inside its transaction.
pub(crate) async fn insert<'c, E>(
    executor: E,
    store: &Store,
    queue: &str,
    key: &str,
    payload: &str,
    attributes: &str,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let now = stamp(Utc::now());
    let sql = "INSERT INTO job_queue (queue, message_key, payload, attributes, enqueued_at, visible_at, receive_count, dead) \
               VALUES (?, ?, ?, ?, ?, ?, 0, 0)";
    sqlx::query(store.dialect().sql(sql))
        .bind(queue)
        .bind(key)
        .bind(payload)
        .bind(attributes)
        .bind(&now)
        .bind(&now)
        .execute(executor)
        .await?;
    Ok(())
}

fn message(row: &AnyRow, receipt: String) -> Result<Message, QueueError> {
    let id: i64 = row.try_get("id")?;
    let attributes: String = row.try_get("attributes")?;
    Ok(Message {
        id: id.to_string(),
        receipt,
        payload: row.try_get("payload")?,
        attributes: serde_json::from_str(&attributes)
            .map_err(|source| QueueError::Attributes { id, source })?,
        receive_count: row.try_get("receive_count")?,
        enqueued_at: row.try_get("enqueued_at")?,
    })
}

/// Capped at a century ("for ever" in practice), so that adding it to now cannot overflow and
/// the stamp keeps its four-digit year, which is what makes it sort as text.
fn to_chrono(d: Duration) -> chrono::Duration {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
    chrono::Duration::from_std(d.min(CENTURY)).expect("a century fits")
}
