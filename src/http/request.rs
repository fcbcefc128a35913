//! Request plumbing: bounded JSON bodies with our error codes, request ids, bearer tokens.

use std::future::{Ready, ready};

use actix_web::body::MessageBody;
use actix_web::dev::{self, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use futures_util::{Stream, StreamExt as _};
use serde::de::DeserializeOwned;

use crate::auth::{Caller, jwt};
use crate::engine::Actor;
use crate::http::error::ApiError;
use crate::http::{AppState, access};

/// Bodies over this size are refused with 413.
pub const MAX_BODY: usize = 1024 * 1024;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A JSON body of at most [`MAX_BODY`] bytes, read with the API's error mapping: malformed JSON
/// or wrong types are 400 `INVALID_JSON`, larger bodies 413 (actix's own `Json` answers neither
/// in our error body).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(_: &HttpRequest, payload: &mut dev::Payload) -> Self::Future {
        let mut payload = payload.take();
        Box::pin(async move {
            let bytes = read(&mut payload).await?;
            serde_json::from_slice(&bytes)
                .map(Json)
                .map_err(|e| ApiError::InvalidJson(e.to_string()))
        })
    }
}

/// The raw body, at most [`MAX_BODY`] bytes (`/callback` verifies its signature over them).
pub async fn read<S>(payload: &mut S) -> Result<web::BytesMut, ApiError>
where
    S: Stream<Item = Result<web::Bytes, PayloadError>> + Unpin,
{
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::InvalidJson(e.to_string()))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::TooLarge(MAX_BODY));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The request's id: the client's `X-Request-Id` when it is sane, else a fresh UUIDv7.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map_or_else(String::new, |r| r.0.clone())
}

/// The request's W3C trace context: the client's `traceparent` when well-formed, else a new
/// trace with this request as its root.
#[derive(Debug, Clone)]
pub struct TraceParent(pub String);

pub fn traceparent(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<TraceParent>().map(|t| t.0.clone())
}

/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, ids not all zero (W3C Trace Context).
fn valid_traceparent(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    matches!(parts.as_slice(), [version, trace, parent, flags]
        if hex(version, 2) && *version != "ff" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2)
            && trace.bytes().any(|b| b != b'0') && parent.bytes().any(|b| b != b'0'))
}

fn new_traceparent() -> String {
    let mut ids = [0u8; 24];
    if getrandom::fill(&mut ids).is_err() {
        ids[..16].copy_from_slice(uuid::Uuid::now_v7().as_bytes());
    }
    ids[23] |= 1;
    format!(
        "00-{}-{}-01",
        hex::encode(&ids[..16]),
        hex::encode(&ids[16..])
    )
}

/// Middleware: assigns the request id (echoed on every response, errors included) and the
/// trace context, and runs the request in a span carrying both, so every log line of it does.
pub async fn with_request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let given = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned);
    let id = given.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let trace = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_traceparent(v))
        .map_or_else(new_traceparent, str::to_owned);
    let span = tracing::info_span!("request", request_id = %id, traceparent = %trace, method = %req.method(), path = %req.path());
    req.extensions_mut().insert(RequestId(id.clone()));
    req.extensions_mut().insert(TraceParent(trace));
    let mut res = tracing::Instrument::instrument(next.call(req), span).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn state(req: &HttpRequest) -> Result<&AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|s| s.get_ref())
        .ok_or_else(|| ApiError::internal("no app state"))
}

/// The authenticated person, or 401.
pub fn caller(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = state(req)?;
    let token =
        bearer(req).ok_or_else(|| ApiError::Unauthorized("a Bearer token is required".into()))?;
    jwt::verify(
        token,
        &state.secrets.jwt,
        chrono::Utc::now().timestamp(),
        state.config.jwt_max_lifetime.num_seconds(),
    )
    .map_err(|e| ApiError::Unauthorized(e.to_string()))
}

/// A handler that takes a `Caller` is refused with 401 before its body is read.
impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut dev::Payload) -> Self::Future {
        ready(caller(req))
    }
}

/// The platform, by its internal service token: 401 before the body is read.
pub struct Platform;

impl FromRequest for Platform {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut dev::Payload) -> Self::Future {
        ready(
            state(req)
                .and_then(|s| access::internal(req, s))
                .map(|()| Platform),
        )
    }
}

/// Whether the request carries the platform's internal service token.
pub fn is_internal(req: &HttpRequest, token: &str) -> bool {
    bearer(req).is_some_and(|t| crate::auth::same_secret(t.as_bytes(), token.as_bytes()))
}

/// The audit metadata of a command made by `caller` in this request.
pub fn actor(req: &HttpRequest, caller: Option<Caller>, role: &str) -> Actor {
    Actor {
        user_id: caller.map(|c| c.user_id),
        role: caller.map_or(role, |c| c.role.as_str()).to_owned(),
        request_id: Some(request_id(req)),
        traceparent: traceparent(req),
    }
}
