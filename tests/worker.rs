//! The built-in worker end to end, with no pipeline and no callback: real photos go in through
//! the API, the embedded worker renders them, and the renditions that come out decode at the
//! expected sizes, upright.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::image::{GenericImageView, ImageFormat};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use toq_media::auth::{Caller, Role, jwt};
use toq_media::config::{Config, Secrets, WorkerMode};
use toq_media::engine::Engine;
use toq_media::queue::{JobQueue, TableQueue};
use toq_media::storage::{LocalStore, ObjectStore};
use toq_media::store::Store;
use toq_media::worker::{Handled, Job, Outcome, Queues, Settings, Worker};

#[path = "support/png.rs"]
mod png;

const PHOTOGRAPHER: u64 = 7;
const OWNER: u64 = 12;

/// A server on a free port with the embedded stack on a temporary directory.
struct App {
    address: String,
    client: reqwest::Client,
    config: Config,
    secrets: Secrets,
    store: Store,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

async fn spawn(worker: WorkerMode) -> App {
    let data_dir: PathBuf = tempfile::tempdir().unwrap().keep();
    let mut config = Config::from_env().expect("defaults parse");
    config.bind = "127.0.0.1:0".into();
    config.public_url = "http://127.0.0.1:0".into();
    config.database_url = format!("sqlite://{}/toq.db?mode=rwc", data_dir.display());
    config.data_dir = data_dir;
    config.worker = worker;
    config.worker_concurrency = 2;
    config.prepare().unwrap();
    let store = Store::connect(&config.database_url, 8).await.unwrap();
    store.migrate().await.unwrap();
    let secrets = config.secrets().unwrap();
    let running = toq_media::startup::start(config.clone(), store.clone())
        .await
        .expect("the server starts");
    let address = format!("http://127.0.0.1:{}", running.port);
    config.public_url = address.clone();
    tokio::spawn(running.server);
    App {
        address,
        client: reqwest::Client::new(),
        config,
        secrets,
        store,
        _shutdown: running.shutdown,
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A file to upload: client id, asset type, filename, content type and bytes.
struct File {
    client_id: &'static str,
    asset_type: &'static str,
    name: &'static str,
    bytes: Vec<u8>,
}

fn photo(client_id: &'static str, asset_type: &'static str, name: &'static str) -> File {
    File {
        client_id,
        asset_type,
        name,
        bytes: fixture(name),
    }
}

impl App {
    fn token(&self) -> String {
        let caller = Caller {
            user_id: PHOTOGRAPHER,
            role: Role::Photographer,
        };
        jwt::sign(
            caller,
            chrono::Utc::now().timestamp() + 3600,
            &self.secrets.jwt,
        )
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}/api/v2/listings/media/{path}", self.address))
            .bearer_auth(self.token())
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn register_listing(&self, id: u64) {
        let res = self
            .client
            .put(format!("{}/api/v2/internal/listings/{id}", self.address))
            .bearer_auth(&self.secrets.internal_token)
            .json(
                &json!({"status": "PENDING_PHOTO_PROCESSING", "ownerUserId": OWNER,
                          "photographerUserId": PHOTOGRAPHER, "projectMedia": false}),
            )
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }

    async fn listing_status(&self, id: u64) -> String {
        let res = self
            .client
            .get(format!("{}/api/v2/internal/listings/{id}", self.address))
            .bearer_auth(&self.secrets.internal_token)
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        body["status"].as_str().unwrap().to_owned()
    }

    /// Registers the listing, creates the batch, uploads every file to its signed URL and
    /// confirms them; returns the batch id.
    async fn submit(&self, listing: u64, files: &[File]) -> String {
        self.register_listing(listing).await;
        let numbered: Vec<_> = files.iter().enumerate().collect();
        let entries = Self::entries(&numbered);
        let body = json!({"listingIdentityId": listing, "batchReference": "worker test", "files": entries});
        let (status, created) = self.post("uploads", &body).await;
        assert_eq!(status, 201, "{created}");
        let batch_id = created["batchId"].as_str().unwrap().to_owned();
        self.upload_and_confirm(listing, &batch_id, files, &created)
            .await;
        batch_id
    }

    /// PUTs each file to the signed URL of its ticket in `issued` (the answer of create or
    /// replace) and confirms them.
    async fn upload_and_confirm(
        &self,
        listing: u64,
        batch_id: &str,
        files: &[File],
        issued: &Value,
    ) {
        let tickets = issued["files"].as_array().unwrap();
        assert_eq!(tickets.len(), files.len(), "{issued}");
        for (file, ticket) in files.iter().zip(tickets) {
            assert_eq!(ticket["clientId"], file.client_id);
            let mut put = self.client.put(ticket["uploadUrl"].as_str().unwrap());
            for (name, value) in ticket["headers"].as_object().unwrap() {
                if name != "Content-Length" {
                    put = put.header(name.as_str(), value.as_str().unwrap());
                }
            }
            let res = put.body(file.bytes.clone()).send().await.unwrap();
            assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        }
        let confirmations: Vec<Value> = tickets
            .iter()
            .map(|t| json!({"clientId": t["clientId"], "objectKey": t["objectKey"]}))
            .collect();
        let body =
            json!({"listingIdentityId": listing, "batchId": batch_id, "files": confirmations});
        let (status, completed) = self.post("uploads/complete", &body).await;
        assert_eq!(status, 202, "{completed}");
    }

    /// The manifest entries of `files` at their positions in the batch (sequence `i + 1`).
    fn entries(files: &[(usize, &File)]) -> Vec<Value> {
        files
            .iter()
            .map(|(i, f)| {
                let content_type = match f.name.rsplit_once('.').map(|(_, ext)| ext) {
                    Some("png") => "image/png",
                    Some("mp4") => "video/mp4",
                    Some("mov") => "video/quicktime",
                    Some("pdf") => "application/pdf",
                    Some("heic") => "image/heic",
                    _ => "image/jpeg",
                };
                json!({"clientId": f.client_id, "assetType": f.asset_type, "filename": f.name,
                       "contentType": content_type, "bytes": f.bytes.len(),
                       "checksum": hex::encode(Sha256::digest(&f.bytes)), "sequence": i + 1})
            })
            .collect()
    }

    async fn status(&self, listing: u64, batch_id: &str) -> Value {
        let (status, body) = self
            .post(
                "status",
                &json!({"listingIdentityId": listing, "batchId": batch_id}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Polls until the batch is READY or FAILED: 120 s at most, as CI builds the fuzz targets
    /// beside these tests and the worker's ffmpeg runs at a lower priority than that build.
    async fn wait_terminal(&self, listing: u64, batch_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let body = self.status(listing, batch_id).await;
            if matches!(body["status"].as_str(), Some("READY" | "FAILED")) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "not processed within 120 s: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Each asset's download at `resolution`: client id → the fetched bytes.
    async fn downloads(
        &self,
        listing: u64,
        batch_id: &str,
        resolution: &str,
    ) -> BTreeMap<String, Vec<u8>> {
        let body =
            json!({"listingIdentityId": listing, "batchId": batch_id, "resolution": resolution});
        let (status, res) = self.post("downloads", &body).await;
        assert_eq!(status, 200, "{res}");
        let mut out = BTreeMap::new();
        for d in res["downloads"].as_array().unwrap() {
            let got = self
                .client
                .get(d["url"].as_str().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(got.status(), 200);
            let bytes = got.bytes().await.unwrap().to_vec();
            out.insert(d["clientId"].as_str().unwrap().to_owned(), bytes);
        }
        out
    }

    async fn count(&self, sql: &str, batch_id: &str) -> i64 {
        sqlx::query_scalar(self.store.dialect().sql(sql))
            .bind(batch_id)
            .fetch_one(self.store.pool())
            .await
            .unwrap()
    }

    async fn asset_processed_events(&self, batch_id: &str) -> i64 {
        let sql =
            "SELECT COUNT(*) FROM events WHERE aggregate_id = ? AND event_type = 'AssetProcessed'";
        self.count(sql, batch_id).await
    }

    fn objects(&self) -> ObjectStore {
        ObjectStore::Local(Arc::new(LocalStore::new(
            self.config.objects_dir(),
            self.config.public_url.clone(),
            &self.secrets.storage,
        )))
    }

    /// Every rendition a status report names: object key → its stored bytes.
    async fn rendition_bytes(&self, status: &Value) -> BTreeMap<String, Vec<u8>> {
        let objects = self.objects();
        let mut out = BTreeMap::new();
        for asset in status["assets"].as_array().unwrap() {
            for key in asset["renditions"].as_object().unwrap().values() {
                let key = key.as_str().unwrap();
                let parsed = aggregates::ObjectKey::parse(key).unwrap();
                let mut object = objects.open(&parsed).await.unwrap().expect(key);
                let mut bytes = Vec::new();
                while let Some(chunk) = object.next_chunk().await.unwrap() {
                    bytes.extend_from_slice(&chunk);
                }
                out.insert(key.to_owned(), bytes);
            }
        }
        out
    }

    /// A worker of its own on this app's database and object store (the app runs none).
    fn worker(&self, visibility: Duration) -> Worker {
        let objects = self.objects();
        let settings = Settings {
            concurrency: 2,
            visibility,
            ..Settings::default()
        };
        Worker::new(
            Arc::new(Engine::new(self.store.clone())),
            Arc::new(objects),
            Queues::Table,
            settings,
        )
    }
}

/// The four real photo fixtures: landscape, portrait, EXIF-rotated, PNG with alpha.
fn four_photos() -> [File; 4] {
    [
        photo("living", "PHOTO_HORIZONTAL", "living-room.jpg"),
        photo("kitchen", "PHOTO_VERTICAL", "kitchen-portrait.jpg"),
        photo(
            "balcony",
            "PHOTO_VERTICAL",
            "balcony-exif-orientation-6.jpg",
        ),
        photo("plan", "PHOTO_HORIZONTAL", "floorplan-alpha.png"),
    ]
}

fn asset<'a>(status: &'a Value, client_id: &str) -> &'a Value {
    status["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["clientId"] == client_id)
        .unwrap_or_else(|| panic!("asset {client_id} in {status}"))
}

/// Decodes a rendition, checking its container; returns its dimensions and whether it has alpha.
fn decode(bytes: &[u8], what: &str) -> (u32, u32, ImageFormat) {
    let format = ::image::guess_format(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    let img = ::image::load_from_memory(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    let (w, h) = img.dimensions();
    (w, h, format)
}

/// Fits `(w, h)` in a `edge` px long-edge box, never upscaling; the short edge may round
/// either way.
fn assert_fits(actual: (u32, u32), original: (u32, u32), edge: u32, what: &str) {
    let (w, h) = original;
    let long = w.max(h);
    if long <= edge {
        assert_eq!(actual, original, "{what}: never upscaled");
        return;
    }
    let scale = f64::from(edge) / f64::from(long);
    let expect = (f64::from(w) * scale, f64::from(h) * scale);
    assert_eq!(actual.0.max(actual.1), edge, "{what}: long edge {actual:?}");
    assert!(
        (f64::from(actual.0) - expect.0).abs() <= 1.0
            && (f64::from(actual.1) - expect.1).abs() <= 1.0,
        "{what}: {actual:?}, expected about {expect:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn real_photos_reach_ready_and_download_at_their_sizes_without_a_pipeline() {
    let app = spawn(WorkerMode::Embedded).await;
    let listing = 701;
    let files = four_photos();
    let batch_id = app.submit(listing, &files).await;

    let status = app.wait_terminal(listing, &batch_id).await;
    assert_eq!(status["status"], "READY", "{status}");
    assert_eq!(status["job"]["status"], "SUCCEEDED", "{status}");
    assert_eq!(app.listing_status(listing).await, "PENDING_OWNER_APPROVAL");

    // Upright size of each original: orientation 6 turns the stored 600x400 into 400x600.
    let originals = BTreeMap::from([
        ("living", (640, 427)),
        ("kitchen", (480, 640)),
        ("balcony", (400, 600)),
        ("plan", (320, 240)),
    ]);
    for (client_id, size) in &originals {
        let a = asset(&status, client_id);
        assert_eq!(a["status"], "PROCESSED", "{a}");
        assert_eq!(
            (a["width"].as_u64(), a["height"].as_u64()),
            (Some(u64::from(size.0)), Some(u64::from(size.1))),
            "{a}"
        );
        let prefix = format!("{listing}/processed/photo/{batch_id}/1/");
        for (name, key) in a["renditions"].as_object().unwrap() {
            let key = key.as_str().unwrap();
            assert!(key.starts_with(&format!("{prefix}{name}/")), "{key}");
        }
        assert_eq!(a["renditions"].as_object().unwrap().len(), 4, "{a}");
    }

    for (resolution, edge) in [("thumbnail", 320), ("large", 1920)] {
        let got = app.downloads(listing, &batch_id, resolution).await;
        assert_eq!(got.len(), 4, "{resolution}");
        for (client_id, original) in &originals {
            let what = format!("{client_id} {resolution}");
            let (w, h, format) = decode(&got[*client_id], &what);
            assert_fits((w, h), *original, edge, &what);
            if *client_id == "plan" {
                assert!(
                    matches!(format, ImageFormat::Png | ImageFormat::WebP),
                    "{what}: {format:?}"
                );
                let img = ::image::load_from_memory(&got[*client_id]).unwrap();
                assert!(img.color().has_alpha(), "{what}: transparency kept");
            } else {
                assert_eq!(format, ImageFormat::Jpeg, "{what}");
                // EXIF (with the fixture's GPS block) is dropped.
                let exif = got[*client_id].windows(6).any(|w| w == b"Exif\0\0");
                assert!(!exif, "{what}: no EXIF left");
            }
        }
    }
    let large = app.downloads(listing, &batch_id, "large").await;
    assert_eq!(
        decode(&large["balcony"], "balcony").0,
        400,
        "orientation 6 applied: upright"
    );
    assert_eq!(decode(&large["balcony"], "balcony").1, 600);
    assert_eq!(decode(&large["living"], "living").0, 640, "never upscaled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrupt_photo_fails_only_itself() {
    let app = spawn(WorkerMode::Embedded).await;
    let listing = 702;
    let whole = fixture("kitchen-portrait.jpg");
    let corrupt = File {
        client_id: "corrupt",
        asset_type: "PHOTO_VERTICAL",
        name: "truncated.jpg",
        bytes: whole[..whole.len() / 3].to_vec(),
    };
    let clip = File {
        client_id: "clip",
        asset_type: "VIDEO_HORIZONTAL",
        name: "walkthrough.mp4",
        bytes: b"text is no video: refused before any tool reads it".repeat(100),
    };
    let files = [
        photo("good", "PHOTO_HORIZONTAL", "living-room.jpg"),
        corrupt,
        clip,
    ];
    let batch_id = app.submit(listing, &files).await;

    let status = app.wait_terminal(listing, &batch_id).await;
    assert_eq!(status["status"], "FAILED", "{status}");
    let bad = asset(&status, "corrupt");
    assert_eq!(bad["status"], "FAILED", "{bad}");
    assert_eq!(bad["errorCode"], "DECODE_FAILED", "{bad}");
    assert!(
        bad["errorMessage"].as_str().is_some_and(|m| !m.is_empty()),
        "{bad}"
    );
    let good = asset(&status, "good");
    assert_eq!(good["status"], "PROCESSED", "{good}");
    assert_eq!(good["renditions"].as_object().unwrap().len(), 4, "{good}");
    assert_eq!(
        (good["width"].as_u64(), good["height"].as_u64()),
        (Some(640), Some(427))
    );
    let clip = asset(&status, "clip");
    assert_eq!(clip["status"], "FAILED", "{clip}");
    assert_eq!(clip["errorCode"], "UNSUPPORTED_MEDIA", "{clip}");
    assert_eq!(
        app.listing_status(listing).await,
        "PENDING_PHOTO_PROCESSING"
    );
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("media_assets_processed_total")
                && l.contains("error_code=\"DECODE_FAILED\"")),
        "failures are counted by code:\n{metrics}"
    );
    assert!(
        metrics.contains("media_image_seconds_per_megapixel"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn raw_objects_are_verified_before_use() {
    let app = spawn(WorkerMode::Off).await;
    let worker = app.worker(Duration::from_secs(60));
    let listing = 705;
    let files = [
        photo("swapped", "PHOTO_HORIZONTAL", "living-room.jpg"),
        photo("shrunk", "PHOTO_VERTICAL", "kitchen-portrait.jpg"),
        photo("gone", "PHOTO_VERTICAL", "balcony-exif-orientation-6.jpg"),
    ];
    let batch_id = app.submit(listing, &files).await;
    // Changed on disk after the upload was verified: same length other bytes, shorter, removed.
    let status = app.status(listing, &batch_id).await;
    let path = |client_id: &str| {
        let key = asset(&status, client_id)["rawObjectKey"]
            .as_str()
            .unwrap()
            .to_owned();
        app.config.objects_dir().join(key)
    };
    let mut swapped = files[0].bytes.clone();
    swapped[100] ^= 0xff;
    std::fs::write(path("swapped"), swapped).unwrap();
    std::fs::write(path("shrunk"), &files[1].bytes[..10]).unwrap();
    std::fs::remove_file(path("gone")).unwrap();

    let message = next_message(&worker).await;
    assert_eq!(
        worker.handle(&message).await,
        Handled::Deleted(Outcome::Done)
    );
    let status = app.status(listing, &batch_id).await;
    assert_eq!(status["status"], "FAILED", "{status}");
    for (client_id, code) in [
        ("swapped", "CHECKSUM_MISMATCH"),
        ("shrunk", "SIZE_MISMATCH"),
        ("gone", "STORAGE_ERROR"),
    ] {
        let a = asset(&status, client_id);
        assert_eq!(
            (a["status"].as_str(), a["errorCode"].as_str()),
            (Some("FAILED"), Some(code)),
            "{a}"
        );
    }
    assert_eq!(worker.queue().depth().await.unwrap(), Default::default());
}

/// Receives the next job message, waiting for the relay to move it from the outbox.
async fn next_message(worker: &Worker) -> toq_media::queue::Message {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(m) = worker.queue().receive(1).await.unwrap().pop() {
            return m;
        }
        assert!(Instant::now() < deadline, "no job message");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redelivered_job_changes_nothing() {
    let app = spawn(WorkerMode::Off).await;
    let worker = app.worker(Duration::from_secs(1));
    let listing = 703;
    let files = [
        photo("living", "PHOTO_HORIZONTAL", "living-room.jpg"),
        photo(
            "balcony",
            "PHOTO_VERTICAL",
            "balcony-exif-orientation-6.jpg",
        ),
    ];
    let batch_id = app.submit(listing, &files).await;

    // First delivery: processed, then the worker "dies" before deleting the message.
    let first = next_message(&worker).await;
    let job = Job::parse(&first.payload).unwrap();
    assert_eq!(worker.process(&job).await.unwrap(), Outcome::Done);
    let done = app.status(listing, &batch_id).await;
    assert_eq!(done["status"], "READY", "{done}");
    let events = app
        .count(
            "SELECT COUNT(*) FROM events WHERE aggregate_id = ?",
            &batch_id,
        )
        .await;
    assert_eq!(app.asset_processed_events(&batch_id).await, 2);

    // The visibility timeout lapses and the message comes back: found stale, and deleted.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = next_message(&worker).await;
    assert_eq!((&again.id, again.receive_count), (&first.id, 2));
    assert_eq!(
        worker.handle(&again).await,
        Handled::Deleted(Outcome::Stale)
    );
    assert_eq!(
        worker.queue().depth().await.unwrap(),
        Default::default(),
        "deleted"
    );

    assert_eq!(
        app.status(listing, &batch_id).await,
        done,
        "same final state"
    );
    let after = app
        .count(
            "SELECT COUNT(*) FROM events WHERE aggregate_id = ?",
            &batch_id,
        )
        .await;
    assert_eq!(after, events, "no event from the redelivery");
    assert_eq!(app.asset_processed_events(&batch_id).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_deliveries_at_once_record_each_asset_once() {
    let app = spawn(WorkerMode::Off).await;
    let worker = app.worker(Duration::from_secs(60));
    let listing = 704;
    let files = [
        photo("living", "PHOTO_HORIZONTAL", "living-room.jpg"),
        photo("kitchen", "PHOTO_VERTICAL", "kitchen-portrait.jpg"),
        photo("plan", "PHOTO_HORIZONTAL", "floorplan-alpha.png"),
    ];
    let batch_id = app.submit(listing, &files).await;
    let message = next_message(&worker).await;
    let job = Job::parse(&message.payload).unwrap();

    // As if the visibility lapsed while the first worker was still busy.
    let (a, b) = tokio::join!(worker.process(&job), worker.process(&job));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert!(outcomes.contains(&Outcome::Done), "{outcomes:?}");
    let status = app.status(listing, &batch_id).await;
    assert_eq!(status["status"], "READY", "{status}");
    assert_eq!(app.asset_processed_events(&batch_id).await, 3);
    assert_eq!(
        worker.handle(&message).await,
        Handled::Deleted(Outcome::Stale)
    );
    assert_eq!(app.listing_status(listing).await, "PENDING_OWNER_APPROVAL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_that_is_not_a_job_is_left_for_the_dead_letter_queue() {
    let app = spawn(WorkerMode::Off).await;
    let worker = app.worker(Duration::from_secs(60));
    table(&worker)
        .send("junk", "{\"jobId\": 1}", &BTreeMap::new())
        .await
        .unwrap();
    let message = next_message(&worker).await;
    assert_eq!(worker.handle(&message).await, Handled::Malformed);
    let depth = worker.queue().depth().await.unwrap();
    assert_eq!(
        (depth.visible, depth.in_flight),
        (0, 1),
        "kept, not deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_stays_hidden_while_its_job_runs_and_only_then() {
    use toq_media::worker::heartbeat::Heartbeat;
    let app = spawn(WorkerMode::Off).await;
    let visibility = Duration::from_secs(1);
    let worker = app.worker(visibility);
    table(&worker)
        .send("long", "{}", &BTreeMap::new())
        .await
        .unwrap();
    let message = next_message(&worker).await;

    let heartbeat = Heartbeat::start(
        worker.queue().clone(),
        message.receipt.clone(),
        visibility,
        Duration::from_millis(250),
    );
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(
        worker.queue().receive(1).await.unwrap().is_empty(),
        "extended past its timeout"
    );

    drop(heartbeat); // the worker died
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let again = worker.queue().receive(1).await.unwrap();
    assert_eq!(
        again.first().map(|m| &m.id),
        Some(&message.id),
        "delivered again"
    );
}

/// The worker's table queue, for sending it messages directly.
fn table(worker: &Worker) -> &TableQueue {
    match worker.queue() {
        JobQueue::Table(q) => q,
        JobQueue::Sqs(_) => panic!("these tests run on the table queue"),
    }
}

// ---------------------------------------------------------------------------------------------
// The memory budget, measured on a `toq-media worker` child process

/// A `toq-media worker` on an app's database and object store, 2 jobs at once, with a memory
/// budget of `budget_mb`: a process of its own, so that its peak RSS is the worker's alone.
struct ChildWorker {
    child: std::process::Child,
}

impl ChildWorker {
    /// Starts it (with `path` as its `PATH` if given) and waits until it polls the (empty)
    /// queue. Its log is `worker.log` in the app's data directory.
    async fn start(app: &App, budget_mb: u32, path: Option<&std::path::Path>) -> Self {
        let log = app.config.data_dir.join("worker.log");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_toq-media"));
        if let Some(path) = path {
            command.env("PATH", path);
        }
        let child = command
            .arg("worker")
            .env("TOQ_MEDIA_DATA_DIR", &app.config.data_dir)
            .env("TOQ_MEDIA_DATABASE_URL", &app.config.database_url)
            .env("TOQ_MEDIA_WORKER_CONCURRENCY", "2")
            .env("TOQ_MEDIA_WORKER_MEMORY_BUDGET_MB", budget_mb.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the worker starts");
        let worker = Self { child };
        let started = Instant::now();
        while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("at once on")) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the worker did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // a few idle polls, so that the baseline includes the receive loop's own memory
        tokio::time::sleep(Duration::from_secs(1)).await;
        worker
    }

    /// Its peak resident memory so far (`VmHWM`), in KiB.
    fn peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }
}

impl Drop for ChildWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Processes `files` with a child worker of `budget_mb` and returns the batch's final status,
/// the worker's idle peak RSS before the batch (its baseline) and its peak RSS after, in KiB.
async fn process_in_child(listing: u64, files: &[File], budget_mb: u32) -> (Value, u64, u64) {
    let app = spawn(WorkerMode::Off).await;
    let worker = ChildWorker::start(&app, budget_mb, None).await;
    let baseline = worker.peak_kib();
    let batch_id = app.submit(listing, files).await;
    let status = app.wait_terminal(listing, &batch_id).await;
    (status, baseline, worker.peak_kib())
}

/// Two 16-bit RGBA PNG bombs just under `max_pixels` (each ≈ 1.2 GB to decode and convert)
/// and a real photo, two at once: the photo is rendered, the bombs are refused from their
/// headers by the memory budget, and the worker process's peak RSS stays under its budget
/// above its own idle baseline.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn png_bombs_are_refused_by_the_memory_budget_and_the_worker_stays_within_it() {
    let budget_mb = 64;
    let bomb = |client_id, name, w, h| File {
        client_id,
        asset_type: "PHOTO_HORIZONTAL",
        name,
        bytes: png::bomb(w, h),
    };
    let files = [
        bomb("bomb-1", "bomb-1.png", 9900, 9999),
        photo("photo", "PHOTO_HORIZONTAL", "living-room.jpg"),
        bomb("bomb-2", "bomb-2.png", 9999, 9900),
    ];
    let (status, baseline, peak) = process_in_child(703, &files, budget_mb).await;
    assert_eq!(asset(&status, "photo")["status"], "PROCESSED", "{status}");
    for client_id in ["bomb-1", "bomb-2"] {
        let bomb = asset(&status, client_id);
        assert_eq!(bomb["errorCode"], "IMAGE_TOO_LARGE", "{bomb}");
        let message = bomb["errorMessage"].as_str().unwrap();
        assert!(
            message.contains("over the worker's memory budget of 64 MiB"),
            "refused by the budget, not the pixel cap: {message}"
        );
    }
    println!(
        "worker VmHWM: baseline {baseline} KiB, after the batch {peak} KiB, budget {budget_mb} MiB"
    );
    assert!(
        peak < baseline + u64::from(budget_mb) * 1024,
        "peak RSS {peak} KiB is over the idle {baseline} KiB + the {budget_mb} MiB budget"
    );
}

/// A progressive JPEG's decode holds libjpeg's coefficients for the whole image (here
/// 7000×5000 at 4:4:4: 210 MB, against a 26 MB half-scale decode). Two of them, two at once,
/// with a budget that fits one but not both: both are rendered, one after the other, and the
/// worker's peak RSS stays under its budget above its baseline (with the coefficients left out
/// of the estimate, both would decode at once, ≈ 480 MB).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn progressive_jpegs_wait_for_the_memory_budget_and_the_worker_stays_within_it() {
    let budget_mb = 400;
    let (width, height) = (7000, 5000);
    let pixels: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).flat_map(move |x| [(x / 30) as u8, (y / 20) as u8, (x ^ y) as u8]))
        .collect();
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_progressive(true).unwrap();
    compressor.set_subsamp(turbojpeg::Subsamp::None).unwrap();
    let jpeg = compressor
        .compress_to_vec(turbojpeg::Image {
            pixels: pixels.as_slice(),
            width,
            pitch: width * 3,
            height,
            format: turbojpeg::PixelFormat::RGB,
        })
        .unwrap();
    drop(pixels);
    assert!(turbojpeg::read_header(&jpeg).unwrap().is_progressive);
    // the same picture with a comment segment: another file for the manifest
    let commented = [&jpeg[..2], b"\xFF\xFE\x00\x04#2", &jpeg[2..]].concat();
    let file = |client_id, name, bytes| File {
        client_id,
        asset_type: "PHOTO_HORIZONTAL",
        name,
        bytes,
    };
    let files = [
        file("first", "first.jpg", jpeg),
        file("second", "second.jpg", commented),
    ];
    let (status, baseline, peak) = process_in_child(704, &files, budget_mb).await;
    for client_id in ["first", "second"] {
        let a = asset(&status, client_id);
        assert_eq!(a["status"], "PROCESSED", "{a}");
        assert_eq!(
            (a["width"].as_u64(), a["height"].as_u64()),
            (Some(7000), Some(5000))
        );
    }
    println!(
        "worker VmHWM: baseline {baseline} KiB, after the batch {peak} KiB, budget {budget_mb} MiB"
    );
    assert!(
        peak < baseline + u64::from(budget_mb) * 1024,
        "peak RSS {peak} KiB is over the idle {baseline} KiB + the {budget_mb} MiB budget"
    );
}

/// The video and PDF fixtures, made by `scripts/media-fixtures` with ffmpeg and qpdf.
/// Generated once per test binary; the script's lock orders it against other binaries.
fn media(client_id: &'static str, asset_type: &'static str, name: &'static str) -> File {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("media-fixtures");
        let made = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/media-fixtures"
        ))
        .arg(&dir)
        .status()
        .expect("scripts/media-fixtures runs (scripts/setup installs ffmpeg and qpdf)");
        assert!(made.success(), "scripts/media-fixtures failed");
        dir
    });
    File {
        client_id,
        asset_type,
        name,
        bytes: std::fs::read(dir.join(name)).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replacing_the_one_corrupt_photo_takes_the_batch_to_ready_and_keeps_the_others() {
    let app = spawn(WorkerMode::Embedded).await;
    let listing = 728;
    let whole = fixture("kitchen-portrait.jpg");
    let good = four_photos;
    let corrupt = File {
        client_id: "bedroom",
        asset_type: "PHOTO_VERTICAL",
        name: "bedroom.jpg",
        bytes: whole[..whole.len() / 3].to_vec(),
    };
    let [a, b, c, d] = good();
    let batch_id = app.submit(listing, &[a, b, corrupt, c, d]).await;
    let failed = app.wait_terminal(listing, &batch_id).await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert_eq!(asset(&failed, "bedroom")["errorCode"], "DECODE_FAILED");
    let kept: BTreeMap<String, Value> = ["living", "kitchen", "balcony", "plan"]
        .map(|id| (id.to_owned(), asset(&failed, id)["renditions"].clone()))
        .into();
    let kept_bytes = app.rendition_bytes(&failed).await;
    let all_events = "SELECT COUNT(*) FROM events WHERE aggregate_id = ?";
    let before = app.count(all_events, &batch_id).await;

    // a processed photo cannot be replaced, and nothing is written
    let [living, ..] = good();
    let body = json!({"listingIdentityId": listing, "batchId": batch_id,
                      "files": App::entries(&[(0, &living)])});
    let (status, refused) = app.post("uploads/replace", &body).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("ASSET_NOT_REPLACEABLE")),
        "{refused}"
    );
    assert_eq!(refused["details"]["clientIds"], json!(["living"]));
    assert_eq!(app.count(all_events, &batch_id).await, before);

    // the corrupt one, uploaded whole, under a new key
    let fixed = File {
        client_id: "bedroom",
        asset_type: "PHOTO_VERTICAL",
        name: "bedroom.jpg",
        bytes: whole.clone(),
    };
    let body = json!({"listingIdentityId": listing, "batchId": batch_id,
                      "files": App::entries(&[(2, &fixed)])});
    let (status, issued) = app.post("uploads/replace", &body).await;
    assert_eq!(status, 201, "{issued}");
    assert_eq!(issued["status"], "PENDING_UPLOAD");
    let new_key = issued["files"][0]["objectKey"].as_str().unwrap().to_owned();
    assert!(
        new_key.contains(&format!("{batch_id}/r1/03-bedroom-")),
        "{new_key}"
    );
    assert_ne!(
        new_key,
        asset(&failed, "bedroom")["rawObjectKey"].as_str().unwrap()
    );
    app.upload_and_confirm(listing, &batch_id, std::slice::from_ref(&fixed), &issued)
        .await;

    let ready = app.wait_terminal(listing, &batch_id).await;
    assert_eq!(ready["status"], "READY", "{ready}");
    assert_eq!(ready["attempt"], 2, "{ready}");
    assert_eq!(app.listing_status(listing).await, "PENDING_OWNER_APPROVAL");
    let bedroom = asset(&ready, "bedroom");
    assert_eq!(bedroom["status"], "PROCESSED", "{bedroom}");
    assert_eq!(
        (bedroom["width"].as_u64(), bedroom["height"].as_u64()),
        (Some(480), Some(640))
    );
    assert_eq!(bedroom["rawObjectKey"], new_key.as_str());
    // the others were not processed again: same keys, same bytes
    for (id, renditions) in &kept {
        assert_eq!(&asset(&ready, id)["renditions"], renditions, "{id}");
    }
    let now_bytes = app.rendition_bytes(&ready).await;
    for (key, bytes) in &kept_bytes {
        assert_eq!(now_bytes.get(key), Some(bytes), "{key}");
    }
    let processed_again = app
        .count(
            "SELECT COUNT(*) FROM events WHERE aggregate_id = ? AND event_type = 'AssetProcessed' \
             AND payload LIKE '%\"attempt\":2%'",
            &batch_id,
        )
        .await;
    assert_eq!(processed_again, 1, "only the replaced photo in attempt 2");

    // the batch ZIP holds the replacement, not the corrupt upload
    let zips = app.downloads(listing, &batch_id, "zip").await;
    let zip = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(zip.path(), &zips["zip"]).unwrap();
    let [a, b, c, d] = good();
    assert_zip_of(zip.path(), &[a, b, fixed, c, d]);

    // a READY batch takes no replacement, and nothing is written
    let before = app.count(all_events, &batch_id).await;
    let (status, refused) = app.post("uploads/replace", &body).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("ASSET_NOT_REPLACEABLE")),
        "{refused}"
    );
    assert_eq!(app.count(all_events, &batch_id).await, before);
}

/// `heif` with every `ispe` (image size) property declaring `width`×`height`.
fn with_image_size(heif: &[u8], width: u32, height: u32) -> Vec<u8> {
    let mut forged = heif.to_vec();
    let at: Vec<usize> = heif
        .windows(4)
        .enumerate()
        .filter(|(_, w)| w == b"ispe")
        .map(|(i, _)| i + 8)
        .collect();
    assert!(!at.is_empty(), "no ispe box");
    for i in at {
        forged[i..i + 4].copy_from_slice(&width.to_be_bytes());
        forged[i + 4..i + 8].copy_from_slice(&height.to_be_bytes());
    }
    forged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn heic_photos_are_rendered_and_an_oversized_header_is_refused_before_decoding() {
    let app = spawn(WorkerMode::Embedded).await;
    let listing = 727;
    let heic = media("phone", "PHOTO_HORIZONTAL", "photo.heic");
    let forged = File {
        client_id: "forged",
        asset_type: "PHOTO_HORIZONTAL",
        name: "huge.heic",
        bytes: with_image_size(&heic.bytes, 20_000, 20_000),
    };
    let batch_id = app.submit(listing, &[heic, forged]).await;
    let status = app.wait_terminal(listing, &batch_id).await;
    assert_eq!(status["status"], "FAILED", "{status}");

    let phone = asset(&status, "phone");
    assert_eq!(phone["status"], "PROCESSED", "{phone}");
    assert_eq!(
        (phone["width"].as_u64(), phone["height"].as_u64()),
        (Some(1200), Some(800)),
        "{phone}"
    );
    assert_eq!(phone["renditions"].as_object().unwrap().len(), 4, "{phone}");
    // the forged header is refused by its size (heif-convert would have decoded the small
    // image, or failed on the mismatch with DECODE_FAILED)
    let forged = asset(&status, "forged");
    assert_eq!(forged["errorCode"], "IMAGE_TOO_LARGE", "{forged}");
    assert!(
        forged["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("20000x20000")),
        "{forged}"
    );
}

/// The top-level boxes of an MP4, in file order.
fn top_level_boxes(bytes: &[u8]) -> Vec<String> {
    let (mut boxes, mut at) = (Vec::new(), 0usize);
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as u64;
        boxes.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        let size = match size {
            1 => u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap()),
            0 => (bytes.len() - at) as u64,
            n => n,
        };
        at += usize::try_from(size).unwrap().max(8);
    }
    boxes
}

/// Luma variance of an image: a black frame has next to none.
fn luma_variance(bytes: &[u8]) -> f64 {
    let luma = ::image::load_from_memory(bytes).unwrap().to_luma8();
    let n = luma.pixels().len() as f64;
    let mean = luma.pixels().map(|p| f64::from(p.0[0])).sum::<f64>() / n;
    luma.pixels()
        .map(|p| (f64::from(p.0[0]) - mean).powi(2))
        .sum::<f64>()
        / n
}

/// `ffprobe`'s codec names of a file's streams.
fn codecs(bytes: &[u8]) -> Vec<String> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(file.path())
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The batch ZIP at `path` passes `unzip -t` and holds `files` in order: stored entries named
/// `{sequence:02}-{clientId}-...`, each with its upload's SHA-256 (read in pieces, as a ZIP of
/// 1 GiB must be).
fn assert_zip_of(path: &std::path::Path, files: &[File]) {
    let tested = std::process::Command::new("unzip")
        .arg("-tq")
        .arg(path)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("unzip runs");
    assert!(tested.success(), "unzip -t");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    assert_eq!(archive.len(), files.len());
    let mut buf = vec![0; 1 << 20];
    for (i, f) in files.iter().enumerate() {
        let mut entry = archive.by_index(i).unwrap();
        assert_eq!(entry.compression(), zip::CompressionMethod::Stored);
        let name = entry.name().unwrap().to_string();
        assert!(
            name.starts_with(&format!("{:02}-{}-", i + 1, f.client_id)),
            "{name}"
        );
        let mut hasher = Sha256::new();
        loop {
            let n = std::io::Read::read(&mut entry, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        assert_eq!(hasher.finalize(), Sha256::digest(&f.bytes), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn videos_and_documents_get_previews_and_the_batch_a_zip_of_originals() {
    let app = spawn(WorkerMode::Embedded).await;
    let listing = 720;
    let files = [
        media("clip", "VIDEO_HORIZONTAL", "h264.mp4"),
        media("phone", "VIDEO_VERTICAL", "hevc-rotated.mov"),
        media("dark", "VIDEO_HORIZONTAL", "black-start.mp4"),
        media("uhd", "VIDEO_HORIZONTAL", "uhd.mp4"),
        media("plan", "PROJECT_DOC", "doc.pdf"),
        photo("living", "PHOTO_HORIZONTAL", "living-room.jpg"),
    ];
    let batch_id = app.submit(listing, &files).await;
    let status = app.wait_terminal(listing, &batch_id).await;
    assert_eq!(status["status"], "READY", "{status}");
    assert_eq!(app.listing_status(listing).await, "PENDING_OWNER_APPROVAL");

    let phone = asset(&status, "phone");
    assert_eq!(
        (phone["width"].as_u64(), phone["height"].as_u64()),
        (Some(720), Some(1280)),
        "{phone}"
    );
    let duration = phone["durationMillis"].as_u64().unwrap();
    assert!((1_500..=2_500).contains(&duration), "{phone}");
    for video in ["clip", "phone", "dark", "uhd"] {
        let names: Vec<&String> = asset(&status, video)["renditions"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(
            names,
            ["large", "medium", "small", "thumbnail", "web"],
            "{video}"
        );
    }
    let plan = asset(&status, "plan");
    assert_eq!(plan["pageCount"], 2, "{plan}");
    assert_eq!(plan["renditions"].as_object().unwrap().len(), 4, "{plan}");

    let thumbnails = app.downloads(listing, &batch_id, "thumbnail").await;
    let (w, h, format) = decode(&thumbnails["phone"], "phone poster");
    assert_eq!(format, ImageFormat::Jpeg);
    assert_eq!((w, h), (180, 320), "upright poster");
    assert!(
        luma_variance(&thumbnails["dark"]) > 100.0,
        "the poster skips the black start"
    );
    assert!(
        luma_variance(&thumbnails["plan"]) > 10.0,
        "the first page is drawn"
    );

    let web = app.downloads(listing, &batch_id, "web").await;
    for video in ["clip", "phone", "dark", "uhd"] {
        let boxes = top_level_boxes(&web[video]);
        let (moov, mdat) = (
            boxes.iter().position(|b| b == "moov"),
            boxes.iter().position(|b| b == "mdat"),
        );
        assert!(
            moov.is_some() && moov < mdat,
            "{video}: faststart {boxes:?}"
        );
        let streams = codecs(&web[video]);
        assert!(
            streams.iter().any(|s| s.starts_with("h264,")),
            "{video}: {streams:?}"
        );
        // black-start.mp4 and uhd.mp4 have no audio track, and get none
        let audio = streams.iter().any(|s| s == "aac");
        assert_eq!(
            audio,
            !["dark", "uhd"].contains(&video),
            "{video}: {streams:?}"
        );
    }
    assert_eq!(
        codecs(&web["phone"])[0],
        "h264,720,1280",
        "rotation applied"
    );
    assert_eq!(
        codecs(&web["uhd"])[0],
        "h264,1920,1080",
        "4K fitted inside 1920"
    );
    let uhd = asset(&status, "uhd");
    assert_eq!(
        (uhd["width"].as_u64(), uhd["height"].as_u64()),
        (Some(3840), Some(2160)),
        "{uhd}"
    );
    assert_eq!(decode(&thumbnails["uhd"], "4K poster").0, 320);
    let (_, _, format) = decode(&web["living"], "a photo's web is its large");
    assert_eq!(format, ImageFormat::Jpeg);

    let zips = app.downloads(listing, &batch_id, "zip").await;
    assert_eq!(zips.len(), 1, "one ZIP: {status}");
    let zip = &zips["zip"];
    assert_eq!(
        status["zip"]["bytes"].as_u64(),
        Some(zip.len() as u64),
        "{status}"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), zip).unwrap();
    assert_zip_of(file.path(), &files);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broken_videos_and_documents_fail_alone_with_their_codes() {
    let app = spawn(WorkerMode::Embedded).await;
    let listing = 721;
    let files = [
        photo("good", "PHOTO_HORIZONTAL", "living-room.jpg"),
        media("cut", "VIDEO_HORIZONTAL", "truncated.mp4"),
        media("playlist", "VIDEO_HORIZONTAL", "playlist.mp4"),
        media("locked", "PROJECT_DOC", "encrypted.pdf"),
    ];
    let batch_id = app.submit(listing, &files).await;
    let status = app.wait_terminal(listing, &batch_id).await;
    assert_eq!(status["status"], "FAILED", "{status}");
    assert_eq!(asset(&status, "good")["status"], "PROCESSED", "{status}");
    for (client_id, code) in [
        ("cut", "DECODE_FAILED"),
        ("playlist", "UNSUPPORTED_MEDIA"),
        ("locked", "DOCUMENT_ENCRYPTED"),
    ] {
        let a = asset(&status, client_id);
        assert_eq!(a["status"], "FAILED", "{a}");
        assert_eq!(a["errorCode"], code, "{a}");
        let message = a["errorMessage"].as_str().unwrap();
        assert!(
            !message.contains("/tmp/"),
            "no worker paths reach clients: {message}"
        );
    }
    assert!(
        status["zip"].is_null(),
        "a failed batch has no ZIP: {status}"
    );
}

/// A 1 GiB batch (four 256 MiB videos: the default per-file and per-batch limits) on a worker
/// without ffmpeg on its `PATH`: it warns at start-up, the videos pass through verified, and
/// the batch ZIP streams all of them while the worker's peak RSS stays within its 64 MiB budget
/// above its idle baseline.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gibibyte_batch_is_zipped_within_the_memory_budget_and_without_ffmpeg_videos_pass_through()
 {
    let budget_mb = 64;
    let size = 256 << 20;
    let files: Vec<File> = (0..4u8)
        .map(|i| File {
            client_id: ["tour-1", "tour-2", "tour-3", "tour-4"][usize::from(i)],
            asset_type: "VIDEO_HORIZONTAL",
            name: "tour.mp4",
            // distinct, incompressible-looking bytes per file
            bytes: (0..size)
                .map(|n: u32| (n.wrapping_mul(2_654_435_761) >> 24) as u8 ^ i)
                .collect(),
        })
        .collect();
    let app = spawn(WorkerMode::Off).await;
    let empty_path = tempfile::tempdir().unwrap();
    let worker = ChildWorker::start(&app, budget_mb, Some(empty_path.path())).await;
    let log = std::fs::read_to_string(app.config.data_dir.join("worker.log")).unwrap();
    assert!(log.contains("ffmpeg/ffprobe not found on PATH"), "{log}");
    let baseline = worker.peak_kib();
    let listing = 722;
    let batch_id = app.submit(listing, &files).await;
    let status = app.wait_terminal(listing, &batch_id).await;
    let peak = worker.peak_kib();
    assert_eq!(status["status"], "READY", "{status}");
    for f in &files {
        let a = asset(&status, f.client_id);
        let names: Vec<&String> = a["renditions"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["original"], "passed through: {a}");
    }

    let zip_bytes = status["zip"]["bytes"].as_u64().unwrap();
    assert!(zip_bytes > 4 * u64::from(size), "{status}");
    let body = json!({"listingIdentityId": listing, "batchId": batch_id, "resolution": "zip"});
    let (code, res) = app.post("downloads", &body).await;
    assert_eq!(code, 200, "{res}");
    let mut got = app
        .client
        .get(res["downloads"][0]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    let zip_file = tempfile::NamedTempFile::new().unwrap();
    let mut out = std::io::BufWriter::new(zip_file.reopen().unwrap());
    while let Some(chunk) = got.chunk().await.unwrap() {
        std::io::Write::write_all(&mut out, &chunk).unwrap();
    }
    drop(out);
    assert_eq!(zip_file.path().metadata().unwrap().len(), zip_bytes);
    assert_zip_of(zip_file.path(), &files);

    println!(
        "worker VmHWM: baseline {baseline} KiB, after zipping 1 GiB {peak} KiB, budget {budget_mb} MiB"
    );
    assert!(
        peak < baseline + u64::from(budget_mb) * 1024,
        "peak RSS {peak} KiB is over the idle {baseline} KiB + the {budget_mb} MiB budget"
    );
}

/// Runs `toq-media upload` against `app` for `listing` on `paths`; returns (success, stdout,
/// stderr).
async fn upload_client(
    app: &App,
    listing: u64,
    paths: &[&std::path::Path],
) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_toq-media"))
        .args(["upload", "--url", &app.address, "--token", &app.token()])
        .args(["--listing", &listing.to_string(), "--wait", "120"])
        .args(paths)
        .output()
        .await
        .expect("the toq-media binary runs");
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    (
        output.status.success(),
        text(output.stdout),
        text(output.stderr),
    )
}

/// The reference client takes a folder to READY over real HTTP: it hashes, creates the batch
/// with each photo's orientation, streams the files to their signed URLs, confirms, waits, and
/// prints a download URL per file that serves the rendition.
#[tokio::test(flavor = "multi_thread")]
async fn the_upload_client_takes_a_folder_to_ready_and_prints_its_downloads() {
    let app = spawn(WorkerMode::Embedded).await;
    let listing = 741;
    app.register_listing(listing).await;
    let dir = tempfile::tempdir().unwrap();
    for name in ["living-room.jpg", "kitchen-portrait.jpg"] {
        std::fs::write(dir.path().join(name), fixture(name)).unwrap();
    }
    let (ok, stdout, stderr) = upload_client(&app, listing, &[dir.path()]).await;
    assert!(ok, "the upload failed:\n{stdout}\n{stderr}");
    let mut lines = stdout.lines();
    let (batch_id, state) = lines.next().unwrap().split_once(' ').unwrap();
    assert_eq!(state, "READY", "{stdout}");
    let status = app.status(listing, batch_id).await;
    assert_eq!(status["status"], "READY");
    assert_eq!(
        asset(&status, "01-kitchen-portrait")["assetType"],
        "PHOTO_VERTICAL"
    );
    assert_eq!(
        asset(&status, "02-living-room")["assetType"],
        "PHOTO_HORIZONTAL"
    );
    let downloads: BTreeMap<&str, &str> = lines.map(|l| l.split_once('\t').unwrap()).collect();
    assert_eq!(downloads.len(), 2, "{stdout}");
    for (client, url) in downloads {
        let bytes = app
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let (width, height, format) = decode(&bytes, client);
        assert_eq!(format, ImageFormat::Jpeg);
        assert!(
            width.max(height) <= 1920 && width.min(height) > 0,
            "{client}: {width}x{height}"
        );
    }
}

/// Refusals come back as the server's code and message, and nothing is left behind: a file
/// the service does not take stops the client before any request, an unknown listing at create.
#[tokio::test(flavor = "multi_thread")]
async fn the_upload_client_says_why_and_leaves_nothing_behind() {
    let app = spawn(WorkerMode::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("living-room.jpg"),
        fixture("living-room.jpg"),
    )
    .unwrap();
    let (ok, _, stderr) = upload_client(&app, 742, &[dir.path()]).await;
    assert!(!ok);
    assert!(stderr.contains("404 LISTING_NOT_FOUND"), "{stderr}");
    app.register_listing(743).await;
    std::fs::write(dir.path().join("notes.txt"), b"not media").unwrap();
    let (ok, _, stderr) = upload_client(&app, 743, &[dir.path()]).await;
    assert!(!ok);
    assert!(
        stderr.contains("notes.txt: not a photo, video or PDF"),
        "{stderr}"
    );
    let batches: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM media_batches")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(batches, 0, "a refused upload created a batch");
}
