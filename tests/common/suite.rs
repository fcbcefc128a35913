//! Tests every backend must pass. Each takes the server to run against (see `fresh_store`).

use std::collections::BTreeMap;
use std::sync::Arc;

use aggregates::*;
use chrono::{Duration, Utc};
use indicatif::ProgressBar;
use toq_media::engine::{Actor, CommandError, Engine};
use toq_media::ops::checkpoint::{self, CheckpointFile};
use toq_media::ops::{audit, rebuild, verify, workload};
use toq_media::process::ready_listing;
use toq_media::store::Store;

use super::{fresh_engine, fresh_store};

fn quiet() -> ProgressBar {
    ProgressBar::hidden()
}

fn actor() -> Actor {
    Actor {
        user_id: Some(7),
        role: "photographer".into(),
        request_id: Some("req-1".into()),
        traceparent: None,
    }
}

pub async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(store.dialect().sql(sql))
        .fetch_one(store.pool())
        .await
        .expect(sql)
}

async fn sync(engine: &Engine, listing: u64, status: &str) -> ListingId {
    let id = ListingId::parse(listing).unwrap();
    let facts = ListingFacts {
        status: ListingStatus::parse(status).unwrap(),
        owner_user_id: 12,
        photographer_user_id: Some(7),
        project_media: false,
    };
    engine
        .listing(
            id,
            ListingCommand::Sync {
                listing_id: id,
                facts,
                now: Utc::now(),
            },
            &actor(),
        )
        .await
        .unwrap();
    id
}

/// A new batch of `files` photos for a listing awaiting media.
async fn create(engine: &Engine, listing: ListingId, files: usize) -> BatchId {
    let id = BatchId::generate();
    let command = request(id, listing, "PENDING_PHOTO_PROCESSING", files);
    engine.batch(id, command, &actor()).await.unwrap();
    id
}

fn request(batch_id: BatchId, listing: ListingId, status: &str, files: usize) -> MediaBatchCommand {
    MediaBatchCommand::RequestUploads(RequestUploads {
        batch_id,
        listing_id: listing,
        listing_status: ListingStatus::parse(status).unwrap(),
        manifest: Manifest::parse(&workload::manifest(files), &Limits::default()).unwrap(),
        upload_ttl: Duration::minutes(15),
        now: Utc::now(),
    })
}

async fn assert_consistent(store: &Store) {
    let report = verify::verify(store, &quiet()).await.unwrap();
    assert!(
        report.differences.is_empty(),
        "live tables differ from a rebuild:\n{}",
        report.differences.join("\n")
    );
    assert!(
        report.events > 0 && report.rows > 0,
        "the check had nothing to compare"
    );
    let audited = audit::verify(store, &quiet()).await.unwrap();
    assert!(audited.broken.is_none(), "{:?}", audited.broken);
    // Every job has exactly its one outbox message, none twice.
    let jobs = count(store, "SELECT COUNT(*) FROM media_jobs").await;
    let messages = count(
        store,
        "SELECT COUNT(*) FROM outbox WHERE topic = 'processing.job'",
    )
    .await;
    assert_eq!(jobs, messages, "each committed job has one outbox row");
    let ready_left = count(
        store,
        "SELECT COUNT(*) FROM outbox WHERE topic = 'listing.media_ready'",
    )
    .await;
    assert_eq!(ready_left, 0, "every READY batch's listing was settled");
}

/// N concurrent creates for one listing: exactly one batch.
pub async fn concurrent_creates_make_one_batch(server: &str, n: usize) {
    let engine = Arc::new(fresh_engine(server).await);
    let listing = sync(&engine, 42, "PENDING_PHOTO_PROCESSING").await;
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let engine = engine.clone();
            tokio::spawn(async move {
                let id = BatchId::generate();
                let result = engine
                    .batch(
                        id,
                        request(id, listing, "PENDING_PHOTO_PROCESSING", 3),
                        &actor(),
                    )
                    .await;
                (id, result)
            })
        })
        .collect();
    let mut created = Vec::new();
    let mut refused_for = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (id, Ok(_)) => created.push(id),
            (
                _,
                Err(CommandError::OpenBatchExists {
                    listing_id,
                    batch_id,
                }),
            ) => {
                assert_eq!(listing_id, listing);
                refused_for.push(batch_id);
            }
            (_, Err(other)) => panic!("unexpected: {other}"),
        }
    }
    assert_eq!(created.len(), 1);
    // Every refusal names the batch that holds the listing.
    assert_eq!(refused_for, vec![Some(created[0]); n - 1]);
    let store = engine.store();
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM media_batches WHERE listing_id = 42"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM events WHERE aggregate_type = 'MediaBatch'"
        )
        .await,
        1,
        "refused creates left no event"
    );
    assert_consistent(store).await;
}

/// A seeded workload of valid and invalid commands: live rows equal a rebuild, chains intact.
pub async fn workload_rows_equal_a_rebuild(server: &str, seed: u64, steps: u64) {
    let engine = fresh_engine(server).await;
    let mut w = workload::Workload::resume(&engine, seed, 6).await.unwrap();
    let stats = w.run(steps, &quiet()).await.unwrap();
    assert!(
        stats.accepted > 0 && stats.refused > 0,
        "{stats:?}: the workload must mix valid and invalid commands"
    );
    assert_consistent(engine.store()).await;
    let rebuilt = rebuild::rebuild(engine.store(), &projections::TABLES, &quiet())
        .await
        .unwrap();
    assert!(rebuilt.rows > 0);
    assert_consistent(engine.store()).await;
}

/// Two processes (two stores, so two stream caches) writing the same streams in turn: each
/// one's cached folds go stale when the other appends, and the live rows still equal a rebuild.
pub async fn two_writers_rows_equal_a_rebuild(server: &str) {
    let (store, url) = fresh_store(server).await;
    let first = Engine::new(store);
    let second = Engine::new(Store::connect(&url, 4).await.expect("a second store"));
    let mut one = workload::Workload::resume(&first, 1, 3).await.unwrap();
    one.run(150, &quiet()).await.unwrap();
    let mut two = workload::Workload::resume(&second, 2, 3).await.unwrap();
    let stats = two.run(150, &quiet()).await.unwrap();
    assert!(
        stats.accepted > 0,
        "{stats:?}: the second writer changed nothing"
    );
    one.run(150, &quiet()).await.unwrap();
    assert_consistent(first.store()).await;
}

/// `projections verify` names each kind of difference: a changed cell, a missing row, a row
/// of a stream that wrote no such row, and a row of a stream that has no events at all.
pub async fn verify_names_every_difference(server: &str) {
    let engine = fresh_engine(server).await;
    let store = engine.store();
    let mut w = workload::Workload::resume(&engine, 4, 4).await.unwrap();
    w.run(120, &quiet()).await.unwrap();
    assert_consistent(store).await;
    let (batch,): (String,) = sqlx::query_as("SELECT MIN(batch_id) FROM media_assets")
        .fetch_one(store.pool())
        .await
        .unwrap();
    for sql in [
        "UPDATE media_batches SET batch_reference = 'forged' WHERE batch_id = ?",
        "DELETE FROM media_assets WHERE batch_id = ? AND client_id = (SELECT c FROM \
         (SELECT MIN(client_id) AS c FROM media_assets WHERE batch_id = ?) m)",
        "INSERT INTO media_jobs (job_id, batch_id, listing_id, attempt, status, scope, reason, \
         asset_count, created_at, started_at, completed_at, last_seq) \
         VALUES ('extra-job', ?, 1, 9, 'PENDING', 'ALL', NULL, 1, 'x', NULL, NULL, 1)",
    ] {
        let mut query = sqlx::query(store.dialect().sql(sql)).bind(&batch);
        if sql.matches('?').count() == 2 {
            query = query.bind(&batch);
        }
        query.execute(store.pool()).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO listings (listing_id, status, owner_user_id, photographer_user_id, \
         project_media, updated_at, last_seq) VALUES (987654, 'DRAFT', 1, NULL, 0, 'x', 1)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let report = verify::verify(store, &quiet()).await.unwrap();
    let found = |needle: &str| report.differences.iter().any(|d| d.contains(needle));
    assert!(
        found(&format!(
            "media_batches ({batch:?}): batch_reference live=\"forged\""
        )),
        "{:?}",
        report.differences
    );
    assert!(
        found("missing from the live table"),
        "{:?}",
        report.differences
    );
    assert!(
        found("media_jobs (\"extra-job\"): in the live table, not implied"),
        "{:?}",
        report.differences
    );
    assert!(
        found("listings (987654): in the live table, not implied"),
        "{:?}",
        report.differences
    );
    assert_eq!(report.differences.len(), 4, "{:?}", report.differences);
}

/// The first attempt's success for every asset of a batch of listing 5: one `large` rendition
/// each.
pub fn succeeded(batch: &Batch, job_id: JobId) -> RecordResult {
    let id = batch.id;
    let outputs = batch
        .assets
        .iter()
        .map(|a| AssetOutput {
            client_id: a.file.file.client_id.to_string(),
            renditions: BTreeMap::from([(
                "large".to_owned(),
                format!("5/processed/photo/{id}/1/large/x.jpg"),
            )]),
            width: Some(1920),
            height: Some(1080),
            ..Default::default()
        })
        .collect();
    RecordResult {
        job_id,
        attempt: 1,
        status: ResultStatus::Succeeded,
        outputs,
        zip: None,
        failure_reason: None,
        now: Utc::now(),
    }
}

/// The whole path: READY moves the listing to owner approval and publishes the change.
pub async fn ready_batch_moves_listing_to_owner_approval(server: &str) {
    let engine = fresh_engine(server).await;
    let listing = sync(&engine, 5, "PENDING_PHOTO_PROCESSING").await;
    let id = create(&engine, listing, 2).await;
    let batch = engine.batch_state(id).await.unwrap().batch.unwrap();
    let stored = batch
        .assets
        .iter()
        .map(|a| {
            (
                a.file.file.client_id.clone(),
                Some(StoredObject {
                    bytes: a.file.file.bytes,
                    checksum: a.file.file.checksum,
                }),
            )
        })
        .collect();
    let files = batch
        .assets
        .iter()
        .map(|a| RawConfirmedFile {
            client_id: Some(a.file.file.client_id.to_string()),
            ..Default::default()
        })
        .collect();
    let job_id = JobId::generate();
    let confirm = ConfirmUploads {
        files,
        stored,
        job_id,
        grace: Duration::hours(24),
        now: Utc::now(),
    };
    engine
        .batch(id, MediaBatchCommand::ConfirmUploads(confirm), &actor())
        .await
        .unwrap();
    let result = succeeded(&batch, job_id);
    let committed = engine
        .batch(
            id,
            MediaBatchCommand::RecordResult(result.clone()),
            &actor(),
        )
        .await
        .unwrap();
    assert!(
        committed
            .iter()
            .any(|e| matches!(e, MediaBatchEvent::Ready(_))),
        "the command returns what it committed: {committed:?}"
    );
    // The same result again changes nothing.
    let events_before = count(engine.store(), "SELECT COUNT(*) FROM events").await;
    let repeat = engine
        .batch(id, MediaBatchCommand::RecordResult(result), &actor())
        .await
        .unwrap();
    assert_eq!(repeat, [], "a repeat commits nothing");
    assert_eq!(
        count(engine.store(), "SELECT COUNT(*) FROM events").await,
        events_before
    );

    assert_eq!(ready_listing::catch_up(&engine).await.unwrap(), 1);
    let store = engine.store();
    assert_eq!(
        engine
            .listing_status(listing)
            .await
            .unwrap()
            .unwrap()
            .as_str(),
        "PENDING_OWNER_APPROVAL"
    );
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM media_batches WHERE status = 'READY' AND open_listing_id IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM outbox WHERE topic = 'listing.status_changed'"
        )
        .await,
        1
    );
    assert_eq!(
        ready_listing::catch_up(&engine).await.unwrap(),
        0,
        "settled once"
    );
    assert_consistent(store).await;

    // The one-query read of status and downloads shows what the views show one by one.
    let report = store.batch_report(listing, id).await.unwrap().unwrap();
    let view = store.batch_view(id).await.unwrap().unwrap();
    let job = store.job_view(job_id).await.unwrap();
    let access = store.listing_access(listing).await.unwrap();
    let assets = store.asset_views(id).await.unwrap();
    assert_eq!(format!("{:?}", report.batch), format!("{view:?}"));
    assert_eq!(format!("{:?}", report.job), format!("{job:?}"));
    assert_eq!(format!("{:?}", Some(report.listing)), format!("{access:?}"));
    assert_eq!(report.assets.len(), 2);
    assert_eq!(format!("{:?}", report.assets), format!("{assets:?}"));
    let other = ListingId::parse(6).unwrap();
    assert!(store.batch_report(other, id).await.unwrap().is_none());
    let unknown = BatchId::generate();
    assert!(
        store
            .batch_report(listing, unknown)
            .await
            .unwrap()
            .is_none()
    );
}

/// Everything a store holds, to prove that a refused command wrote nothing.
async fn snapshot(store: &Store) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "events",
        "outbox",
        "media_batches",
        "media_assets",
        "media_jobs",
        "listings",
    ] {
        counts.push(count(store, &format!("SELECT COUNT(*) FROM {table}")).await);
    }
    counts.push(
        count(
            store,
            "SELECT COALESCE(MAX(last_seq), 0) FROM media_batches",
        )
        .await,
    );
    counts
}

pub async fn refused_commands_change_nothing(server: &str) {
    let engine = fresh_engine(server).await;
    let listing = sync(&engine, 9, "PENDING_PHOTO_PROCESSING").await;
    let id = create(&engine, listing, 2).await;
    let before = snapshot(engine.store()).await;

    let other = BatchId::generate();
    let refusals = [
        (
            other,
            request(other, listing, "DRAFT", 1),
            "LISTING_NOT_AWAITING_MEDIA",
        ),
        (
            other,
            request(other, listing, "PENDING_PHOTO_PROCESSING", 1),
            "OPEN_BATCH_EXISTS",
        ),
        (
            id,
            MediaBatchCommand::ConfirmUploads(ConfirmUploads {
                files: vec![RawConfirmedFile {
                    client_id: Some("photo-1".into()),
                    ..Default::default()
                }],
                stored: BTreeMap::new(),
                job_id: JobId::generate(),
                grace: Duration::hours(24),
                now: Utc::now(),
            }),
            "VALIDATION_FAILED",
        ),
        (
            id,
            MediaBatchCommand::Retry(Retry {
                job_id: JobId::generate(),
                scope: RetryScope::All,
                reason: "again".into(),
                max_attempts: 5,
                now: Utc::now(),
            }),
            "BATCH_NOT_TERMINAL",
        ),
        (
            BatchId::generate(),
            MediaBatchCommand::Delete(Delete {
                reason: "x".into(),
                now: Utc::now(),
            }),
            "BATCH_NOT_FOUND",
        ),
    ];
    for (target, command, code) in refusals {
        let err = engine.batch(target, command, &actor()).await.unwrap_err();
        let got = match &err {
            CommandError::Batch(e) => e.code(),
            CommandError::OpenBatchExists { .. } => "OPEN_BATCH_EXISTS",
            other => panic!("unexpected {other}"),
        };
        assert_eq!(got, code);
        assert_eq!(
            snapshot(engine.store()).await,
            before,
            "{code} left something behind"
        );
    }
}

/// Changing a stored payload with SQL breaks the chain at exactly that event.
pub async fn tampering_is_detected(server: &str) {
    let engine = fresh_engine(server).await;
    let mut w = workload::Workload::resume(&engine, 3, 4).await.unwrap();
    w.run(150, &quiet()).await.unwrap();
    let store = engine.store();
    assert!(
        audit::verify(store, &quiet())
            .await
            .unwrap()
            .broken
            .is_none(),
        "untouched data passes"
    );
    let position: i64 =
        sqlx::query_scalar("SELECT MIN(position) FROM events WHERE event_type = 'Requested'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    sqlx::query(store.dialect().sql(
        "UPDATE events SET payload = REPLACE(payload, 'Room 1', 'Room 7') WHERE position = ?",
    ))
    .bind(position)
    .execute(store.pool())
    .await
    .unwrap();
    let broken = audit::verify(store, &quiet())
        .await
        .unwrap()
        .broken
        .expect("tampering is found");
    assert_eq!(broken.position, position);
    assert_eq!(broken.sequence, 1);
}

/// A `Synced` v1 row, written as an old release did, is read, projected and chained as v2.
pub async fn old_event_versions_are_upcast(server: &str) {
    let (store, _) = fresh_store(server).await;
    let payload = r#"{"Synced":{"listingId":77,"status":"PENDING_PHOTO_PROCESSING","ownerUserId":1,"photographerUserId":2,"at":"2025-01-01T00:00:00Z"}}"#;
    let hash = toq_evidence::chain::hash(
        toq_evidence::chain::GENESIS,
        &toq_evidence::chain::Link {
            aggregate_type: "Listing",
            aggregate_id: "77",
            sequence: 1,
            event_type: "Synced",
            event_version: "1",
            payload,
            metadata: "{}",
        },
    );
    sqlx::query(store.dialect().sql(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, hash, recorded_at) VALUES ('Listing', '77', 1, 'Synced', '1', ?, '{}', ?, '2025-01-01T00:00:00.000Z')",
    ))
    .bind(payload)
    .bind(hash)
    .execute(store.pool())
    .await
    .unwrap();
    rebuild::rebuild(&store, &projections::TABLES, &quiet())
        .await
        .unwrap();
    assert_eq!(
        count(
            &store,
            "SELECT project_media FROM listings WHERE listing_id = 77"
        )
        .await,
        0
    );
    let engine = Engine::new(store);
    let listing = ListingId::parse(77).unwrap();
    let id = create(&engine, listing, 1).await;
    engine
        .listing(
            listing,
            ListingCommand::MediaReady {
                batch_id: id,
                now: Utc::now(),
            },
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(
        engine
            .listing_status(listing)
            .await
            .unwrap()
            .unwrap()
            .as_str(),
        "PENDING_OWNER_APPROVAL"
    );
    let report = verify::verify(engine.store(), &quiet()).await.unwrap();
    assert!(report.differences.is_empty(), "{:?}", report.differences);
    assert!(
        audit::verify(engine.store(), &quiet())
            .await
            .unwrap()
            .broken
            .is_none()
    );
}

/// Rebuilds while commands keep appending: the live tables still equal a rebuild afterwards.
pub async fn rebuild_while_appending(server: &str) {
    let engine = Arc::new(fresh_engine(server).await);
    let writer = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let mut w = workload::Workload::resume(&engine, 11, 8).await.unwrap();
            w.run(300, &ProgressBar::hidden()).await.unwrap()
        })
    };
    for _ in 0..4 {
        rebuild::rebuild(engine.store(), &projections::TABLES, &quiet())
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    writer.await.unwrap();
    assert_consistent(engine.store()).await;
}

/// One holder at a time: a second process waits while the lease is held and renewed, takes it
/// once it is given back or has expired, and 16 processes racing for a free lease end with
/// exactly one holder.
pub async fn a_lease_has_one_holder(server: &str) {
    use toq_media::lease::Lease;
    let (store, _) = fresh_store(server).await;
    let ttl = std::time::Duration::from_millis(400);
    let a = Lease::new(store.clone(), "relay", ttl);
    let b = Lease::new(store.clone(), "relay", ttl);
    assert!(a.acquire().await.unwrap(), "a free lease is taken");
    assert!(!b.acquire().await.unwrap(), "a held lease is not");
    assert!(a.acquire().await.unwrap(), "the holder renews");
    assert!(a.acquire().await.unwrap(), "and renews again at once");
    a.release().await;
    assert!(
        b.acquire().await.unwrap(),
        "a released lease is free at once"
    );
    assert!(!a.acquire().await.unwrap());
    tokio::time::sleep(ttl + std::time::Duration::from_millis(200)).await;
    assert!(a.acquire().await.unwrap(), "an expired lease is taken over");
    assert!(
        !b.acquire().await.unwrap(),
        "and its old holder has lost it"
    );

    let racers: Vec<_> = (0..16)
        .map(|_| {
            Lease::new(
                store.clone(),
                "reconciler",
                std::time::Duration::from_secs(30),
            )
        })
        .collect();
    let won = futures_util::future::join_all(racers.iter().map(|l| l.acquire())).await;
    let holders = won.into_iter().filter(|r| matches!(r, Ok(true))).count();
    assert_eq!(holders, 1, "exactly one of 16 racers holds a free lease");
}

/// A stream's events re-chained by SQL after `edit` changed their payloads: what someone with
/// write access to the database can do, and the plain chain check cannot see.
async fn rewrite_and_rehash(store: &Store, kind: &str, id: &str, edit: impl Fn(&str) -> String) {
    let mut previous = toq_evidence::chain::GENESIS.to_owned();
    for e in store.stream(kind, id).await.unwrap() {
        let payload = if e.sequence == 1 {
            edit(&e.payload)
        } else {
            e.payload.clone()
        };
        let link = toq_evidence::chain::Link {
            payload: &payload,
            ..e.link()
        };
        let hash = toq_evidence::chain::hash(&previous, &link);
        sqlx::query(
            store
                .dialect()
                .sql("UPDATE events SET payload = ?, hash = ? WHERE position = ?"),
        )
        .bind(payload)
        .bind(&hash)
        .bind(e.position)
        .execute(store.pool())
        .await
        .unwrap();
        previous = hash;
    }
}

async fn stream_of(store: &Store, sql: &str) -> (String, String) {
    sqlx::query_as(store.dialect().sql(sql))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// A signed checkpoint holds while history only grows; a payload rewritten and re-hashed by
/// SQL passes the chain check but fails the checkpoint, naming its stream; so does a stream
/// whose last event was deleted.
pub async fn checkpoints_catch_rewritten_history(server: &str) {
    let engine = fresh_engine(server).await;
    let store = engine.store();
    let mut w = workload::Workload::resume(&engine, 5, 4).await.unwrap();
    w.run(150, &quiet()).await.unwrap();
    let key = toq_evidence::SigningKey::from_bytes(&[5; 32]);
    let streams =
        "SELECT COUNT(*) FROM (SELECT DISTINCT aggregate_type, aggregate_id FROM events) s";
    let (events_then, streams_then) = (
        count(store, "SELECT COUNT(*) FROM events").await,
        count(store, streams).await,
    );
    let taken = checkpoint::take(store, &key, &quiet()).await.unwrap();
    assert_eq!(
        (taken.checkpoint.events, taken.checkpoint.streams),
        (events_then as u64, streams_then as u64)
    );
    let file = CheckpointFile::read(taken.file.path(), key.verifying_key())
        .await
        .unwrap();
    w.run(40, &quiet()).await.unwrap();
    assert!(count(store, "SELECT COUNT(*) FROM events").await > events_then);
    let verdict = checkpoint::verify(store, &file, &quiet()).await.unwrap();
    assert!(
        verdict.first_difference.is_none(),
        "later appends only extend the history: {:?}",
        verdict.first_difference
    );

    let (kind, id) = stream_of(
        store,
        "SELECT aggregate_type, aggregate_id FROM events WHERE event_type = 'Requested' ORDER BY position LIMIT 1",
    )
    .await;
    rewrite_and_rehash(store, &kind, &id, |p| {
        let edited = p.replacen("Room 1", "Room 7", 1);
        assert_ne!(edited, p, "the payload names a room");
        edited
    })
    .await;
    let chain = audit::verify(store, &quiet()).await.unwrap();
    assert!(chain.broken.is_none(), "the re-hashed chain is consistent");
    let verdict = checkpoint::verify(store, &file, &quiet()).await.unwrap();
    let rewritten = verdict
        .first_difference
        .expect("the checkpoint sees the rewrite");
    assert_eq!(
        (
            rewritten.head.aggregate_type.as_str(),
            rewritten.head.aggregate_id.as_str()
        ),
        (kind.as_str(), id.as_str())
    );
    assert!(rewritten.found.is_some_and(|h| h != rewritten.head.hash));

    // A checkpoint of today's history, then the newest stream loses its last event.
    let taken = checkpoint::take(store, &key, &quiet()).await.unwrap();
    let file = CheckpointFile::read(taken.file.path(), key.verifying_key())
        .await
        .unwrap();
    let (kind, id) = stream_of(
        store,
        "SELECT aggregate_type, aggregate_id FROM events ORDER BY position DESC LIMIT 1",
    )
    .await;
    sqlx::query(store.dialect().sql(
        "DELETE FROM events WHERE position = (SELECT p FROM (SELECT MAX(position) AS p FROM events) m)",
    ))
    .execute(store.pool())
    .await
    .unwrap();
    assert!(
        audit::verify(store, &quiet())
            .await
            .unwrap()
            .broken
            .is_none()
    );
    let truncated = checkpoint::verify(store, &file, &quiet())
        .await
        .unwrap()
        .first_difference
        .expect("the checkpoint sees the truncation");
    assert_eq!(
        (truncated.head.aggregate_type, truncated.head.aggregate_id),
        (kind, id)
    );
    assert_eq!(truncated.found, None);
}
