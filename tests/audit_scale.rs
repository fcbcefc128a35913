//! `audit checkpoint` works in bounded memory: a store ten times larger does not make the
//! process's peak resident memory grow. The events are written straight into the table (the
//! checkpoint reads only the stream heads), 50 per stream.

#[path = "support/peak.rs"]
mod peak;

use std::process::Command;
use std::time::Instant;

use toq_media::store::Store;

/// A migrated SQLite store of `events` events in streams of 50.
async fn store_of(dir: &std::path::Path, events: u64) -> String {
    let url = format!("sqlite://{}/toq.db?mode=rwc", dir.display());
    let store = Store::connect(&url, 1).await.unwrap();
    store.migrate().await.unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) \
         INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
             payload, metadata, hash, recorded_at) \
         SELECT 'MediaBatch', printf('0193a5b2-%08d', i / 50), i % 50 + 1, 'Received', '1', \
             '{\"at\":\"2026-12-02T20:00:00.000Z\"}', '{}', printf('%064x', i), \
             '2026-12-02T20:00:00.000Z' FROM n",
    )
    .bind(events as i64)
    .execute(store.pool())
    .await
    .unwrap();
    url
}

/// Runs `audit checkpoint` on the store; its peak resident memory (KiB) and its output.
fn checkpoint(dir: &std::path::Path, url: &str) -> (i64, String) {
    peak::run(
        Command::new(env!("CARGO_BIN_EXE_toq-media"))
            .args(["audit", "checkpoint"])
            .env("TOQ_MEDIA_DATA_DIR", dir)
            .env("TOQ_MEDIA_DATABASE_URL", url)
            .env_remove("TOQ_MEDIA_AUDIT_KEY")
            .env_remove("TOQ_MEDIA_AUDIT_KEY_FILE"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checkpoint_of_a_store_ten_times_larger_needs_no_more_memory() {
    let mut peaks = Vec::new();
    for events in [100_000u64, 1_000_000] {
        let dir = tempfile::tempdir().unwrap();
        let url = store_of(dir.path(), events).await;
        let started = Instant::now();
        let (peak_kib, said) = checkpoint(dir.path(), &url);
        let streams = events / 50;
        assert!(
            said.contains(&format!("of {streams} streams, {events} events")),
            "{said}"
        );
        eprintln!(
            "checkpoint of {events} events in {streams} streams: {:.1} s, peak RSS {} MiB",
            started.elapsed().as_secs_f64(),
            peak_kib / 1024
        );
        peaks.push(peak_kib);
    }
    assert!(
        peaks[1] < peaks[0] + 8 * 1024,
        "peak RSS grew with the store: {peaks:?} KiB"
    );
    assert!(peaks[1] < 96 * 1024, "peak RSS {} KiB", peaks[1]);
}
