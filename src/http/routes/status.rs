//! `POST /status`: a batch's progress, job and assets.

use actix_web::{HttpResponse, web};
use aggregates::{AssetStatus, FailureCode};

use crate::auth::Caller;
use crate::http::AppState;
use crate::http::access;
use crate::http::dto::{
    AssetReport, ErrorBody, JobReport, JsonRefusals, Progress, StatusReport, StatusRequest,
    ZipReport,
};
use crate::http::error::ApiError;
use crate::http::input::Target;
use crate::http::request::Json;
use crate::store::BatchReport;

/// Poll a batch
#[utoipa::path(
    post,
    path = "/api/v2/listings/media/status",
    operation_id = "getBatchStatus",
    tag = "batches",
    request_body = StatusRequest,
    responses(
        (status = 200, description = "The batch, its current job and its assets by `sequence`", body = StatusReport),
        (status = 404, description = "`LISTING_NOT_FOUND`, `BATCH_NOT_FOUND` (also for batches the caller may not see, and deleted ones)", body = ErrorBody),
        (status = 422, description = "`VALIDATION_FAILED`", body = ErrorBody),
        JsonRefusals,
    ),
    security(("jwt" = [])),
)]
pub async fn status(
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<StatusRequest>,
) -> Result<HttpResponse, ApiError> {
    let target = Target::try_from(body)?;
    let BatchReport {
        batch, job, assets, ..
    } = access::report(&state, caller, target).await?;
    let count = |status| assets.iter().filter(|a| a.status == status).count();
    let progress = Progress {
        total: assets.len(),
        processed: count(AssetStatus::Processed),
        failed: count(AssetStatus::Failed),
    };
    let assets = assets
        .into_iter()
        .map(|a| AssetReport {
            asset_type: a.asset_type.as_str(),
            client_id: a.client_id.to_string(),
            duration_millis: a.duration_millis,
            error_code: a.error_code,
            error_message: a.error_message,
            height: a.height,
            metadata: a.metadata,
            page_count: a.page_count,
            raw_object_key: a.raw_key.to_string(),
            renditions: a
                .renditions
                .into_iter()
                .map(|(name, key)| (name, key.to_string()))
                .collect(),
            sequence: a.sequence,
            status: a.status.as_str(),
            title: a.title,
            width: a.width,
        })
        .collect();
    Ok(HttpResponse::Ok().json(StatusReport {
        assets,
        attempt: batch.attempt,
        batch_id: batch.batch_id.to_string(),
        batch_reference: batch.batch_reference,
        created_at: batch.created_at,
        failure_code: batch.failure_code.map(FailureCode::as_str),
        job: job.map(|j| JobReport {
            completed_at: j.completed_at,
            created_at: j.created_at,
            job_id: j.job_id.to_string(),
            started_at: j.started_at,
            status: j.status.as_str(),
        }),
        listing_identity_id: target.listing_id.get(),
        progress,
        status: batch.status.as_str(),
        status_message: batch.status_message,
        updated_at: batch.updated_at,
        upload_expires_at: batch.upload_expires_at,
        zip: batch.zip.map(|(key, bytes)| ZipReport {
            bytes,
            object_key: key.to_string(),
        }),
    }))
}
