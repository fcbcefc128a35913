//! `POST /callback`: processing results from a pipeline, signed with the callback secret.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use toq_contract::result::ResultMessage;

use crate::auth::signature;
use crate::engine::CommandError;
use crate::http::dto::{CallbackAccepted, CallbackBody, ErrorBody};
use crate::http::error::ApiError;
use crate::http::{AppState, request};
use crate::intake::{self, IntakeError};
use crate::telemetry::ResultRefusal;

/// Processing results from the pipeline
///
/// The signature is verified before the body is parsed. Results for an older attempt, and
/// duplicates, are acknowledged and change nothing.
#[utoipa::path(
    post,
    path = "/api/v2/listings/media/callback",
    operation_id = "recordResult",
    tag = "pipeline",
    params(
        ("X-Toq-Timestamp" = String, Header, description = "Unix seconds; within ±300 s of the server's clock", example = "1762870000"),
        ("X-Toq-Signature" = String, Header,
            description = "`v1=` and the hex HMAC-SHA256, with the callback secret, of the timestamp, `.` and the raw body",
            example = "v1=5f1c0a7e9b2d4c6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e"),
    ),
    request_body = CallbackBody,
    responses(
        (status = 200, description = "Recorded, or a duplicate or stale result that changed nothing", body = CallbackAccepted),
        (status = 400, description = "`INVALID_JSON`", body = ErrorBody),
        (status = 401, description = "`UNAUTHORIZED`: missing or bad signature, or timestamp outside the window", body = ErrorBody),
        (status = 404, description = "`BATCH_NOT_FOUND`, `JOB_NOT_FOUND`", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`", body = ErrorBody),
        (status = 422, description = "`VALIDATION_FAILED`: `jobId`, `batchId`, `attempt` or `status`", body = ErrorBody),
        (status = 500, description = "`INTERNAL`", body = ErrorBody),
        (status = 503, description = "`BUSY`", body = ErrorBody),
    ),
)]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let raw = request::read(&mut body).await?;
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    signature::verify(
        &state.secrets.callback,
        header("X-Toq-Timestamp"),
        header("X-Toq-Signature"),
        &raw,
        Utc::now().timestamp(),
    )
    .map_err(|e| {
        ResultRefusal::Signature.count();
        ApiError::Unauthorized(e.to_string())
    })?;
    let body: CallbackBody = serde_json::from_slice(&raw).map_err(|e| {
        ResultRefusal::Malformed.count();
        ApiError::InvalidJson(e.to_string())
    })?;
    let result = ResultMessage::try_from(body).map_err(|errors| {
        ResultRefusal::Malformed.count();
        ApiError::Validation(errors)
    })?;
    let actor = request::actor(&req, None, "pipeline");
    intake::apply(&state.engine, result, &actor)
        .await
        .map_err(|e| match e {
            IntakeError::Unknown(e) | IntakeError::Refused { error: e, .. } => {
                CommandError::Batch(e)
            }
            IntakeError::Store(e) => e,
        })?;
    Ok(HttpResponse::Ok().json(CallbackAccepted { status: "accepted" }))
}
