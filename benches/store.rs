//! Store benchmark: append and rebuild throughput per backend, each next to the raw INSERT or
//! SELECT rate of the same database measured in the same run. Run with `scripts/bench store`.
//!
//! SQLite always; MySQL/MariaDB and PostgreSQL when `TOQ_MEDIA_BENCH_MYSQL_URL` /
//! `TOQ_MEDIA_BENCH_POSTGRES_URL` name a server. `BENCH_BATCHES` batches (default 10), each
//! through the full 60-file lifecycle.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aggregates::*;
use anyhow::{Context as _, Result, anyhow, ensure};
use chrono::Utc;
use indicatif::ProgressBar;
use toq_media::engine::{Actor, Engine};
use toq_media::ops::{rebuild, workload};
use toq_media::store::Store;

const FILES: usize = 60;

struct Measured {
    backend: &'static str,
    commands: u64,
    append: f64,
    insert: f64,
    events: u64,
    rebuild: f64,
    select: f64,
}

fn rate(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

#[tokio::main]
async fn main() -> Result<()> {
    let batches: u64 = std::env::var("BENCH_BATCHES")
        .map_or(Ok(10), |v| v.parse())
        .context("BENCH_BATCHES must be a number")?;
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
    let mut results = vec![bench("sqlite", &sqlite, batches).await?];
    for (backend, var) in [
        ("mysql", "TOQ_MEDIA_BENCH_MYSQL_URL"),
        ("postgres", "TOQ_MEDIA_BENCH_POSTGRES_URL"),
    ] {
        if let Ok(server) = std::env::var(var) {
            results.push(on_server(backend, server.trim_end_matches('/'), batches).await?);
        }
    }

    println!(
        "{:<9} {:>8} {:>13} {:>13} {:>6} {:>7} {:>13} {:>13} {:>6}",
        "backend",
        "commands",
        "append cmd/s",
        "raw insert/s",
        "ratio",
        "events",
        "rebuild ev/s",
        "raw select/s",
        "ratio"
    );
    for m in &results {
        println!(
            "{:<9} {:>8} {:>13.0} {:>13.0} {:>6.2} {:>7} {:>13.0} {:>13.0} {:>6.2}",
            m.backend,
            m.commands,
            m.append,
            m.insert,
            m.append / m.insert,
            m.events,
            m.rebuild,
            m.select,
            m.rebuild / m.select
        );
    }
    Ok(())
}

/// Runs the benchmark on a fresh database `toq_bench_<pid>` of the server, dropped afterwards.
async fn on_server(backend: &'static str, server: &str, batches: u64) -> Result<Measured> {
    let admin = if backend == "postgres" {
        format!("{server}/postgres")
    } else {
        server.to_owned()
    };
    let name = format!("toq_bench_{}", std::process::id());
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .with_context(|| format!("{backend} server at {server}"))?;
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await?;
    }
    let result = bench(backend, &format!("{server}/{name}"), batches).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    result
}

async fn bench(backend: &'static str, url: &str, batches: u64) -> Result<Measured> {
    let store = Store::connect(url, 4).await?;
    let result = measure(backend, &store, batches).await;
    store.pool().close().await;
    result
}

async fn measure(backend: &'static str, store: &Store, batches: u64) -> Result<Measured> {
    store.migrate().await?;
    let engine = Engine::new(store.clone());
    let started = Instant::now();
    let mut commands = 0;
    for n in 1..=batches {
        eprintln!("{backend}: batch {n}/{batches}");
        commands += lifecycle(&engine, n).await?;
    }
    let append = rate(commands, started.elapsed());
    let ready = count(
        store,
        "SELECT COUNT(*) FROM listings WHERE status = 'PENDING_OWNER_APPROVAL'",
    )
    .await?;
    ensure!(ready == batches, "{ready} of {batches} listings settled");

    eprintln!("{backend}: {commands} raw inserts");
    let insert = raw_inserts(store, commands).await?;

    eprintln!("{backend}: rebuild");
    let rebuilt = rebuild::rebuild(store, &projections::TABLES, &ProgressBar::hidden()).await?;

    eprintln!("{backend}: raw select");
    let started = Instant::now();
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT position, payload, metadata FROM events ORDER BY position")
            .fetch_all(store.pool())
            .await?;
    let select = rate(rows.len() as u64, started.elapsed());
    ensure!(rows.len() as u64 == rebuilt.events, "rebuild missed events");

    Ok(Measured {
        backend,
        commands,
        append,
        insert,
        events: rebuilt.events,
        rebuild: rebuilt.events_per_second(),
        select,
    })
}

async fn count(store: &Store, sql: &str) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(store.dialect().sql(sql))
        .fetch_one(store.pool())
        .await?;
    Ok(u64::try_from(n)?)
}

/// One listing and one batch through the whole lifecycle to READY and settled; returns the
/// number of commands run.
async fn lifecycle(engine: &Engine, n: u64) -> Result<u64> {
    let actor = Actor {
        user_id: Some(7),
        role: "photographer".into(),
        request_id: None,
        traceparent: None,
    };
    let listing = ListingId::parse(n)?;
    let status = ListingStatus::named("PENDING_PHOTO_PROCESSING");
    let facts = ListingFacts {
        status: status.clone(),
        owner_user_id: 12,
        photographer_user_id: Some(7),
        project_media: false,
    };
    let sync = ListingCommand::Sync {
        listing_id: listing,
        facts,
        now: Utc::now(),
    };
    engine.listing(listing, sync, &actor).await?;

    let manifest = Manifest::parse(&workload::manifest(FILES), &Limits::default())
        .map_err(|e| anyhow!("manifest: {e:?}"))?;
    let stored: BTreeMap<_, _> = manifest
        .files
        .iter()
        .map(|f| {
            let object = StoredObject {
                bytes: f.bytes,
                checksum: f.checksum,
            };
            (f.client_id.clone(), Some(object))
        })
        .collect();
    let clients: Vec<String> = manifest
        .files
        .iter()
        .map(|f| f.client_id.to_string())
        .collect();
    let id = BatchId::generate();
    let request = RequestUploads {
        batch_id: id,
        listing_id: listing,
        listing_status: status,
        manifest,
        upload_ttl: chrono::Duration::minutes(15),
        now: Utc::now(),
    };
    engine
        .batch(id, MediaBatchCommand::RequestUploads(request), &actor)
        .await?;

    let job_id = JobId::generate();
    let confirm = ConfirmUploads {
        files: clients
            .iter()
            .map(|c| RawConfirmedFile {
                client_id: Some(c.clone()),
                ..Default::default()
            })
            .collect(),
        stored,
        job_id,
        grace: chrono::Duration::hours(24),
        now: Utc::now(),
    };
    engine
        .batch(id, MediaBatchCommand::ConfirmUploads(confirm), &actor)
        .await?;
    let start = StartProcessing {
        job_id,
        now: Utc::now(),
    };
    engine
        .batch(id, MediaBatchCommand::StartProcessing(start), &actor)
        .await?;

    for client in &clients {
        let output = AssetOutput {
            client_id: client.clone(),
            renditions: BTreeMap::from([(
                "large".to_owned(),
                format!("{listing}/processed/photo/{id}/1/large/{client}.jpg"),
            )]),
            width: Some(1920),
            height: Some(1280),
            ..Default::default()
        };
        let result = RecordResult {
            job_id,
            attempt: 1,
            status: ResultStatus::Running,
            outputs: vec![output],
            zip: None,
            failure_reason: None,
            now: Utc::now(),
        };
        engine
            .batch(id, MediaBatchCommand::RecordResult(result), &actor)
            .await?;
    }
    let settled = toq_media::process::ready_listing::catch_up(engine).await?;
    ensure!(settled == 1, "batch {n} did not become READY");
    Ok(4 + FILES as u64 + settled as u64)
}

/// Inserts `n` rows of about 1 KB into a scratch table, one transaction per row (as each command
/// is one transaction); returns inserts per second.
async fn raw_inserts(store: &Store, n: u64) -> Result<f64> {
    let pool = store.pool();
    let dialect = store.dialect();
    sqlx::query("CREATE TABLE bench_raw (id BIGINT PRIMARY KEY, body TEXT NOT NULL)")
        .execute(pool)
        .await?;
    let body = "x".repeat(1024);
    let started = Instant::now();
    for id in 1..=i64::try_from(n)? {
        let mut tx = pool.begin_with(dialect.begin_write()).await?;
        sqlx::query(dialect.sql("INSERT INTO bench_raw (id, body) VALUES (?, ?)"))
            .bind(id)
            .bind(body.clone())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(rate(n, started.elapsed()))
}
