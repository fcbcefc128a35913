//! Under `serve`: an audit checkpoint every interval, one process at a time (a lease), written
//! to the object store. `media_audit_checkpoint_timestamp_seconds` tells when the last one
//! landed (its age: `time() - ...`), `media_audit_checkpoints_total{outcome}` how they went.

use std::sync::Arc;
use std::time::{Duration, Instant};

use toq_evidence::SigningKey;

use crate::lease::Lease;
use crate::ops::checkpoint::{self, CheckpointError};
use crate::storage::ObjectStore;
use crate::store::Store;

pub async fn run(
    store: Store,
    objects: Arc<ObjectStore>,
    key: SigningKey,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let lease = Lease::new(store.clone(), "audit-checkpoint", every * 3);
    loop {
        // The first one an interval after start: restarts add no load.
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => break,
        }
        match lease.acquire().await {
            Ok(true) => {
                let started = Instant::now();
                let outcome = match once(&store, &objects, &key).await {
                    Ok(()) => "ok",
                    Err(e) => {
                        tracing::warn!(error = %e, "audit checkpoint failed");
                        "failed"
                    }
                };
                metrics::counter!("media_audit_checkpoints_total", "outcome" => outcome)
                    .increment(1);
                metrics::histogram!("media_audit_checkpoint_seconds")
                    .record(started.elapsed().as_secs_f64());
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "taking the audit checkpoint lease failed"),
        }
    }
    lease.release().await;
}

async fn once(
    store: &Store,
    objects: &ObjectStore,
    key: &SigningKey,
) -> Result<(), CheckpointError> {
    let taken = checkpoint::take(store, key, &indicatif::ProgressBar::hidden()).await?;
    let at = checkpoint::publish(objects, &taken).await?;
    tracing::info!(
        key = at.as_str(),
        streams = taken.checkpoint.streams,
        events = taken.checkpoint.events,
        "audit checkpoint written"
    );
    Ok(())
}
