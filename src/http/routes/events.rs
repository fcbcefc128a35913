//! `GET /batches/{batchId}/events`: the audit history, optionally as of a moment.

use actix_web::{HttpResponse, web};
use aggregates::{BatchId, FieldError};
use chrono::{DateTime, Utc};

use crate::auth::Caller;
use crate::http::dto::{BatchEvents, BatchHistory, ErrorBody, EventsQuery};
use crate::http::error::ApiError;
use crate::http::{AppState, access};
use crate::ops::checkpoint::{CheckpointError, CheckpointFile};
use crate::ops::export::{self, ExportError};
use crate::ops::history;

/// A batch's audit history
///
/// Every event of the batch in order, with who caused it; with `asOf`, only the events up to
/// then and the batch state as it stood then. Deleted batches keep their history.
#[utoipa::path(
    get,
    path = "/api/v2/listings/media/batches/{batch_id}/events",
    operation_id = "getBatchEvents",
    tag = "audit",
    params(
        ("batch_id" = uuid::Uuid, Path, description = "The batch id (UUIDv7)"),
        EventsQuery,
    ),
    responses(
        (status = 200, description = "The events and the resulting state; with `proof=true` the export", body = BatchHistory),
        (status = 400, description = "`INVALID_JSON`: a malformed query string", body = ErrorBody),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorBody),
        (status = 403, description = "`FORBIDDEN`: only auditors and admins", body = ErrorBody),
        (status = 404, description = "`BATCH_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`NOT_CHECKPOINTED`: `proof=true` before a checkpoint covers the batch", body = ErrorBody),
        (status = 422, description = "`VALIDATION_FAILED`: `batchId` or `asOf`", body = ErrorBody),
        (status = 500, description = "`INTERNAL`", body = ErrorBody),
    ),
    security(("jwt" = [])),
)]
pub async fn events(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    access::history(caller)?;
    let mut errors = Vec::new();
    let batch_id =
        BatchId::parse(&path).map_err(|e| errors.push(FieldError::new("batchId", e.to_string())));
    let as_of = query
        .as_of
        .as_deref()
        .map(DateTime::parse_from_rfc3339)
        .transpose()
        .map_err(|e| {
            errors.push(FieldError::new(
                "asOf",
                format!("must be an RFC 3339 time: {e}"),
            ))
        });
    let (Ok(batch_id), Ok(as_of)) = (batch_id, as_of) else {
        return Err(ApiError::Validation(errors));
    };
    if query.proof == Some(true) {
        return verifiable_export(&state, batch_id).await;
    }
    let as_of = as_of.map(|t| t.with_timezone(&Utc));
    let history = history::load(state.engine.store(), batch_id, as_of)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::BatchNotFound)?;
    let status = history.state.batch.as_ref().map(|b| b.status.as_str());
    Ok(HttpResponse::Ok().json(BatchHistory::Events(BatchEvents {
        as_of,
        batch_id: batch_id.to_string(),
        deleted: history.state.batch.as_ref().is_some_and(|b| b.deleted),
        events: history.events,
        status,
    })))
}

async fn verifiable_export(state: &AppState, batch_id: BatchId) -> Result<HttpResponse, ApiError> {
    let objects = &state.backends.objects;
    let file = match CheckpointFile::open("latest", objects, state.audit_key).await {
        Ok(file) => file,
        Err(CheckpointError::NoneYet) => return Err(ApiError::NotCheckpointed),
        Err(e) => return Err(ApiError::internal(e)),
    };
    match export::export(state.engine.store(), &file, batch_id).await {
        // Serialized exactly as `Export::to_bytes`: the canonical form `audit check` holds to.
        Ok(e) => Ok(HttpResponse::Ok().json(BatchHistory::Export(Box::new(e)))),
        Err(ExportError::UnknownBatch(_)) => Err(ApiError::BatchNotFound),
        Err(ExportError::NotCovered(_)) => Err(ApiError::NotCheckpointed),
        Err(e) => Err(ApiError::internal(e)),
    }
}
