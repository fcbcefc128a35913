//! Every failure a client can see, with its stable code and status (API.md), in one enum.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use aggregates::{FieldError, ListingError, MediaBatchError};
use serde_json::{Value, json};

use crate::engine::CommandError;
use crate::http::dto::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the body is not valid JSON for this request: {0}")]
    InvalidJson(String),
    #[error("{} field(s) are invalid", .0.len())]
    Validation(Vec<FieldError>),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("the listing does not exist or is not visible to you")]
    ListingNotFound,
    #[error("the batch does not exist or is not visible to you")]
    BatchNotFound,
    #[error("the job is not one of this batch's jobs")]
    JobNotFound,
    #[error("the listing already has an open batch")]
    OpenBatchExists { batch_id: Option<String> },
    #[error("the batch is {status}, not READY")]
    BatchNotReady { status: aggregates::BatchStatus },
    #[error(transparent)]
    Batch(MediaBatchError),
    #[error("no signed checkpoint covers this batch yet; ask again after the next one")]
    NotCheckpointed,
    #[error("too many concurrent changes; try again")]
    Busy,
    #[error("no such route")]
    RouteNotFound,
    /// A known path with a method it does not take; the methods it takes.
    #[error("this route takes {0}")]
    MethodNotAllowed(&'static str),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "INVALID_JSON",
            Self::Validation(_) => "VALIDATION_FAILED",
            Self::TooLarge(_) => "PAYLOAD_TOO_LARGE",
            Self::Unauthorized(_) => "UNAUTHORIZED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::ListingNotFound => "LISTING_NOT_FOUND",
            Self::BatchNotFound => "BATCH_NOT_FOUND",
            Self::JobNotFound => "JOB_NOT_FOUND",
            Self::OpenBatchExists { .. } => "OPEN_BATCH_EXISTS",
            Self::BatchNotReady { .. } => "BATCH_NOT_READY",
            Self::Batch(e) => e.code(),
            Self::NotCheckpointed => "NOT_CHECKPOINTED",
            Self::Busy => "BUSY",
            Self::RouteNotFound => "NOT_FOUND",
            Self::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            Self::Internal(_) => "INTERNAL",
        }
    }

    fn details(&self) -> Value {
        match self {
            Self::Validation(errors) => json!({ "errors": errors }),
            Self::Batch(
                MediaBatchError::Invalid(errors) | MediaBatchError::ForeignRendition(errors),
            ) => json!({ "errors": errors }),
            Self::Batch(MediaBatchError::UploadMismatch(files)) => json!({ "files": files }),
            Self::Batch(MediaBatchError::NotReplaceable { client_ids, .. }) => {
                json!({ "clientIds": client_ids })
            }
            Self::OpenBatchExists { batch_id } => json!({ "batchId": batch_id }),
            _ => json!({}),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_)
            | Self::Batch(MediaBatchError::Invalid(_) | MediaBatchError::ForeignRendition(_)) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::ListingNotFound
            | Self::BatchNotFound
            | Self::JobNotFound
            | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::Batch(MediaBatchError::NotFound) => StatusCode::NOT_FOUND,
            Self::Batch(MediaBatchError::UnknownJob) => StatusCode::NOT_FOUND,
            Self::Batch(_)
            | Self::OpenBatchExists { .. }
            | Self::BatchNotReady { .. }
            | Self::NotCheckpointed => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = match self {
            // Causes of internal errors go to the log, not to clients.
            Self::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = HttpResponse::build(status);
        if let Self::MethodNotAllowed(allow) = self {
            response.insert_header((header::ALLOW, *allow));
        }
        response.json(ErrorBody {
            code: status.as_u16(),
            details: self.details(),
            error: self.code(),
            message,
        })
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Batch(MediaBatchError::NotFound) => Self::BatchNotFound,
            CommandError::Batch(MediaBatchError::UnknownJob) => Self::JobNotFound,
            CommandError::Batch(e) => Self::Batch(e),
            CommandError::Listing(ListingError::NotFound) => Self::ListingNotFound,
            CommandError::Listing(ListingError::WrongListing) => {
                Self::Validation(vec![FieldError::new(
                    "listingIdentityId",
                    "does not match the listing",
                )])
            }
            CommandError::OpenBatchExists { batch_id, .. } => Self::OpenBatchExists {
                batch_id: batch_id.map(|b| b.to_string()),
            },
            CommandError::Contended(_) => Self::Busy,
            CommandError::Store(e) => Self::internal(e),
        }
    }
}
