//! A loop sampling what piles up: the outbox (`media_outbox_depth`, and
//! `media_outbox_oldest_seconds`, how long its oldest message has waited: a relay that cannot
//! deliver shows here first) and the queues (`media_queue_depth{queue,state}`). Every process
//! samples for itself, so each scrape target answers alone.

use std::time::Duration;

use tokio::sync::watch;

use crate::queue::{JOBS, JobQueue, LISTING_EVENTS, SqsQueue, TableQueue};
use crate::store::{Store, StoreError};

/// The queues to sample: the table queues always (listing events may stay there), the SQS ones
/// in use.
pub fn queues(store: &Store, sqs: &[SqsQueue]) -> Vec<(String, JobQueue)> {
    let table = |name: &str| {
        let queue = TableQueue::new(store.clone(), name, Duration::ZERO, i64::MAX);
        (name.to_owned(), JobQueue::Table(queue))
    };
    let mut all = vec![table(JOBS), table(LISTING_EVENTS)];
    for queue in sqs {
        let name = queue
            .url()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        all.push((name, JobQueue::Sqs(queue.clone())));
    }
    all
}

pub async fn run(
    store: Store,
    queues: Vec<(String, JobQueue)>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        if let Err(e) = outbox(&store).await {
            tracing::debug!(error = %e, "sampling the outbox failed");
        }
        for (name, queue) in &queues {
            match queue.depth().await {
                Ok(depth) => {
                    for (state, n) in [
                        ("visible", depth.visible),
                        ("in_flight", depth.in_flight),
                        ("dead", depth.dead),
                    ] {
                        metrics::gauge!("media_queue_depth", "queue" => name.clone(), "state" => state)
                            .set(n as f64);
                    }
                }
                Err(e) => tracing::debug!(queue = %name, error = %e, "sampling a queue failed"),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            changed = shutdown.changed() => if changed.is_err() { break },
        }
    }
}

async fn outbox(store: &Store) -> Result<(), StoreError> {
    let (depth, oldest) = store.outbox_depth().await?;
    let age = oldest
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map_or(0.0, |t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .as_seconds_f64()
                .max(0.0)
        });
    metrics::gauge!("media_outbox_depth").set(depth as f64);
    metrics::gauge!("media_outbox_oldest_seconds").set(age);
    Ok(())
}
