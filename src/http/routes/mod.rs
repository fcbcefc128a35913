//! One file per route of API.md.

pub(crate) mod callback;
pub(crate) mod cleanup;
pub(crate) mod complete;
pub(crate) mod delete;
pub(crate) mod downloads;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod listings;
pub(crate) mod retry;
pub(crate) mod status;
pub(crate) mod uploads;

use actix_web::web;
use aggregates::{BatchId, FieldError};

pub use crate::http::dto::CallbackBody;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v2/listings/media")
            .route("/uploads", web::post().to(uploads::create))
            .route("/uploads/complete", web::post().to(complete::complete))
            .route("/uploads/retry", web::post().to(retry::retry))
            .route("/status", web::post().to(status::status))
            .route("/downloads", web::post().to(downloads::downloads))
            .route("/callback", web::post().to(callback::callback))
            .route("/batches/delete", web::post().to(delete::delete))
            .route("/batches/{batch_id}/events", web::get().to(events::events)),
    )
    .service(
        web::scope("/api/v2/internal")
            .route("/listings/{listing_id}", web::put().to(listings::put))
            .route("/listings/{listing_id}", web::get().to(listings::get))
            .route("/cleanup/candidates", web::get().to(cleanup::candidates)),
    )
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz));
}

/// Collects broken fields of a request before anything else is looked at.
#[derive(Default)]
struct Fields(Vec<FieldError>);

impl Fields {
    fn listing_id(&mut self, raw: Option<u64>) -> u64 {
        match raw {
            Some(id) if id >= 1 => id,
            Some(_) => {
                self.0.push(FieldError::new(
                    "listingIdentityId",
                    "must be a positive integer",
                ));
                0
            }
            None => {
                self.0
                    .push(FieldError::new("listingIdentityId", "is required"));
                0
            }
        }
    }

    fn batch_id(&mut self, raw: Option<&str>) -> Option<BatchId> {
        match raw.map(BatchId::parse) {
            Some(Ok(id)) => Some(id),
            Some(Err(e)) => {
                self.0.push(FieldError::new("batchId", e.to_string()));
                None
            }
            None => {
                self.0.push(FieldError::new("batchId", "is required"));
                None
            }
        }
    }

    /// A free-text reason: 1–500 characters after trimming.
    fn reason(&mut self, raw: Option<String>) -> String {
        let reason = raw.unwrap_or_default();
        let n = reason.trim().chars().count();
        if n == 0 || n > 500 {
            self.push("reason", "must be 1 to 500 characters");
        }
        reason
    }

    fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    fn extend(&mut self, errors: Vec<FieldError>) {
        self.0.extend(errors);
    }

    fn check(self) -> Result<(), crate::http::error::ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(crate::http::error::ApiError::Validation(self.0))
        }
    }
}
