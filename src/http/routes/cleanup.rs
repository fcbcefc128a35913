//! `GET /internal/cleanup/candidates`: soft-deleted or expired batches and their object keys,
//! for a future physical-cleanup job.

use actix_web::{HttpResponse, web};
use aggregates::{FailureCode, FieldError};
use chrono::{DateTime, Utc};

use crate::http::AppState;
use crate::http::dto::{CleanupCandidate, CleanupCandidates, CleanupQuery, ErrorBody};
use crate::http::error::ApiError;
use crate::http::request::Platform;

/// Batches to clean up physically
///
/// Soft-deleted batches and batches whose uploads expired, last changed before `before`, with
/// every object key they hold, for a future physical-cleanup job.
#[utoipa::path(
    get,
    path = "/api/v2/internal/cleanup/candidates",
    operation_id = "getCleanupCandidates",
    tag = "internal",
    params(CleanupQuery),
    responses(
        (status = 200, description = "The candidates, oldest change first", body = CleanupCandidates),
        (status = 400, description = "`INVALID_JSON`: a malformed query string", body = ErrorBody),
        (status = 401, description = "`UNAUTHORIZED`: the internal service token is required", body = ErrorBody),
        (status = 422, description = "`VALIDATION_FAILED`: `before` or `limit`", body = ErrorBody),
        (status = 500, description = "`INTERNAL`", body = ErrorBody),
    ),
    security(("internal_token" = [])),
)]
pub async fn candidates(
    state: web::Data<AppState>,
    query: web::Query<CleanupQuery>,
    _: Platform,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let before = match query.before.as_deref().map(DateTime::parse_from_rfc3339) {
        None => Utc::now(),
        Some(Ok(t)) => t.with_timezone(&Utc),
        Some(Err(e)) => {
            errors.push(FieldError::new(
                "before",
                format!("must be an RFC 3339 time: {e}"),
            ));
            Utc::now()
        }
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        errors.push(FieldError::new("limit", "must be 1 to 1000"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let store = state.engine.store();
    let batches = store
        .cleanup_candidates(&projections::time::stamp(before), limit)
        .await
        .map_err(ApiError::internal)?;
    let mut candidates = Vec::with_capacity(batches.len());
    for b in batches {
        let assets = store
            .asset_views(b.batch_id)
            .await
            .map_err(ApiError::internal)?;
        let keys = assets
            .into_iter()
            .flat_map(|a| std::iter::once(a.raw_key).chain(a.renditions.into_values()))
            .map(|k| k.to_string())
            .collect();
        candidates.push(CleanupCandidate {
            batch_id: b.batch_id.to_string(),
            listing_identity_id: b.listing_id.get(),
            object_keys: keys,
            reason: if b.deleted {
                "DELETED"
            } else {
                FailureCode::UploadExpired.as_str()
            },
            status: b.status.as_str(),
            updated_at: b.updated_at,
        });
    }
    Ok(HttpResponse::Ok().json(CleanupCandidates {
        before: projections::time::stamp(before),
        candidates,
    }))
}
