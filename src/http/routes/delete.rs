//! `POST /batches/delete`: soft delete.

use actix_web::{HttpRequest, HttpResponse, web};
use aggregates::{Delete, MediaBatchCommand};
use chrono::Utc;

use crate::auth::Caller;
use crate::http::AppState;
use crate::http::access;
use crate::http::dto::{BatchDeleted, DeleteRequest, ErrorBody, JsonRefusals};
use crate::http::error::ApiError;
use crate::http::input;
use crate::http::request::Json;

/// Soft-delete a batch
///
/// The batch disappears from status, downloads and the open-batch check, and stays in the event
/// history. A batch being processed cannot be deleted.
#[utoipa::path(
    post,
    path = "/api/v2/listings/media/batches/delete",
    operation_id = "deleteBatch",
    tag = "batches",
    request_body = DeleteRequest,
    responses(
        (status = 200, description = "The batch is deleted", body = BatchDeleted),
        (status = 403, description = "`FORBIDDEN`: auditors; owners outside project media", body = ErrorBody),
        (status = 404, description = "`LISTING_NOT_FOUND`, `BATCH_NOT_FOUND` (also when already deleted)", body = ErrorBody),
        (status = 409, description = "`BATCH_PROCESSING`", body = ErrorBody),
        (status = 422, description = "`VALIDATION_FAILED`", body = ErrorBody),
        JsonRefusals,
        (status = 503, description = "`BUSY`", body = ErrorBody),
    ),
    security(("jwt" = [])),
)]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<DeleteRequest>,
) -> Result<HttpResponse, ApiError> {
    let input::Delete { target, reason } = input::Delete::try_from(body)?;
    access::command_target(&state, caller, target).await?;
    let command = MediaBatchCommand::Delete(Delete {
        reason,
        now: Utc::now(),
    });
    state
        .command(&req, caller, target.batch_id, command)
        .await?;
    Ok(HttpResponse::Ok().json(BatchDeleted {
        batch_id: target.batch_id.to_string(),
        deleted: true,
        listing_identity_id: target.listing_id.get(),
    }))
}
