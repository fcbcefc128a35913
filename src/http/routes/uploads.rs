//! `POST /uploads`: validate a manifest, create the batch, hand out signed upload URLs.

use actix_web::{HttpRequest, HttpResponse, web};
use aggregates::{
    BatchId, BatchStatus, MediaBatchCommand, MediaBatchEvent, RequestUploads, RequestedFile,
};
use chrono::Utc;

use crate::auth::Caller;
use crate::http::access::{self, Action};
use crate::http::dto::{BatchCreated, CreateBatchRequest, ErrorBody, UploadTicket};
use crate::http::error::ApiError;
use crate::http::input::Create;
use crate::http::request::Json;
use crate::http::{self, AppState};
use crate::storage;

/// Create a batch and get signed upload URLs
///
/// Every rule of the manifest is checked before anything is written, and every broken field is
/// reported. Two concurrent requests for one listing: one 201, one 409, never two batches.
#[utoipa::path(
    post,
    path = "/api/v2/listings/media/uploads",
    operation_id = "createBatch",
    tag = "batches",
    request_body = CreateBatchRequest,
    responses(
        (status = 201, description = "The batch, with one signed PUT per file", body = BatchCreated),
        (status = 400, description = "`INVALID_JSON`", body = ErrorBody),
        (status = 401, description = "`UNAUTHORIZED`: missing, invalid or expired token", body = ErrorBody),
        (status = 403, description = "`FORBIDDEN`: auditors; owners outside project media", body = ErrorBody),
        (status = 404, description = "`LISTING_NOT_FOUND`: unknown or not visible to the caller", body = ErrorBody),
        (status = 409, description = "`LISTING_NOT_AWAITING_MEDIA`; `OPEN_BATCH_EXISTS` (its `batchId` in details)", body = ErrorBody,
            example = json!({"code": 409, "error": "OPEN_BATCH_EXISTS", "message": "the listing already has an open batch",
                "details": {"batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"}})),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: body over 1 MiB", body = ErrorBody),
        (status = 422, description = "`VALIDATION_FAILED`: every broken field in details.errors", body = ErrorBody),
        (status = 500, description = "`INTERNAL`", body = ErrorBody),
        (status = 503, description = "`BUSY`: too many concurrent changes; retry", body = ErrorBody),
    ),
    security(("jwt" = [])),
)]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<CreateBatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let Create {
        listing_id: listing_ref,
        manifest,
    } = Create::try_from((body, &state.config.limits))?;
    let listing = access::listing(&state, caller, listing_ref, Action::Command).await?;
    access::check_asset_types(caller, manifest.files.iter().map(|f| f.asset_type))?;

    let batch_id = BatchId::generate();
    let now = Utc::now();
    let command = MediaBatchCommand::RequestUploads(RequestUploads {
        batch_id,
        listing_id: listing_ref,
        listing_status: listing.status,
        manifest,
        upload_ttl: state.config.upload_url_ttl,
        now,
    });
    let committed = state.command(&req, caller, batch_id, command).await?;
    // The keys and the upload window are what the aggregate decided, not read back.
    let requested = http::decision(committed, |e| match e {
        MediaBatchEvent::Requested(r) => Some(r),
        _ => None,
    })?;
    let files = tickets(&state, &requested.files, now).await?;
    Ok(HttpResponse::Created().json(BatchCreated {
        listing_identity_id: listing_ref.get(),
        batch_id: batch_id.to_string(),
        status: BatchStatus::PendingUpload.as_str(),
        upload_url_ttl_seconds: state.config.upload_url_ttl.num_seconds(),
        expires_at: projections::time::stamp(requested.upload_expires_at),
        files,
    }))
}

/// A signed upload per requested file: the URL binds method, key, type, length and SHA-256.
pub(crate) async fn tickets(
    state: &AppState,
    requested: &[RequestedFile],
    now: chrono::DateTime<Utc>,
) -> Result<Vec<UploadTicket>, ApiError> {
    let mut files = Vec::with_capacity(requested.len());
    for RequestedFile { file, raw_key } in requested {
        let storage::PresignedPut {
            url,
            method,
            headers,
            ..
        } = state
            .backends
            .objects
            .presign_put(
                raw_key,
                &file.content_type,
                file.bytes,
                &file.checksum,
                state.config.upload_url_ttl,
                now,
            )
            .await
            .map_err(ApiError::internal)?;
        files.push(UploadTicket {
            client_id: file.client_id.to_string(),
            sequence: u32::from(file.sequence.get()),
            object_key: raw_key.to_string(),
            upload_url: url,
            method,
            headers,
        });
    }
    Ok(files)
}
