//! `GET /audit/key`: the public key that audit checkpoints are signed with, for auditors who
//! check exports offline. Public: it proves nothing by itself, and hides nothing.

use actix_web::{HttpResponse, web};

use crate::http::AppState;
use crate::http::dto::AuditKey;

/// The audit checkpoints' public key
///
/// Keep a copy of it apart from this service: a check against a key fetched from the service
/// it audits proves less than one against a key held since before.
#[utoipa::path(
    get,
    path = "/api/v2/listings/media/audit/key",
    operation_id = "getAuditKey",
    tag = "audit",
    responses((status = 200, description = "The Ed25519 public key", body = AuditKey)),
)]
pub async fn key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(AuditKey {
        algorithm: "Ed25519",
        public_key: hex::encode(state.audit_key.as_bytes()),
    })
}
