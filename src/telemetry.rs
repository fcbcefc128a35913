//! Logs and metrics. Logs: `tracing` to stderr, JSON lines when stderr is not a terminal (for a
//! log pipeline), with the request's `request_id` and `traceparent` and the `job_id`,
//! `batch_id` of the work at hand. Metrics: one Prometheus recorder per process, rendered at
//! `/metrics`. Labels stay bounded (status, asset_type, error_code, backend): never ids.

use std::sync::OnceLock;

use aggregates::{MediaBatch, MediaBatchEvent};
use cqrs_es::{EventEnvelope, Query};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::store::Store;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The log subscriber; filter from `TOQ_MEDIA_LOG` (`warn` when unset).
pub fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOQ_MEDIA_LOG")
        .unwrap_or_else(|_| "warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        logs.init();
    } else {
        logs.json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    }
}

/// Installs the recorder on first use (tests start several servers in one process).
pub fn init_metrics() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

/// Middleware: request duration by route pattern (never the raw path, which holds ids), method
/// and status.
pub async fn observe_http(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let method = req.method().as_str().to_owned();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    tracing::debug!(%route, %method, status, ms = elapsed.as_millis() as u64, "request");
    metrics::histogram!("http_request_duration_seconds", "route" => route, "method" => method, "status" => status.to_string())
        .record(elapsed.as_secs_f64());
    Ok(res)
}

/// The batch metrics of DESIGN.md, counted from committed events (a cqrs-es query, so a
/// refused or rolled-back command counts nothing): `media_batches_created_total`,
/// `media_batches_failed_total{error_code}`, `media_reprocess_requests_total` and
/// `media_processing_duration_seconds` (the job's creation, at RECEIVED or a retry, to READY).
pub struct BatchMetrics {
    store: Store,
}

impl BatchMetrics {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    async fn job_created_at(&self, job_id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        let sql = "SELECT created_at FROM media_jobs WHERE job_id = ?";
        let created: String = sqlx::query_scalar(self.store.dialect().sql(sql))
            .bind(job_id)
            .fetch_optional(self.store.pool())
            .await
            .ok()??;
        chrono::DateTime::parse_from_rfc3339(&created)
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
                MediaBatchEvent::Failed(e) => {
                    metrics::counter!("media_batches_failed_total", "error_code" => e.code.clone())
                        .increment(1);
                }
                MediaBatchEvent::Ready(e) => {
                    if let Some(created) = self.job_created_at(&e.job_id.to_string()).await {
                        let seconds = (e.at - created).as_seconds_f64().max(0.0);
                        metrics::histogram!("media_processing_duration_seconds").record(seconds);
                    }
                }
                _ => {}
            }
        }
    }
}
