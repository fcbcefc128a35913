//! `POST /uploads/retry`: reprocess a READY or FAILED batch under a new job.

use actix_web::{HttpRequest, HttpResponse, web};
use aggregates::{JobId, MediaBatchCommand, Retry};
use chrono::Utc;

use crate::auth::Caller;
use crate::http::AppState;
use crate::http::access;
use crate::http::dto::{ErrorBody, RetryAccepted, RetryRequest};
use crate::http::error::ApiError;
use crate::http::input::{self, Target};
use crate::http::request::{self, Json};

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
        (status = 400, description = "`INVALID_JSON`", body = ErrorBody),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorBody),
        (status = 403, description = "`FORBIDDEN`: auditors; owners outside project media", body = ErrorBody),
        (status = 404, description = "`LISTING_NOT_FOUND`, `BATCH_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`BATCH_NOT_TERMINAL` (not READY or FAILED); `NOTHING_TO_RETRY` (uploads never completed); `RETRY_LIMIT_REACHED`", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`", body = ErrorBody),
        (status = 422, description = "`VALIDATION_FAILED`", body = ErrorBody),
        (status = 500, description = "`INTERNAL`", body = ErrorBody),
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
        target: Target {
            listing_id,
            batch_id,
        },
        scope,
        reason,
    } = input::Retry::try_from(body)?;

    let store = state.engine.store();
    let (_, batch, _) = access::command_target(
        store,
        caller,
        listing_id,
        &batch_id.to_string(),
        state.config.owner_project_media,
    )
    .await?;

    let job_id = JobId::generate();
    let command = MediaBatchCommand::Retry(Retry {
        job_id,
        scope,
        reason,
        max_attempts: state.config.max_attempts,
        now: Utc::now(),
    });
    state
        .engine
        .batch(batch_id, command, &request::actor(&req, Some(caller), ""))
        .await?;
    Ok(HttpResponse::Accepted().json(RetryAccepted {
        listing_identity_id: listing_id,
        batch_id: batch.batch_id,
        job_id: job_id.to_string(),
        attempt: batch.attempt + 1,
        status: "RECEIVED",
    }))
}
