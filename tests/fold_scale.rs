//! `projections rebuild`, `projections verify` and `audit verify` work in bounded memory: on a
//! store ten times larger, the process's peak resident memory does not grow. The store is a
//! workload's finished batches cloned under new ids (payloads, keys and job ids rewritten, the
//! hash chain recomputed), so every event is real to the folds and the chain check.

#[path = "support/peak.rs"]
mod peak;

use std::collections::BTreeSet;
use std::process::Command;

use toq_evidence::chain::{self, GENESIS, Link};
use toq_media::engine::Engine;
use toq_media::ops::workload;
use toq_media::store::{Store, StoredEvent};

/// The UUIDs in a text (ids of batches and jobs, also inside object keys).
fn uuids(text: &str) -> BTreeSet<String> {
    let b = text.as_bytes();
    let dash = |i: usize| [8, 13, 18, 23].contains(&i);
    (0..b.len().saturating_sub(35))
        .filter(|&s| {
            (0..36).all(|i| {
                let c = b[s + i];
                if dash(i) {
                    c == b'-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
        })
        .map(|s| text[s..s + 36].to_owned())
        .collect()
}

/// A store of about `events` events: a workload, then its finished batches cloned.
async fn store_of(dir: &std::path::Path, events: usize) -> String {
    let url = format!("sqlite://{}/toq.db?mode=rwc", dir.display());
    let store = Store::connect(&url, 2).await.unwrap();
    store.migrate().await.unwrap();
    let engine = Engine::new(store.clone());
    let mut w = workload::Workload::resume(&engine, 9, 3).await.unwrap();
    w.run(200, &indicatif::ProgressBar::hidden()).await.unwrap();
    let finished: Vec<(String,)> = sqlx::query_as(
        "SELECT batch_id FROM media_batches WHERE open_listing_id IS NULL ORDER BY batch_id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert!(!finished.is_empty(), "the workload finishes batches");
    let mut templates: Vec<Vec<StoredEvent>> = Vec::new();
    for (id,) in &finished {
        templates.push(store.stream("MediaBatch", id).await.unwrap());
    }
    let mut written = count(&store).await;
    let mut tx = store.pool().begin().await.unwrap();
    'fill: loop {
        for template in &templates {
            if written >= events {
                break 'fill;
            }
            let ids: BTreeSet<String> = template.iter().flat_map(|e| uuids(&e.payload)).collect();
            let renamed: Vec<(String, String)> = ids
                .into_iter()
                .map(|old| (old, uuid::Uuid::now_v7().to_string()))
                .collect();
            let rename = |text: &str| {
                renamed
                    .iter()
                    .fold(text.to_owned(), |t, (old, new)| t.replace(old, new))
            };
            let id = rename(&template[0].aggregate_id);
            let mut previous = GENESIS.to_owned();
            for e in template {
                let payload = rename(&e.payload);
                let link = Link {
                    aggregate_id: &id,
                    payload: &payload,
                    ..e.link()
                };
                let hash = chain::hash(&previous, &link);
                sqlx::query(
                    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                     event_version, payload, metadata, hash, recorded_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&e.aggregate_type)
                .bind(&id)
                .bind(e.sequence)
                .bind(&e.event_type)
                .bind(&e.event_version)
                .bind(&payload)
                .bind(&e.metadata)
                .bind(&hash)
                .bind(&e.recorded_at)
                .execute(&mut *tx)
                .await
                .unwrap();
                previous = hash;
                written += 1;
            }
        }
    }
    tx.commit().await.unwrap();
    url
}

async fn count(store: &Store) -> usize {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events")
        .fetch_one(store.pool())
        .await
        .unwrap();
    n as usize
}

/// Runs the CLI on the store; its peak resident memory (KiB) and what it printed.
fn run(dir: &std::path::Path, url: &str, args: &[&str]) -> (i64, String) {
    peak::run(
        Command::new(env!("CARGO_BIN_EXE_toq-media"))
            .args(args)
            .env("TOQ_MEDIA_DATA_DIR", dir)
            .env("TOQ_MEDIA_DATABASE_URL", url),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn rebuild_verify_and_audit_of_a_store_ten_times_larger_need_no_more_memory() {
    let commands: [&[&str]; 3] = [
        &["projections", "rebuild"],
        &["projections", "verify"],
        &["audit", "verify"],
    ];
    let mut peaks = Vec::new();
    for events in [10_000, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let url = store_of(dir.path(), events).await;
        let mut row = Vec::new();
        for args in commands {
            let started = std::time::Instant::now();
            let (peak, said) = run(dir.path(), &url, args);
            eprintln!(
                "{events} events, {args:?}: {:.2} s, peak RSS {} MiB: {said}",
                started.elapsed().as_secs_f64(),
                peak / 1024
            );
            row.push(peak);
        }
        peaks.push(row);
    }
    for (i, args) in commands.iter().enumerate() {
        let (small, large) = (peaks[0][i], peaks[1][i]);
        assert!(
            large < small + 16 * 1024,
            "{args:?}: peak RSS grew from {small} to {large} KiB with the store"
        );
    }
}
