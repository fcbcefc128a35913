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

use actix_web::{HttpResponse, Resource, web};
use aggregates::{BatchId, FieldError};

use crate::http::error::ApiError;

pub use crate::http::dto::CallbackBody;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v2/listings/media")
            .service(post("/uploads").route(web::post().to(uploads::create)))
            .service(post("/uploads/complete").route(web::post().to(complete::complete)))
            .service(post("/uploads/retry").route(web::post().to(retry::retry)))
            .service(post("/status").route(web::post().to(status::status)))
            .service(post("/downloads").route(web::post().to(downloads::downloads)))
            .service(post("/callback").route(web::post().to(callback::callback)))
            .service(post("/batches/delete").route(web::post().to(delete::delete)))
            .service(get("/batches/{batch_id}/events").route(web::get().to(events::events))),
    )
    .service(
        web::scope("/api/v2/internal")
            .service(
                resource("/listings/{listing_id}", "GET, PUT")
                    .route(web::put().to(listings::put))
                    .route(web::get().to(listings::get)),
            )
            .service(get("/cleanup/candidates").route(web::get().to(cleanup::candidates))),
    )
    .service(get("/healthz").route(web::get().to(health::healthz)))
    .service(get("/readyz").route(web::get().to(health::readyz)));
}

/// A path that answers any method it does not take with 405 and `Allow`, not 404: the path
/// exists, and clients (and generators probing methods) learn which methods it takes.
fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow))
    }))
}

fn post(path: &str) -> Resource {
    resource(path, "POST")
}

fn get(path: &str) -> Resource {
    resource(path, "GET")
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

    fn check(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}
