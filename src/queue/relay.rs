//! The outbox relay: moves the messages a commit left in `outbox` to their queues.
//!
//! To the table queue, the move is one local transaction, so each message is enqueued exactly
//! once even with several relays running (the unique message key settles any race). To SQS, a
//! row is deleted only after SQS accepted its message: a crash in between sends it again,
//! which consumers take as the duplicate it is (at least once, never lost).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use projections::outbox::{LISTING_STATUS_CHANGED, PROCESSING_JOB};
use serde_json::Value;
use sqlx::Row as _;
use tokio::sync::watch;

use super::sqs::{MAX_BATCH, Outgoing, SqsQueue};
use super::{QueueError, table};
use crate::engine::Engine;
use crate::lease::Lease;
use crate::process::ready_listing;
use crate::store::Store;

/// The table queue of processing jobs (API.md §6).
pub const JOBS: &str = "jobs";
/// The table queue of listing status changes, for the platform.
pub const LISTING_EVENTS: &str = "listing-events";

/// Outbox rows moved per round by [`run`].
const BATCH: i64 = 100;

/// Where one kind of message goes.
#[derive(Clone)]
pub enum Sink {
    /// A named queue in the `job_queue` table.
    Table(&'static str),
    Sqs(SqsQueue),
}

/// Where the relay sends each kind of outbox message.
#[derive(Clone)]
pub struct Sinks {
    pub jobs: Sink,
    /// Jobs of a second or later attempt, when they have their own queue.
    pub retries: Option<Sink>,
    pub listing_events: Sink,
}

impl Sinks {
    /// Everything to the table queue: the embedded default.
    pub fn tables() -> Self {
        Self {
            jobs: Sink::Table(JOBS),
            retries: None,
            listing_events: Sink::Table(LISTING_EVENTS),
        }
    }

    fn route(&self, topic: &str, payload: &Value) -> &Sink {
        if topic != PROCESSING_JOB {
            return &self.listing_events;
        }
        match &self.retries {
            Some(retries) if payload["attempt"].as_i64().is_some_and(|a| a > 1) => retries,
            _ => &self.jobs,
        }
    }
}

/// One outbox row, read.
struct Row {
    id: i64,
    key: String,
    group: String,
    payload: String,
    attributes: BTreeMap<String, String>,
}

/// Moves up to `batch` job and listing-status outbox rows, oldest first, to their sinks and
/// deletes them. Returns how many moved; 0 when a concurrent relay got there first (it moved
/// them). `listing.media_ready` rows are left to the engine.
pub async fn relay_once(store: &Store, sinks: &Sinks, batch: i64) -> Result<usize, QueueError> {
    let mut to_tables: Vec<(&'static str, Row)> = Vec::new();
    let mut to_sqs: Vec<(SqsQueue, Vec<Row>)> = Vec::new();
    for (topic, row) in read(store, batch).await? {
        let body: Value = serde_json::from_str(&row.payload).unwrap_or_default();
        match sinks.route(&topic, &body) {
            Sink::Table(queue) => to_tables.push((queue, row)),
            Sink::Sqs(queue) => match to_sqs.iter_mut().find(|(q, _)| q.url() == queue.url()) {
                Some((_, rows)) => rows.push(row),
                None => to_sqs.push((queue.clone(), vec![row])),
            },
        }
    }
    let mut moved = match move_to_tables(store, &to_tables).await {
        Err(QueueError::Database(e)) if lost_race(store, &e) => {
            tracing::debug!(error = %e, backend = store.dialect().name(), "another relay moved these outbox rows");
            0
        }
        other => other?,
    };
    for (queue, rows) in &to_sqs {
        for chunk in rows.chunks(MAX_BATCH) {
            moved += send_to_sqs(store, queue, chunk).await?;
        }
    }
    Ok(moved)
}

fn lost_race(store: &Store, e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
        || store.dialect().is_transient(e)
}

async fn read(store: &Store, batch: i64) -> Result<Vec<(String, Row)>, QueueError> {
    let sql = "SELECT id, topic, aggregate_id, sequence, payload FROM outbox \
               WHERE topic IN (?, ?) ORDER BY id LIMIT ?";
    let rows = sqlx::query(store.dialect().sql(sql))
        .bind(PROCESSING_JOB)
        .bind(LISTING_STATUS_CHANGED)
        .bind(batch)
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| {
            let topic: String = row.try_get("topic")?;
            let aggregate_id: String = row.try_get("aggregate_id")?;
            let sequence: i64 = row.try_get("sequence")?;
            let payload: String = row.try_get("payload")?;
            let attributes = if topic == PROCESSING_JOB {
                job_attributes(&payload)
            } else {
                listing_attributes(&payload)
            };
            let row = Row {
                id: row.try_get("id")?,
                key: format!("{aggregate_id}:{sequence}"),
                group: aggregate_id,
                payload,
                attributes,
            };
            Ok((topic, row))
        })
        .collect()
}

/// One write transaction: each row into its queue and out of the outbox. On error the
/// transaction is dropped, which rolls it back.
async fn move_to_tables(store: &Store, rows: &[(&'static str, Row)]) -> Result<usize, QueueError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let dialect = store.dialect();
    let _turn = store.write_turn().await;
    let mut tx = store.pool().begin_with(dialect.begin_write()).await?;
    for (queue, row) in rows {
        let attributes = serde_json::to_string(&row.attributes).expect("a string map serializes");
        table::insert(&mut *tx, store, queue, &row.key, &row.payload, &attributes).await?;
        sqlx::query(dialect.sql("DELETE FROM outbox WHERE id = ?"))
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// Sends up to ten rows in one request and deletes those SQS accepted.
async fn send_to_sqs(store: &Store, queue: &SqsQueue, rows: &[Row]) -> Result<usize, QueueError> {
    let outgoing: Vec<Outgoing> = rows
        .iter()
        .map(|row| Outgoing {
            key: row.key.clone(),
            group: row.group.clone(),
            body: row.payload.clone(),
            attributes: row.attributes.clone(),
        })
        .collect();
    let accepted = queue.send_batch(&outgoing).await?;
    let ids: Vec<i64> = rows
        .iter()
        .filter(|r| accepted.contains(&r.key))
        .map(|r| r.id)
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    // One statement for the batch SQS took.
    let marks = vec!["?"; ids.len()].join(", ");
    let sql = format!("DELETE FROM outbox WHERE id IN ({marks})");
    let mut delete = sqlx::query(store.dialect().sql(&sql));
    for id in ids {
        delete = delete.bind(id);
    }
    let deleted = delete.execute(store.pool()).await?;
    Ok(usize::try_from(deleted.rows_affected()).unwrap_or(0))
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
    pick(
        &body,
        &[
            ("listingIdentityId", "ListingIdentityId"),
            ("traceparent", "Traceparent"),
        ],
    )
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

/// How long the relay's lease lasts past each round: a relay that dies is replaced this soon.
const LEASE: Duration = Duration::from_secs(5);

/// The background loop of `serve`: under the relay lease (one process at a time), settles READY
/// batches (which writes listing status changes) and drains the outbox into the queues; then
/// sleeps `every`, waking early when `shutdown` turns true or its sender is dropped, and gives
/// the lease back. Errors are logged and retried next
/// round: the outbox keeps every message until it is moved, so nothing is lost by waiting.
pub async fn run(
    store: Store,
    engine: Arc<Engine>,
    sinks: Sinks,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let lease = Lease::new(store.clone(), "outbox-relay", LEASE.max(every * 3));
    while !*shutdown.borrow() {
        match lease.acquire().await {
            Ok(true) => relay_round(&store, &engine, &sinks).await,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "taking the relay lease failed; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            changed = shutdown.changed() => if changed.is_err() { break },
        }
    }
    lease.release().await;
}

async fn relay_round(store: &Store, engine: &Engine, sinks: &Sinks) {
    if let Err(e) = ready_listing::catch_up(engine).await {
        tracing::warn!(error = %e, "settling ready batches failed; retrying next round");
    }
    loop {
        match relay_once(store, sinks, BATCH).await {
            Ok(n) if i64::try_from(n) == Ok(BATCH) => {}
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(error = %e, "outbox relay failed; retrying next round");
                break;
            }
        }
    }
}
