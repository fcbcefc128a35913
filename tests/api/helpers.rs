//! `spawn_app`: a real server on a free port, embedded stack on a temporary directory.

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use toq_media::auth::{Caller, Role, jwt, signature};
use toq_media::config::{Config, Secrets};
use toq_media::store::Store;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub secrets: Secrets,
    pub store: Store,
    pub data_dir: PathBuf,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

pub const PHOTOGRAPHER: u64 = 7;
pub const OWNER: u64 = 12;

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// `spawn_app` with the configuration changed by `configure` before the start (other backends,
/// the built-in worker on).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temporary directory").keep();
    // SAFETY: tests set no other variables; every app reads its own data dir.
    let mut config = Config::from_env().expect("defaults parse");
    config.bind = "127.0.0.1:0".into();
    config.public_url = "http://127.0.0.1:0".into();
    config.database_url = format!("sqlite://{}/toq.db?mode=rwc", data_dir.display());
    config.data_dir = data_dir.clone();
    // No built-in worker: these tests play the pipeline themselves, through the callback.
    config.worker = toq_media::config::WorkerMode::Off;
    configure(&mut config);
    config.prepare().unwrap();
    let store = Store::connect(&config.database_url, 8).await.unwrap();
    store.migrate().await.unwrap();
    let secrets = config.secrets().unwrap();
    let running = toq_media::startup::start(config, store.clone())
        .await
        .expect("the server starts");
    let address = format!("http://127.0.0.1:{}", running.port);
    tokio::spawn(running.server);
    TestApp {
        address,
        client: reqwest::Client::new(),
        secrets,
        store,
        data_dir,
        _shutdown: running.shutdown,
    }
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture exists")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A manifest entry for a real file.
pub fn file_entry(client_id: &str, sequence: u32, name: &str, bytes: &[u8]) -> Value {
    let content_type = if name.ends_with(".png") {
        "image/png"
    } else {
        "image/jpeg"
    };
    json!({
        "clientId": client_id, "assetType": "PHOTO_HORIZONTAL", "orientation": "HORIZONTAL",
        "filename": name, "contentType": content_type, "bytes": bytes.len(),
        "checksum": sha256_hex(bytes), "title": format!("Photo {sequence}"), "sequence": sequence,
        "metadata": {"room": "living"}
    })
}

pub struct Response {
    pub status: StatusCode,
    pub body: Value,
    pub request_id: Option<String>,
}

impl TestApp {
    pub fn token(&self, user: u64, role: Role) -> String {
        jwt::sign(
            Caller {
                user_id: user,
                role,
            },
            chrono::Utc::now().timestamp() + 3600,
            &self.secrets.jwt,
        )
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Response {
        let res = request.send().await.expect("the server answers");
        let status = res.status();
        let request_id = res
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Response {
            status,
            body,
            request_id,
        }
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut req = self
            .client
            .post(format!("{}{path}", self.address))
            .json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn post_raw(&self, path: &str, token: Option<&str>, body: Vec<u8>) -> Response {
        let mut req = self
            .client
            .post(format!("{}{path}", self.address))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(format!("{}{path}", self.address));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn register_listing(&self, id: u64, status: &str, project_media: bool) -> Response {
        let req = self
            .client
            .put(format!("{}/api/v2/internal/listings/{id}", self.address))
            .bearer_auth(&self.secrets.internal_token)
            .json(&json!({"status": status, "ownerUserId": OWNER, "photographerUserId": PHOTOGRAPHER, "projectMedia": project_media}));
        self.send(req).await
    }

    /// Registers a listing awaiting its photos (no project media), as most flows start.
    pub async fn awaiting_media(&self, id: u64) {
        let res = self
            .register_listing(id, "PENDING_PHOTO_PROCESSING", false)
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
    }

    pub async fn create_batch(&self, token: &str, listing: u64, files: Vec<Value>) -> Response {
        self.post(
            "/api/v2/listings/media/uploads",
            Some(token),
            &json!({"listingIdentityId": listing, "batchReference": "session-1", "files": files}),
        )
        .await
    }

    /// PUTs bytes to a signed upload ticket exactly as a client would.
    pub async fn upload(&self, ticket: &Value, bytes: Vec<u8>) -> StatusCode {
        let mut req = self
            .client
            .put(ticket["uploadUrl"].as_str().unwrap())
            .body(bytes);
        for (name, value) in ticket["headers"].as_object().unwrap() {
            if name != "Content-Length" {
                req = req.header(name.as_str(), value.as_str().unwrap());
            }
        }
        req.send().await.unwrap().status()
    }

    pub async fn callback(&self, body: &Value) -> Response {
        let raw = serde_json::to_vec(body).unwrap();
        let ts = chrono::Utc::now().timestamp().to_string();
        let sig = signature::sign(&self.secrets.callback, &ts, &raw);
        let req = self
            .client
            .post(format!("{}/api/v2/listings/media/callback", self.address))
            .header("X-Toq-Timestamp", ts)
            .header("X-Toq-Signature", sig)
            .header("content-type", "application/json")
            .body(raw);
        self.send(req).await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let res = self.get("/metrics", None).await;
        assert_eq!(res.status, 200);
        res.body.as_str().expect("Prometheus text").to_owned()
    }

    /// The value of one series of `/metrics` (`name{labels}` as rendered), 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |v| v.trim().parse().expect("a number"))
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(self.store.dialect().sql(sql))
            .fetch_one(self.store.pool())
            .await
            .expect(sql)
    }

    /// Everything the service holds: rows per table and files under the object store.
    pub async fn footprint(&self) -> Vec<i64> {
        let mut counts = Vec::new();
        for t in [
            "events",
            "outbox",
            "job_queue",
            "media_batches",
            "media_assets",
            "media_jobs",
            "listings",
        ] {
            counts.push(self.count(&format!("SELECT COUNT(*) FROM {t}")).await);
        }
        counts.push(files_under(&self.data_dir.join("objects")) as i64);
        counts
    }
}

fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                if e.path().is_dir() {
                    files_under(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

// ---- Shared by errors.rs, authz.rs, callback.rs and concurrency.rs: requests with any method and
// headers, refusals that must change nothing, and batches driven through the real API.

pub const UPLOADS: &str = "/api/v2/listings/media/uploads";
pub const COMPLETE: &str = "/api/v2/listings/media/uploads/complete";
pub const RETRY: &str = "/api/v2/listings/media/uploads/retry";
pub const REPLACE: &str = "/api/v2/listings/media/uploads/replace";
pub const STATUS: &str = "/api/v2/listings/media/status";
pub const DOWNLOADS: &str = "/api/v2/listings/media/downloads";
pub const CALLBACK: &str = "/api/v2/listings/media/callback";
pub const DELETE: &str = "/api/v2/listings/media/batches/delete";

/// The fixtures a test batch uploads, in manifest order.
pub const PHOTOS: [&str; 2] = ["living-room.jpg", "floorplan-alpha.png"];

/// Manifest entries for [`PHOTOS`], each with the bytes it describes.
pub fn photo_entries() -> Vec<(Value, Vec<u8>)> {
    PHOTOS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let bytes = fixture(name);
            let entry = file_entry(&format!("photo-{}", i + 1), i as u32 + 1, name, &bytes);
            (entry, bytes)
        })
        .collect()
}

/// The error body of API.md: `{"code": <status>, "error", "message", "details"}`, and the
/// `X-Request-Id` every response carries.
pub fn assert_error(res: &Response, status: u16, code: &str) {
    assert_eq!(res.status, status, "{}", res.body);
    assert_eq!(
        res.body["code"], status,
        "`code` is the HTTP status: {}",
        res.body
    );
    assert_eq!(res.body["error"], code, "{}", res.body);
    assert!(
        res.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a human message: {}",
        res.body
    );
    assert!(res.body["details"].is_object(), "details: {}", res.body);
    assert!(
        res.request_id.as_deref().is_some_and(|id| !id.is_empty()),
        "every response carries X-Request-Id"
    );
}

/// The `field`s of a 422's `details.errors`, sorted.
pub fn error_fields(res: &Response) -> Vec<String> {
    let mut fields: Vec<String> = res.body["details"]["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("details.errors: {}", res.body))
        .iter()
        .map(|e| e["field"].as_str().expect("a field name").to_owned())
        .collect();
    fields.sort();
    fields
}

/// One HTTP request of any method, with any headers.
pub struct Req {
    method: reqwest::Method,
    path: String,
    token: Option<String>,
    body: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
}

impl Req {
    pub fn new(method: reqwest::Method, path: &str, token: Option<&str>) -> Self {
        Self {
            method,
            path: path.to_owned(),
            token: token.map(str::to_owned),
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn post(path: &str, token: Option<&str>, body: &Value) -> Self {
        Self::new(reqwest::Method::POST, path, token).json(body)
    }

    pub fn json(self, body: &Value) -> Self {
        self.bytes(serde_json::to_vec(body).expect("JSON serializes"))
    }

    /// A raw body, sent as `application/json` whatever it holds.
    pub fn bytes(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// A batch created through the API: its listing, its id and, per file in manifest order, the
/// upload ticket and the bytes that belong under it.
pub struct Batch {
    pub listing: u64,
    pub id: String,
    pub files: Vec<(Value, Vec<u8>)>,
}

impl Batch {
    /// `{"listingIdentityId", "batchId"}` and the fields of `extra`.
    pub fn body(&self, extra: Value) -> Value {
        let mut body = json!({"listingIdentityId": self.listing, "batchId": self.id});
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        body
    }

    /// Every file confirmed once, as `/uploads/complete` wants it.
    pub fn confirmations(&self) -> Vec<Value> {
        self.files
            .iter()
            .map(|(t, _)| json!({"clientId": t["clientId"], "objectKey": t["objectKey"]}))
            .collect()
    }

    /// A pipeline result for `job_id`: every file rendered (its raw key standing in for each size).
    /// Where a pipeline puts rendition `size` of the file of `ticket` in `attempt`:
    /// `{listing}/processed/{segment}/{batch}/{attempt}/{size}/…`, the segment read off the
    /// raw key (`{listing}/raw/{segment}/…`).
    pub fn rendition_key(&self, ticket: &Value, attempt: u32, size: &str) -> String {
        let raw = ticket["objectKey"].as_str().expect("a ticket has its key");
        let segment = raw.split('/').nth(2).expect("a raw key names its segment");
        let client = ticket["clientId"]
            .as_str()
            .expect("a ticket has its client id");
        format!(
            "{}/processed/{segment}/{}/{attempt}/{size}/{client}.jpg",
            self.listing, self.id
        )
    }

    pub fn result(&self, job_id: &str, attempt: u32, status: &str) -> Value {
        let outputs: Vec<Value> = self
            .files
            .iter()
            .map(|(t, _)| {
                let renditions: serde_json::Map<String, Value> =
                    ["thumbnail", "small", "medium", "large"]
                        .into_iter()
                        .map(|size| (size.to_owned(), self.rendition_key(t, attempt, size).into()))
                        .collect();
                json!({"clientId": t["clientId"], "rawKey": t["objectKey"], "width": 640,
                       "height": 427, "renditions": renditions})
            })
            .collect();
        json!({"jobId": job_id, "batchId": self.id, "attempt": attempt, "status": status,
               "outputs": outputs})
    }
}

impl TestApp {
    /// Registers a listing with the given people (`register_listing` uses 12 and 7).
    pub async fn register_listing_as(
        &self,
        id: u64,
        owner: u64,
        photographer: u64,
        project_media: bool,
    ) -> Response {
        let body = json!({"status": "PENDING_PHOTO_PROCESSING", "ownerUserId": owner,
                          "photographerUserId": photographer, "projectMedia": project_media});
        let path = format!("/api/v2/internal/listings/{id}");
        let req = Req::new(
            reqwest::Method::PUT,
            &path,
            Some(&self.secrets.internal_token),
        );
        self.call(req.json(&body)).await
    }

    /// Sends `req`; an `X-Request-Id` it carries must come back unchanged.
    pub async fn call(&self, req: Req) -> Response {
        let sent_id = req
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("x-request-id"))
            .map(|(_, v)| v.clone());
        let mut builder = self
            .client
            .request(req.method, format!("{}{}", self.address, req.path));
        if let Some(token) = &req.token {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = req.body {
            builder = builder
                .header("content-type", "application/json")
                .body(body);
        }
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let res = self.send(builder).await;
        if let Some(id) = sent_id {
            assert_eq!(res.request_id, Some(id), "X-Request-Id is echoed");
        }
        res
    }

    /// Sends `req` with a fresh `X-Request-Id`, expects the error `status`/`code` with the id
    /// echoed, and proves the refusal changed nothing: no event, row, message or object.
    pub async fn refused(&self, req: Req, status: u16, code: &str) -> Response {
        let before = self.quiet_footprint().await;
        let id = format!("test-{}", uuid::Uuid::now_v7());
        let res = self.call(req.header("X-Request-Id", id)).await;
        assert_error(&res, status, code);
        assert_eq!(
            self.quiet_footprint().await,
            before,
            "a refused request changes nothing: {}",
            res.body
        );
        res
    }

    /// [`TestApp::footprint`] once the relay has drained the outbox, so that its background
    /// moves (outbox → job_queue) do not show up as changes.
    pub async fn quiet_footprint(&self) -> Vec<i64> {
        for _ in 0..100 {
            if self.count("SELECT COUNT(*) FROM outbox").await == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.footprint().await
    }

    /// Creates a batch of `files` (entries with their bytes); it must be accepted.
    pub async fn create_with(
        &self,
        token: &str,
        listing: u64,
        files: Vec<(Value, Vec<u8>)>,
    ) -> Batch {
        let entries = files.iter().map(|(entry, _)| entry.clone()).collect();
        let created = self.create_batch(token, listing, entries).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let tickets = created.body["files"].as_array().expect("tickets");
        let files = files
            .into_iter()
            .map(|(entry, bytes)| {
                let ticket = tickets
                    .iter()
                    .find(|t| t["clientId"] == entry["clientId"])
                    .expect("a ticket per file");
                (ticket.clone(), bytes)
            })
            .collect();
        Batch {
            listing,
            id: created.body["batchId"]
                .as_str()
                .expect("batchId")
                .to_owned(),
            files,
        }
    }

    /// A new batch of the [`PHOTOS`].
    pub async fn new_batch(&self, token: &str, listing: u64) -> Batch {
        self.create_with(token, listing, photo_entries()).await
    }

    /// PUTs every file to its signed URL.
    pub async fn upload_all(&self, batch: &Batch) {
        for (ticket, bytes) in &batch.files {
            // 201 from the local store, 200 from S3.
            let status = self.upload(ticket, bytes.clone()).await;
            assert!(status.is_success(), "upload refused: {status}");
        }
    }

    /// Confirms every file of the batch.
    pub async fn complete(&self, token: &str, batch: &Batch) -> Response {
        let body = batch.body(json!({"files": batch.confirmations()}));
        self.post(COMPLETE, Some(token), &body).await
    }

    /// A batch created, uploaded and confirmed (RECEIVED), and its job id.
    pub async fn received_batch(&self, token: &str, listing: u64) -> (Batch, String) {
        let batch = self.new_batch(token, listing).await;
        self.upload_all(&batch).await;
        let completed = self.complete(token, &batch).await;
        assert_eq!(completed.status, 202, "{}", completed.body);
        let job = completed.body["jobId"].as_str().expect("jobId").to_owned();
        (batch, job)
    }

    /// A batch processed by its first job (READY), and that job's id.
    pub async fn ready_batch(&self, token: &str, listing: u64) -> (Batch, String) {
        let (batch, job) = self.received_batch(token, listing).await;
        let done = self.callback(&batch.result(&job, 1, "SUCCEEDED")).await;
        assert_eq!(done.status, 200, "{}", done.body);
        (batch, job)
    }

    pub async fn retry(&self, token: &str, batch: &Batch, scope: &str) -> Response {
        let body = batch.body(json!({"reason": "re-render", "scope": scope}));
        self.post(RETRY, Some(token), &body).await
    }

    pub async fn status_of(&self, token: &str, batch: &Batch) -> Response {
        self.post(STATUS, Some(token), &batch.body(json!({}))).await
    }
}
