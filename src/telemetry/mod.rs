//! Logs and metrics. Logs: `tracing` to stderr, JSON lines when stderr is not a terminal (for a
//! log pipeline), with the request's `request_id` and `traceparent` and the `job_id`,
//! `batch_id` of the work at hand. Metrics: one Prometheus recorder per process, rendered at
//! `/metrics`. Labels stay bounded (status, asset_type, error_code, backend): never ids.
//!
//! - `http`: request duration by route pattern, and a log line per request.
//! - `batches`: the batch counters of DESIGN.md, from committed events.
//! - `counters`: every counter registered at 0 from start-up.
//! - `gauges`: a loop sampling outbox and queue depths.

pub mod batches;
pub mod counters;
pub mod gauges;
pub mod http;

pub use batches::BatchMetrics;
pub use counters::ResultRefusal;
pub use http::observe_http;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

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
            let handle = PrometheusBuilder::new()
                .install_recorder()
                .expect("no other metrics recorder is installed");
            // Histograms buffer their samples until upkeep folds them in; without a scrape
            // they would grow without bound (about 20 bytes a request).
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                })
                .expect("a thread starts");
            counters::register();
            handle
        })
        .clone()
}
