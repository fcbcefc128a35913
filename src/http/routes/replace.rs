//! `POST /uploads/replace`: new uploads for the files of a FAILED batch that failed.

use actix_web::{HttpRequest, HttpResponse, web};
use aggregates::{BatchStatus, MediaBatchCommand, MediaBatchEvent, ReplaceFiles};
use chrono::Utc;

use crate::auth::Caller;
use crate::http::access;
use crate::http::dto::{BatchCreated, ErrorBody, JsonRefusals, ReplaceRequest};
use crate::http::error::ApiError;
use crate::http::input::Replace;
use crate::http::request::Json;
use crate::http::routes::uploads::tickets;
use crate::http::{self, AppState};

/// Re-upload the failed files of a FAILED batch
///
/// The batch returns to `PENDING_UPLOAD` with signed upload URLs for those files only, under
/// new keys; `POST /uploads/complete` then confirms them, and the next attempt processes only
/// them: every other asset keeps its renditions. Counts against `maxAttempts`.
#[utoipa::path(
    post,
    path = "/api/v2/listings/media/uploads/replace",
    operation_id = "replaceFiles",
    tag = "batches",
    request_body = ReplaceRequest,
    responses(
        (status = 201, description = "Signed uploads for the replaced files only", body = BatchCreated),
        (status = 403, description = "`FORBIDDEN`: auditors; owners outside project media", body = ErrorBody),
        (status = 404, description = "`LISTING_NOT_FOUND`, `BATCH_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`ASSET_NOT_REPLACEABLE` (the batch is not FAILED, or a named file is processed: `clientIds` in details); `RETRY_LIMIT_REACHED`; `OPEN_BATCH_EXISTS`", body = ErrorBody,
            example = json!({"code": 409, "error": "ASSET_NOT_REPLACEABLE", "message": "1 of the files are processed already",
                "details": {"clientIds": ["photo-2"]}})),
        (status = 422, description = "`VALIDATION_FAILED`: the rules of `POST /uploads` for each file; an unknown `clientId`, another `sequence` or `assetType` than the replaced file's", body = ErrorBody),
        JsonRefusals,
        (status = 503, description = "`BUSY`", body = ErrorBody),
    ),
    security(("jwt" = [])),
)]
pub async fn replace(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<ReplaceRequest>,
) -> Result<HttpResponse, ApiError> {
    let Replace { target, files } = Replace::try_from((body, &state.config.limits))?;
    access::command_target(&state, caller, target).await?;
    access::check_asset_types(caller, files.iter().map(|f| f.asset_type))?;
    let now = Utc::now();
    let command = MediaBatchCommand::ReplaceFiles(ReplaceFiles {
        files,
        max_total_bytes: state.config.limits.max_total_bytes,
        max_attempts: state.config.max_attempts,
        upload_ttl: state.config.upload_url_ttl,
        now,
    });
    let committed = state
        .command(&req, caller, target.batch_id, command)
        .await?;
    // The new keys and the upload window are what the aggregate decided.
    let replaced = http::decision(committed, |e| match e {
        MediaBatchEvent::FilesReplaced(r) => Some(r),
        _ => None,
    })?;
    let files = tickets(&state, &replaced.files, now).await?;
    Ok(HttpResponse::Created().json(BatchCreated {
        listing_identity_id: target.listing_id.get(),
        batch_id: target.batch_id.to_string(),
        status: BatchStatus::PendingUpload.as_str(),
        upload_url_ttl_seconds: state.config.upload_url_ttl.num_seconds(),
        expires_at: projections::time::stamp(replaced.upload_expires_at),
        files,
    }))
}
