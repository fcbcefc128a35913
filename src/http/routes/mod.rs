//! One file per route of API.md.

pub(crate) mod audit_key;
pub(crate) mod callback;
pub(crate) mod cleanup;
pub(crate) mod complete;
pub(crate) mod delete;
pub(crate) mod downloads;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod listings;
pub(crate) mod replace;
pub(crate) mod retry;
pub(crate) mod status;
pub(crate) mod uploads;

use crate::http::error::ApiError;
use actix_web::{HttpResponse, Resource, web};

pub use crate::http::dto::CallbackBody;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v2/listings/media")
            .service(post("/uploads").route(web::post().to(uploads::create)))
            .service(post("/uploads/complete").route(web::post().to(complete::complete)))
            .service(post("/uploads/retry").route(web::post().to(retry::retry)))
            .service(post("/uploads/replace").route(web::post().to(replace::replace)))
            .service(post("/status").route(web::post().to(status::status)))
            .service(post("/downloads").route(web::post().to(downloads::downloads)))
            .service(post("/callback").route(web::post().to(callback::callback)))
            .service(post("/batches/delete").route(web::post().to(delete::delete)))
            .service(get("/batches/{batch_id}/events").route(web::get().to(events::events)))
            .service(get("/audit/key").route(web::get().to(audit_key::key))),
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
