//! The outbox relay: moves the messages a commit left in `outbox` into `job_queue`. Both tables
//! live in one database, so the move is one transaction and each message is enqueued exactly
//! once, even with several relays running (the unique message key settles any race).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use projections::outbox::{LISTING_STATUS_CHANGED, PROCESSING_JOB};
use serde_json::Value;
use sqlx::Row as _;
use tokio::sync::watch;

use super::table::{self, QueueError};
use crate::engine::Engine;
use crate::store::Store;

/// The queue of processing jobs (API.md §6).
pub const JOBS: &str = "jobs";
/// The queue of listing status changes, for the platform.
pub const LISTING_EVENTS: &str = "listing-events";

/// Outbox rows moved per transaction by [`run`].
const BATCH: i64 = 100;

/// Moves up to `batch` job and listing-status outbox rows, oldest first, into their queues and
/// deletes them, in one write transaction. Returns how many moved; 0 when a concurrent relay
/// got there first (it moved them). `listing.media_ready` rows are left to the engine.
pub async fn relay_once(store: &Store, batch: i64) -> Result<usize, QueueError> {
    let dialect = store.dialect();
    match move_batch(store, batch).await {
        Err(QueueError::Database(e)) if lost_race(store, &e) => {
            tracing::debug!(error = %e, backend = dialect.name(), "another relay moved these outbox rows");
            Ok(0)
        }
        other => other,
    }
}

fn lost_race(store: &Store, e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
        || store.dialect().is_transient(e)
}

/// On error the transaction is dropped, which rolls it back.
async fn move_batch(store: &Store, batch: i64) -> Result<usize, QueueError> {
    let dialect = store.dialect();
    let mut tx = store.pool().begin_with(dialect.begin_write()).await?;
    let sql = "SELECT id, topic, aggregate_id, sequence, payload FROM outbox \
               WHERE topic IN (?, ?) ORDER BY id LIMIT ?";
    let rows = sqlx::query(dialect.sql(sql))
        .bind(PROCESSING_JOB)
        .bind(LISTING_STATUS_CHANGED)
        .bind(batch)
        .fetch_all(&mut *tx)
        .await?;
    for row in &rows {
        let id: i64 = row.try_get("id")?;
        let topic: String = row.try_get("topic")?;
        let aggregate_id: String = row.try_get("aggregate_id")?;
        let sequence: i64 = row.try_get("sequence")?;
        let payload: String = row.try_get("payload")?;
        let (queue, attributes) = if topic == PROCESSING_JOB {
            (JOBS, job_attributes(&payload))
        } else {
            (LISTING_EVENTS, listing_attributes(&payload))
        };
        let attributes = serde_json::to_string(&attributes).expect("a string map serializes");
        let key = format!("{aggregate_id}:{sequence}");
        table::insert(&mut *tx, store, queue, &key, &payload, &attributes).await?;
        sqlx::query(dialect.sql("DELETE FROM outbox WHERE id = ?"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// The message attributes of API.md §6, so consumers can route and log without parsing the
/// body. A field the payload lacks is left out rather than blocking the outbox behind it.
fn job_attributes(payload: &str) -> BTreeMap<String, String> {
    let body: Value = serde_json::from_str(payload).unwrap_or_default();
    let mut attributes = pick(
        &body,
        &[
            ("listingIdentityId", "ListingIdentityId"),
            ("batchId", "BatchId"),
            ("jobId", "JobId"),
            ("traceparent", "Traceparent"),
        ],
    );
    if let Some(attempt) = body["attempt"].as_i64() {
        attributes.insert("RetryCount".into(), (attempt - 1).max(0).to_string());
    }
    attributes
}

fn listing_attributes(payload: &str) -> BTreeMap<String, String> {
    let body: Value = serde_json::from_str(payload).unwrap_or_default();
    pick(&body, &[("listingIdentityId", "ListingIdentityId")])
}

/// Copies the present fields under their attribute names; strings as they are, others as JSON.
fn pick(body: &Value, fields: &[(&str, &str)]) -> BTreeMap<String, String> {
    fields
        .iter()
        .filter_map(|(field, name)| {
            let value = match &body[*field] {
                Value::Null => return None,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(((*name).to_owned(), value))
        })
        .collect()
}

/// The background loop of `serve`: settles READY batches (which writes listing status
/// changes), drains the outbox into the queues, then sleeps `every` — waking early when
/// `shutdown` turns true or its sender is dropped. Errors are logged and retried next round:
/// the outbox keeps every message until it is moved, so nothing is lost by waiting.
pub async fn run(
    store: Store,
    engine: Arc<Engine>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        if let Err(e) = engine.settle_ready_batches().await {
            tracing::warn!(error = %e, "settling ready batches failed; retrying next round");
        }
        loop {
            match relay_once(&store, BATCH).await {
                Ok(n) if i64::try_from(n) == Ok(BATCH) => {}
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay failed; retrying next round");
                    break;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            changed = shutdown.changed() => if changed.is_err() { return },
        }
    }
}
