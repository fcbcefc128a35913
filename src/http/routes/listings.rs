//! `PUT|GET /internal/listings/{id}`: the platform keeps this service's view of its listings.

use actix_web::{HttpRequest, HttpResponse, web};
use aggregates::{FieldError, ListingCommand, ListingFacts, ListingId, ListingStatus};
use chrono::Utc;

use crate::http::dto::{ErrorBody, ListingRequest};
use crate::http::error::ApiError;
use crate::http::request::{self, Json, Platform};
use crate::http::{AppState, access};
use crate::store::ListingView;

fn listing_id(raw: &str) -> Result<ListingId, ApiError> {
    raw.parse::<u64>()
        .ok()
        .and_then(|n| ListingId::parse(n).ok())
        .ok_or_else(|| {
            ApiError::Validation(vec![FieldError::new(
                "listingIdentityId",
                "must be a positive integer",
            )])
        })
}

/// Record the platform's facts about a listing
///
/// Recorded as an event, so listing history is auditable and the read tables rebuild from events.
#[utoipa::path(
    put,
    path = "/api/v2/internal/listings/{listing_id}",
    operation_id = "putListing",
    tag = "internal",
    params(("listing_id" = u64, Path, description = "The platform's listing id", minimum = 1)),
    request_body = ListingRequest,
    responses(
        (status = 200, description = "The listing as this service now sees it", body = ListingView),
        (status = 400, description = "`INVALID_JSON`", body = ErrorBody),
        (status = 401, description = "`UNAUTHORIZED`: the internal service token is required", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`", body = ErrorBody),
        (status = 422, description = "`VALIDATION_FAILED`", body = ErrorBody),
        (status = 500, description = "`INTERNAL`", body = ErrorBody),
        (status = 503, description = "`BUSY`", body = ErrorBody),
    ),
    security(("internal_token" = [])),
)]
pub async fn put(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Platform,
    path: web::Path<String>,
    Json(body): Json<ListingRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = listing_id(&path);
    let mut errors = Vec::new();
    let status = match body.status.as_deref().map(ListingStatus::parse) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            errors.push(FieldError::new("status", e.to_string()));
            None
        }
        None => {
            errors.push(FieldError::new("status", "is required"));
            None
        }
    };
    match body.owner_user_id {
        Some(n) if n >= 1 => {}
        _ => errors.push(FieldError::new(
            "ownerUserId",
            "is required: a positive user id",
        )),
    }
    if body.photographer_user_id == Some(0) {
        errors.push(FieldError::new(
            "photographerUserId",
            "must be a positive user id",
        ));
    }
    if let Err(ApiError::Validation(e)) = &id {
        errors.extend(e.iter().cloned());
    }
    let (Ok(id), Some(status), true) = (id, status, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let facts = ListingFacts {
        status,
        owner_user_id: body.owner_user_id.unwrap_or_default(),
        photographer_user_id: body.photographer_user_id,
        project_media: body.project_media.unwrap_or(false),
    };
    let command = ListingCommand::Sync {
        listing_id: id,
        facts,
        now: Utc::now(),
    };
    state
        .engine
        .listing(id, command, &request::actor(&req, None, "platform"))
        .await?;
    let view = state
        .engine
        .store()
        .listing_view(id)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(view))
}

/// This service's view of a listing
///
/// With the internal service token, or a JWT of an admin or auditor.
#[utoipa::path(
    get,
    path = "/api/v2/internal/listings/{listing_id}",
    operation_id = "getListing",
    tag = "internal",
    params(("listing_id" = u64, Path, description = "The platform's listing id", minimum = 1)),
    responses(
        (status = 200, description = "The listing", body = ListingView),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorBody),
        (status = 403, description = "`FORBIDDEN`: a JWT of neither admin nor auditor", body = ErrorBody),
        (status = 404, description = "`LISTING_NOT_FOUND`", body = ErrorBody),
        (status = 422, description = "`VALIDATION_FAILED`: not a positive listing id", body = ErrorBody),
        (status = 500, description = "`INTERNAL`", body = ErrorBody),
    ),
    security(("internal_token" = []), ("jwt" = [])),
)]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    access::registry_reader(&req, &state)?;
    let id = listing_id(&path)?;
    let view = state
        .engine
        .store()
        .listing_view(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::ListingNotFound)?;
    Ok(HttpResponse::Ok().json(view))
}
