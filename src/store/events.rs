//! Reading stored events, upcast to their current version.

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};
use toq_evidence::chain::Link;
use toq_evidence::checkpoint::Head;

use super::{Dialect, StoreError};

/// One row of the `events` table.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    /// Payload and metadata exactly as stored (the hash covers these bytes).
    pub payload: String,
    pub metadata: String,
    pub hash: String,
    pub recorded_at: String,
}

pub const COLUMNS: &str = "position, aggregate_type, aggregate_id, sequence, event_type, \
     event_version, payload, metadata, hash, recorded_at";

impl StoredEvent {
    pub fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            position: row.try_get(0)?,
            aggregate_type: row.try_get(1)?,
            aggregate_id: row.try_get(2)?,
            sequence: row.try_get(3)?,
            event_type: row.try_get(4)?,
            event_version: row.try_get(5)?,
            payload: row.try_get(6)?,
            metadata: row.try_get(7)?,
            hash: row.try_get(8)?,
            recorded_at: row.try_get(9)?,
        })
    }

    /// What the event's chain hash covers.
    pub fn link(&self) -> Link<'_> {
        Link {
            aggregate_type: &self.aggregate_type,
            aggregate_id: &self.aggregate_id,
            sequence: self.sequence,
            event_type: &self.event_type,
            event_version: &self.event_version,
            payload: &self.payload,
            metadata: &self.metadata,
        }
    }

    /// The event as cqrs-es sees it, brought to its current version.
    pub fn to_serialized(
        &self,
        upcasters: &[Box<dyn EventUpcaster>],
    ) -> Result<SerializedEvent, StoreError> {
        let corrupt = |source| StoreError::Corrupt {
            position: self.position,
            source,
        };
        let event = SerializedEvent {
            aggregate_id: self.aggregate_id.clone(),
            sequence: usize::try_from(self.sequence).unwrap_or_default(),
            aggregate_type: self.aggregate_type.clone(),
            event_type: self.event_type.clone(),
            event_version: self.event_version.clone(),
            payload: serde_json::from_str(&self.payload).map_err(corrupt)?,
            metadata: serde_json::from_str(&self.metadata).map_err(corrupt)?,
        };
        Ok(upcast(event, upcasters))
    }
}

pub fn upcast(event: SerializedEvent, upcasters: &[Box<dyn EventUpcaster>]) -> SerializedEvent {
    upcasters.iter().fold(event, |event, upcaster| {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            upcaster.upcast(event)
        } else {
            event
        }
    })
}

/// One stream's events from `after` on, in order.
pub async fn stream(
    conn: &mut AnyConnection,
    dialect: Dialect,
    aggregate_type: &str,
    aggregate_id: &str,
    after: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE aggregate_type = ? AND aggregate_id = ? AND sequence > ? ORDER BY sequence"
    );
    sqlx::query(dialect.sql(&sql))
        .bind(aggregate_type.to_owned())
        .bind(aggregate_id.to_owned())
        .bind(after)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(StoredEvent::from_row)
        .collect()
}

/// The sequence and hash of a stream's last event (`None` for a new stream): one row of the
/// `events_stream` index.
pub(super) async fn head(
    conn: &mut AnyConnection,
    dialect: Dialect,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Option<Head>, sqlx::Error> {
    let sql = "SELECT sequence, hash FROM events WHERE aggregate_type = ? AND aggregate_id = ? \
               ORDER BY sequence DESC LIMIT 1";
    let row = sqlx::query(dialect.sql(sql))
        .bind(aggregate_type.to_owned())
        .bind(aggregate_id.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| {
        Ok(Head {
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: aggregate_id.to_owned(),
            sequence: row.try_get(0)?,
            hash: row.try_get(1)?,
        })
    })
    .transpose()
}

/// The events of the streams of one type with ids from `first` to `last`, in stream and
/// sequence order: one range of the `events_stream` index.
pub async fn streams_between(
    conn: &mut AnyConnection,
    dialect: Dialect,
    aggregate_type: &str,
    first: &str,
    last: &str,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM events WHERE aggregate_type = ? AND aggregate_id >= ? \
         AND aggregate_id <= ? ORDER BY aggregate_id, sequence"
    );
    sqlx::query(dialect.sql(&sql))
        .bind(aggregate_type.to_owned())
        .bind(first.to_owned())
        .bind(last.to_owned())
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(StoredEvent::from_row)
        .collect()
}

/// Up to `limit` stream heads (each stream's last event) after the stream `after`, in stream
/// order: what a checkpoint signs. Keyed on the `events_stream` index, a page per call.
pub async fn heads_page(
    conn: &mut AnyConnection,
    dialect: Dialect,
    after: (&str, &str),
    limit: i64,
) -> Result<Vec<Head>, sqlx::Error> {
    let sql = "SELECT e.aggregate_type, e.aggregate_id, e.sequence, e.hash FROM events e \
         JOIN (SELECT aggregate_type, aggregate_id, MAX(sequence) AS head FROM events \
               WHERE aggregate_type > ? OR (aggregate_type = ? AND aggregate_id > ?) \
               GROUP BY aggregate_type, aggregate_id \
               ORDER BY aggregate_type, aggregate_id LIMIT ?) h \
         ON e.aggregate_type = h.aggregate_type AND e.aggregate_id = h.aggregate_id \
            AND e.sequence = h.head \
         ORDER BY e.aggregate_type, e.aggregate_id";
    sqlx::query(dialect.sql(sql))
        .bind(after.0.to_owned())
        .bind(after.0.to_owned())
        .bind(after.1.to_owned())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            Ok(Head {
                aggregate_type: row.try_get(0)?,
                aggregate_id: row.try_get(1)?,
                sequence: row.try_get(2)?,
                hash: row.try_get(3)?,
            })
        })
        .collect()
}

/// The chain hash of one event, if the stream has it.
pub async fn hash_at(
    conn: &mut AnyConnection,
    dialect: Dialect,
    aggregate_type: &str,
    aggregate_id: &str,
    sequence: i64,
) -> Result<Option<String>, sqlx::Error> {
    let sql =
        "SELECT hash FROM events WHERE aggregate_type = ? AND aggregate_id = ? AND sequence = ?";
    sqlx::query_scalar(dialect.sql(sql))
        .bind(aggregate_type.to_owned())
        .bind(aggregate_id.to_owned())
        .bind(sequence)
        .fetch_optional(&mut *conn)
        .await
}
