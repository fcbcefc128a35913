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
use tokio::sync::watch;

use super::QueueError;
use super::sqs::{MAX_BATCH, Outgoing, SqsQueue};
use crate::engine::Engine;
use crate::lease::Lease;
use crate::process::ready_listing;
use crate::store::{Enqueue, Store, StoreError};

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
        Err(QueueError::Store(e)) if lost_race(store, &e) => {
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

fn lost_race(store: &Store, e: &StoreError) -> bool {
    e.is_unique_violation() || store.is_transient(e)
}

async fn read(store: &Store, batch: i64) -> Result<Vec<(String, Row)>, QueueError> {
    let messages = store
        .outbox(&[PROCESSING_JOB, LISTING_STATUS_CHANGED], batch)
        .await?;
    Ok(messages
        .into_iter()
        .map(|m| {
            let attributes = if m.topic == PROCESSING_JOB {
                job_attributes(&m.payload)
            } else {
                listing_attributes(&m.payload)
            };
            let row = Row {
                id: m.id,
                key: format!("{}:{}", m.aggregate_id, m.sequence),
                group: m.aggregate_id,
                payload: m.payload,
                attributes,
            };
            (m.topic, row)
        })
        .collect())
}

/// One write transaction: each row into its queue and out of the outbox.
async fn move_to_tables(store: &Store, rows: &[(&'static str, Row)]) -> Result<usize, QueueError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let now = projections::time::stamp(chrono::Utc::now());
    let attributes: Vec<String> = rows
        .iter()
        .map(|(_, row)| serde_json::to_string(&row.attributes).expect("a string map serializes"))
        .collect();
    let moves: Vec<(i64, Enqueue<'_>)> = rows
        .iter()
        .zip(&attributes)
        .map(|((queue, row), attributes)| {
            let message = Enqueue {
                queue,
                key: &row.key,
                payload: &row.payload,
                attributes,
                now: &now,
            };
            (row.id, message)
        })
        .collect();
    store.move_to_queues(&moves).await?;
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
    let deleted = store.delete_outbox(&ids).await?;
    Ok(usize::try_from(deleted).unwrap_or(0))
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
