//! A batch's history for auditors: every event, who caused it, and the state after it.

use aggregates::{BatchId, MediaBatch, MediaBatchEvent};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    pub user_id: Option<String>,
    pub role: Option<String>,
}

/// One entry, in the shape of API.md §7 plus the batch status after the event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub sequence: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    pub request_id: Option<String>,
    pub status_after: &'static str,
    pub payload: Value,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    pub batch_id: BatchId,
    pub events: Vec<Entry>,
    /// The batch as it stood at the end of `events`.
    pub state: MediaBatch,
}

/// The batch's events up to `as_of` (all when `None`); `None` if the batch has no events.
pub async fn load(
    store: &Store,
    batch_id: BatchId,
    as_of: Option<DateTime<Utc>>,
) -> Result<Option<History>, StoreError> {
    let stored = store
        .stream(MediaBatch::TYPE, &batch_id.to_string())
        .await?;
    if stored.is_empty() {
        return Ok(None);
    }
    let mut state = MediaBatch::default();
    let mut events = Vec::new();
    for s in &stored {
        let serialized = s.to_serialized(store.upcasters())?;
        let event = MediaBatchEvent::deserialize(&serialized.payload).map_err(|source| {
            StoreError::Corrupt {
                position: s.position,
                source,
            }
        })?;
        if as_of.is_some_and(|t| event.at() > t) {
            break;
        }
        state.apply(event.clone());
        let meta = |k: &str| {
            serialized
                .metadata
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        events.push(Entry {
            sequence: s.sequence,
            event_type: serialized.event_type.clone(),
            version: serialized.event_version.clone(),
            occurred_at: event.at(),
            actor: Actor {
                user_id: meta("actor_user_id"),
                role: meta("actor_role"),
            },
            request_id: meta("request_id"),
            status_after: state.batch.as_ref().map_or("NONE", |b| b.status.as_str()),
            payload: serialized.payload,
        });
    }
    Ok(Some(History {
        batch_id,
        events,
        state,
    }))
}
