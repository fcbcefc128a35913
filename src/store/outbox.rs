//! The `outbox` table: messages a commit left for the relay and the settler to move on.

use sqlx::Row as _;
use toq_contract::listing::{MEDIA_READY, MediaReady};

use super::job_queue::{self, Enqueue};
use super::{Store, StoreError};

/// One outbox row, as written by the append.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: i64,
    pub topic: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub payload: String,
}

impl Store {
    /// Up to `limit` rows of these topics, oldest first.
    pub async fn outbox(
        &self,
        topics: &[&str],
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let marks = vec!["?"; topics.len()].join(", ");
        let sql = format!(
            "SELECT id, topic, aggregate_id, sequence, payload FROM outbox \
             WHERE topic IN ({marks}) ORDER BY id LIMIT ?"
        );
        let mut query = sqlx::query(self.dialect.sql(&sql));
        for topic in topics {
            query = query.bind(*topic);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        let read = |row: &sqlx::any::AnyRow| -> Result<OutboxMessage, sqlx::Error> {
            Ok(OutboxMessage {
                id: row.try_get("id")?,
                topic: row.try_get("topic")?,
                aggregate_id: row.try_get("aggregate_id")?,
                sequence: row.try_get("sequence")?,
                payload: row.try_get("payload")?,
            })
        };
        Ok(rows.iter().map(read).collect::<Result<_, _>>()?)
    }

    /// Up to `limit` `listing.media_ready` rows, oldest first, by outbox id.
    pub async fn ready_outbox(&self, limit: i64) -> Result<Vec<(i64, MediaReady)>, StoreError> {
        self.outbox(&[MEDIA_READY], limit)
            .await?
            .into_iter()
            .map(|m| {
                let ready = serde_json::from_str(&m.payload)
                    .map_err(|source| StoreError::CorruptOutbox { id: m.id, source })?;
                Ok((m.id, ready))
            })
            .collect()
    }

    /// Deletes these rows in one statement; returns how many were still there.
    pub async fn delete_outbox(&self, ids: &[i64]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!("DELETE FROM outbox WHERE id IN ({marks})");
        let mut delete = sqlx::query(self.dialect.sql(&sql));
        for id in ids {
            delete = delete.bind(*id);
        }
        Ok(delete.execute(&self.pool).await?.rows_affected())
    }

    /// In one write transaction, puts each message on its table queue and deletes its outbox
    /// row (`outbox_id`); on error nothing moved.
    pub async fn move_to_queues(&self, moves: &[(i64, Enqueue<'_>)]) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin_with(self.dialect.begin_write()).await?;
        for (outbox_id, message) in moves {
            job_queue::insert(&mut *tx, self.dialect, message).await?;
            sqlx::query(self.dialect.sql("DELETE FROM outbox WHERE id = ?"))
                .bind(*outbox_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How many rows wait in the outbox, and when the oldest was written (RFC 3339).
    pub async fn outbox_depth(&self) -> Result<(i64, Option<String>), StoreError> {
        let row = sqlx::query("SELECT COUNT(*), MIN(created_at) FROM outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }
}
