//! cqrs-es's view of the store.

use cqrs_es::Aggregate;
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use serde_json::Value;

use super::events::{self, StoredEvent};
use super::{Snapshot, Store, StoreError};

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

    /// The state this process committed last, if it still holds it (see `cache`): snapshots
    /// live in memory only, so the events stay the one source of truth.
    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        let Some(snapshot) = self.snapshots.get(A::TYPE, aggregate_id) else {
            self.snapshots.count("miss");
            return Ok(None);
        };
        self.snapshots.count("hit");
        Ok(Some(SerializedSnapshot {
            aggregate_id: aggregate_id.to_owned(),
            aggregate: serde_json::from_str(&snapshot.json)?,
            current_sequence: snapshot.sequence,
            current_snapshot: snapshot.number,
        }))
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        self.append(events).await?;
        // cqrs-es's snapshot covers every event of the commit (a snapshot size of 1).
        if let (Some((id, state, number)), Some(last)) = (snapshot, events.last()) {
            let json = serde_json::to_string(&state)?;
            let snapshot = Snapshot {
                json,
                sequence: last.sequence,
                number,
            };
            self.snapshots.put(A::TYPE, &id, snapshot);
        }
        Ok(())
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
