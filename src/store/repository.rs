//! cqrs-es's view of the store.

use cqrs_es::Aggregate;
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use serde_json::Value;

use super::events::{self, StoredEvent};
use super::{Store, StoreError};

impl From<StoreError> for PersistenceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Database(e) => Self::ConnectionError(Box::new(e)),
            StoreError::Corrupt { .. } => Self::DeserializationError(Box::new(e)),
            other => Self::UnknownError(Box::new(other)),
        }
    }
}

impl Store {
    async fn load(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after: i64,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let mut conn = self.pool.acquire().await.map_err(StoreError::from)?;
        let rows = events::stream(&mut conn, self.dialect, aggregate_type, aggregate_id, after)
            .await
            .map_err(StoreError::from)?;
        Ok(rows
            .iter()
            .map(|e| e.to_serialized(&self.upcasters))
            .collect::<Result<_, _>>()?)
    }

    /// One stream's stored events, as they are in the table (for audit and history).
    pub async fn stream(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(events::stream(&mut conn, self.dialect, aggregate_type, aggregate_id, 0).await?)
    }
}

impl PersistedEventRepository for Store {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.load(A::TYPE, aggregate_id, 0).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.load(
            A::TYPE,
            aggregate_id,
            i64::try_from(last_sequence).unwrap_or(i64::MAX),
        )
        .await
    }

    /// Aggregates are rebuilt from their events; there are no snapshots.
    async fn get_snapshot<A: Aggregate>(
        &self,
        _: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        _snapshot: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        self.append(events).await
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let events = self.load(A::TYPE, aggregate_id, 0).await?;
        replay(events).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let mut conn = self.pool.acquire().await.map_err(StoreError::from)?;
        let sql = format!(
            "SELECT {} FROM events WHERE aggregate_type = ? ORDER BY position",
            events::COLUMNS
        );
        let rows = sqlx::query(self.dialect.sql(&sql))
            .bind(A::TYPE)
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::from)?;
        let events = rows
            .iter()
            .map(|r| {
                StoredEvent::from_row(r)
                    .map_err(StoreError::from)?
                    .to_serialized(&self.upcasters)
            })
            .collect::<Result<Vec<_>, _>>()?;
        replay(events).await
    }
}

async fn replay(events: Vec<SerializedEvent>) -> Result<ReplayStream, PersistenceError> {
    let (mut feed, stream) = ReplayStream::new(events.len().max(1));
    for event in events {
        feed.push(Ok(event)).await?;
    }
    Ok(stream)
}
