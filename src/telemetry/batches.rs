//! Batch counters from committed events.

use aggregates::{JobId, MediaBatch, MediaBatchEvent};
use cqrs_es::{EventEnvelope, Query};

use crate::store::Store;

/// The batch metrics of DESIGN.md, counted from committed events (a cqrs-es query, so a
/// refused or rolled-back command counts nothing): `media_batches_created_total`,
/// `media_batches_failed_total{error_code}`, `media_reprocess_requests_total`,
/// `media_files_replaced_total` (files re-uploaded into FAILED batches) and
/// `media_processing_duration_seconds` (the job's creation, at RECEIVED or a retry, to READY).
pub struct BatchMetrics {
    store: Store,
}

impl BatchMetrics {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    async fn job_created_at(&self, job_id: JobId) -> Option<chrono::DateTime<chrono::Utc>> {
        let job = self.store.job_view(job_id).await.ok()??;
        chrono::DateTime::parse_from_rfc3339(&job.created_at)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    }
}

#[async_trait::async_trait]
impl Query<MediaBatch> for BatchMetrics {
    async fn dispatch(&self, _batch_id: &str, events: &[EventEnvelope<MediaBatch>]) {
        for envelope in events {
            match &envelope.payload {
                MediaBatchEvent::Requested(_) => {
                    metrics::counter!("media_batches_created_total").increment(1);
                }
                MediaBatchEvent::RetryRequested(_) => {
                    metrics::counter!("media_reprocess_requests_total").increment(1);
                }
                MediaBatchEvent::FilesReplaced(e) => {
                    metrics::counter!("media_files_replaced_total").increment(e.files.len() as u64);
                }
                MediaBatchEvent::Failed(e) => {
                    metrics::counter!("media_batches_failed_total", "error_code" => e.code.clone())
                        .increment(1);
                }
                MediaBatchEvent::Ready(e) => {
                    if let Some(created) = self.job_created_at(e.job_id).await {
                        let seconds = (e.at - created).as_seconds_f64().max(0.0);
                        metrics::histogram!("media_processing_duration_seconds").record(seconds);
                    }
                }
                _ => {}
            }
        }
    }
}
