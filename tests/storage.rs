//! The embedded object store over real HTTP: a presigned upload lands exactly the signed bytes,
//! a presigned download returns them, and every refused upload leaves the store's directory
//! exactly as it was (DESIGN.md guarantee 6), including `.tmp/`.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use aggregates::{Checksum, ObjectKey};
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use toq_media::storage::{LocalStore, PresignedPut, routes};

const SECRET: &[u8] = b"storage integration test secret";
const JPEG: &str = "image/jpeg";

/// A store on a temporary directory behind a real HTTP server on a free port.
struct Harness {
    addr: SocketAddr,
    store: web::Data<LocalStore>,
    dir: tempfile::TempDir,
    http: reqwest::Client,
    server: ServerHandle,
}

impl Harness {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let store = web::Data::new(LocalStore::new(
            dir.path().join("objects"),
            format!("http://{addr}"),
            SECRET,
        ));
        let app_store = store.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_store.clone())
                .configure(routes::configure)
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Self {
            addr,
            store,
            dir,
            http,
            server: handle,
        }
    }

    /// The directory holding the store's root: snapshots of it also catch writes that escape.
    fn sandbox(&self) -> &Path {
        self.dir.path()
    }

    /// A PUT with the signed query of `ticket` on a raw path, e.g. one with `..` segments.
    fn raw_put(path_and_query: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
        let mut request = format!(
            "PUT {path_and_query} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        request
    }

    /// A PUT whose body is sent chunked, so no Content-Length announces its size. Unless
    /// `finished`, the body stays open: only a server that refuses mid-stream can answer.
    fn chunked_put(
        path_and_query: &str,
        content_type: &str,
        body: &[u8],
        finished: bool,
    ) -> Vec<u8> {
        let mut request = format!(
            "PUT {path_and_query} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        .into_bytes();
        for chunk in body.chunks(64 * 1024) {
            request.extend_from_slice(format!("{:X}\r\n", chunk.len()).as_bytes());
            request.extend_from_slice(chunk);
            request.extend_from_slice(b"\r\n");
        }
        if finished {
            request.extend_from_slice(b"0\r\n\r\n");
        }
        request
    }

    /// The path and query of one of our URLs.
    fn path_and_query<'u>(&self, url: &'u str) -> &'u str {
        url.strip_prefix(&format!("http://{}", self.addr)).unwrap()
    }

    fn ticket(&self, key: &ObjectKey, body: &[u8]) -> PresignedPut {
        self.ticket_with(key, body.len() as u64, &sha256(body), Duration::minutes(15))
    }

    fn ticket_with(
        &self,
        key: &ObjectKey,
        bytes: u64,
        checksum: &Checksum,
        ttl: Duration,
    ) -> PresignedPut {
        self.store
            .presign_put(key, JPEG, bytes, checksum, ttl, Utc::now())
    }

    /// PUTs `body` to `url` with the ticket's Content-Type unless one is given.
    async fn put(&self, url: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        let mut request = self.http.put(url).body(body);
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        Reply::from(request.send().await.unwrap()).await
    }

    /// Sends raw bytes over a fresh connection, for requests a URL library would normalise
    /// (`..` segments) or bodies without a Content-Length (chunked), and reads one response.
    /// It does not wait for the connection to close: after an early refusal the server keeps
    /// draining the unread body for a while.
    async fn raw(&self, request: &[u8]) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        // The server may stop reading once it has answered; what it answered is what counts.
        let _ = stream.write_all(request).await;
        let mut response = Vec::new();
        let mut buf = [0; 8192];
        while !complete(&response) {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => response.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text.split(' ').nth(1).and_then(|s| s.parse().ok());
        (
            status.unwrap_or_else(|| panic!("no HTTP response: {text:?}")),
            text,
        )
    }

    async fn stop(self) {
        self.server.stop(true).await;
    }
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    async fn from(response: reqwest::Response) -> Self {
        Self {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Asserts the API error body (API.md, Conventions).
    fn assert_error(&self, status: u16, code: &str) {
        let body = self.json();
        assert_eq!(self.status.as_u16(), status, "{body}");
        assert_eq!(body["code"], status, "{body}");
        assert_eq!(body["error"], code, "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(body["details"], serde_json::json!({}));
    }
}

fn sha256(bytes: &[u8]) -> Checksum {
    Checksum::from_bytes(Sha256::digest(bytes).into())
}

fn key(raw: &str) -> ObjectKey {
    ObjectKey::parse(raw).unwrap()
}

/// A photo-sized body: JPEG markers around 1.5 MB of random bytes (incompressible, and large
/// enough to arrive in many chunks).
fn photo() -> Vec<u8> {
    let mut body = vec![0; 1_536_007];
    getrandom::fill(&mut body).unwrap();
    body[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    let end = body.len() - 2;
    body[end..].copy_from_slice(&[0xFF, 0xD9]);
    body
}

/// Every file and directory under `root`, with each file's SHA-256.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<String>> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            if path.is_dir() {
                out.insert(relative, None);
                dirs.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(relative, Some(sha256(&bytes).to_hex()));
            }
        }
    }
    out
}

/// Whether `response` holds a whole HTTP response: its head and `Content-Length` bytes of body.
fn complete(response: &[u8]) -> bool {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    response.len() >= end + 4 + length
}

/// Replaces the value of one query parameter of a URL, leaving everything else as issued.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, _)) if n == name => format!("{n}={value}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn param<'u>(url: &'u str, name: &str) -> &'u str {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .unwrap()
}

/// A store already holding one photo, and the two keys each refusal is aimed at: a fresh one
/// (no directory may appear) and the stored one (the object must stay as it was).
async fn with_one_photo() -> (Harness, [ObjectKey; 2], Vec<u8>) {
    let h = Harness::start().await;
    let stored = key("123/raw/photo/horizontal/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/01-p1-IMG.jpg");
    let fresh = key("123/raw/photo/vertical/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/02-p2-new.jpg");
    let body = photo();
    let ticket = h.ticket(&stored, &body);
    let reply = h.put(&ticket.url, Some(JPEG), body.clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert!(h.sandbox().join("objects/.tmp").is_dir());
    (h, [fresh, stored], body)
}

fn assert_unchanged(h: &Harness, before: &BTreeMap<PathBuf, Option<String>>, case: &str) {
    assert_eq!(&snapshot(h.sandbox()), before, "{case} left traces");
}

#[tokio::test]
async fn upload_then_head_and_signed_download_return_the_same_bytes() {
    let h = Harness::start().await;
    let k = key("123/raw/photo/horizontal/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/01-p1-IMG_2907.jpg");
    let body = photo();
    let ticket = h.ticket(&k, &body);
    assert_eq!(ticket.method, "PUT");
    assert_eq!(ticket.headers["Content-Length"], body.len().to_string());
    assert_eq!(
        ticket.headers["x-amz-checksum-sha256"],
        sha256(&body).to_base64()
    );

    let mut request = h.http.put(&ticket.url).body(body.clone());
    for (name, value) in &ticket.headers {
        request = request.header(name, value);
    }
    let reply = Reply::from(request.send().await.unwrap()).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let etag = format!("\"{}\"", sha256(&body).to_hex());
    assert_eq!(reply.headers["etag"], etag.as_str());

    let head = h.store.head(&k).await.unwrap().unwrap();
    assert_eq!(head.bytes, body.len() as u64);
    assert_eq!(head.checksum, sha256(&body));

    let (url, expires_at) = h.store.presign_get(&k, Duration::minutes(60), Utc::now());
    assert!(expires_at > Utc::now());
    let download = Reply::from(h.http.get(&url).send().await.unwrap()).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.headers["content-type"], JPEG);
    assert_eq!(
        download.headers["content-length"],
        body.len().to_string().as_str()
    );
    assert!(
        download.body == body,
        "the download differs from the upload"
    );
    h.stop().await;
}

#[tokio::test]
async fn keys_with_reserved_characters_roundtrip() {
    let h = Harness::start().await;
    let k = key("123/processed/project/Sala social+ñ %25 #?&=/01-x.jpg");
    let body = b"small rendition".to_vec();
    let ticket = h.ticket(&k, &body);
    let reply = h.put(&ticket.url, Some(JPEG), body.clone()).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["objectKey"], k.as_str());
    assert!(h.sandbox().join("objects").join(k.as_str()).is_file());
    let (url, _) = h.store.presign_get(&k, Duration::minutes(1), Utc::now());
    let download = Reply::from(h.http.get(&url).send().await.unwrap()).await;
    assert_eq!((download.status, download.body), (StatusCode::OK, body));
    h.stop().await;
}

#[tokio::test]
async fn wrong_checksum_is_refused_and_leaves_nothing() {
    let (h, targets, body) = with_one_photo().await;
    for target in &targets {
        let before = snapshot(h.sandbox());
        let ticket = h.ticket(target, &body);
        let mut other = body.clone();
        other[body.len() / 2] ^= 0x01;
        let reply = h.put(&ticket.url, Some(JPEG), other).await;
        reply.assert_error(400, "CHECKSUM_MISMATCH");
        assert_unchanged(&h, &before, "a body with other bytes");
    }
    h.stop().await;
}

#[tokio::test]
async fn longer_body_is_refused_and_leaves_nothing() {
    let (h, targets, body) = with_one_photo().await;
    for target in &targets {
        let before = snapshot(h.sandbox());
        let ticket = h.ticket(target, &body);
        let mut longer = body.clone();
        longer.push(0);
        let reply = h.put(&ticket.url, Some(JPEG), longer.clone()).await;
        reply.assert_error(400, "SIZE_MISMATCH");
        assert_unchanged(&h, &before, "a longer body");

        // Without a Content-Length the store must notice the overflow while streaming, not
        // wait for the end of a body that may never end.
        let request = Harness::chunked_put(h.path_and_query(&ticket.url), JPEG, &longer, false);
        let answer = tokio::time::timeout(std::time::Duration::from_secs(10), h.raw(&request));
        let (status, response) = answer.await.expect("no answer before the body ended");
        assert_eq!(status, 400, "{response}");
        assert!(response.contains("SIZE_MISMATCH"), "{response}");
        assert_unchanged(&h, &before, "a longer chunked body");
    }
    h.stop().await;
}

#[tokio::test]
async fn shorter_body_is_refused_and_leaves_nothing() {
    let (h, targets, body) = with_one_photo().await;
    for target in &targets {
        let before = snapshot(h.sandbox());
        let ticket = h.ticket(target, &body);
        let shorter = body[..body.len() - 1].to_vec();
        let reply = h.put(&ticket.url, Some(JPEG), shorter.clone()).await;
        reply.assert_error(400, "SIZE_MISMATCH");
        assert_unchanged(&h, &before, "a shorter body");

        let request = Harness::chunked_put(h.path_and_query(&ticket.url), JPEG, &shorter, true);
        let (status, response) = h.raw(&request).await;
        assert_eq!(status, 400, "{response}");
        assert!(response.contains("SIZE_MISMATCH"), "{response}");
        assert_unchanged(&h, &before, "a shorter chunked body");
    }
    h.stop().await;
}

#[tokio::test]
async fn wrong_or_missing_content_type_is_refused_and_leaves_nothing() {
    let (h, targets, body) = with_one_photo().await;
    for target in &targets {
        let before = snapshot(h.sandbox());
        let ticket = h.ticket(target, &body);
        for content_type in [Some("image/png"), Some("text/html"), None] {
            let reply = h.put(&ticket.url, content_type, body.clone()).await;
            reply.assert_error(400, "CONTENT_TYPE_MISMATCH");
            assert_unchanged(&h, &before, "a wrong content type");
        }
    }
    h.stop().await;
}

#[tokio::test]
async fn expired_url_is_refused_and_leaves_nothing() {
    let (h, targets, body) = with_one_photo().await;
    for target in &targets {
        let before = snapshot(h.sandbox());
        let ticket = h.ticket_with(
            target,
            body.len() as u64,
            &sha256(&body),
            Duration::seconds(-1),
        );
        let reply = h.put(&ticket.url, Some(JPEG), body.clone()).await;
        reply.assert_error(403, "SIGNATURE_EXPIRED");
        assert_unchanged(&h, &before, "an expired URL");
    }
    h.stop().await;
}

#[tokio::test]
async fn forged_signature_is_refused_and_leaves_nothing() {
    let (h, targets, body) = with_one_photo().await;
    for target in &targets {
        let before = snapshot(h.sandbox());
        let ticket = h.ticket(target, &body);
        let mut signature = param(&ticket.url, "X-Toq-Signature").to_owned();
        let flipped = if signature.ends_with('0') { "1" } else { "0" };
        signature.replace_range(signature.len() - 1.., flipped);
        let forged = with_param(&ticket.url, "X-Toq-Signature", &signature);
        let reply = h.put(&forged, Some(JPEG), body.clone()).await;
        reply.assert_error(403, "SIGNATURE_INVALID");
        assert_unchanged(&h, &before, "a forged signature");
    }
    h.stop().await;
}

#[tokio::test]
async fn tampered_query_is_refused_and_leaves_nothing() {
    let (h, targets, body) = with_one_photo().await;
    for target in &targets {
        let before = snapshot(h.sandbox());
        let ticket = h.ticket(target, &body);
        // Claim a longer upload and send a body that fits the claim.
        let mut longer = body.clone();
        longer.extend_from_slice(b"appended");
        let tampered = with_param(&ticket.url, "X-Toq-Length", &longer.len().to_string());
        let reply = h.put(&tampered, Some(JPEG), longer).await;
        reply.assert_error(403, "SIGNATURE_INVALID");
        // Or keep the length and swap in the digest of other bytes.
        let mut other = body.clone();
        other[0] ^= 0x01;
        let tampered = with_param(&ticket.url, "X-Toq-Sha256", &sha256(&other).to_hex());
        let reply = h.put(&tampered, Some(JPEG), other).await;
        reply.assert_error(403, "SIGNATURE_INVALID");
        assert_unchanged(&h, &before, "a tampered query");
    }
    h.stop().await;
}

#[tokio::test]
async fn keys_with_dot_dot_or_moved_urls_are_refused_and_leave_nothing() {
    let (h, targets, body) = with_one_photo().await;
    let before = snapshot(h.sandbox());
    let ticket = h.ticket(&targets[0], &body);
    let query = ticket.url.split_once('?').unwrap().1;
    for path in [
        "/storage/../escaped.jpg",
        "/storage/123/raw/../../../escaped.jpg",
        "/storage/123/raw/%2E%2E/%2e%2e/%2E%2E/escaped.jpg",
        "/storage/123%2F..%2F..%2Fescaped.jpg",
        "/storage/%2Fetc%2Fescaped.jpg",
    ] {
        let request = Harness::raw_put(&format!("{path}?{query}"), JPEG, &body);
        let (status, response) = h.raw(&request).await;
        assert_eq!(status, 403, "{path}: {response}");
        assert!(response.contains("SIGNATURE_INVALID"), "{path}: {response}");
        assert_unchanged(&h, &before, path);
    }
    // A valid signature for one key does not carry over to another.
    let moved = ticket.url.replace("02-p2-new.jpg", "02-p2-other.jpg");
    let reply = h.put(&moved, Some(JPEG), body.clone()).await;
    reply.assert_error(403, "SIGNATURE_INVALID");
    assert_unchanged(&h, &before, "a URL moved to another key");
    h.stop().await;
}

#[tokio::test]
async fn downloads_need_a_valid_get_signature() {
    let (h, [fresh, stored], body) = with_one_photo().await;
    let (url, _) = h
        .store
        .presign_get(&stored, Duration::minutes(5), Utc::now());
    let mut signature = param(&url, "X-Toq-Signature").to_owned();
    let flipped = if signature.starts_with('a') { "b" } else { "a" };
    signature.replace_range(..1, flipped);
    let forged = with_param(&url, "X-Toq-Signature", &signature);
    let reply = Reply::from(h.http.get(&forged).send().await.unwrap()).await;
    reply.assert_error(403, "SIGNATURE_INVALID");

    let (expired, _) = h
        .store
        .presign_get(&stored, Duration::seconds(-1), Utc::now());
    let reply = Reply::from(h.http.get(&expired).send().await.unwrap()).await;
    reply.assert_error(403, "SIGNATURE_EXPIRED");

    // An upload URL is not a download URL.
    let upload = h.ticket(&stored, &body).url;
    let reply = Reply::from(h.http.get(&upload).send().await.unwrap()).await;
    reply.assert_error(403, "SIGNATURE_INVALID");

    let (absent, _) = h
        .store
        .presign_get(&fresh, Duration::minutes(5), Utc::now());
    let reply = Reply::from(h.http.get(&absent).send().await.unwrap()).await;
    reply.assert_error(404, "OBJECT_NOT_FOUND");
    h.stop().await;
}
