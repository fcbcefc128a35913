//! The bad-input corpus: well over 300 malformed, mistyped, out-of-range, hostile, oversized or
//! forged requests, built as tables of cases × routes and sent over real HTTP to an app that
//! already holds real state (listings; a PENDING_UPLOAD, an uploaded, a RECEIVED, a PROCESSING and
//! a READY batch; their objects), so that the bad requests name real ids.
//!
//! Every request must be refused with a 4xx (never 2xx, never 5xx) and the error body of API.md
//! (`{"code": <status>, "error", "message", "details"}`; the object store's routes answer with the
//! same shape and their own codes), with the status and code the contract gives for it, and must
//! echo its `X-Request-Id`. None may change anything: every row of every table (`SELECT *` in key
//! order, each value `quote()`d) and every file under `objects/` (path and SHA-256) are compared
//! after each request with the state before it, and after the whole corpus with the snapshot taken
//! before it.
//!
//! Requests go out through a raw HTTP/1.1 client, so that paths (`..`, `%2f`, backslashes),
//! header bytes and bodies reach the server exactly as written (an HTTP library would normalise
//! some of them away); bodies over 1 MiB go through reqwest.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use aggregates::{Checksum, ObjectKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::{Sha256, Sha512};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use toq_media::auth::{Caller, Role, jwt, signature};
use toq_media::storage::signing::{Signer, UploadTerms, encode_key};

use crate::helpers::*;

// ---- The state the corpus aims at ----

/// A batch in PENDING_UPLOAD, nothing uploaded: its listing has an open batch.
const PENDING: u64 = 101;
/// A READY batch: its listing moved on to PENDING_OWNER_APPROVAL.
const READY: u64 = 102;
/// A RECEIVED batch whose first job is current: results for it would be recorded.
const RECEIVED: u64 = 103;
/// A PROCESSING batch: it cannot be deleted.
const PROCESSING: u64 = 104;
/// A DRAFT listing without batches.
const DRAFT: u64 = 105;
/// Awaiting media, no batch: a create with a good token would succeed.
const AWAITING: u64 = 106;
/// A batch whose files are uploaded but not confirmed: a complete with a good token would succeed.
const UPLOADED: u64 = 107;
/// Not registered: a PUT with the internal token would register it.
const UNREGISTERED: u64 = 108;

const ADMIN: u64 = 1;
const LISTINGS: &str = "/api/v2/internal/listings";
const CLEANUP: &str = "/api/v2/internal/cleanup/candidates";
const MAX_BODY: usize = 1024 * 1024;
const HS256: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
const U64_OVER: &str = "18446744073709551616";

struct World {
    app: TestApp,
    /// `127.0.0.1:<port>`.
    host: String,
    photographer: String,
    admin: String,
    pending: Batch,
    ready: Batch,
    ready_job: String,
    received: Batch,
    received_job: String,
    processing: Batch,
    processing_job: String,
    uploaded: Batch,
    /// A genuine signed PUT (path and query) for the pending batch's first file.
    put_url: String,
    /// A genuine signed GET (path and query) for the ready batch's first original.
    get_url: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    for id in [PENDING, READY, RECEIVED, PROCESSING, AWAITING, UPLOADED] {
        let registered = app
            .register_listing(id, "PENDING_PHOTO_PROCESSING", false)
            .await;
        assert_eq!(registered.status, 200, "{}", registered.body);
    }
    assert_eq!(
        app.register_listing(DRAFT, "DRAFT", false).await.status,
        200
    );
    let photographer = app.token(PHOTOGRAPHER, Role::Photographer);
    let admin = app.token(ADMIN, Role::Admin);

    let pending = app.new_batch(&photographer, PENDING).await;
    let (ready, ready_job) = app.ready_batch(&photographer, READY).await;
    let (received, received_job) = app.received_batch(&photographer, RECEIVED).await;
    let (processing, processing_job) = app.received_batch(&photographer, PROCESSING).await;
    let running = json!({"jobId": processing_job, "batchId": processing.id, "attempt": 1,
                         "status": "RUNNING"});
    assert_eq!(app.callback(&running).await.status, 200);
    let uploaded = app.new_batch(&photographer, UPLOADED).await;
    app.upload_all(&uploaded).await;
    for (batch, status) in [
        (&pending, "PENDING_UPLOAD"),
        (&ready, "READY"),
        (&received, "RECEIVED"),
        (&processing, "PROCESSING"),
        (&uploaded, "PENDING_UPLOAD"),
    ] {
        let res = app.status_of(&photographer, batch).await;
        assert_eq!(res.body["status"], status, "{}", res.body);
    }

    let downloads = app
        .post(
            DOWNLOADS,
            Some(&photographer),
            &ready.body(json!({"resolution": "original"})),
        )
        .await;
    assert_eq!(downloads.status, 200, "{}", downloads.body);
    let get_url = storage_part(downloads.body["downloads"][0]["url"].as_str().unwrap());
    let put_url = storage_part(pending.files[0].0["uploadUrl"].as_str().unwrap());
    let host = app.address.trim_start_matches("http://").to_owned();
    World {
        app,
        host,
        photographer,
        admin,
        pending,
        ready,
        ready_job,
        received,
        received_job,
        processing,
        processing_job,
        uploaded,
        put_url,
        get_url,
    }
}

/// `/storage/...?...` of a signed URL.
fn storage_part(url: &str) -> String {
    let at = url.find("/storage/").expect("a storage URL");
    url[at..].to_owned()
}

/// A create request for the fixture photos.
fn create_body(listing: u64) -> Value {
    let entries: Vec<Value> = photo_entries().into_iter().map(|(e, _)| e).collect();
    json!({"listingIdentityId": listing, "batchReference": "session-1", "files": entries})
}

// ---- Requests, expectations, cases ----

/// What a case accepts: one of these (status, `error`) pairs.
type Want = &'static [(u16, &'static str)];
const BAD_JSON: Want = &[(400, "INVALID_JSON")];
const INVALID: Want = &[(422, "VALIDATION_FAILED")];
const TOO_LARGE: Want = &[(413, "PAYLOAD_TOO_LARGE")];
const UNAUTHORIZED: Want = &[(401, "UNAUTHORIZED")];
const LISTING_NOT_FOUND: Want = &[(404, "LISTING_NOT_FOUND")];
const BATCH_NOT_FOUND: Want = &[(404, "BATCH_NOT_FOUND")];
const JOB_NOT_FOUND: Want = &[(404, "JOB_NOT_FOUND")];
const OPEN_BATCH: Want = &[(409, "OPEN_BATCH_EXISTS")];
const NOT_AWAITING_MEDIA: Want = &[(409, "LISTING_NOT_AWAITING_MEDIA")];
const NOT_TERMINAL: Want = &[(409, "BATCH_NOT_TERMINAL")];
const BATCH_PROCESSING: Want = &[(409, "BATCH_PROCESSING")];
const UPLOAD_MISMATCH: Want = &[(409, "UPLOAD_MISMATCH")];
const NO_ROUTE: Want = &[(404, "NOT_FOUND"), (405, "METHOD_NOT_ALLOWED")];
const SIG_INVALID: Want = &[(403, "SIGNATURE_INVALID")];
const SIG_EXPIRED: Want = &[(403, "SIGNATURE_EXPIRED")];
const CHECKSUM_MISMATCH: Want = &[(400, "CHECKSUM_MISMATCH")];
const SIZE_MISMATCH: Want = &[(400, "SIZE_MISMATCH")];
const CONTENT_TYPE_MISMATCH: Want = &[(400, "CONTENT_TYPE_MISMATCH")];
/// A key the store keeps for itself (sidecars, uploads in flight) or that cannot exist.
/// A signed URL for a key the service never signs: refused as a key, as a signature (the key
/// does not parse), or found empty.
const KEY_REFUSED: Want = &[
    (400, "INVALID_KEY"),
    (403, "SIGNATURE_INVALID"),
    (404, "OBJECT_NOT_FOUND"),
];

/// How the callback's signature headers are made, at send time (so that the ±300 s window is
/// measured from the moment the request leaves).
#[derive(Clone)]
enum Forge {
    /// The genuine signature of the body, over `now + offset`.
    At(i64),
    /// The genuine signature of the body over this literal timestamp.
    Literal(&'static str),
    /// The body signed now with another secret.
    OtherSecret,
    /// The genuine signature (now) of another body than the one sent.
    OtherBody(Vec<u8>),
    /// Signed over `now + signed`, the timestamp header saying `now + sent`.
    Moved { signed: i64, sent: i64 },
    /// Signed now; the timestamp header spelled `spell(now)`.
    Respelled(fn(i64) -> String),
    /// Signed now; the signature header rewritten by `mangle`.
    Mangled(fn(&str) -> String),
    /// The genuine signature, no timestamp header.
    NoTimestamp,
    /// A timestamp header of `now + offset` (if any) and this literal signature (if any).
    Headers(Option<i64>, Option<&'static str>),
    /// The genuine headers' values in the query string instead of headers.
    InQuery,
}

const TIMESTAMP: &str = "X-Toq-Timestamp";
const SIGNATURE: &str = "X-Toq-Signature";

impl Forge {
    /// The headers to send and what to append to the target.
    fn render(&self, secret: &[u8], body: &[u8]) -> (Vec<(String, Vec<u8>)>, String) {
        let now = chrono::Utc::now().timestamp();
        let pair = |ts: String, sig: String| {
            vec![
                (TIMESTAMP.to_owned(), ts.into_bytes()),
                (SIGNATURE.to_owned(), sig.into_bytes()),
            ]
        };
        let genuine = |ts: &str| signature::sign(secret, ts, body);
        let headers = match self {
            Self::At(offset) => {
                let ts = (now + offset).to_string();
                pair(ts.clone(), genuine(&ts))
            }
            Self::Literal(ts) => pair((*ts).to_owned(), genuine(ts)),
            Self::OtherSecret => {
                let ts = now.to_string();
                let sig = signature::sign(b"another-secret", &ts, body);
                pair(ts, sig)
            }
            Self::OtherBody(signed) => {
                let ts = now.to_string();
                let sig = signature::sign(secret, &ts, signed);
                pair(ts, sig)
            }
            Self::Moved { signed, sent } => {
                let sig = genuine(&(now + signed).to_string());
                pair((now + sent).to_string(), sig)
            }
            Self::Respelled(spell) => pair(spell(now), genuine(&now.to_string())),
            Self::Mangled(mangle) => {
                let ts = now.to_string();
                let sig = mangle(&genuine(&ts));
                pair(ts, sig)
            }
            Self::NoTimestamp => {
                vec![(SIGNATURE.to_owned(), genuine(&now.to_string()).into_bytes())]
            }
            Self::Headers(ts, sig) => {
                let mut headers = Vec::new();
                if let Some(offset) = ts {
                    headers.push((
                        TIMESTAMP.to_owned(),
                        (now + offset).to_string().into_bytes(),
                    ));
                }
                if let Some(sig) = sig {
                    headers.push((SIGNATURE.to_owned(), sig.as_bytes().to_vec()));
                }
                headers
            }
            Self::InQuery => {
                let ts = now.to_string();
                let sig = genuine(&ts).replace('=', "%3D");
                return (Vec::new(), format!("?{TIMESTAMP}={ts}&{SIGNATURE}={sig}"));
            }
        };
        (headers, String::new())
    }
}

/// One HTTP request, sent exactly as described.
#[derive(Clone)]
struct Wire {
    method: &'static str,
    /// Path and query, verbatim.
    target: String,
    /// The whole `Authorization` header value.
    auth: Option<Vec<u8>>,
    content_type: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
    callback: Option<Forge>,
}

impl Wire {
    fn new(method: &'static str, target: impl Into<String>) -> Self {
        Self {
            method,
            target: target.into(),
            auth: None,
            content_type: None,
            headers: Vec::new(),
            body: None,
            callback: None,
        }
    }
    fn post(target: impl Into<String>) -> Self {
        Self::new("POST", target)
    }
    fn get(target: impl Into<String>) -> Self {
        Self::new("GET", target)
    }
    fn bearer(self, token: &str) -> Self {
        self.auth(format!("Bearer {token}"))
    }
    fn auth(mut self, value: impl Into<Vec<u8>>) -> Self {
        self.auth = Some(value.into());
        self
    }
    fn no_auth(mut self) -> Self {
        self.auth = None;
        self
    }
    /// A body sent as `application/json`, whatever it holds.
    fn bytes(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self.content_type
            .get_or_insert_with(|| "application/json".into());
        self
    }
    fn json(self, body: &Value) -> Self {
        self.bytes(serde_json::to_vec(body).unwrap())
    }
    /// A body with this `Content-Type` (none when `None`).
    fn typed_body(mut self, content_type: Option<&str>, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self.content_type = content_type.map(str::to_owned);
        self
    }
    fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
    fn signed(mut self, forge: Forge) -> Self {
        self.callback = Some(forge);
        self
    }
}

struct Case {
    category: &'static str,
    what: String,
    wire: Wire,
    want: Want,
}

#[derive(Default)]
struct Corpus(Vec<Case>);

impl Corpus {
    fn add(&mut self, category: &'static str, what: impl Into<String>, wire: Wire, want: Want) {
        self.0.push(Case {
            category,
            what: what.into(),
            wire,
            want,
        });
    }
}

// ---- The routes that take a JSON body, each with a body that targets real state ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Str,
    Bool,
    List,
    Map,
}

impl Kind {
    /// JSON values of other types than the field's.
    fn wrong(self) -> &'static [&'static str] {
        match self {
            Self::Int => &["\"101\"", "true", "[]", "{}", "1.5", "[1]"],
            Self::Str => &["123", "true", "[]", "{}", "[\"x\"]"],
            Self::Bool => &["\"false\"", "0", "[]", "{}"],
            Self::List => &["\"x\"", "{}", "1", "[1]", "[\"x\"]", "[null]"],
            Self::Map => &["\"x\"", "[]", "1", "[[\"k\", \"v\"]]"],
        }
    }
}

use Kind::{Bool, Int, List, Map as Obj, Str};

enum Auth {
    Jwt(String),
    Internal(String),
    /// The pipeline's HMAC, made at send time.
    Signed,
}

struct Route {
    name: &'static str,
    method: &'static str,
    target: String,
    auth: Auth,
    /// A well-formed body naming real ids; only its broken variants are ever sent.
    template: Value,
    /// Every field of the body (JSON pointers) and its type.
    fields: &'static [(&'static str, Kind)],
    /// The required fields, and what their absence (or `null`) gets.
    required: &'static [&'static str],
    missing: Want,
}

impl Route {
    fn wire(&self, body: Vec<u8>) -> Wire {
        let wire = Wire::new(self.method, self.target.clone()).bytes(body);
        match &self.auth {
            Auth::Jwt(token) | Auth::Internal(token) => wire.bearer(token),
            Auth::Signed => wire.signed(Forge::At(0)),
        }
    }
    fn json(&self, body: &Value) -> Wire {
        self.wire(serde_json::to_vec(body).unwrap())
    }
    /// The template with `raw` (any JSON text) at `pointer`.
    fn with_raw(&self, pointer: &str, raw: &str) -> Vec<u8> {
        with_raw(&self.template, pointer, raw)
    }
}

fn body_routes(w: &World) -> Vec<Route> {
    let jwt = || Auth::Jwt(w.photographer.clone());
    let mut confirmations = w.pending.confirmations();
    let (ticket, bytes) = &w.pending.files[0];
    confirmations[0]["bytes"] = json!(bytes.len());
    confirmations[0]["checksum"] = json!(sha256_hex(bytes));
    confirmations[0]["etag"] = json!(format!("\"{}\"", sha256_hex(bytes)));
    assert_eq!(confirmations[0]["objectKey"], ticket["objectKey"]);
    let mut result = w.ready.result(&w.ready_job, 1, "SUCCEEDED");
    result["failureReason"] = Value::Null;
    result["outputs"][0]["durationMillis"] = json!(0);
    vec![
        Route {
            name: "uploads",
            method: "POST",
            target: UPLOADS.into(),
            auth: jwt(),
            // Valid, but the listing already has its open batch: 409.
            template: create_body(PENDING),
            fields: &[
                ("/listingIdentityId", Int),
                ("/batchReference", Str),
                ("/files", List),
                ("/files/0/clientId", Str),
                ("/files/0/assetType", Str),
                ("/files/0/orientation", Str),
                ("/files/0/filename", Str),
                ("/files/0/contentType", Str),
                ("/files/0/bytes", Int),
                ("/files/0/checksum", Str),
                ("/files/0/title", Str),
                ("/files/0/sequence", Int),
                ("/files/0/metadata", Obj),
            ],
            required: &[
                "/listingIdentityId",
                "/batchReference",
                "/files",
                "/files/0/clientId",
                "/files/0/assetType",
                "/files/0/filename",
                "/files/0/contentType",
                "/files/0/bytes",
                "/files/0/checksum",
                "/files/0/sequence",
            ],
            missing: INVALID,
        },
        Route {
            name: "complete",
            method: "POST",
            target: COMPLETE.into(),
            auth: jwt(),
            // Valid, but nothing was uploaded: 409 UPLOAD_MISMATCH.
            template: w.pending.body(json!({"files": confirmations})),
            fields: &[
                ("/listingIdentityId", Int),
                ("/batchId", Str),
                ("/files", List),
                ("/files/0/clientId", Str),
                ("/files/0/objectKey", Str),
                ("/files/0/bytes", Int),
                ("/files/0/checksum", Str),
                ("/files/0/etag", Str),
            ],
            required: &[
                "/listingIdentityId",
                "/batchId",
                "/files",
                "/files/0/clientId",
            ],
            missing: INVALID,
        },
        Route {
            name: "retry",
            method: "POST",
            target: RETRY.into(),
            auth: jwt(),
            // Valid, but the batch is PENDING_UPLOAD: 409 BATCH_NOT_TERMINAL.
            template: w
                .pending
                .body(json!({"reason": "re-render", "scope": "ALL"})),
            fields: &[
                ("/listingIdentityId", Int),
                ("/batchId", Str),
                ("/reason", Str),
                ("/scope", Str),
            ],
            required: &["/listingIdentityId", "/batchId", "/reason"],
            missing: INVALID,
        },
        Route {
            name: "replace",
            method: "POST",
            target: REPLACE.into(),
            auth: jwt(),
            // Valid, but the batch is PENDING_UPLOAD: 409 ASSET_NOT_REPLACEABLE.
            template: w
                .pending
                .body(json!({"files": create_body(PENDING)["files"].clone()})),
            fields: &[
                ("/listingIdentityId", Int),
                ("/batchId", Str),
                ("/files", List),
                ("/files/0/clientId", Str),
                ("/files/0/assetType", Str),
                ("/files/0/filename", Str),
                ("/files/0/contentType", Str),
                ("/files/0/bytes", Int),
                ("/files/0/checksum", Str),
                ("/files/0/sequence", Int),
            ],
            required: &["/listingIdentityId", "/batchId", "/files"],
            missing: INVALID,
        },
        Route {
            name: "status",
            method: "POST",
            target: STATUS.into(),
            auth: jwt(),
            template: w.pending.body(json!({})),
            fields: &[("/listingIdentityId", Int), ("/batchId", Str)],
            required: &["/listingIdentityId", "/batchId"],
            missing: INVALID,
        },
        Route {
            name: "downloads",
            method: "POST",
            target: DOWNLOADS.into(),
            auth: jwt(),
            template: w.ready.body(json!({"resolution": "large"})),
            fields: &[
                ("/listingIdentityId", Int),
                ("/batchId", Str),
                ("/resolution", Str),
            ],
            required: &["/listingIdentityId"],
            missing: INVALID,
        },
        Route {
            name: "delete",
            method: "POST",
            target: DELETE.into(),
            auth: jwt(),
            // Valid, but the batch is PROCESSING: 409 BATCH_PROCESSING.
            template: w.processing.body(json!({"reason": "wrong photos"})),
            fields: &[
                ("/listingIdentityId", Int),
                ("/batchId", Str),
                ("/reason", Str),
            ],
            required: &["/listingIdentityId", "/batchId", "/reason"],
            missing: INVALID,
        },
        Route {
            name: "callback",
            method: "POST",
            target: CALLBACK.into(),
            auth: Auth::Signed,
            // The READY batch's own result again: acknowledged, changes nothing.
            template: result,
            fields: &[
                ("/jobId", Str),
                ("/batchId", Str),
                ("/attempt", Int),
                ("/status", Str),
                ("/outputs", List),
                ("/failureReason", Str),
                ("/outputs/0/clientId", Str),
                ("/outputs/0/rawKey", Str),
                ("/outputs/0/renditions", Obj),
                ("/outputs/0/width", Int),
                ("/outputs/0/height", Int),
                ("/outputs/0/durationMillis", Int),
                ("/outputs/0/errorCode", Str),
                ("/outputs/0/errorMessage", Str),
            ],
            required: &[
                "/jobId",
                "/batchId",
                "/attempt",
                "/status",
                "/outputs/0/clientId",
            ],
            // Typed, not optional, in the callback's body: a missing field is malformed.
            missing: BAD_JSON,
        },
        Route {
            name: "listing PUT",
            method: "PUT",
            target: format!("{LISTINGS}/{PENDING}"),
            auth: Auth::Internal(w.app.secrets.internal_token.clone()),
            template: json!({"status": "PENDING_PHOTO_PROCESSING", "ownerUserId": OWNER,
                             "photographerUserId": PHOTOGRAPHER, "projectMedia": false}),
            fields: &[
                ("/status", Str),
                ("/ownerUserId", Int),
                ("/photographerUserId", Int),
                ("/projectMedia", Bool),
            ],
            required: &["/status", "/ownerUserId"],
            missing: INVALID,
        },
    ]
}

fn route<'a>(routes: &'a [Route], name: &str) -> &'a Route {
    routes.iter().find(|r| r.name == name).expect(name)
}

/// Sets `pointer` (its parent must exist) to `value`, adding the key if it is missing.
fn set(body: &mut Value, pointer: &str, value: Value) {
    let (parent, last) = pointer.rsplit_once('/').expect("a JSON pointer");
    match body.pointer_mut(parent).expect(pointer) {
        Value::Object(map) => {
            map.insert(last.to_owned(), value);
        }
        Value::Array(items) => items[last.parse::<usize>().expect(pointer)] = value,
        _ => panic!("{pointer}: not in an object or array"),
    }
}

fn without(body: &Value, pointer: &str) -> Value {
    let mut body = body.clone();
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    body.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect(pointer)
        .remove(last);
    body
}

fn with(body: &Value, pointer: &str, value: Value) -> Value {
    let mut body = body.clone();
    set(&mut body, pointer, value);
    body
}

/// `body` with `raw` (any JSON text, e.g. `1e309`) at `pointer`.
fn with_raw(body: &Value, pointer: &str, raw: &str) -> Vec<u8> {
    const HOLE: &str = "@@raw-value@@";
    let text = serde_json::to_string(&with(body, pointer, json!(HOLE))).unwrap();
    assert_eq!(text.matches(HOLE).count(), 1);
    text.replace(&format!("\"{HOLE}\""), raw).into_bytes()
}

// ---- 1. Malformed JSON ----

/// Broken variants of a well-formed body.
fn malformed(template: &Value) -> Vec<(&'static str, Vec<u8>)> {
    let t = serde_json::to_vec(template).unwrap();
    let s = String::from_utf8(t.clone()).unwrap();
    let (key, value) = template.as_object().unwrap().iter().next().unwrap();
    let value = value.to_string();
    let open = &s[..s.len() - 1]; // without the closing brace
    let utf16: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let nested = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    vec![
        ("empty body", Vec::new()),
        ("not JSON", b"not json at all".to_vec()),
        ("truncated in the middle", t[..t.len() / 2].to_vec()),
        ("last byte missing", t[..t.len() - 1].to_vec()),
        (
            "unterminated string",
            format!("{{\"{key}\": \"abc").into_bytes(),
        ),
        ("trailing garbage", format!("{s}garbage").into_bytes()),
        ("two objects", format!("{s}{s}").into_bytes()),
        ("trailing comma", format!("{open},}}").into_bytes()),
        ("top-level array", format!("[{s}]").into_bytes()),
        (
            "top-level string",
            serde_json::to_vec(&Value::String(s.clone())).unwrap(),
        ),
        ("top-level number", b"101".to_vec()),
        ("top-level null", b"null".to_vec()),
        ("top-level true", b"true".to_vec()),
        (
            "duplicate key, same value",
            format!("{open},\"{key}\":{value}}}").into_bytes(),
        ),
        (
            "duplicate key, conflicting value",
            format!("{{\"{key}\":\"x\",{}", &s[1..]).into_bytes(),
        ),
        (
            "arrays nested 100 000 deep",
            "[".repeat(100_000).into_bytes(),
        ),
        (
            "objects nested 20 000 deep",
            "{\"a\":".repeat(20_000).into_bytes(),
        ),
        (
            "a known field nested 10 000 deep",
            with_raw(template, &format!("/{key}"), &nested),
        ),
        (
            "invalid UTF-8 in a string",
            in_first_string(&t, b"\xff\xfe\xc3"),
        ),
        ("UTF-8 BOM", [b"\xef\xbb\xbf".as_slice(), &t].concat()),
        ("UTF-16LE", utf16),
        ("lone surrogate escape", in_first_string(&t, b"\\ud800")),
        ("raw NUL in a string", in_first_string(&t, b"\0")),
        ("raw newline in a string", in_first_string(&t, b"\n")),
        ("single quotes", s.replace('"', "'").into_bytes()),
        ("NaN", format!("{{\"{key}\":NaN}}").into_bytes()),
        ("hex number", format!("{{\"{key}\":0x65}}").into_bytes()),
        ("comment", format!("/* c */{s}").into_bytes()),
        (
            "unquoted key",
            s.replacen(&format!("\"{key}\""), key, 1).into_bytes(),
        ),
    ]
}

/// `body` with `bytes` inserted at the start of its first string value.
fn in_first_string(body: &[u8], bytes: &[u8]) -> Vec<u8> {
    let at = body
        .windows(3)
        .position(|w| w == b"\":\"")
        .expect("a string value")
        + 3;
    [&body[..at], bytes, &body[at..]].concat()
}

fn malformed_json(w: &World, c: &mut Corpus) {
    for route in body_routes(w) {
        for (what, body) in malformed(&route.template) {
            let what = format!("{}: {what}", route.name);
            c.add("malformed JSON", what, route.wire(body), BAD_JSON);
        }
    }
}

// ---- 2. Wrong types, missing fields ----

fn wrong_types(w: &World, c: &mut Corpus) {
    for route in body_routes(w) {
        for &(pointer, kind) in route.fields {
            for raw in kind.wrong() {
                let what = format!("{}: {pointer} = {raw}", route.name);
                let body = route.with_raw(pointer, raw);
                c.add("wrong types", what, route.wire(body), BAD_JSON);
            }
        }
    }
}

fn missing_fields(w: &World, c: &mut Corpus) {
    for route in body_routes(w) {
        for pointer in route.required {
            let gone = without(&route.template, pointer);
            let what = format!("{}: without {pointer}", route.name);
            c.add("missing fields", what, route.json(&gone), route.missing);
            let null = with(&route.template, pointer, Value::Null);
            let what = format!("{}: {pointer} = null", route.name);
            c.add("missing fields", what, route.json(&null), route.missing);
        }
        let what = format!("{}: {{}}", route.name);
        c.add(
            "missing fields",
            what,
            route.json(&json!({})),
            route.missing,
        );
    }
}

// ---- 3. Numbers out of range, bad ids ----

fn numbers(w: &World, c: &mut Corpus) {
    const CATEGORY: &str = "huge numbers and bad ids";
    let routes = body_routes(w);
    const LISTING_IDS: &[(&str, Want)] = &[
        ("18446744073709551616", BAD_JSON),          // u64::MAX + 1
        ("18446744073709551615", LISTING_NOT_FOUND), // u64::MAX: no such listing
        ("1e309", BAD_JSON),
        ("-1e309", BAD_JSON),
        // Integral floats are integers (as in JSON Schema): 1e3 is listing 1000, -0 is 0.
        ("1e3", LISTING_NOT_FOUND),
        ("1000.0", LISTING_NOT_FOUND),
        ("101.5", BAD_JSON),
        ("-1", BAD_JSON),
        ("-9223372036854775809", BAD_JSON),
        ("0", INVALID),
        ("-0", INVALID),
    ];
    for route in routes.iter().filter(|r| matches!(r.auth, Auth::Jwt(_))) {
        for &(raw, want) in LISTING_IDS {
            let what = format!("{}: listingIdentityId = {raw}", route.name);
            let body = route.with_raw("/listingIdentityId", raw);
            c.add(CATEGORY, what, route.wire(body), want);
        }
    }

    // Per route and field: values and what each gets.
    type Values = &'static [(&'static str, Want)];
    let table: &[(&str, &str, Values)] = &[
        (
            "uploads",
            "/files/0/bytes",
            &[
                ("0", INVALID),
                ("268435457", INVALID), // maxFileBytes + 1
                ("18446744073709551615", INVALID),
                ("18446744073709551616", BAD_JSON),
                ("-1", BAD_JSON),
                ("1e309", BAD_JSON),
                ("1.5", BAD_JSON),
                ("-0", INVALID),
            ],
        ),
        (
            "uploads",
            "/files/0/sequence",
            &[
                ("0", INVALID),
                ("256", INVALID),
                ("-1", INVALID),
                ("9223372036854775807", INVALID),
                ("-9223372036854775808", INVALID),
                ("9223372036854775808", BAD_JSON),
                ("1e309", BAD_JSON),
            ],
        ),
        (
            "complete",
            "/files/0/bytes",
            &[
                ("0", INVALID),
                ("18446744073709551615", INVALID),
                ("-1", BAD_JSON),
                ("1e309", BAD_JSON),
            ],
        ),
        (
            "callback",
            "/attempt",
            &[
                ("0", INVALID),
                ("2", JOB_NOT_FOUND),
                ("4294967295", JOB_NOT_FOUND),
                ("4294967296", BAD_JSON),
                ("-1", BAD_JSON),
                ("1e309", BAD_JSON),
            ],
        ),
        (
            "callback",
            "/outputs/0/width",
            &[
                ("4294967296", BAD_JSON),
                ("-1", BAD_JSON),
                ("1e309", BAD_JSON),
            ],
        ),
        (
            "callback",
            "/outputs/0/durationMillis",
            &[("18446744073709551616", BAD_JSON), ("-1", BAD_JSON)],
        ),
        (
            "listing PUT",
            "/ownerUserId",
            &[
                ("0", INVALID),
                ("-12", BAD_JSON),
                ("18446744073709551616", BAD_JSON),
                ("1e309", BAD_JSON),
            ],
        ),
        (
            "listing PUT",
            "/photographerUserId",
            &[
                ("0", INVALID),
                ("-7", BAD_JSON),
                ("18446744073709551616", BAD_JSON),
            ],
        ),
    ];
    for (name, pointer, values) in table {
        let route = route(&routes, name);
        for &(raw, want) in *values {
            let what = format!("{name}: {pointer} = {raw}");
            c.add(
                CATEGORY,
                what,
                route.wire(route.with_raw(pointer, raw)),
                want,
            );
        }
    }

    // Well-formed creates for listings that cannot take a batch, or that do not exist.
    for (listing, want) in [
        (DRAFT, NOT_AWAITING_MEDIA),
        (READY, NOT_AWAITING_MEDIA),
        (UNREGISTERED, LISTING_NOT_FOUND),
    ] {
        let uploads = route(&routes, "uploads");
        let body = with(&uploads.template, "/listingIdentityId", json!(listing));
        let what = format!("uploads: listing {listing}");
        c.add(CATEGORY, what, uploads.json(&body), want);
    }

    // Manifests over the limits: too many files, too many bytes in total, sizes that overflow.
    let uploads = route(&routes, "uploads");
    let many = |n: usize, bytes: u64| {
        let files: Vec<Value> = (1..=n)
            .map(|i| {
                json!({"clientId": format!("photo-{i}"), "assetType": "PHOTO_HORIZONTAL",
                       "filename": format!("IMG_{i}.jpg"), "contentType": "image/jpeg",
                       "bytes": bytes, "checksum": format!("{i:064x}"), "sequence": i})
            })
            .collect();
        with(&uploads.template, "/files", Value::Array(files))
    };
    for (what, body) in [
        ("61 files", many(61, 1000)),
        ("5 files of 256 MiB: 1.25 GiB in all", many(5, 256 << 20)),
        ("60 files of 256 MiB", many(60, 256 << 20)),
        ("2 files of u64::MAX bytes", many(2, u64::MAX)),
    ] {
        c.add(
            CATEGORY,
            format!("uploads: {what}"),
            uploads.json(&body),
            INVALID,
        );
    }

    // Ids in paths and queries.
    let internal = &w.app.secrets.internal_token;
    let listing_put = route(&routes, "listing PUT");
    for id in [
        "0",
        "-1",
        "18446744073709551616",
        "1e3",
        "abc",
        "101.5",
        "0x65",
        "%F0%9F%93%B7",
    ] {
        let wire = Wire::new("PUT", format!("{LISTINGS}/{id}"))
            .bearer(internal)
            .json(&listing_put.template);
        c.add(CATEGORY, format!("listing PUT /{id}"), wire, INVALID);
    }
    for (id, want) in [
        ("0", INVALID),
        ("-1", INVALID),
        ("18446744073709551616", INVALID),
        ("abc", INVALID),
        ("18446744073709551615", LISTING_NOT_FOUND),
    ] {
        let wire = Wire::get(format!("{LISTINGS}/{id}")).bearer(internal);
        c.add(CATEGORY, format!("listing GET /{id}"), wire, want);
    }
    for (query, want) in [
        ("limit=0", INVALID),
        ("limit=-1", INVALID),
        ("limit=1001", INVALID),
        ("limit=9223372036854775807", INVALID),
        ("limit=9223372036854775808", BAD_JSON),
        ("limit=1e3", BAD_JSON),
        ("limit=abc", BAD_JSON),
        ("limit=", BAD_JSON),
        ("before=yesterday", INVALID),
        ("before=2025-13-45T00:00:00Z", INVALID),
        ("before=%00", INVALID),
        ("before=99999-01-01T00:00:00Z", INVALID),
    ] {
        let wire = Wire::get(format!("{CLEANUP}?{query}")).bearer(internal);
        c.add(CATEGORY, format!("cleanup ?{query}"), wire, want);
    }
    let events = |batch: &str, query: &str| {
        Wire::get(format!(
            "/api/v2/listings/media/batches/{batch}/events{query}"
        ))
        .bearer(&w.admin)
    };
    let unknown = uuid::Uuid::now_v7().to_string();
    for (what, wire, want) in [
        ("not a UUID", events("not-a-uuid", ""), INVALID),
        ("NUL", events("%00", ""), INVALID),
        (
            "a UUID and more",
            events(&format!("{}x", w.ready.id), ""),
            INVALID,
        ),
        ("unknown batch", events(&unknown, ""), BATCH_NOT_FOUND),
        (
            "asOf=yesterday",
            events(&w.ready.id, "?asOf=yesterday"),
            INVALID,
        ),
        ("asOf empty", events(&w.ready.id, "?asOf="), INVALID),
        (
            "asOf Feb 30",
            events(&w.ready.id, "?asOf=2025-02-30T00:00:00Z"),
            INVALID,
        ),
        (
            "asOf year 99999",
            events(&w.ready.id, "?asOf=99999-01-01T00:00:00Z"),
            INVALID,
        ),
    ] {
        c.add(CATEGORY, format!("events: {what}"), wire, want);
    }
}

// ---- 4. Unicode and control characters ----

/// A text field of the manifest, with its length limit and rules.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Text {
    Reference,
    Filename,
    Title,
    ClientId,
    MetaKey,
    MetaValue,
}

impl Text {
    const ALL: [Self; 6] = [
        Self::Reference,
        Self::Filename,
        Self::Title,
        Self::ClientId,
        Self::MetaKey,
        Self::MetaValue,
    ];
    fn max(self) -> usize {
        match self {
            Self::Reference | Self::Title => 120,
            Self::Filename => 255,
            Self::ClientId => 64,
            Self::MetaKey => 40,
            Self::MetaValue => 256,
        }
    }
    fn body(self, base: &Value, text: &str) -> Value {
        let mut body = base.clone();
        match self {
            Self::Reference => body["batchReference"] = json!(text),
            Self::Filename => body["files"][0]["filename"] = json!(text),
            Self::Title => body["files"][0]["title"] = json!(text),
            Self::ClientId => body["files"][0]["clientId"] = json!(text),
            Self::MetaKey => {
                let mut map = Map::new();
                map.insert(text.to_owned(), json!("living"));
                body["files"][0]["metadata"] = Value::Object(map);
            }
            Self::MetaValue => body["files"][0]["metadata"] = json!({"room": text}),
        }
        body
    }
    /// Control characters are refused everywhere but in metadata values (API.md sets no rule).
    fn refuses_control(self) -> bool {
        self != Self::MetaValue
    }
    /// Blank after trimming: refused where the field is required (titles are then absent).
    fn refuses_blank(self) -> bool {
        matches!(self, Self::Reference | Self::Filename | Self::ClientId)
    }
}

const CONTROLS: [(&str, &str); 10] = [
    ("NUL", "a\u{0}b"),
    ("leading NUL", "\u{0}photo"),
    ("BEL", "a\u{7}b"),
    ("TAB", "a\tb"),
    ("CR LF", "a\r\nb"),
    ("ANSI escape", "a\u{1b}[31mb"),
    ("DEL", "a\u{7f}b"),
    ("NEL", "a\u{85}b"),
    ("C1 APC", "a\u{9f}b"),
    ("backspace", "a\u{8}b"),
];

/// Not control characters: allowed in every text field.
const PRINTABLE: [(&str, &str); 17] = [
    ("RTL override", "photo\u{202e}gpj.exe"),
    ("emoji", "📷🏠✨"),
    ("zero-width joiner", "a\u{200d}b"),
    ("zero-width space", "\u{200b}"),
    ("BOM character", "\u{feff}IMG.jpg"),
    ("line separator", "a\u{2028}b"),
    ("combining accent", "e\u{301}"),
    ("CJK", "客厅.jpg"),
    ("noncharacter U+FFFF", "a\u{ffff}b"),
    ("private use", "a\u{e000}b"),
    ("astral plane", "𝕏𝕐"),
    ("Arabic", "غرفة المعيشة"),
    ("bidi isolates", "\u{2066}x\u{2069}"),
    ("HTML", "<script>alert(1)</script>"),
    ("SQL", "'; DROP TABLE events; --"),
    ("percent escapes", "%00%2e%2e%2f"),
    ("template", "${jndi:ldap://x}"),
];

fn unicode(w: &World, c: &mut Corpus) {
    const CATEGORY: &str = "unicode and control characters";
    let routes = body_routes(w);
    let uploads = route(&routes, "uploads");
    // Every create goes to the listing that already has its open batch: a manifest that passes
    // every rule is refused with 409 OPEN_BATCH_EXISTS, one that breaks a rule with 422.
    for field in Text::ALL {
        let mut texts: Vec<(String, String, Want)> = Vec::new();
        for (what, text) in CONTROLS {
            let want = if field.refuses_control() {
                INVALID
            } else {
                OPEN_BATCH
            };
            texts.push((what.into(), text.into(), want));
        }
        for (what, text) in PRINTABLE {
            texts.push((what.into(), text.into(), OPEN_BATCH));
        }
        let max = field.max();
        texts.extend([
            (
                format!("{} ASCII (one too many)", max + 1),
                "x".repeat(max + 1),
                INVALID,
            ),
            (
                format!("{max} × é (at the limit)"),
                "é".repeat(max),
                OPEN_BATCH,
            ),
            (
                format!("{} emoji (one too many)", max + 1),
                "📷".repeat(max + 1),
                INVALID,
            ),
            ("100 000 characters".into(), "x".repeat(100_000), INVALID),
        ]);
        let blank = if field.refuses_blank() {
            INVALID
        } else {
            OPEN_BATCH
        };
        texts.push(("blank".into(), "   ".into(), blank));
        for (what, text, want) in texts {
            let body = field.body(&uploads.template, &text);
            c.add(
                CATEGORY,
                format!("uploads: {field:?} {what}"),
                uploads.json(&body),
                want,
            );
        }
    }

    let key = w.pending.files[0].0["objectKey"].as_str().unwrap();
    let uuid_fullwidth: String = w
        .pending
        .id
        .chars()
        .map(|ch| match ch {
            '0'..='9' => char::from_u32(ch as u32 - '0' as u32 + 0xff10).unwrap(),
            other => other,
        })
        .collect();
    let table: Vec<(&str, &str, String, Want)> = vec![
        (
            "complete",
            "/files/0/clientId",
            "photo-1\u{0}".into(),
            INVALID,
        ),
        ("complete", "/files/0/clientId", "📷".into(), INVALID),
        (
            "complete",
            "/files/0/clientId",
            "photo\u{2011}1".into(),
            INVALID,
        ),
        (
            "complete",
            "/files/0/objectKey",
            format!("{key}\u{202e}"),
            INVALID,
        ),
        ("complete", "/files/0/checksum", "ｆ".repeat(64), INVALID),
        // `etag` is kept, not checked: the request goes on and finds nothing uploaded.
        (
            "complete",
            "/files/0/etag",
            "\u{0}📷".into(),
            UPLOAD_MISMATCH,
        ),
        ("retry", "/reason", "📷 again".into(), NOT_TERMINAL),
        ("retry", "/reason", "\u{0}".into(), NOT_TERMINAL),
        ("retry", "/reason", "📷".repeat(500), NOT_TERMINAL),
        ("retry", "/reason", "x".repeat(501), INVALID),
        ("retry", "/reason", "   ".into(), INVALID),
        ("retry", "/reason", "x".repeat(100_000), INVALID),
        ("retry", "/scope", "ALL\u{0}".into(), INVALID),
        ("retry", "/scope", "all".into(), INVALID),
        ("retry", "/scope", "ＡＬＬ".into(), INVALID),
        ("delete", "/reason", "📷 gone".into(), BATCH_PROCESSING),
        ("delete", "/reason", "\u{0}".into(), BATCH_PROCESSING),
        ("delete", "/reason", "x".repeat(501), INVALID),
        ("delete", "/reason", "\u{3000}".into(), INVALID),
        ("downloads", "/resolution", "large\u{0}".into(), INVALID),
        ("downloads", "/resolution", "ｌａｒｇｅ".into(), INVALID),
        ("downloads", "/resolution", "LARGE".into(), INVALID),
        ("downloads", "/resolution", "".into(), INVALID),
        ("downloads", "/resolution", "../original".into(), INVALID),
        (
            "listing PUT",
            "/status",
            "PENDING_PHOTO_PROCESSİNG".into(),
            INVALID,
        ),
        ("listing PUT", "/status", "draft".into(), INVALID),
        ("listing PUT", "/status", "PENDING PHOTO".into(), INVALID),
        ("listing PUT", "/status", "".into(), INVALID),
        ("listing PUT", "/status", "X".repeat(65), INVALID),
        (
            "listing PUT",
            "/status",
            "PENDING_PHOTO_PROCESSING\u{0}".into(),
            INVALID,
        ),
        ("listing PUT", "/status", "ＤＲＡＦＴ".into(), INVALID),
    ];
    let mut table = table;
    for name in ["status", "downloads", "retry", "delete"] {
        for id in [
            "📷".to_owned(),
            "\u{0}".to_owned(),
            format!("{}\u{202e}", w.pending.id),
            uuid_fullwidth.clone(),
        ] {
            table.push((name, "/batchId", id, INVALID));
        }
    }
    for (name, pointer, text, want) in table {
        let route = route(&routes, name);
        let body = with(&route.template, pointer, json!(text));
        let what = format!("{name}: {pointer} = {}", clip(&format!("{text:?}"), 60));
        c.add(CATEGORY, what, route.json(&body), want);
    }

    // Results for the RECEIVED batch's current job, each with one broken output.
    let result = w.received.result(&w.received_job, 1, "SUCCEEDED");
    for text in ["\u{0}", "📷", "", &"x".repeat(65)] {
        let body = with(&result, "/outputs/0/clientId", json!(text));
        let what = format!(
            "callback: outputs[0].clientId = {}",
            clip(&format!("{text:?}"), 40)
        );
        c.add(
            CATEGORY,
            what,
            Wire::post(CALLBACK).json(&body).signed(Forge::At(0)),
            INVALID,
        );
    }
}

// ---- 5. Path traversal ----

fn traversal(w: &World, c: &mut Corpus) {
    const CATEGORY: &str = "path traversal";
    let routes = body_routes(w);
    let uploads = route(&routes, "uploads");
    // Filenames and client ids never shape a key unsanitised: such a manifest is valid (and
    // refused here only because the listing has its open batch).
    for name in [
        "../../etc/passwd",
        "..\\..\\windows\\win.ini",
        "/etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e%2f%2e%2e%2f",
        "x/../../y.jpg",
        "....//....//x",
        "IMG.jpg.meta",
        ".meta",
        "..",
        ".",
        ".tmp",
        ".tmp/x.part",
        "C:\\Windows\\x.jpg",
        "\\\\server\\share\\x.jpg",
        "~/.ssh/id_rsa",
        "file:///etc/passwd",
    ] {
        let body = with(&uploads.template, "/files/0/filename", json!(name));
        c.add(
            CATEGORY,
            format!("uploads: filename {name}"),
            uploads.json(&body),
            OPEN_BATCH,
        );
    }
    let body = with(
        &uploads.template,
        "/files/0/filename",
        json!("IMG.jpg\u{0}.png"),
    );
    c.add(
        CATEGORY,
        "uploads: filename with NUL",
        uploads.json(&body),
        INVALID,
    );
    for id in ["../../x", "a/../b", "..\\x", "/abs", ".meta"] {
        let body = with(&uploads.template, "/files/0/clientId", json!(id));
        c.add(
            CATEGORY,
            format!("uploads: clientId {id}"),
            uploads.json(&body),
            OPEN_BATCH,
        );
    }

    // Confirming another key than the one issued.
    let complete = route(&routes, "complete");
    let key = w.pending.files[0].0["objectKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = w.pending.files[1].0["objectKey"]
        .as_str()
        .unwrap()
        .to_owned();
    for object_key in [
        "../../etc/passwd".to_owned(),
        "/etc/passwd".to_owned(),
        format!("{key}/../../x"),
        format!("{key}.meta"),
        key.replace('/', "\\"),
        "..%2f..%2fx".to_owned(),
        ".tmp/x.part".to_owned(),
        other,
    ] {
        let body = with(&complete.template, "/files/0/objectKey", json!(object_key));
        let what = format!("complete: objectKey {object_key}");
        c.add(CATEGORY, what, complete.json(&body), INVALID);
    }

    // A pipeline naming renditions outside the store, for the RECEIVED batch's current job.
    let result = w.received.result(&w.received_job, 1, "SUCCEEDED");
    let raw_key = w.received.files[0].0["objectKey"].as_str().unwrap();
    for rendition in [
        "../../etc/passwd".to_owned(),
        "/etc/passwd".to_owned(),
        "a\\b".to_owned(),
        "a//b".to_owned(),
        "a/./b".to_owned(),
        String::new(),
        "x/../y".to_owned(),
        "x\u{0}".to_owned(),
        "x".repeat(1025),
    ] {
        let body = with(&result, "/outputs/0/renditions/large", json!(rendition));
        let what = format!(
            "callback: rendition {}",
            clip(&format!("{rendition:?}"), 40)
        );
        c.add(
            CATEGORY,
            what,
            Wire::post(CALLBACK).json(&body).signed(Forge::At(0)),
            INVALID,
        );
    }
    for raw in ["../x".to_owned(), format!("{raw_key}/..")] {
        let body = with(&result, "/outputs/0/rawKey", json!(raw));
        let what = format!("callback: rawKey {raw}");
        c.add(
            CATEGORY,
            what,
            Wire::post(CALLBACK).json(&body).signed(Forge::At(0)),
            INVALID,
        );
    }

    // The storage routes, with genuine queries on paths that leave or alter their key.
    let (ticket, bytes) = &w.pending.files[0];
    let content_type = ticket["headers"]["Content-Type"]
        .as_str()
        .unwrap()
        .to_owned();
    let (put_path, put_query) = w.put_url.split_once('?').unwrap();
    let (get_path, get_query) = w.get_url.split_once('?').unwrap();
    for (method, path, query) in [("PUT", put_path, put_query), ("GET", get_path, get_query)] {
        let key = path.trim_start_matches("/storage/");
        let first = key.split('/').next().unwrap();
        for (what, bad) in [
            ("../ before the key", format!("/storage/../{key}")),
            ("a segment and ../", format!("/storage/{first}/../{key}")),
            ("./ before the key", format!("/storage/./{key}")),
            ("%2e%2e/", format!("/storage/%2e%2e/{key}")),
            ("..%2f", format!("/storage/..%2f{key}")),
            (
                "..%2F..%2Fetc%2Fpasswd",
                "/storage/..%2F..%2Fetc%2Fpasswd".to_owned(),
            ),
            ("absolute //etc/passwd", "/storage//etc/passwd".to_owned()),
            ("%2Fetc%2Fpasswd", "/storage/%2Fetc%2Fpasswd".to_owned()),
            (
                "backslashes %5c",
                "/storage/..%5c..%5cetc%5cpasswd".to_owned(),
            ),
            ("the sidecar .meta", format!("/storage/{key}.meta")),
            (
                "the uploads in flight .tmp/",
                "/storage/.tmp/x.part".to_owned(),
            ),
            ("NUL after the key", format!("/storage/{key}%00")),
            ("no key", "/storage/".to_owned()),
            ("trailing slash", format!("/storage/{key}/")),
            ("/.. after the key", format!("/storage/{key}/..")),
            ("a segment of the key replaced by ..", {
                let mut parts: Vec<&str> = key.split('/').collect();
                parts[2] = "..";
                format!("/storage/{}", parts.join("/"))
            }),
        ] {
            let wire = Wire::new(method, format!("{bad}?{query}"));
            let wire = if method == "PUT" {
                wire.typed_body(Some(&content_type), bytes.clone())
            } else {
                wire
            };
            c.add(
                CATEGORY,
                format!("storage {method}: {what}"),
                wire,
                SIG_INVALID,
            );
        }
    }
    // Backslashes as sent by a careless client: refused by the HTTP layer or by the store.
    let raw_backslash = Wire::new("GET", format!("/storage/..\\..\\etc\\passwd?{get_query}"));
    c.add(
        CATEGORY,
        "storage GET: raw backslashes",
        raw_backslash,
        SIG_INVALID,
    );
}

// ---- 6. Signed URLs of the object store, forged or altered ----

/// `query` with `name`'s value replaced verbatim (`None`: the parameter removed).
fn with_param(query: &str, name: &str, value: Option<&str>) -> String {
    query
        .split('&')
        .filter_map(|pair| match pair.split_once('=') {
            Some((n, _)) if n == name => value.map(|v| format!("{n}={v}")),
            _ => Some(pair.to_owned()),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn param<'a>(query: &'a str, name: &str) -> &'a str {
    query
        .split('&')
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .expect(name)
}

/// The last hex digit changed.
fn flip_last(s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let last = chars.last_mut().unwrap();
    *last = if *last == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

fn signed_urls(w: &World, c: &mut Corpus) {
    const CATEGORY: &str = "forged signed URLs";
    let (ticket, bytes) = &w.pending.files[0];
    let content_type = ticket["headers"]["Content-Type"]
        .as_str()
        .unwrap()
        .to_owned();
    let (put_path, q) = w.put_url.split_once('?').unwrap();
    let (get_path, g) = w.get_url.split_once('?').unwrap();
    let other_put = storage_part(w.pending.files[1].0["uploadUrl"].as_str().unwrap());
    let (other_path, other_query) = other_put.split_once('?').unwrap();
    let sig = param(q, "X-Toq-Signature");
    let expires: i64 = param(q, "X-Toq-Expires").parse().unwrap();
    let put = |path: &str, query: &str| {
        Wire::new("PUT", format!("{path}?{query}")).typed_body(Some(&content_type), bytes.clone())
    };
    let mut swapped: Vec<&str> = q.split('&').collect();
    swapped.swap(0, 1);
    let puts: Vec<(&str, String)> = vec![
        (
            "expiry a second later",
            with_param(q, "X-Toq-Expires", Some(&(expires + 1).to_string())),
        ),
        (
            "expiry in 2286",
            with_param(q, "X-Toq-Expires", Some("9999999999")),
        ),
        (
            "content type changed",
            with_param(q, "X-Toq-Content-Type", Some("image%2Fpng")),
        ),
        (
            "length changed",
            with_param(q, "X-Toq-Length", Some(&(bytes.len() + 1).to_string())),
        ),
        (
            "checksum changed",
            with_param(q, "X-Toq-Sha256", Some(&"0".repeat(64))),
        ),
        (
            "signature's last digit changed",
            with_param(q, "X-Toq-Signature", Some(&flip_last(sig))),
        ),
        (
            "signature in upper case",
            with_param(q, "X-Toq-Signature", Some(&sig.to_uppercase())),
        ),
        (
            "signature truncated",
            with_param(q, "X-Toq-Signature", Some(&sig[..63])),
        ),
        (
            "the other file's signature",
            with_param(
                q,
                "X-Toq-Signature",
                Some(param(other_query, "X-Toq-Signature")),
            ),
        ),
        ("no signature", with_param(q, "X-Toq-Signature", None)),
        ("no expiry", with_param(q, "X-Toq-Expires", None)),
        ("no checksum", with_param(q, "X-Toq-Sha256", None)),
        ("empty query", String::new()),
        ("an extra parameter", format!("{q}&x=1")),
        ("a parameter twice", format!("{q}&X-Toq-Expires={expires}")),
        ("parameters reordered", swapped.join("&")),
        ("%2F spelled %2f", q.replace("%2F", "%2f")),
        ("%2F spelled /", q.replace("%2F", "/")),
        ("a trailing &", format!("{q}&")),
        ("parameter names in lower case", q.to_lowercase()),
        ("the GET URL's query", g.to_owned()),
    ];
    for (what, query) in puts {
        c.add(
            CATEGORY,
            format!("PUT: {what}"),
            put(put_path, &query),
            SIG_INVALID,
        );
    }
    c.add(
        CATEGORY,
        "PUT: the query on the other file's key",
        put(other_path, q),
        SIG_INVALID,
    );

    let gsig = param(g, "X-Toq-Signature");
    let gexp: i64 = param(g, "X-Toq-Expires").parse().unwrap();
    let ready_other = w.ready.files[1].0["objectKey"].as_str().unwrap();
    let ready_other = encode_key(&ObjectKey::parse(ready_other).unwrap());
    for (what, target) in [
        (
            "expiry a second later",
            format!(
                "{get_path}?{}",
                with_param(g, "X-Toq-Expires", Some(&(gexp + 1).to_string()))
            ),
        ),
        (
            "signature's last digit changed",
            format!(
                "{get_path}?{}",
                with_param(g, "X-Toq-Signature", Some(&flip_last(gsig)))
            ),
        ),
        (
            "signature in upper case",
            format!(
                "{get_path}?{}",
                with_param(g, "X-Toq-Signature", Some(&gsig.to_uppercase()))
            ),
        ),
        (
            "no signature",
            format!("{get_path}?{}", with_param(g, "X-Toq-Signature", None)),
        ),
        ("no query", get_path.to_owned()),
        (
            "an extra parameter",
            format!("{get_path}?{g}&X-Toq-Length=1"),
        ),
        ("the PUT URL's query", format!("{get_path}?{q}")),
        (
            "the query on the other file's key",
            format!("/storage/{ready_other}?{g}"),
        ),
        ("the query on the sidecar", format!("{get_path}.meta?{g}")),
    ] {
        c.add(
            CATEGORY,
            format!("GET: {what}"),
            Wire::get(target),
            SIG_INVALID,
        );
    }

    // URLs the store really signed, but expired, out of range, or for keys it must refuse.
    let signer = Signer::new(&w.app.secrets.storage);
    let now = chrono::Utc::now().timestamp();
    let ready_key = ObjectKey::parse(w.ready.files[0].0["objectKey"].as_str().unwrap()).unwrap();
    let pending_key = ObjectKey::parse(ticket["objectKey"].as_str().unwrap()).unwrap();
    let terms = UploadTerms {
        content_type: content_type.clone(),
        bytes: bytes.len() as u64,
        checksum: Checksum::parse(&sha256_hex(bytes)).unwrap(),
    };
    let signed_get = |key: &ObjectKey, expires: i64| {
        Wire::get(format!(
            "/storage/{}?{}",
            encode_key(key),
            signer.sign_get(key, expires)
        ))
    };
    let signed_put = |key: &ObjectKey, expires: i64| {
        let query = signer.sign_put(key, expires, &terms);
        Wire::new("PUT", format!("/storage/{}?{query}", encode_key(key)))
            .typed_body(Some(&content_type), bytes.clone())
    };
    // Keys `ObjectKey::parse` refuses, built unchecked (as serde would) to sign them anyway.
    let key = |raw: String| serde_json::from_value::<ObjectKey>(json!(raw)).unwrap();
    c.add(
        CATEGORY,
        "GET: genuine but expired",
        signed_get(&ready_key, now - 1),
        SIG_EXPIRED,
    );
    c.add(
        CATEGORY,
        "PUT: genuine but expired",
        signed_put(&pending_key, now - 1),
        SIG_EXPIRED,
    );
    c.add(
        CATEGORY,
        "GET: genuine, expiring in year 292 billion",
        signed_get(&ready_key, i64::MAX),
        SIG_INVALID,
    );
    c.add(
        CATEGORY,
        "PUT: genuine, expiring in year 292 billion",
        signed_put(&pending_key, i64::MAX),
        SIG_INVALID,
    );
    let sidecar = key(format!("{ready_key}.meta"));
    let in_flight = key(format!("{READY}/.tmp/x.part"));
    let under_a_file = key(format!("{ready_key}/child"));
    c.add(
        CATEGORY,
        "GET: genuine signature for the sidecar",
        signed_get(&sidecar, now + 60),
        KEY_REFUSED,
    );
    c.add(
        CATEGORY,
        "GET: genuine signature for .tmp/",
        signed_get(&in_flight, now + 60),
        KEY_REFUSED,
    );
    c.add(
        CATEGORY,
        "GET: genuine signature for a key under a file",
        signed_get(&under_a_file, now + 60),
        KEY_REFUSED,
    );
    c.add(
        CATEGORY,
        "PUT: genuine signature for a sidecar",
        signed_put(&key(format!("{pending_key}.meta")), now + 60),
        KEY_REFUSED,
    );
    c.add(
        CATEGORY,
        "PUT: genuine signature for .tmp/",
        signed_put(&key(".tmp/evil.part".into()), now + 60),
        KEY_REFUSED,
    );

    // The genuine URL, other bytes.
    let mut same_length = bytes.clone();
    same_length[bytes.len() / 2] ^= 0xff;
    let with_body =
        |ct: Option<&str>, body: Vec<u8>| Wire::new("PUT", w.put_url.clone()).typed_body(ct, body);
    let ct = Some(content_type.as_str());
    let chunked = |body: &[u8]| {
        let mut encoded = format!("{:x}\r\n", body.len()).into_bytes();
        encoded.extend_from_slice(body);
        encoded.extend_from_slice(b"\r\n0\r\n\r\n");
        with_body(ct, encoded).header("Transfer-Encoding", "chunked")
    };
    let mut longer = bytes.clone();
    longer.push(0);
    for (what, wire, want) in [
        (
            "other bytes of the same length",
            with_body(ct, same_length.clone()),
            CHECKSUM_MISMATCH,
        ),
        (
            "one byte short",
            with_body(ct, bytes[..bytes.len() - 1].to_vec()),
            SIZE_MISMATCH,
        ),
        (
            "one byte more",
            with_body(ct, longer.clone()),
            SIZE_MISMATCH,
        ),
        ("empty", with_body(ct, Vec::new()), SIZE_MISMATCH),
        (
            "another photo",
            with_body(ct, fixture("kitchen-portrait.jpg")),
            SIZE_MISMATCH,
        ),
        ("chunked, one byte more", chunked(&longer), SIZE_MISMATCH),
        (
            "chunked, other bytes",
            chunked(&same_length),
            CHECKSUM_MISMATCH,
        ),
        (
            "Content-Type image/png",
            with_body(Some("image/png"), bytes.clone()),
            CONTENT_TYPE_MISMATCH,
        ),
        (
            "no Content-Type",
            with_body(None, bytes.clone()),
            CONTENT_TYPE_MISMATCH,
        ),
    ] {
        c.add(CATEGORY, format!("PUT, genuine URL: {what}"), wire, want);
    }
}

// ---- 7. Oversized bodies ----

fn oversized(w: &World, c: &mut Corpus) {
    for route in body_routes(w) {
        let padded = |total: usize| {
            let base = serde_json::to_vec(&with(&route.template, "/padding", json!(""))).unwrap();
            let body = with(
                &route.template,
                "/padding",
                json!("x".repeat(total - base.len())),
            );
            let body = serde_json::to_vec(&body).unwrap();
            assert_eq!(body.len(), total);
            body
        };
        for (what, body) in [
            ("1 MiB + 1 byte of JSON", padded(MAX_BODY + 1)),
            ("4 MiB of JSON", padded(4 * MAX_BODY)),
            ("2 MiB that is not JSON", vec![b'x'; 2 * MAX_BODY]),
        ] {
            let what = format!("{}: {what}", route.name);
            c.add("oversized bodies", what, route.wire(body), TOO_LARGE);
        }
    }
}

// ---- 8. Forged tokens ----

/// A JWT with these header and claims texts, signed HS256 with `secret`.
fn forge_jwt(secret: &[u8], header: &str, claims: &str) -> String {
    let input = format!("{}.{}", B64.encode(header), B64.encode(claims));
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

fn forge_jwt_hs512(secret: &[u8], claims: &str) -> String {
    let header = r#"{"alg":"HS512","typ":"JWT"}"#;
    let input = format!("{}.{}", B64.encode(header), B64.encode(claims));
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

/// `Authorization` values that must not authenticate anyone (`None`: no header). Forged claims
/// are an admin's, who may do everything.
fn forged_tokens(w: &World) -> Vec<(&'static str, Option<Vec<u8>>)> {
    let secret = w.app.secrets.jwt.as_slice();
    let now = chrono::Utc::now().timestamp();
    let admin = Caller {
        user_id: ADMIN,
        role: Role::Admin,
    };
    let exp = now + 3600;
    let claims = json!({"sub": "1", "role": "admin", "exp": exp}).to_string();
    let genuine = w.admin.clone();
    let parts: Vec<&str> = genuine.split('.').collect();
    let photographer: Vec<&str> = w.photographer.split('.').collect();
    let raw = |value: &str| Some(value.as_bytes().to_vec());
    let bearer = |token: &str| raw(&format!("Bearer {token}"));
    // The admin's claims under this JWT header, signed HS256 with the real secret.
    let headed = |header: &str| bearer(&forge_jwt(secret, header, &claims));
    // These claims under a genuine HS256 header and signature.
    let claimed = |claims: &str| bearer(&forge_jwt(secret, HS256, claims));
    let claims_of = |claims: Value| claimed(&claims.to_string());
    let unsigned_none = format!(
        "{}.{}.",
        B64.encode(r#"{"alg":"none"}"#),
        B64.encode(&claims)
    );
    vec![
        ("no Authorization header", None),
        ("Basic credentials", raw("Basic dXNlcjpwYXNz")),
        ("`Bearer` and no token", raw("Bearer")),
        ("`Bearer ` and nothing", raw("Bearer ")),
        ("a valid token without `Bearer`", raw(&genuine)),
        (
            "a valid token under another scheme",
            raw(&format!("Token {genuine}")),
        ),
        ("garbage", bearer("garbage")),
        ("three empty parts", bearer("..")),
        ("a.b.c", bearer("a.b.c")),
        ("a fourth part", bearer(&format!("{genuine}.e30"))),
        ("signature altered", bearer(&flip_last(&genuine))),
        (
            "signature removed",
            bearer(&format!("{}.{}.", parts[0], parts[1])),
        ),
        (
            "signature with base64 padding",
            bearer(&format!("{genuine}==")),
        ),
        (
            "signed with another secret",
            bearer(&forge_jwt(b"other", HS256, &claims)),
        ),
        ("expired", bearer(&jwt::sign(admin, now - 600, secret))),
        (
            "expired just past the leeway",
            bearer(&jwt::sign(admin, now - 30, secret)),
        ),
        (
            "living longer than the maximum",
            bearer(&jwt::sign(admin, now + 365 * 86_400, secret)),
        ),
        ("alg none, no signature", bearer(&unsigned_none)),
        ("alg none, signed", headed(r#"{"alg":"none"}"#)),
        (
            "alg HS512 header, HS256 signature",
            headed(r#"{"alg":"HS512"}"#),
        ),
        (
            "alg HS512, HS512 signature",
            bearer(&forge_jwt_hs512(secret, &claims)),
        ),
        ("alg RS256 header", headed(r#"{"alg":"RS256","typ":"JWT"}"#)),
        ("alg hs256 in lower case", headed(r#"{"alg":"hs256"}"#)),
        ("no alg", headed(r#"{"typ":"JWT"}"#)),
        ("header not JSON", headed("not json")),
        ("claims not JSON", claimed("not json")),
        (
            "claims not base64",
            bearer(&format!("{}.!!!.{}", parts[0], parts[2])),
        ),
        (
            "role claim root",
            claims_of(json!({"sub": "1", "role": "root", "exp": exp})),
        ),
        (
            "role claim Admin",
            claims_of(json!({"sub": "1", "role": "Admin", "exp": exp})),
        ),
        (
            "role claim missing",
            claims_of(json!({"sub": "1", "exp": exp})),
        ),
        (
            "role claim a list",
            claims_of(json!({"sub": "1", "role": ["admin"], "exp": exp})),
        ),
        (
            "sub 0",
            claims_of(json!({"sub": 0, "role": "admin", "exp": exp})),
        ),
        (
            "sub not a number",
            claims_of(json!({"sub": "abc", "role": "admin", "exp": exp})),
        ),
        (
            "sub negative",
            claims_of(json!({"sub": -1, "role": "admin", "exp": exp})),
        ),
        (
            "sub u64::MAX + 1",
            claims_of(json!({"sub": U64_OVER, "role": "admin", "exp": exp})),
        ),
        (
            "sub with a sign",
            claims_of(json!({"sub": "+1", "role": "admin", "exp": exp})),
        ),
        (
            "sub with a leading zero",
            claims_of(json!({"sub": "01", "role": "admin", "exp": exp})),
        ),
        (
            "not valid before an hour from now",
            claims_of(json!({"sub": "1", "role": "admin", "exp": exp + 3600, "nbf": exp})),
        ),
        (
            "issued an hour from now",
            claims_of(json!({"sub": "1", "role": "admin", "exp": exp + 3600, "iat": exp})),
        ),
        (
            "issued a year before it expires",
            claims_of(json!({"sub": "1", "role": "admin", "exp": exp, "iat": exp - 365 * 86_400})),
        ),
        ("exp missing", claimed(r#"{"sub":"1","role":"admin"}"#)),
        (
            "exp a string",
            claims_of(json!({"sub": "1", "role": "admin", "exp": exp.to_string()})),
        ),
        (
            "exp i64::MAX + 1",
            claimed(r#"{"sub":"1","role":"admin","exp":9223372036854775808}"#),
        ),
        ("an admin's claims, a photographer's signature", {
            bearer(&format!(
                "{}.{}.{}",
                photographer[0], parts[1], photographer[2]
            ))
        }),
        (
            "the internal service token",
            bearer(&w.app.secrets.internal_token),
        ),
        ("a 16 KiB token", bearer(&"a".repeat(16 * 1024))),
        ("non-ASCII bytes", Some(b"Bearer \xff\xfe".to_vec())),
        (
            "a space inside the token",
            bearer(&genuine.replacen('.', ". ", 1)),
        ),
    ]
}

fn forged_tokens_corpus(w: &World, c: &mut Corpus) {
    const CATEGORY: &str = "forged tokens";
    // Requests an admin's token would have carried out (2xx): only a forgery that passes could
    // change their answer.
    let targets = [
        (
            "status",
            Wire::post(STATUS).json(&w.pending.body(json!({}))),
        ),
        (
            "downloads",
            Wire::post(DOWNLOADS).json(&w.ready.body(json!({}))),
        ),
        ("uploads", Wire::post(UPLOADS).json(&create_body(AWAITING))),
        (
            "complete",
            Wire::post(COMPLETE).json(
                &w.uploaded
                    .body(json!({"files": w.uploaded.confirmations()})),
            ),
        ),
        (
            "retry",
            Wire::post(RETRY).json(&w.ready.body(json!({"reason": "again", "scope": "ALL"}))),
        ),
        (
            "delete",
            Wire::post(DELETE).json(&w.pending.body(json!({"reason": "gone"}))),
        ),
        (
            "events",
            Wire::get(format!(
                "/api/v2/listings/media/batches/{}/events",
                w.ready.id
            )),
        ),
        ("listing GET", Wire::get(format!("{LISTINGS}/{PENDING}"))),
    ];
    for (token, auth) in forged_tokens(w) {
        for (name, wire) in &targets {
            if *name == "listing GET" && token == "the internal service token" {
                continue; // the registry reads accept it (API.md)
            }
            let mut wire = wire.clone().no_auth();
            wire.auth = auth.clone();
            c.add(CATEGORY, format!("{name}: {token}"), wire, UNAUTHORIZED);
        }
    }

    // The internal service token.
    let internal = &w.app.secrets.internal_token;
    let facts = json!({"status": "PENDING_PHOTO_PROCESSING", "ownerUserId": OWNER,
                       "photographerUserId": PHOTOGRAPHER, "projectMedia": false});
    let targets = [
        (
            "register",
            Wire::new("PUT", format!("{LISTINGS}/{UNREGISTERED}")).json(&facts),
        ),
        ("cleanup", Wire::get(CLEANUP)),
    ];
    type Header<'a> = Option<(&'a str, String)>;
    let tokens: Vec<(&str, Option<Vec<u8>>, Header)> = vec![
        ("no Authorization header", None, None),
        ("garbage", Some(b"Bearer garbage".to_vec()), None),
        (
            "one character more",
            Some(format!("Bearer {internal}x").into_bytes()),
            None,
        ),
        (
            "one character less",
            Some(format!("Bearer {}", &internal[..internal.len() - 1]).into_bytes()),
            None,
        ),
        (
            "twice",
            Some(format!("Bearer {internal}{internal}").into_bytes()),
            None,
        ),
        (
            "without `Bearer`",
            Some(internal.clone().into_bytes()),
            None,
        ),
        (
            "under Basic",
            Some(format!("Basic {internal}").into_bytes()),
            None,
        ),
        (
            "an admin's JWT",
            Some(format!("Bearer {}", w.admin).into_bytes()),
            None,
        ),
        (
            "in another header",
            None,
            Some(("X-Internal-Token", internal.clone())),
        ),
    ];
    for (token, auth, header) in &tokens {
        for (name, wire) in &targets {
            let mut wire = wire.clone();
            wire.auth = auth.clone();
            if let Some((n, v)) = header {
                wire = wire.header(n, v.clone());
            }
            c.add(
                CATEGORY,
                format!("{name}: internal token {token}"),
                wire,
                UNAUTHORIZED,
            );
        }
    }
}

// ---- 9. Forged and replayed callbacks ----

fn forged_callbacks(w: &World, c: &mut Corpus) {
    use Forge::*;
    const CATEGORY: &str = "forged callbacks";
    // The RECEIVED batch's genuine result: it would be recorded (READY) if a forgery passed.
    let result = w.received.result(&w.received_job, 1, "SUCCEEDED");
    let raw = serde_json::to_vec(&result).unwrap();
    let zeros = "v1=0000000000000000000000000000000000000000000000000000000000000000";
    let forged: Vec<(&str, Forge)> = vec![
        ("no signature headers", Headers(None, None)),
        ("timestamp only", Headers(Some(0), None)),
        ("signature only", NoTimestamp),
        ("an empty timestamp", Respelled(|_| String::new())),
        ("v1=deadbeef", Headers(Some(0), Some("v1=deadbeef"))),
        ("garbage signature", Headers(Some(0), Some("garbage"))),
        ("v1= and nothing", Headers(Some(0), Some("v1="))),
        ("an empty signature", Headers(Some(0), Some(""))),
        ("v1= and 64 zeros", Headers(Some(0), Some(zeros))),
        (
            "two wrong candidates",
            Headers(Some(0), Some("v1=00,v1=ff")),
        ),
        (
            "v2= instead of v1=",
            Mangled(|s| s.replacen("v1=", "v2=", 1)),
        ),
        (
            "no v1= prefix",
            Mangled(|s| s.trim_start_matches("v1=").to_owned()),
        ),
        ("last digit changed", Mangled(flip_last)),
        ("a byte appended", Mangled(|s| format!("{s}00"))),
        ("a byte cut", Mangled(|s| s[..s.len() - 2].to_owned())),
        (
            "non-hex digits",
            Mangled(|s| s.replacen("v1=", "", 1).replace('0', "z")),
        ),
        ("signed with another secret", OtherSecret),
        // A genuine signature replayed once its timestamp left the ±300 s window.
        ("301 s old", At(-301)),
        ("replayed 400 s later", At(-400)),
        ("an hour old", At(-3600)),
        ("a day old", At(-86_400)),
        ("305 s ahead", At(305)),
        ("an hour ahead", At(3600)),
        ("a year ahead", At(365 * 86_400)),
        (
            "signed 290 s ago, timestamp moved to now",
            Moved {
                signed: -290,
                sent: 0,
            },
        ),
        (
            "signed 400 s ago, timestamp moved to now",
            Moved {
                signed: -400,
                sent: 0,
            },
        ),
        (
            "timestamp header a second earlier",
            Respelled(|now| (now - 1).to_string()),
        ),
        // (Blanks around a header's value are not part of it in HTTP.)
        (
            "timestamp header with a + sign",
            Respelled(|now| format!("+{now}")),
        ),
        (
            "timestamp header with a leading zero",
            Respelled(|now| format!("0{now}")),
        ),
        (
            "timestamp header with .0",
            Respelled(|now| format!("{now}.0")),
        ),
        ("timestamp 0", Literal("0")),
        ("timestamp 1", Literal("1")),
        ("timestamp -1", Literal("-1")),
        ("timestamp i64::MAX", Literal("9223372036854775807")),
        ("timestamp i64::MIN", Literal("-9223372036854775808")),
        ("timestamp i64::MIN + 1", Literal("-9223372036854775807")),
        ("timestamp -2^62", Literal("-4611686018427387904")),
        ("timestamp over i64", Literal("99999999999999999999")),
        ("timestamp `now`", Literal("now")),
        ("timestamp empty", Literal("")),
        ("timestamp 1.7e9", Literal("1.7e9")),
        ("timestamp 0x65", Literal("0x65")),
        ("timestamp in RFC 3339", Literal("2025-11-11T14:00:00Z")),
        ("signature and timestamp in the query", InQuery),
        ("the signature of an empty body", OtherBody(Vec::new())),
    ];
    for (what, forge) in forged {
        let wire = Wire::post(CALLBACK).bytes(raw.clone()).signed(forge);
        c.add(CATEGORY, what, wire, UNAUTHORIZED);
    }
    // Bodies altered after the genuine body was signed.
    let altered = |f: &dyn Fn(&mut Value)| {
        let mut body = result.clone();
        f(&mut body);
        serde_json::to_vec(&body).unwrap()
    };
    let altered: Vec<(&str, Vec<u8>)> = vec![
        (
            "status changed",
            altered(&|b| b["status"] = json!("FAILED")),
        ),
        ("attempt changed", altered(&|b| b["attempt"] = json!(2))),
        ("outputs dropped", altered(&|b| b["outputs"] = json!([]))),
        ("a field added", altered(&|b| b["x"] = json!(1))),
        ("a space appended", [raw.as_slice(), b" "].concat()),
        ("a newline appended", [raw.as_slice(), b"\n"].concat()),
        (
            "pretty-printed",
            serde_json::to_vec_pretty(&result).unwrap(),
        ),
        ("emptied", Vec::new()),
    ];
    for (what, body) in altered {
        let wire = Wire::post(CALLBACK)
            .bytes(body)
            .signed(OtherBody(raw.clone()));
        c.add(
            CATEGORY,
            format!("{what} after signing"),
            wire,
            UNAUTHORIZED,
        );
    }
    for body in ["not json", "{}"] {
        let wire = Wire::post(CALLBACK)
            .bytes(body.into())
            .signed(Headers(None, None));
        c.add(CATEGORY, format!("unsigned {body}"), wire, UNAUTHORIZED);
    }
}

// ---- 10. Wrong methods and routes ----

fn wrong_routes(w: &World, c: &mut Corpus) {
    const CATEGORY: &str = "wrong methods and routes";
    let internal = &w.app.secrets.internal_token;
    let facts = json!({"status": "PENDING_PHOTO_PROCESSING", "ownerUserId": OWNER});
    let status = w.pending.body(json!({}));
    let (ticket, bytes) = &w.pending.files[0];
    let ct = ticket["headers"]["Content-Type"].as_str().unwrap();
    for (what, wire) in [
        ("GET uploads", Wire::get(UPLOADS).bearer(&w.photographer)),
        (
            "PUT status",
            Wire::new("PUT", STATUS)
                .bearer(&w.photographer)
                .json(&status),
        ),
        (
            "PATCH downloads",
            Wire::new("PATCH", DOWNLOADS)
                .bearer(&w.photographer)
                .json(&status),
        ),
        ("GET callback", Wire::get(CALLBACK)),
        (
            "DELETE a listing",
            Wire::new("DELETE", format!("{LISTINGS}/{PENDING}")).bearer(internal),
        ),
        (
            "POST a listing",
            Wire::post(format!("{LISTINGS}/{PENDING}"))
                .bearer(internal)
                .json(&facts),
        ),
        (
            "POST to a signed PUT URL",
            Wire::post(w.put_url.clone()).typed_body(Some(ct), bytes.clone()),
        ),
        (
            "DELETE a signed GET URL",
            Wire::new("DELETE", w.get_url.clone()),
        ),
        (
            "status with a trailing slash",
            Wire::post(format!("{STATUS}/"))
                .bearer(&w.photographer)
                .json(&status),
        ),
        (
            "status in upper case",
            Wire::post(STATUS.to_uppercase())
                .bearer(&w.photographer)
                .json(&status),
        ),
        (
            "status through ../",
            Wire::post("/api/v2/listings/media/../media/status")
                .bearer(&w.photographer)
                .json(&status),
        ),
        (
            "events without a batch",
            Wire::get("/api/v2/listings/media/batches//events").bearer(&w.admin),
        ),
    ] {
        c.add(CATEGORY, what, wire, NO_ROUTE);
    }
}

/// Last: results naming renditions under the store's own names (a sidecar, `.tmp/`) for the
/// PROCESSING batch's current job. The store refuses such keys for every read and write; the
/// results must be refused as well.
fn reserved_renditions(w: &World, c: &mut Corpus) {
    let batch = &w.processing;
    let job = &w.processing_job;
    for (i, reserved) in [".meta", "/.tmp/x.part"].into_iter().enumerate() {
        let (ticket, _) = &batch.files[i];
        let key = ticket["objectKey"].as_str().unwrap();
        let rendition = if reserved == ".meta" {
            format!("{key}.meta")
        } else {
            format!("{PROCESSING}{reserved}")
        };
        let body = json!({"jobId": job, "batchId": batch.id, "attempt": 1, "status": "RUNNING",
                          "outputs": [{"clientId": ticket["clientId"], "rawKey": key,
                                       "renditions": {"large": rendition}}]});
        let what = format!("callback: rendition {rendition}");
        c.add(
            "path traversal",
            what,
            Wire::post(CALLBACK).json(&body).signed(Forge::At(0)),
            INVALID,
        );
    }
}

fn corpus(w: &World) -> Corpus {
    let mut c = Corpus::default();
    malformed_json(w, &mut c);
    wrong_types(w, &mut c);
    missing_fields(w, &mut c);
    numbers(w, &mut c);
    unicode(w, &mut c);
    traversal(w, &mut c);
    signed_urls(w, &mut c);
    oversized(w, &mut c);
    forged_tokens_corpus(w, &mut c);
    forged_callbacks(w, &mut c);
    wrong_routes(w, &mut c);
    reserved_renditions(w, &mut c);
    c
}

// ---- Sending ----

struct Reply {
    status: u16,
    request_id: Option<String>,
    body: Vec<u8>,
}

async fn send(w: &World, wire: &Wire, request_id: &str) -> Result<Reply, String> {
    let mut headers: Vec<(String, Vec<u8>)> =
        vec![("X-Request-Id".into(), request_id.as_bytes().to_vec())];
    if let Some(auth) = &wire.auth {
        headers.push(("Authorization".into(), auth.clone()));
    }
    if wire.body.is_some()
        && let Some(ct) = &wire.content_type
    {
        headers.push(("Content-Type".into(), ct.clone().into_bytes()));
    }
    let mut target = wire.target.clone();
    if let Some(forge) = &wire.callback {
        let body = wire.body.as_deref().unwrap_or_default();
        let (signature, query) = forge.render(&w.app.secrets.callback, body);
        headers.extend(signature);
        target.push_str(&query);
    }
    headers.extend(wire.headers.iter().cloned());
    match wire.body.as_deref() {
        Some(body) if body.len() > MAX_BODY => {
            send_reqwest(&w.app, wire.method, &target, &headers, body.to_vec()).await
        }
        body => send_raw(&w.host, wire.method, &target, &headers, body).await,
    }
}

/// One request on its own connection, written byte for byte as given.
async fn send_raw(
    host: &str,
    method: &str,
    target: &str,
    headers: &[(String, Vec<u8>)],
    body: Option<&[u8]>,
) -> Result<Reply, String> {
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut out =
        format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n").into_bytes();
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if let Some(body) = body
        && !has("transfer-encoding")
    {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.unwrap_or_default());
    // The server may answer (and close) before it read everything: the answer is what counts.
    let _ = stream.write_all(&out).await;
    let mut raw = Vec::new();
    match tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw)).await {
        Err(_) => return Err("no answer within 30 s".into()),
        Ok(Err(e)) if raw.is_empty() => return Err(format!("read: {e}")),
        Ok(_) => {}
    }
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<Reply, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no response head in {:?}", String::from_utf8_lossy(raw)))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let (mut request_id, mut chunked, mut length) = (None, false, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "x-request-id" => request_id = Some(value.to_owned()),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "content-length" => length = value.parse::<usize>().ok(),
            _ => {}
        }
    }
    let mut body = raw[end + 4..].to_vec();
    if chunked {
        body = dechunk(&body)?;
    } else if let Some(n) = length {
        body.truncate(n);
    }
    Ok(Reply {
        status,
        request_id,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a truncated chunk")?;
        let size = std::str::from_utf8(&data[..eol]).map_err(|e| e.to_string())?;
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16)
            .map_err(|e| e.to_string())?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size {
            return Err("a truncated chunk".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
}

/// Bodies over 1 MiB: reqwest writes while it reads, so the early 413 is not lost.
async fn send_reqwest(
    app: &TestApp,
    method: &str,
    target: &str,
    headers: &[(String, Vec<u8>)],
    body: Vec<u8>,
) -> Result<Reply, String> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app
        .client
        .request(method, format!("{}{target}", app.address))
        .body(body);
    for (name, value) in headers {
        let value = reqwest::header::HeaderValue::from_bytes(value).map_err(|e| e.to_string())?;
        req = req.header(name.as_str(), value);
    }
    let res = req.send().await.map_err(|e| format!("reqwest: {e}"))?;
    let status = res.status().as_u16();
    let request_id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = res.bytes().await.map_err(|e| e.to_string())?.to_vec();
    Ok(Reply {
        status,
        request_id,
        body,
    })
}

// ---- Checking ----

/// What is wrong with `reply` as the answer to `case` (nothing: an empty list).
fn check(case: &Case, reply: &Reply, request_id: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !(400..500).contains(&reply.status) {
        problems.push(format!("status {} is not a 4xx", reply.status));
    }
    match serde_json::from_slice::<Value>(&reply.body) {
        Err(_) => problems.push("the body is not the JSON error body".into()),
        Ok(body) => {
            let error = body["error"].as_str().unwrap_or_default();
            if body["code"] != reply.status {
                problems.push(format!("`code` {} is not the status", body["code"]));
            }
            if error.is_empty() {
                problems.push("no `error` code".into());
            }
            if body["message"].as_str().is_none_or(str::is_empty) {
                problems.push("no `message`".into());
            }
            if !body["details"].is_object() {
                problems.push("`details` is not an object".into());
            }
            if !case.want.contains(&(reply.status, error)) {
                problems.push(format!(
                    "expected {}, got {} {error}",
                    case.want
                        .iter()
                        .map(|(s, e)| format!("{s} {e}"))
                        .collect::<Vec<_>>()
                        .join(" or "),
                    reply.status
                ));
            }
        }
    }
    if reply.request_id.as_deref() != Some(request_id) {
        problems.push(format!(
            "X-Request-Id not echoed (got {:?})",
            reply.request_id
        ));
    }
    problems
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}… ({} bytes)", text.len())
}

fn describe(i: usize, case: &Case, reply: Option<&Reply>, problems: &[String]) -> String {
    let wire = &case.wire;
    let mut out = format!(
        "#{i} [{}] {}\n  {} {}",
        case.category,
        case.what,
        wire.method,
        clip(&wire.target, 200)
    );
    if let Some(auth) = &wire.auth {
        let _ = write!(
            out,
            "\n  Authorization: {}",
            clip(&String::from_utf8_lossy(auth), 80)
        );
    }
    if let Some(body) = &wire.body {
        let _ = write!(
            out,
            "\n  body: {}",
            clip(&format!("{:?}", String::from_utf8_lossy(body)), 300)
        );
    }
    if let Some(reply) = reply {
        let _ = write!(
            out,
            "\n  answer: {} {}",
            reply.status,
            clip(&String::from_utf8_lossy(&reply.body), 300)
        );
    }
    for p in problems {
        let _ = write!(out, "\n  - {p}");
    }
    out
}

// ---- The service's whole state ----

/// Per table, every row (`column=quote(value)` …) in key order; under `objects/`, every
/// directory and every file with its SHA-256.
type Snapshot = BTreeMap<String, Vec<String>>;

const TABLES: [(&str, &str); 7] = [
    ("events", "position"),
    ("outbox", "id"),
    ("job_queue", "id"),
    ("media_batches", "batch_id"),
    ("media_assets", "batch_id, client_id"),
    ("media_jobs", "job_id"),
    ("listings", "listing_id"),
];

async fn snapshot(app: &TestApp) -> Snapshot {
    // The relay's background move (outbox → job_queue) is not a change made by a request.
    for _ in 0..100 {
        if app.count("SELECT COUNT(*) FROM outbox").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pool = app.store.pool();
    let mut snap = Snapshot::new();
    for (table, key) in TABLES {
        let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        )))
        .fetch_all(pool)
        .await
        .expect("the columns");
        assert!(!columns.is_empty(), "{table} has columns");
        let row = columns
            .iter()
            .map(|c| format!("'{c}=' || quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || ' ' || ");
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {row} FROM {table} ORDER BY {key}"
        )))
        .fetch_all(pool)
        .await
        .expect(table);
        snap.insert(table.to_owned(), rows);
    }
    let root = app.data_dir.join("objects");
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    snap.insert("objects/".to_owned(), files);
    snap
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.strip_prefix(root).unwrap().display().to_string();
        if path.is_dir() {
            out.push(format!("{name}/"));
            walk(root, &path, out);
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            out.push(format!("{name} sha256={}", sha256_hex(&bytes)));
        }
    }
}

fn diff(before: &Snapshot, after: &Snapshot) -> String {
    let mut out = String::new();
    for (name, rows) in after {
        let old = before.get(name).cloned().unwrap_or_default();
        for row in old.iter().filter(|r| !rows.contains(r)).take(5) {
            let _ = writeln!(out, "    {name} - {}", clip(row, 400));
        }
        for row in rows.iter().filter(|r| !old.contains(r)).take(5) {
            let _ = writeln!(out, "    {name} + {}", clip(row, 400));
        }
    }
    out
}

#[tokio::test]
async fn every_bad_input_is_refused_with_a_4xx_and_changes_nothing() {
    let w = world().await;
    // The forged-token targets answer 2xx to a genuine token (reads only: writes would change
    // the state), so that only the forgery can make them refuse.
    for wire in [
        Wire::post(STATUS).json(&w.pending.body(json!({}))),
        Wire::post(DOWNLOADS).json(&w.ready.body(json!({}))),
        Wire::get(format!(
            "/api/v2/listings/media/batches/{}/events",
            w.ready.id
        )),
        Wire::get(format!("{LISTINGS}/{PENDING}")),
    ] {
        let reply = send(&w, &wire.bearer(&w.admin), "genuine").await.unwrap();
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    let cleanup = Wire::get(CLEANUP).bearer(&w.app.secrets.internal_token);
    assert_eq!(send(&w, &cleanup, "genuine").await.unwrap().status, 200);

    let corpus = corpus(&w);
    let before = snapshot(&w.app).await;
    let started = Instant::now();
    let mut last = before.clone();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut categories: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (i, case) in corpus.0.iter().enumerate() {
        let id = format!("bad-input-{i}");
        let reply = send(&w, &case.wire, &id).await;
        let mut problems = match &reply {
            Ok(reply) => check(case, reply, &id),
            Err(e) => vec![format!("no HTTP answer: {e}")],
        };
        let now = snapshot(&w.app).await;
        if now != last {
            problems.push(format!(
                "changed the service's state:\n{}",
                diff(&last, &now)
            ));
            last = now;
        }
        let status = reply
            .as_ref()
            .map_or_else(|_| "no answer".to_owned(), |r| r.status.to_string());
        *statuses.entry(status).or_default() += 1;
        *categories.entry(case.category).or_default() += 1;
        if !problems.is_empty() {
            failures.push(describe(i, case, reply.as_ref().ok(), &problems));
        }
    }
    let elapsed = started.elapsed();
    let after = snapshot(&w.app).await;

    eprintln!(
        "bad-input corpus: {} requests in {:.1} s",
        corpus.0.len(),
        elapsed.as_secs_f64()
    );
    for (category, n) in &categories {
        eprintln!("  {n:>5}  {category}");
    }
    eprintln!("  by status:");
    for (status, n) in &statuses {
        eprintln!("  {n:>5}  {status}");
    }
    assert!(corpus.0.len() >= 300, "only {} requests", corpus.0.len());
    if after != before {
        failures.push(format!(
            "the corpus as a whole changed the service's state:\n{}",
            diff(&before, &after)
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad requests were not refused cleanly:\n\n{}",
        failures.len(),
        corpus.0.len(),
        failures.join("\n\n")
    );
}
