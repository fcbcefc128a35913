//! Request plumbing: bounded JSON bodies with our error codes, request ids, bearer tokens.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;

use crate::auth::{Caller, jwt};
use crate::engine::Actor;
use crate::http::error::ApiError;

/// Bodies over this size are refused with 413.
pub const MAX_BODY: usize = 1024 * 1024;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Reads a JSON body of at most [`MAX_BODY`] bytes; malformed JSON or wrong types are 400.
pub async fn json<T: DeserializeOwned>(mut payload: web::Payload) -> Result<T, ApiError> {
    let bytes = read(&mut payload).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

pub async fn read(payload: &mut web::Payload) -> Result<web::BytesMut, ApiError> {
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

/// Middleware: assigns the request id and echoes it on every response, errors included.
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
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.call(req).await?;
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

/// The authenticated person, or 401.
pub fn caller(req: &HttpRequest, secret: &[u8]) -> Result<Caller, ApiError> {
    let token =
        bearer(req).ok_or_else(|| ApiError::Unauthorized("a Bearer token is required".into()))?;
    jwt::verify(token, secret, chrono::Utc::now().timestamp())
        .map_err(|e| ApiError::Unauthorized(e.to_string()))
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
    }
}
