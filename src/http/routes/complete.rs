//! `POST /uploads/complete`: verify every stored upload against the manifest, start processing.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use aggregates::{AssetStatus, BatchStatus, ConfirmUploads, JobId, MediaBatchCommand};
use chrono::Utc;

use crate::auth::Caller;
use crate::http::AppState;
use crate::http::access::{self, CommandTarget};
use crate::http::dto::{CompleteRequest, ErrorBody, JsonRefusals, UploadsReceived};
use crate::http::error::ApiError;
use crate::http::input::Complete;
use crate::http::request::Json;

/// A rough processing estimate: a fixed start-up, per-file work, and throughput on bytes.
fn estimate(files: u32, bytes: u64) -> u64 {
    10 + u64::from(files) * 2 + bytes / (20 * 1024 * 1024)
}

/// Confirm the uploads and start processing
///
/// The confirmed set must equal the manifest. Each stored object must exist with the manifest's
/// size and SHA-256; on any mismatch the batch stays `PENDING_UPLOAD` so the client can re-upload
/// and confirm again. The processing job is published through the outbox.
#[utoipa::path(
    post,
    path = "/api/v2/listings/media/uploads/complete",
    operation_id = "completeUploads",
    tag = "batches",
    request_body = CompleteRequest,
    responses(
        (status = 202, description = "Processing is queued", body = UploadsReceived),
        (status = 403, description = "`FORBIDDEN`: auditors; owners outside project media", body = ErrorBody),
        (status = 404, description = "`LISTING_NOT_FOUND`, `BATCH_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`BATCH_NOT_PENDING_UPLOAD`; `UPLOAD_EXPIRED`; `UPLOAD_MISMATCH` (every bad file in details.files: `MISSING`, `SIZE_MISMATCH`, `CHECKSUM_MISMATCH`)", body = ErrorBody,
            example = json!({"code": 409, "error": "UPLOAD_MISMATCH", "message": "1 upload(s) do not match the manifest",
                "details": {"files": [{"clientId": "photo-1", "problem": "SIZE_MISMATCH", "expectedBytes": 5242880, "actualBytes": 5100000}]}})),
        (status = 422, description = "`VALIDATION_FAILED`: broken fields, unknown, duplicate or unconfirmed `clientId`s", body = ErrorBody),
        JsonRefusals,
        (status = 503, description = "`BUSY`", body = ErrorBody),
    ),
    security(("jwt" = [])),
)]
pub async fn complete(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    Json(body): Json<CompleteRequest>,
) -> Result<HttpResponse, ApiError> {
    let Complete { target, files } = Complete::try_from(body)?;
    let CommandTarget { batch, assets } = access::command_target(&state, caller, target).await?;

    // What the store holds under each file's key; the aggregate compares it with the manifest.
    let mut stored = BTreeMap::new();
    if batch.status == BatchStatus::PendingUpload {
        // after a replacement, the processed files are not confirmed again
        for asset in assets
            .into_iter()
            .filter(|a| a.status != AssetStatus::Processed)
        {
            let object = state
                .backends
                .objects
                .head(&asset.raw_key)
                .await
                .map_err(ApiError::internal)?;
            stored.insert(asset.client_id, object);
        }
    }
    let job_id = JobId::generate();
    let command = MediaBatchCommand::ConfirmUploads(ConfirmUploads {
        files,
        stored,
        job_id,
        grace: state.config.upload_grace,
        now: Utc::now(),
    });
    state
        .command(&req, caller, target.batch_id, command)
        .await?;
    Ok(HttpResponse::Accepted().json(UploadsReceived {
        listing_identity_id: target.listing_id.get(),
        batch_id: target.batch_id.to_string(),
        job_id: job_id.to_string(),
        status: BatchStatus::Received.as_str(),
        estimated_duration_seconds: estimate(batch.asset_count, batch.total_bytes),
    }))
}
