//! The service on S3 and SQS, against the emulators of `scripts/aws-emulator`.
//!
//! Ignored by a plain `cargo test`; `.ci/run` starts the emulators and runs them with
//! `-- --ignored`, once with s3s-fs serving S3 (which checks presigned terms, so the rejection
//! checks run) and once with moto serving S3 (`TOQ_MEDIA_TEST_S3_ENFORCES=false`). They panic
//! when a variable is missing or an emulator does not answer. Each test makes its own bucket
//! and queues, so runs never see each other's objects or messages.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use base64::Engine as _;
use serde_json::{Value, json};
use toq_media::auth::Role;
use toq_media::config::{Config, QueueBackend, S3Config, SqsConfig, StorageBackend, WorkerMode};
use toq_media::engine::Engine;
use toq_media::ops::checkpoint::{self, CheckpointFile};
use toq_media::queue::relay::{Sink, Sinks};
use toq_media::queue::{SqsQueue, relay_once};
use toq_media::storage::{ObjectStore, S3Store};
use toq_media::worker::{Queues, Settings, Worker};

use crate::helpers::*;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start scripts/aws-emulator and export its variables")
    })
}

/// A bucket and queues of one test's own on the emulators.
struct Aws {
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    s3_endpoint: String,
    sqs_endpoint: String,
    /// Whether the S3 endpoint checks presigned terms (s3s-fs and real S3 do; moto does not).
    enforces: bool,
    bucket: String,
    jobs: String,
    jobs_dlq: String,
    results: String,
    results_dlq: String,
    listing_events: String,
}

impl Aws {
    /// `max_receives`: deliveries of a job before SQS moves it to the jobs DLQ.
    async fn provision(max_receives: u32) -> Self {
        env("AWS_ACCESS_KEY_ID");
        let (s3_endpoint, sqs_endpoint) = (
            env("TOQ_MEDIA_TEST_S3_ENDPOINT"),
            env("TOQ_MEDIA_TEST_SQS_ENDPOINT"),
        );
        let enforces = std::env::var("TOQ_MEDIA_TEST_S3_ENFORCES").map_or(true, |v| v != "false");
        let sdk = toq_media::aws::sdk_config().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .endpoint_url(&s3_endpoint)
                .force_path_style(true)
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&sdk)
                .endpoint_url(&sqs_endpoint)
                .build(),
        );
        let id = uuid::Uuid::now_v7().simple().to_string();
        let bucket = format!("toq-test-{}", &id[id.len() - 16..]);
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("S3 emulator at {s3_endpoint}: {e:?}"));
        let queue = async |name: &str, dlq: Option<&str>| {
            let mut create = sqs.create_queue().queue_name(format!("toq-{id}-{name}"));
            if let Some(dlq) = dlq {
                let arn = sqs
                    .get_queue_attributes()
                    .queue_url(dlq)
                    .attribute_names(QueueAttributeName::QueueArn)
                    .send()
                    .await
                    .unwrap()
                    .attributes()
                    .unwrap()[&QueueAttributeName::QueueArn]
                    .clone();
                let policy = json!({"deadLetterTargetArn": arn, "maxReceiveCount": max_receives.to_string()});
                create = create.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
            }
            create
                .send()
                .await
                .unwrap_or_else(|e| panic!("SQS emulator at {sqs_endpoint}: {e:?}"))
                .queue_url()
                .unwrap()
                .to_owned()
        };
        let jobs_dlq = queue("jobs-dlq", None).await;
        let jobs = queue("jobs", Some(&jobs_dlq)).await;
        let results_dlq = queue("results-dlq", None).await;
        let results = queue("results", Some(&results_dlq)).await;
        let listing_events = queue("listing-events", None).await;
        Self {
            s3,
            sqs,
            s3_endpoint,
            sqs_endpoint,
            enforces,
            bucket,
            jobs,
            jobs_dlq,
            results,
            results_dlq,
            listing_events,
        }
    }

    fn s3_config(&self) -> S3Config {
        S3Config {
            bucket: self.bucket.clone(),
            endpoint: Some(self.s3_endpoint.clone()),
            path_style: true,
        }
    }

    fn sqs_config(&self) -> SqsConfig {
        SqsConfig {
            jobs_url: self.jobs.clone(),
            retry_url: None,
            results_url: Some(self.results.clone()),
            results_dlq_url: Some(self.results_dlq.clone()),
            listing_events_url: Some(self.listing_events.clone()),
            endpoint: Some(self.sqs_endpoint.clone()),
            wait_seconds: 1,
        }
    }

    /// S3 for objects, SQS for everything queued, the built-in worker on.
    fn configure(&self, config: &mut Config) {
        config.storage = StorageBackend::S3(self.s3_config());
        config.queue = QueueBackend::Sqs(self.sqs_config());
        config.worker = WorkerMode::Embedded;
    }

    /// The app on these backends with its built-in worker off (the test plays or runs it).
    async fn app_without_worker(&self) -> TestApp {
        spawn_app_with(|c| {
            self.configure(c);
            c.worker = WorkerMode::Off;
        })
        .await
    }

    /// A worker of the test's own on the app's database, this bucket and the jobs queue,
    /// reporting to `results` (or straight to the aggregate); stopped through the sender.
    async fn start_worker(
        &self,
        app: &TestApp,
        results: Option<&str>,
        settings: Settings,
    ) -> (
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    ) {
        let sdk = toq_media::aws::sdk_config().await;
        let worker = Worker::new(
            Arc::new(Engine::new(app.store.clone())),
            Arc::new(ObjectStore::S3(S3Store::new(&sdk, &self.s3_config()))),
            Queues::Sqs {
                jobs: self.queue(&self.jobs),
                results: results.map(|url| self.queue(url)),
            },
            settings,
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        (stop, tokio::spawn(Arc::new(worker).run(stopped)))
    }

    fn queue(&self, url: &str) -> SqsQueue {
        let client = self.sqs.clone();
        SqsQueue::new(client, url, 1, Duration::from_secs(30))
    }

    /// Messages visible or in flight on `url`.
    async fn depth(&self, url: &str) -> i64 {
        let (visible, in_flight) = self.queue(url).depth().await.unwrap();
        visible + in_flight
    }

    /// Waits until `url` holds `n` messages (visible or in flight).
    async fn wait_depth(&self, url: &str, n: i64, within: Duration) {
        let start = Instant::now();
        while self.depth(url).await != n {
            assert!(
                start.elapsed() < within,
                "{url} should hold {n} messages, holds {}",
                self.depth(url).await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Takes every message off `url` (deleting them), bodies and attributes.
    async fn drain(&self, url: &str) -> Vec<(String, BTreeMap<String, String>)> {
        let mut all = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap();
            if got.messages().is_empty() {
                return all;
            }
            for m in got.messages() {
                let attributes = m
                    .message_attributes()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.string_value().unwrap_or_default().to_owned()))
                    .collect();
                all.push((m.body().unwrap().to_owned(), attributes));
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    async fn exists(&self, key: &str) -> bool {
        self.s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .is_ok()
    }

    async fn send(&self, url: &str, body: &str) {
        self.sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
}

/// The app's `/metrics` names `metric`.
/// `series` (every counter exists at 0 from the start) has been counted at least once.
async fn assert_counted(app: &TestApp, series: &str) {
    let value = app.metric(series).await;
    assert!(value >= 1.0, "{series} is {value}");
}

async fn wait_status(app: &TestApp, token: &str, batch: &Batch, want: &str, within: Duration) {
    let start = Instant::now();
    loop {
        let status = app.status_of(token, batch).await;
        if status.body["status"] == want {
            return;
        }
        assert!(
            start.elapsed() < within,
            "the batch should reach {want}: {}",
            status.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Sends `bytes` to a ticket with every header it names replaced by `overrides`.
async fn put(ticket: &Value, bytes: Vec<u8>, overrides: &[(&str, &str)]) -> reqwest::StatusCode {
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in ticket["headers"].as_object().unwrap() {
        if name != "Content-Length" {
            headers.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.as_str().unwrap().parse().unwrap(),
            );
        }
    }
    for (name, value) in overrides {
        headers.insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    reqwest::Client::new()
        .put(ticket["uploadUrl"].as_str().unwrap())
        .headers(headers)
        .body(bytes)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
#[ignore = "needs the AWS emulators: scripts/aws-emulator (run by .ci/run)"]
async fn the_whole_flow_runs_on_s3_and_sqs() {
    let aws = Aws::provision(5).await;
    let app = spawn_app_with(|c| aws.configure(c)).await;
    assert_eq!(app.get("/readyz", None).await.status, 200);
    app.awaiting_media(321).await;
    let token = app.token(PHOTOGRAPHER, Role::Photographer);
    let batch = app.new_batch(&token, 321).await;

    for (ticket, bytes) in &batch.files {
        assert!(
            ticket["uploadUrl"]
                .as_str()
                .unwrap()
                .starts_with(&aws.s3_endpoint),
            "a presigned S3 URL: {ticket}"
        );
        let sha256 = base64::engine::general_purpose::STANDARD.encode(sha2::Digest::finalize(
            <sha2::Sha256 as sha2::Digest>::new_with_prefix(bytes),
        ));
        assert_eq!(ticket["headers"]["x-amz-checksum-sha256"], sha256.as_str());
        assert_eq!(ticket["headers"]["Content-Length"], bytes.len().to_string());
    }
    let (ticket, bytes) = &batch.files[0];
    let key = ticket["objectKey"].as_str().unwrap();
    if aws.enforces {
        // The store itself refuses other bytes and another type.
        let mut tampered = bytes.clone();
        tampered[100] ^= 0xff;
        let status = put(ticket, tampered, &[]).await;
        assert!(status.is_client_error(), "other bytes: {status}");
        let status = put(ticket, bytes.clone(), &[("Content-Type", "image/png")]).await;
        assert!(status.is_client_error(), "another type: {status}");
        // Real S3 keeps nothing of a refused PUT; s3s-fs 0.14 keeps the bytes it refused. Either
        // way complete reads S3's own SHA-256 and does not take them.
        let early = app.complete(&token, &batch).await;
        assert_ne!(early.status, 202, "{}", early.body);
        assert_eq!(
            app.status_of(&token, &batch).await.body["status"],
            "PENDING_UPLOAD"
        );
    }
    app.upload_all(&batch).await;
    assert!(aws.exists(key).await);

    let completed = app.complete(&token, &batch).await;
    assert_eq!(completed.status, 202, "{}", completed.body);
    // Job → SQS → built-in worker → renditions on S3 → results queue → READY.
    wait_status(&app, &token, &batch, "READY", Duration::from_secs(90)).await;

    for (resolution, check) in [("original", true), ("thumbnail", false)] {
        let body = batch.body(json!({"resolution": resolution}));
        let downloads = app.post(DOWNLOADS, Some(&token), &body).await;
        assert_eq!(downloads.status, 200, "{}", downloads.body);
        let list = downloads.body["downloads"].as_array().unwrap();
        assert_eq!(list.len(), batch.files.len());
        for (download, (_, bytes)) in list.iter().zip(&batch.files) {
            let got = reqwest::get(download["url"].as_str().unwrap())
                .await
                .unwrap();
            assert_eq!(got.status(), 200, "a presigned GET works");
            let got = got.bytes().await.unwrap();
            if check {
                assert_eq!(&got[..], &bytes[..], "the original comes back as uploaded");
            } else {
                let thumb = ::image::load_from_memory(&got).expect("a real image");
                assert!(thumb.width().max(thumb.height()) <= 320);
            }
        }
    }
    // The listing's move reached the platform's queue; nothing is left behind.
    let events = aws.drain(&aws.listing_events).await;
    assert!(
        events
            .iter()
            .any(|(body, attributes)| body.contains("PENDING_OWNER_APPROVAL")
                && attributes.get("ListingIdentityId").map(String::as_str) == Some("321")),
        "{events:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE topic <> 'listing.media_ready'")
            .await,
        0
    );
    aws.wait_depth(&aws.jobs, 0, Duration::from_secs(10)).await;
    aws.wait_depth(&aws.results, 0, Duration::from_secs(10))
        .await;
    assert_eq!(aws.depth(&aws.results_dlq).await, 0);
}

#[tokio::test]
#[ignore = "needs the AWS emulators: scripts/aws-emulator (run by .ci/run)"]
async fn a_job_leaves_the_outbox_only_once_sqs_has_it_and_duplicates_change_nothing() {
    let aws = Aws::provision(5).await;
    // SQS unreachable for jobs (as if the process died before the send): the job must wait.
    let app = spawn_app_with(|c| {
        aws.configure(c);
        c.worker = WorkerMode::Off;
        if let QueueBackend::Sqs(sqs) = &mut c.queue {
            sqs.jobs_url = format!("{}-missing", aws.jobs);
        }
    })
    .await;
    app.awaiting_media(322).await;
    let token = app.token(PHOTOGRAPHER, Role::Photographer);
    let (batch, job_id) = app.received_batch(&token, 322).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let jobs_in_outbox = "SELECT COUNT(*) FROM outbox WHERE topic = 'processing.job'";
    assert_eq!(
        app.count(jobs_in_outbox).await,
        1,
        "kept until SQS accepts it"
    );

    // Back with SQS (the restart): the relay sends it, with the attributes of API.md §6.
    let sinks = Sinks {
        jobs: Sink::Sqs(aws.queue(&aws.jobs)),
        retries: None,
        listing_events: Sink::Sqs(aws.queue(&aws.listing_events)),
    };
    relay_once(&app.store, &sinks, 100).await.unwrap();
    assert_eq!(app.count(jobs_in_outbox).await, 0);
    let sent = aws.drain(&aws.jobs).await;
    assert_eq!(sent.len(), 1);
    let (body, attributes) = &sent[0];
    assert_eq!(attributes["JobId"], job_id);
    assert_eq!(attributes["BatchId"], batch.id);
    assert_eq!(attributes["ListingIdentityId"], "322");
    assert_eq!(attributes["RetryCount"], "0");

    // Delivered twice (SQS is at least once): processed once, the duplicate changes nothing.
    aws.send(&aws.jobs, body).await;
    aws.send(&aws.jobs, body).await;
    let settings = Settings {
        concurrency: 1,
        ..Settings::default()
    };
    let (stop, running) = aws.start_worker(&app, Some(&aws.results), settings).await;
    wait_status(&app, &token, &batch, "READY", Duration::from_secs(90)).await;
    aws.wait_depth(&aws.jobs, 0, Duration::from_secs(30)).await;
    aws.wait_depth(&aws.results, 0, Duration::from_secs(30))
        .await;
    let processed = "SELECT COUNT(*) FROM events WHERE event_type = 'AssetProcessed'";
    assert_eq!(app.count(processed).await, batch.files.len() as i64);

    // A result delivered again changes nothing either.
    let events = app.count("SELECT COUNT(*) FROM events").await;
    let result = batch.result(&job_id, 1, "SUCCEEDED").to_string();
    aws.send(&aws.results, &result).await;
    aws.wait_depth(&aws.results, 0, Duration::from_secs(30))
        .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM events").await, events);
    stop.send(true).unwrap();
    running.await.unwrap();
}

#[tokio::test]
#[ignore = "needs the AWS emulators: scripts/aws-emulator (run by .ci/run)"]
async fn unusable_results_are_moved_aside_and_the_consumer_goes_on() {
    let aws = Aws::provision(5).await;
    let app = aws.app_without_worker().await;
    app.awaiting_media(323).await;
    let token = app.token(PHOTOGRAPHER, Role::Photographer);
    let (batch, job_id) = app.received_batch(&token, 323).await;

    aws.send(&aws.results, "not json at all").await;
    aws.send(
        &aws.results,
        r#"{"jobId": "nope", "batchId": "nope", "attempt": 0, "status": "DONE"}"#,
    )
    .await;
    // For a batch that does not exist: stale, acknowledged, not an error.
    let mut stale = batch.result(&job_id, 1, "SUCCEEDED");
    stale["batchId"] = json!(uuid::Uuid::now_v7().to_string());
    aws.send(&aws.results, &stale.to_string()).await;
    // Renditions under another listing's prefix: refused whole, moved aside, nothing recorded.
    let mut foreign = batch.result(&job_id, 1, "SUCCEEDED");
    foreign["outputs"][0]["renditions"]["large"] =
        json!(format!("999/processed/photo/{}/1/large/x.jpg", batch.id));
    aws.send(&aws.results, &foreign.to_string()).await;
    aws.send(
        &aws.results,
        &batch.result(&job_id, 1, "SUCCEEDED").to_string(),
    )
    .await;

    wait_status(&app, &token, &batch, "READY", Duration::from_secs(30)).await;
    aws.wait_depth(&aws.results, 0, Duration::from_secs(30))
        .await;
    let aside = aws.drain(&aws.results_dlq).await;
    assert_eq!(aside.len(), 3, "{aside:?}");
    assert!(
        aside
            .iter()
            .any(|(body, a)| body == "not json at all" && a.contains_key("Error"))
    );
    assert!(aside.iter().any(|(body, a)| {
        body.contains("999/processed")
            && a.get("Error")
                .is_some_and(|e| e.contains("outside this batch"))
    }));
    let status = app.status_of(&token, &batch).await;
    for asset in status.body["assets"].as_array().unwrap() {
        let large = asset["renditions"]["large"].as_str().unwrap_or_default();
        assert!(!large.starts_with("999/"), "{}", status.body);
    }
    for reason in ["unusable", "malformed", "foreign_key"] {
        let series = format!("media_processing_callback_errors_total{{reason=\"{reason}\"}}");
        assert_counted(&app, &series).await;
    }
}

#[tokio::test]
#[ignore = "needs the AWS emulators: scripts/aws-emulator (run by .ci/run)"]
async fn a_poison_job_reaches_the_dlq_and_is_counted() {
    let aws = Aws::provision(2).await;
    let app = aws.app_without_worker().await;
    let settings = Settings {
        visibility: Duration::from_secs(1),
        ..Settings::default()
    };
    let (stop, running) = aws.start_worker(&app, None, settings).await;
    aws.send(&aws.jobs, r#"{"jobId": 1}"#).await;
    aws.wait_depth(&aws.jobs_dlq, 1, Duration::from_secs(30))
        .await;
    stop.send(true).unwrap();
    running.await.unwrap();
    assert_counted(&app, "media_processing_dlq_messages_total").await;
}

/// A checkpoint streamed into the bucket, `latest` pointing at it, read back for verify and
/// for a batch's export.
#[tokio::test]
#[ignore = "needs the AWS emulators: scripts/aws-emulator (run by .ci/run)"]
async fn checkpoints_go_to_the_bucket_and_back() {
    let aws = Aws::provision(5).await;
    let app = aws.app_without_worker().await;
    app.awaiting_media(324).await;
    let token = app.token(PHOTOGRAPHER, Role::Photographer);
    let batch = app.new_batch(&token, 324).await;
    let sdk = toq_media::aws::sdk_config().await;
    let objects = ObjectStore::S3(S3Store::new(&sdk, &aws.s3_config()));
    let key = toq_evidence::SigningKey::from_bytes(&[9; 32]);
    let quiet = indicatif::ProgressBar::hidden();
    let taken = checkpoint::take(&app.store, &key, &quiet).await.unwrap();
    let at = checkpoint::publish(&objects, &taken).await.unwrap();
    assert!(aws.exists(at.as_str()).await);
    assert!(aws.exists("audit/checkpoints/latest").await);
    let file = CheckpointFile::latest(&objects, key.verifying_key())
        .await
        .unwrap();
    assert_eq!(file.checkpoint, taken.checkpoint);
    let verdict = checkpoint::verify(&app.store, &file, &quiet).await.unwrap();
    assert!(verdict.first_difference.is_none());
    let id = aggregates::BatchId::parse(&batch.id).unwrap();
    let export = toq_media::ops::export::export(&app.store, &file, id)
        .await
        .unwrap();
    let checked = toq_evidence::export::check(&export.to_bytes(), &key.verifying_key()).unwrap();
    assert_eq!(checked.aggregate_id, batch.id);
}

/// An object written in pieces (the batch ZIP) goes up as a multipart upload once it outgrows
/// one part and comes back whole; an aborted one leaves no object.
#[tokio::test]
#[ignore = "needs the AWS emulators: scripts/aws-emulator (run by .ci/run)"]
async fn objects_written_in_pieces_use_multipart_uploads_and_an_abort_leaves_none() {
    let aws = Aws::provision(5).await;
    let sdk = toq_media::aws::sdk_config().await;
    let objects = ObjectStore::S3(S3Store::new(&sdk, &aws.s3_config()));
    let data: Vec<u8> = (0..20u32 << 20).map(|i| (i % 251) as u8).collect();
    let key = aggregates::ObjectKey::parse("1/processed/zip/b/1/b.zip").unwrap();
    let mut writer = objects.create(&key, "application/zip").await.unwrap();
    for piece in data.chunks(1 << 20) {
        writer.write(piece).await.unwrap();
    }
    let stored = writer.finish().await.unwrap();
    assert_eq!(stored.bytes, data.len() as u64);
    let got = aws
        .s3
        .get_object()
        .bucket(&aws.bucket)
        .key(key.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/zip"));
    let body = got.body.collect().await.unwrap().into_bytes();
    assert!(
        body.as_ref() == data.as_slice(),
        "the object comes back whole"
    );

    let aborted = aggregates::ObjectKey::parse("1/processed/zip/b/2/b.zip").unwrap();
    let mut writer = objects.create(&aborted, "application/zip").await.unwrap();
    writer.write(&data[..9 << 20]).await.unwrap();
    // s3s-fs answers ListMultipartUploads with 501: the upload list is read on moto only.
    let uploads = || async {
        let listed = aws
            .s3
            .list_multipart_uploads()
            .bucket(&aws.bucket)
            .send()
            .await
            .unwrap();
        listed
            .uploads()
            .iter()
            .filter_map(|u| u.key().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    if !aws.enforces {
        assert_eq!(
            uploads().await,
            [aborted.as_str()],
            "a part is out, the upload open"
        );
    }
    writer.abort().await;
    assert!(!aws.exists(aborted.as_str()).await);
    if !aws.enforces {
        assert!(uploads().await.is_empty(), "the abort leaves no upload");
    }
}

#[tokio::test]
#[ignore = "needs the AWS emulators: scripts/aws-emulator (run by .ci/run)"]
async fn readyz_fails_until_the_bucket_and_queues_answer() {
    let aws = Aws::provision(5).await;
    let no_bucket = spawn_app_with(|c| {
        aws.configure(c);
        c.worker = WorkerMode::Off;
        c.storage = StorageBackend::S3(S3Config {
            bucket: "toq-no-such-bucket".into(),
            ..aws.s3_config()
        });
    })
    .await;
    let ready = no_bucket.get("/readyz", None).await;
    assert_eq!(ready.status, 503);
    assert!(
        ready.body["reason"]
            .as_str()
            .unwrap()
            .contains("toq-no-such-bucket"),
        "{}",
        ready.body
    );

    let missing = format!("{}-missing", aws.results);
    let no_queue = spawn_app_with(|c| {
        aws.configure(c);
        c.worker = WorkerMode::Off;
        if let QueueBackend::Sqs(sqs) = &mut c.queue {
            sqs.results_url = Some(missing.clone());
        }
    })
    .await;
    let ready = no_queue.get("/readyz", None).await;
    assert_eq!(ready.status, 503);
    assert!(
        ready.body["reason"].as_str().unwrap().contains(&missing),
        "{}",
        ready.body
    );

    let all_there = aws.app_without_worker().await;
    assert_eq!(all_there.get("/readyz", None).await.status, 200);
}

/// Selecting S3 or SQS without saying where is refused at start, naming what is missing.
#[test]
fn s3_or_sqs_without_their_settings_is_a_clear_error() {
    for (backend, value, missing) in [
        ("TOQ_MEDIA_STORAGE", "s3", "TOQ_MEDIA_S3_BUCKET"),
        ("TOQ_MEDIA_QUEUE", "sqs", "TOQ_MEDIA_SQS_JOBS_URL"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_toq-media"))
            .arg("migrate")
            .env("TOQ_MEDIA_DATA_DIR", dir.path())
            .env(backend, value)
            .env_remove("TOQ_MEDIA_S3_BUCKET")
            .env_remove("TOQ_MEDIA_SQS_JOBS_URL")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(missing), "{stderr}");
    }
}
