//! The SQL of the `job_queue` table; `crate::queue::table` builds the SQS-like queue on it.

use sqlx::Row as _;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use super::{Dialect, Store, StoreError};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    pub visible: i64,
    pub in_flight: i64,
    pub dead: i64,
}

/// A message to put on a queue, visible at once.
#[derive(Debug, Clone, Copy)]
pub struct Enqueue<'a> {
    pub queue: &'a str,
    pub key: &'a str,
    pub payload: &'a str,
    /// A JSON object of strings.
    pub attributes: &'a str,
    /// RFC 3339: when it was enqueued, and visible from.
    pub now: &'a str,
}

/// One `job_queue` row as stored.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: i64,
    pub payload: String,
    /// A JSON object of strings.
    pub attributes: String,
    pub receive_count: i64,
    pub enqueued_at: String,
    pub receipt: Option<String>,
}

fn queued(row: &AnyRow) -> Result<Queued, sqlx::Error> {
    Ok(Queued {
        id: row.try_get("id")?,
        payload: row.try_get("payload")?,
        attributes: row.try_get("attributes")?,
        receive_count: row.try_get("receive_count")?,
        enqueued_at: row.try_get("enqueued_at")?,
        receipt: row.try_get("receipt")?,
    })
}

const COLUMNS: &str = "id, payload, attributes, receive_count, enqueued_at, receipt";

/// Inserts one message; shared with the outbox move, which runs it inside its transaction.
pub(super) async fn insert<'c, E>(
    executor: E,
    dialect: Dialect,
    m: &Enqueue<'_>,
) -> Result<(), sqlx::Error>
where
    E: Executor<'c, Database = Any>,
{
    let sql = "INSERT INTO job_queue (queue, message_key, payload, attributes, enqueued_at, visible_at, receive_count, dead) \
               VALUES (?, ?, ?, ?, ?, ?, 0, 0)";
    sqlx::query(dialect.sql(sql))
        .bind(m.queue)
        .bind(m.key)
        .bind(m.payload)
        .bind(m.attributes)
        .bind(m.now)
        .bind(m.now)
        .execute(executor)
        .await?;
    Ok(())
}

impl Store {
    /// Enqueues; false when a message with this key is already in the queue.
    pub async fn enqueue(&self, m: &Enqueue<'_>) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM job_queue WHERE queue = ? AND message_key = ?";
        let existing: i64 = sqlx::query_scalar(self.dialect.sql(sql))
            .bind(m.queue)
            .bind(m.key)
            .fetch_one(&self.pool)
            .await?;
        if existing > 0 {
            return Ok(false);
        }
        match insert(&self.pool, self.dialect, m).await {
            Ok(()) => Ok(true),
            // A concurrent send of the same key won between the check and the insert.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Live messages visible at `now`, longest-waiting first.
    pub async fn visible_messages(
        &self,
        queue: &str,
        now: &str,
        limit: i64,
    ) -> Result<Vec<Queued>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM job_queue \
             WHERE queue = ? AND dead = 0 AND visible_at <= ? ORDER BY visible_at, id LIMIT ?"
        );
        let rows = sqlx::query(self.dialect.sql(&sql))
            .bind(queue)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(queued).collect::<Result<_, _>>()?)
    }

    /// Dead-letters a message still visible at `now`. A writer in the way leaves it for the next
    /// receive.
    pub async fn mark_dead(&self, id: i64, now: &str) -> Result<(), StoreError> {
        let sql = "UPDATE job_queue SET dead = 1 WHERE id = ? AND dead = 0 AND visible_at <= ?";
        let marked = sqlx::query(self.dialect.sql(sql))
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await;
        match marked {
            Err(e) if !self.dialect.is_transient(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Claims a message still visible at `now` under a new receipt, hidden until
    /// `hidden_until`, counting the delivery. One conditional UPDATE, so two consumers never
    /// both win; false when another did, or a writer held it up (left for the next receive).
    pub async fn claim(
        &self,
        id: i64,
        receipt: &str,
        hidden_until: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE job_queue SET receipt = ?, visible_at = ?, receive_count = receive_count + 1 \
                   WHERE id = ? AND dead = 0 AND visible_at <= ?";
        let claimed = sqlx::query(self.dialect.sql(sql))
            .bind(receipt)
            .bind(hidden_until)
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await;
        match claimed {
            Ok(r) => Ok(r.rows_affected() == 1),
            Err(e) if self.dialect.is_transient(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the message this receipt delivered; false when the receipt is stale.
    pub async fn delete_delivered(&self, queue: &str, receipt: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM job_queue WHERE queue = ? AND receipt = ?";
        let done = sqlx::query(self.dialect.sql(sql))
            .bind(queue)
            .bind(receipt)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Hides the live message this receipt delivered until `until`; false when it is stale.
    pub async fn hide_delivered(
        &self,
        queue: &str,
        receipt: &str,
        until: &str,
    ) -> Result<bool, StoreError> {
        let sql =
            "UPDATE job_queue SET visible_at = ? WHERE queue = ? AND receipt = ? AND dead = 0";
        let done = sqlx::query(self.dialect.sql(sql))
            .bind(until)
            .bind(queue)
            .bind(receipt)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The queue's messages visible at `now`, hidden at `now`, and dead.
    pub async fn queue_depth(&self, queue: &str, now: &str) -> Result<Depth, StoreError> {
        let sql = "SELECT COUNT(CASE WHEN dead = 0 AND visible_at <= ? THEN 1 END), \
                   COUNT(CASE WHEN dead = 0 AND visible_at > ? THEN 1 END), \
                   COUNT(CASE WHEN dead <> 0 THEN 1 END) FROM job_queue WHERE queue = ?";
        let row = sqlx::query(self.dialect.sql(sql))
            .bind(now)
            .bind(now)
            .bind(queue)
            .fetch_one(&self.pool)
            .await?;
        Ok(Depth {
            visible: row.try_get(0)?,
            in_flight: row.try_get(1)?,
            dead: row.try_get(2)?,
        })
    }

    /// Dead messages, oldest first.
    pub async fn dead_messages(&self, queue: &str, limit: i64) -> Result<Vec<Queued>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM job_queue WHERE queue = ? AND dead <> 0 ORDER BY id LIMIT ?"
        );
        let rows = sqlx::query(self.dialect.sql(&sql))
            .bind(queue)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(queued).collect::<Result<_, _>>()?)
    }
}
