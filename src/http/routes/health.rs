use actix_web::{HttpResponse, web};

use crate::http::AppState;
use crate::http::dto::{Health, Readiness};

/// Alive: the process answers
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "health",
    responses((status = 200, description = "The process answers", body = Health)),
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Ready: the database answers, its migrations are applied, and the object store and queues
/// answer
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "health",
    responses(
        (status = 200, description = "`ready`, with the database kind and migration count", body = Readiness),
        (status = 503, description = "`not ready`, with the reason", body = Readiness,
            example = json!({"status": "not ready", "reason": "migrations not applied"})),
    ),
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.engine.store();
    let applied = store.applied_migrations().await;
    let not_ready = |reason: String| Readiness {
        database: None,
        migrations: None,
        reason: Some(reason),
        status: "not ready",
    };
    match applied {
        Ok(n) if n > 0 => match state.backends.unready().await {
            Some(reason) => HttpResponse::ServiceUnavailable().json(not_ready(reason)),
            None => HttpResponse::Ok().json(Readiness {
                database: Some(store.dialect().name()),
                migrations: Some(n),
                reason: None,
                status: "ready",
            }),
        },
        Ok(_) => {
            HttpResponse::ServiceUnavailable().json(not_ready("migrations not applied".into()))
        }
        Err(e) => HttpResponse::ServiceUnavailable().json(not_ready(e.to_string())),
    }
}
