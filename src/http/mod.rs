//! The HTTP API of API.md: one file per route under `routes/`, shared plumbing here.

pub mod access;
pub mod dto;
pub mod error;
pub mod input;
pub mod openapi;
pub mod request;
pub mod routes;

use std::sync::Arc;

use actix_web::{HttpRequest, web};
use aggregates::{BatchId, MediaBatchCommand, MediaBatchEvent};

use crate::auth::Caller;
use crate::backends::Backends;
use crate::config::{Config, Secrets};
use crate::engine::Engine;

/// What every handler may use.
pub struct AppState {
    pub engine: Arc<Engine>,
    pub backends: Arc<Backends>,
    pub config: Config,
    pub secrets: Secrets,
    /// Whose signature makes a checkpoint trusted (the public half of the audit key).
    pub audit_key: toq_evidence::VerifyingKey,
}

impl AppState {
    /// Runs a batch command on behalf of this request's caller; returns what it committed.
    pub async fn command(
        &self,
        req: &HttpRequest,
        caller: Caller,
        batch_id: BatchId,
        command: MediaBatchCommand,
    ) -> Result<Vec<MediaBatchEvent>, error::ApiError> {
        let actor = request::actor(req, Some(caller), "");
        Ok(self.engine.batch(batch_id, command, &actor).await?)
    }
}

/// The event of a command's decision, picked from what it committed: handlers answer with what
/// the aggregate decided instead of reading it back.
pub fn decision<T>(
    committed: Vec<MediaBatchEvent>,
    pick: impl FnMut(MediaBatchEvent) -> Option<T>,
) -> Result<T, error::ApiError> {
    committed.into_iter().find_map(pick).ok_or_else(|| {
        error::ApiError::internal(format!(
            "the command committed no {}",
            std::any::type_name::<T>()
        ))
    })
}

/// Registers every route of the API and its document (without the storage routes, mounted
/// beside it).
pub fn configure(cfg: &mut web::ServiceConfig) {
    routes::configure(cfg);
    openapi::configure(cfg);
}
