//! The embedded table queue and the outbox relay, on every backend: each check takes the server
//! to run against (see `common::fresh_store`), and `on_backend!` makes it a test per backend
//! (`sqlite::*` always; `mysql::*` and `postgres::*` ignored, run by `.ci/run`).

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aggregates::*;
use chrono::Utc;
use common::suite::{count, succeeded};
use toq_media::engine::{Actor, Engine};
use toq_media::ops::workload;
use toq_media::queue::{self, Depth, JOBS, LISTING_EVENTS, Sinks, TableQueue, relay_once};
use toq_media::store::Store;

const SQLITE: &str = "sqlite:";
/// Short enough to wait out in a test.
const SHORT: Duration = Duration::from_millis(200);
const PAST_SHORT: Duration = Duration::from_millis(300);

async fn queue(server: &str, visibility: Duration, max_receives: i64) -> (Store, TableQueue) {
    let (store, _) = common::fresh_store(server).await;
    let q = TableQueue::new(store.clone(), "test", visibility, max_receives);
    (store, q)
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn depth(visible: i64, in_flight: i64, dead: i64) -> Depth {
    Depth {
        visible,
        in_flight,
        dead,
    }
}

fn actor() -> Actor {
    Actor {
        user_id: Some(7),
        role: "photographer".into(),
        request_id: Some("req-1".into()),
        traceparent: None,
    }
}

/// A listing with a batch of two photos confirmed: RECEIVED, its job in the outbox.
async fn received_batch(engine: &Engine) -> (BatchId, JobId, Batch) {
    let listing = ListingId::parse(5).unwrap();
    let status = ListingStatus::parse("PENDING_PHOTO_PROCESSING").unwrap();
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
    engine.listing(listing, sync, &actor()).await.unwrap();
    let id = BatchId::generate();
    let request = RequestUploads {
        batch_id: id,
        listing_id: listing,
        listing_status: status,
        manifest: Manifest::parse(&workload::manifest(2), &Limits::default()).unwrap(),
        upload_ttl: chrono::Duration::minutes(15),
        now: Utc::now(),
    };
    let request = MediaBatchCommand::RequestUploads(request);
    engine.batch(id, request, &actor()).await.unwrap();
    let batch = engine.batch_state(id).await.unwrap().batch.unwrap();
    let confirm = ConfirmUploads {
        files: batch
            .assets
            .iter()
            .map(|a| RawConfirmedFile {
                client_id: Some(a.file.file.client_id.to_string()),
                ..Default::default()
            })
            .collect(),
        stored: batch
            .assets
            .iter()
            .map(|a| {
                let object = StoredObject {
                    bytes: a.file.file.bytes,
                    checksum: a.file.file.checksum,
                };
                (a.file.file.client_id.clone(), Some(object))
            })
            .collect(),
        job_id: JobId::generate(),
        grace: chrono::Duration::hours(24),
        now: Utc::now(),
    };
    let job_id = confirm.job_id;
    let confirm = MediaBatchCommand::ConfirmUploads(confirm);
    engine.batch(id, confirm, &actor()).await.unwrap();
    (id, job_id, batch)
}

/// The checks, each against the backend `server` points at.
mod check {
    use super::*;

    pub async fn send_dedupes_by_key(server: &str) {
        let (store, q) = queue(server, SHORT, 5).await;
        let a = attrs(&[("JobId", "j1")]);
        assert!(q.send("k1", "first", &a).await.unwrap());
        assert!(!q.send("k1", "again", &a).await.unwrap(), "same key twice");
        assert!(q.send("k2", "second", &BTreeMap::new()).await.unwrap());
        let other = TableQueue::new(store, "other", SHORT, 5);
        assert!(
            other.send("k1", "elsewhere", &a).await.unwrap(),
            "keys are per queue"
        );
        assert_eq!(q.depth().await.unwrap(), depth(2, 0, 0));
        let got = q.receive(10).await.unwrap();
        let bodies: Vec<&str> = got.iter().map(|m| m.payload.as_str()).collect();
        assert_eq!(bodies, ["first", "second"], "oldest first, no duplicate");
        assert_eq!((&got[0].attributes, got[0].receive_count), (&a, 1));
    }

    pub async fn receive_hides_until_visibility_expires(server: &str) {
        let (_, q) = queue(server, SHORT, 5).await;
        q.send("k", "body", &BTreeMap::new()).await.unwrap();
        let first = q.receive(1).await.unwrap();
        assert_eq!(first.len(), 1);
        assert!(
            q.receive(1).await.unwrap().is_empty(),
            "hidden while in flight"
        );
        assert_eq!(q.depth().await.unwrap(), depth(0, 1, 0));
        tokio::time::sleep(PAST_SHORT).await;
        let again = q.receive(1).await.unwrap();
        assert_eq!(again.len(), 1, "delivered again once the timeout passed");
        assert_eq!((&again[0].id, again[0].receive_count), (&first[0].id, 2));
        assert_ne!(again[0].receipt, first[0].receipt);
        assert!(
            !q.delete(&first[0].receipt).await.unwrap(),
            "a stale receipt deletes nothing"
        );
    }

    pub async fn delete_removes_the_message(server: &str) {
        let (_, q) = queue(server, SHORT, 5).await;
        q.send("k", "body", &BTreeMap::new()).await.unwrap();
        let m = q.receive(1).await.unwrap().remove(0);
        assert!(q.delete(&m.receipt).await.unwrap());
        assert!(!q.delete(&m.receipt).await.unwrap());
        tokio::time::sleep(PAST_SHORT).await;
        assert!(q.receive(1).await.unwrap().is_empty());
        assert_eq!(q.depth().await.unwrap(), depth(0, 0, 0));
    }

    pub async fn extend_keeps_the_message_hidden(server: &str) {
        let (_, q) = queue(server, SHORT, 5).await;
        q.send("k", "body", &BTreeMap::new()).await.unwrap();
        let m = q.receive(1).await.unwrap().remove(0);
        assert!(q.extend(&m.receipt, Duration::from_secs(30)).await.unwrap());
        assert!(!q.extend("no-such-receipt", SHORT).await.unwrap());
        tokio::time::sleep(PAST_SHORT).await;
        assert!(q.receive(1).await.unwrap().is_empty(), "still hidden");
        assert_eq!(q.depth().await.unwrap(), depth(0, 1, 0));
        assert!(
            q.delete(&m.receipt).await.unwrap(),
            "the receipt still holds"
        );
    }

    pub async fn max_receives_dead_letters(server: &str) {
        let (_, q) = queue(server, SHORT, 2).await;
        q.send("k", "poison", &BTreeMap::new()).await.unwrap();
        for n in 1..=2 {
            let got = q.receive(1).await.unwrap();
            assert_eq!(got[0].receive_count, n);
            tokio::time::sleep(PAST_SHORT).await;
        }
        assert!(
            q.receive(1).await.unwrap().is_empty(),
            "dead, not delivered"
        );
        assert_eq!(q.depth().await.unwrap(), depth(0, 0, 1));
        let dead = q.dead_letters(10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(
            (dead[0].payload.as_str(), dead[0].receive_count),
            ("poison", 2)
        );
        tokio::time::sleep(PAST_SHORT).await;
        assert!(q.receive(1).await.unwrap().is_empty(), "never again");
    }

    pub async fn concurrent_receivers_never_share_a_message(server: &str) {
        let (_, q) = queue(server, Duration::from_secs(60), 5).await;
        for i in 0..20 {
            q.send(&format!("k{i}"), &format!("m{i}"), &BTreeMap::new())
                .await
                .unwrap();
        }
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let q = q.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    // An empty receive may only mean others won the candidates it saw.
                    while q.depth().await.unwrap().visible > 0 {
                        got.extend(q.receive(1).await.unwrap().into_iter().map(|m| m.id));
                    }
                    got
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        let distinct: HashSet<&String> = all.iter().collect();
        assert_eq!(
            all.len(),
            20,
            "each message delivered exactly once: {all:?}"
        );
        assert_eq!(distinct.len(), 20);
    }

    pub async fn relay_moves_outbox_rows_once(server: &str) {
        let (store, _) = common::fresh_store(server).await;
        let engine = Engine::new(store.clone());
        let (id, job_id, batch) = received_batch(&engine).await;
        let jobs_in_outbox = "SELECT COUNT(*) FROM outbox WHERE topic = 'processing.job'";
        assert_eq!(count(&store, jobs_in_outbox).await, 1);

        // Four relays at once: the job is enqueued once, its outbox row gone.
        let relays: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(
                    async move { relay_once(&store, &Sinks::tables(), 100).await.unwrap() },
                )
            })
            .collect();
        let mut moved = 0;
        for relay in relays {
            moved += relay.await.unwrap();
        }
        assert_eq!(moved, 1);
        assert_eq!(count(&store, jobs_in_outbox).await, 0);
        assert_eq!(relay_once(&store, &Sinks::tables(), 100).await.unwrap(), 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM job_queue").await, 1);

        let jobs = TableQueue::new(store.clone(), JOBS, SHORT, 5);
        let got = jobs.receive(10).await.unwrap();
        assert_eq!(got.len(), 1, "delivered once");
        let expected = attrs(&[
            ("BatchId", &id.to_string()),
            ("JobId", &job_id.to_string()),
            ("ListingIdentityId", "5"),
            ("RetryCount", "0"),
        ]);
        assert_eq!(got[0].attributes, expected);
        let body: serde_json::Value = serde_json::from_str(&got[0].payload).unwrap();
        assert_eq!(body["jobId"], job_id.to_string());
        assert_eq!(body["assets"].as_array().unwrap().len(), 2);

        // READY leaves a media_ready row the relay must not take; settling it publishes the
        // listing's status change, which goes to its own queue.
        let result = succeeded(&batch, job_id);
        let result = MediaBatchCommand::RecordResult(result);
        engine.batch(id, result, &actor()).await.unwrap();
        assert_eq!(relay_once(&store, &Sinks::tables(), 100).await.unwrap(), 0);
        let ready = "SELECT COUNT(*) FROM outbox WHERE topic = 'listing.media_ready'";
        assert_eq!(count(&store, ready).await, 1, "left to the engine");
        assert_eq!(
            toq_media::process::ready_listing::catch_up(&engine)
                .await
                .unwrap(),
            1
        );
        assert_eq!(relay_once(&store, &Sinks::tables(), 100).await.unwrap(), 1);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox").await, 0);
        let events = TableQueue::new(store, LISTING_EVENTS, SHORT, 5);
        let got = events.receive(10).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].attributes, attrs(&[("ListingIdentityId", "5")]));
    }

    pub async fn run_relays_until_shutdown(server: &str) {
        let (store, _) = common::fresh_store(server).await;
        let engine = Arc::new(Engine::new(store.clone()));
        received_batch(&engine).await;
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let every = Duration::from_millis(20);
        let relay = tokio::spawn(queue::relay::run(
            store.clone(),
            engine,
            Sinks::tables(),
            every,
            shutdown,
        ));
        let jobs = TableQueue::new(store.clone(), JOBS, SHORT, 5);
        while jobs.depth().await.unwrap().visible == 0 {
            tokio::time::sleep(every).await;
        }
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), relay)
            .await
            .expect("stops on shutdown")
            .unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox").await, 0);
    }
}

/// The checks as tests on one backend: `$server` gives its server (see `common::fresh_store`),
/// and any attributes (`#[ignore]`) go on every test.
macro_rules! on_backend {
    ($backend:ident, $server:expr $(, #[$attr:meta])*) => {
        mod $backend {
            use super::*;

            tests!($server, [$(#[$attr])*]
                send_dedupes_by_key 2, receive_hides_until_visibility_expires 2,
                delete_removes_the_message 2, extend_keeps_the_message_hidden 2,
                max_receives_dead_letters 2, concurrent_receivers_never_share_a_message 8,
                relay_moves_outbox_rows_once 4, run_relays_until_shutdown 2);
        }
    };
}

/// One test per `NAME THREADS` (a function of `check`, and its runtime's worker threads), one at a time.
macro_rules! tests {
    ($server:expr, [$($attrs:tt)*]) => {};
    ($server:expr, [$($attrs:tt)*] $name:ident $threads:literal $(, $rest:ident $rest_threads:literal)*) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
        $($attrs)*
        async fn $name() {
            check::$name(&*$server).await;
        }

        tests!($server, [$($attrs)*] $($rest $rest_threads),*);
    };
}

on_backend!(sqlite, SQLITE);
// Run by `.ci/run` with `--ignored` and the URL set; without the server they fail loudly.
on_backend!(
    mysql,
    common::server_url("TOQ_MEDIA_TEST_MYSQL_URL"),
    #[ignore = "needs MySQL: run by .ci/run"]
);
on_backend!(
    postgres,
    common::server_url("TOQ_MEDIA_TEST_POSTGRES_URL"),
    #[ignore = "needs PostgreSQL: run by .ci/run"]
);
