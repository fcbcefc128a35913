//! Closes what nobody else will: uploads never completed within their window plus grace fail
//! with UPLOAD_EXPIRED (releasing the listing), jobs with no progress within their deadline are
//! retried or fail with JOB_TIMEOUT. One process at a time runs it (a lease); the commands are
//! idempotent besides, so an overlap at a lease hand-over is harmless.

use std::sync::Arc;
use std::time::Duration;

use aggregates::{BatchStatus, ExpireUpload, JobId, MediaBatchCommand, TimeOutJob};
use chrono::Utc;

use crate::config::Config;
use crate::engine::{Actor, CommandError, Engine};
use crate::lease::Lease;

/// One pass; returns how many batches it sent a command to.
pub async fn reconcile_once(engine: &Engine, config: &Config) -> Result<usize, CommandError> {
    let now = Utc::now();
    let expired_before = projections::time::stamp(now - config.upload_grace);
    let stalled_before = projections::time::stamp(now - config.job_timeout);
    let rows = engine
        .store()
        .overdue_batches(&expired_before, &stalled_before, 200)
        .await?;
    let actor = Actor::system("reconciler");
    for batch in &rows {
        let command = if batch.status == BatchStatus::PendingUpload {
            MediaBatchCommand::ExpireUpload(ExpireUpload {
                grace: config.upload_grace,
                now,
            })
        } else {
            MediaBatchCommand::TimeOutJob(TimeOutJob {
                timeout: config.job_timeout,
                max_attempts: config.max_attempts,
                next_job_id: JobId::generate(),
                now,
            })
        };
        engine.batch(batch.batch_id, command, &actor).await?;
    }
    Ok(rows.len())
}

/// Every `every`, under the reconciler lease (one process at a time), one pass; gives the lease
/// back when `shutdown` turns true or its sender is dropped.
pub async fn run(
    engine: Arc<Engine>,
    config: Config,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    // Renewed once per pass: it must outlast the pause between two.
    let lease = Lease::new(engine.store().clone(), "reconciler", every * 3);
    loop {
        match lease.acquire().await {
            Ok(true) => match reconcile_once(&engine, &config).await {
                Ok(n) => metrics::counter!("media_reconciler_commands_total").increment(n as u64),
                Err(e) => tracing::warn!(error = %e, "reconciler pass failed"),
            },
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "taking the reconciler lease failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => break,
        }
    }
    lease.release().await;
}
