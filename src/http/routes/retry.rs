//! `POST /uploads/retry`: reprocess a READY or FAILED batch under a new job.

use actix_web::{HttpRequest, HttpResponse, web};
use aggregates::{BatchStatus, JobId, MediaBatchCommand, MediaBatchEvent, Retry};
use chrono::Utc;

use crate::auth::Caller;
use crate::http::access;
use crate::http::dto::{ErrorBody, JsonRefusals, RetryAccepted, RetryRequest};
use crate::http::error::ApiError;
use crate::http::input;
use crate::http::request::Json;
use crate::http::{self, AppState};

/// Reprocess a READY or FAILED batch under a new job
///
/// Raw objects are reused; the last good renditions of a READY batch stay downloadable until the
/// new attempt finishes.
#[utoipa::path(
    post,
    path = "/api/v2/listings/media/uploads/retry",
    operation_id = "retryBatch",
    tag = "batches",
    request_body = RetryRequest,
    responses(
        (status = 202, description = "A new attempt is queued", body = RetryAccepted),
        (status = 403, description = "`FORBIDDEN`: auditors; owners outside project media", body = ErrorBody),
        (status = 404, description = "`LISTING_NOT_FOUND`, `BATCH_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`BATCH_NOT_TERMINAL` (not READY or FAILED); `NOTHING_TO_RETRY` (uploads never completed); `RETRY_LIMIT_REACHED`", body = ErrorBody),
        (status = 422, description = "`VALIDATION_FAILED`", body = ErrorBody),
        JsonRefusals,
        (status = 503, description = "`BUSY`", body = ErrorBody),
    ),
    security(("jwt" = [])),
)]
pub async fn retry(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<RetryRequest>,
) -> Result<HttpResponse, ApiError> {
    let input::Retry {
        target,
        scope,
        reason,
    } = input::Retry::try_from(body)?;
    access::command_target(&state, caller, target).await?;
    let command = MediaBatchCommand::Retry(Retry {
        job_id: JobId::generate(),
        scope,
        reason,
        max_attempts: state.config.max_attempts,
        now: Utc::now(),
    });
    let committed = state
        .command(&req, caller, target.batch_id, command)
        .await?;
    // The aggregate numbered the new attempt; the response reports what it decided.
    let retried = http::decision(committed, |e| match e {
        MediaBatchEvent::RetryRequested(r) => Some(r),
        _ => None,
    })?;
    Ok(HttpResponse::Accepted().json(RetryAccepted {
        listing_identity_id: target.listing_id.get(),
        batch_id: target.batch_id.to_string(),
        job_id: retried.job_id.to_string(),
        attempt: retried.attempt,
        status: BatchStatus::Received.as_str(),
    }))
}
