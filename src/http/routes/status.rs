//! `POST /status`: a batch's progress, job and assets.

use actix_web::{HttpResponse, web};

use crate::auth::Caller;
use crate::http::AppState;
use crate::http::access::{self, Action};
use crate::http::dto::{AssetStatus, BatchStatus, ErrorBody, JobStatus, Progress, StatusRequest};
use crate::http::error::ApiError;
use crate::http::input::Target;
use crate::http::request::Json;

/// Poll a batch
#[utoipa::path(
    post,
    path = "/api/v2/listings/media/status",
    operation_id = "getBatchStatus",
    tag = "batches",
    request_body = StatusRequest,
    responses(
        (status = 200, description = "The batch, its current job and its assets by `sequence`", body = BatchStatus),
        (status = 400, description = "`INVALID_JSON`", body = ErrorBody),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorBody),
        (status = 404, description = "`LISTING_NOT_FOUND`, `BATCH_NOT_FOUND` (also for batches the caller may not see, and deleted ones)", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`", body = ErrorBody),
        (status = 422, description = "`VALIDATION_FAILED`", body = ErrorBody),
        (status = 500, description = "`INTERNAL`", body = ErrorBody),
    ),
    security(("jwt" = [])),
)]
pub async fn status(
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<StatusRequest>,
) -> Result<HttpResponse, ApiError> {
    let Target {
        listing_id,
        batch_id,
    } = Target::try_from(body)?;

    let store = state.engine.store();
    let listing = access::listing(
        store,
        caller,
        listing_id,
        Action::Read,
        state.config.owner_project_media,
    )
    .await?;
    let batch = access::batch(store, &listing, &batch_id.to_string()).await?;
    let assets = store
        .asset_views(&batch.batch_id)
        .await
        .map_err(ApiError::internal)?;
    let job = match &batch.current_job_id {
        Some(id) => store.job_view(id).await.map_err(ApiError::internal)?,
        None => None,
    };
    let progress = Progress {
        total: assets.len(),
        processed: assets.iter().filter(|a| a.status == "PROCESSED").count(),
        failed: assets.iter().filter(|a| a.status == "FAILED").count(),
    };
    let assets = assets
        .into_iter()
        .map(|a| AssetStatus {
            asset_type: a.asset_type,
            client_id: a.client_id,
            error_code: a.error_code,
            error_message: a.error_message,
            height: a.height,
            metadata: a.metadata,
            raw_object_key: a.raw_key,
            renditions: a.renditions,
            sequence: a.sequence,
            status: a.status,
            title: a.title,
            width: a.width,
        })
        .collect();
    Ok(HttpResponse::Ok().json(BatchStatus {
        assets,
        attempt: batch.attempt,
        batch_id: batch.batch_id,
        batch_reference: batch.batch_reference,
        created_at: batch.created_at,
        failure_code: batch.failure_code,
        job: job.map(|j| JobStatus {
            completed_at: j.completed_at,
            created_at: j.created_at,
            job_id: j.job_id,
            started_at: j.started_at,
            status: j.status,
        }),
        listing_identity_id: listing_id,
        progress,
        status: batch.status,
        status_message: batch.status_message,
        updated_at: batch.updated_at,
        upload_expires_at: batch.upload_expires_at,
    }))
}
