//! HTTP face of the local object store: `PUT` and `GET` on `/storage/{key}`, each authorised
//! only by the signed URL it arrives on (no bearer token: the URL is the credential, as with S3).

use std::io;

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use chrono::Utc;
use futures_util::Stream;
use serde_json::json;
use tokio::fs::File;
use tokio::io::AsyncReadExt;

use super::local::{LocalStore, UploadError};
use super::signing::{Grant, Method, SignedRequest};

/// Where the routes are mounted; signed URLs are `{public_url}{PREFIX}/{key}?...`.
pub const PREFIX: &str = "/storage";

/// Registers the storage routes. The app must provide `web::Data<LocalStore>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/storage/{key:.*}")
            .route(web::put().to(put_object))
            .route(web::get().to(get_object))
            .default_service(web::to(method_not_allowed)),
    );
}

/// The path after `/storage/`, still percent-encoded where the HTTP layer left it so.
fn encoded_key(req: &HttpRequest) -> &str {
    req.match_info().get("key").unwrap_or_default()
}

async fn put_object(
    req: HttpRequest,
    store: web::Data<LocalStore>,
    body: web::Payload,
) -> Result<HttpResponse, UploadError> {
    let signed = store.verify(
        Method::Put,
        encoded_key(&req),
        req.query_string(),
        Utc::now(),
    )?;
    refuse_declared_length(&signed, &req)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let stored = store.put_verified(&signed, content_type, body).await?;
    let sha256 = stored.checksum.to_hex();
    Ok(HttpResponse::Created()
        .insert_header((header::ETAG, format!("\"{sha256}\"")))
        .json(json!({
            "objectKey": signed.key.as_str(),
            "bytes": stored.bytes,
            "checksum": sha256,
        })))
}

/// A declared `Content-Length` other than the signed one is refused before any byte is read;
/// the streaming check in `put_verified` covers bodies without one (chunked).
fn refuse_declared_length(signed: &SignedRequest, req: &HttpRequest) -> Result<(), UploadError> {
    let Grant::Upload(terms) = &signed.grant else {
        return Ok(());
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    match declared {
        Some(received) if received != terms.bytes => Err(UploadError::SizeMismatch {
            signed: terms.bytes,
            received,
        }),
        _ => Ok(()),
    }
}

async fn get_object(
    req: HttpRequest,
    store: web::Data<LocalStore>,
) -> Result<HttpResponse, UploadError> {
    let signed = store.verify(
        Method::Get,
        encoded_key(&req),
        req.query_string(),
        Utc::now(),
    )?;
    let opened = store.open(&signed.key).await.map_err(|e| match e.kind() {
        io::ErrorKind::InvalidInput => UploadError::InvalidKey(signed.key.to_string()),
        _ => UploadError::Storage(e),
    })?;
    let Some((file, len, content_type)) = opened else {
        return Ok(error_body(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "no object is stored under this key",
        ));
    };
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        // Uploaded bytes are served from the api's origin: never let a browser run them.
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "sandbox"))
        .body(SizedStream::new(len, chunks(file))))
}

/// Signed URLs are for PUT (upload) or GET (download) only.
async fn method_not_allowed() -> HttpResponse {
    let mut response = error_body(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "signed URLs take PUT (upload) or GET (download)",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, PUT"));
    response
}

/// A file as a stream of 64 KiB chunks.
fn chunks(file: File) -> impl Stream<Item = io::Result<Bytes>> {
    futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0; 64 * 1024];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), file)))
    })
}

/// The API error body (API.md, Conventions).
fn error_body(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "code": status.as_u16(),
        "error": code,
        "message": message,
        "details": {},
    }))
}

impl ResponseError for UploadError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "object store request failed");
            return error_body(status, self.code(), "the object store failed; try again");
        }
        error_body(status, self.code(), &self.to_string())
    }
}
