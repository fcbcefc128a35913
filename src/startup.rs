//! `toq-media serve`: the API, the local object store's routes (when it is the store), the
//! outbox relay, the results consumer (with SQS), the reconciler and (unless
//! `TOQ_MEDIA_WORKER=off`) the built-in worker in one process.

use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;

use crate::backends::Backends;
use crate::config::{Config, WorkerMode};
use crate::engine::Engine;
use crate::http::error::ApiError;
use crate::http::{self, AppState, request};
use crate::store::Store;
use crate::worker;

pub struct Running {
    pub server: actix_web::dev::Server,
    pub port: u16,
    /// The port of `/metrics` when `TOQ_MEDIA_METRICS_BIND` moved it off the API's.
    pub metrics_port: Option<u16>,
    /// Tells the background loops to stop.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// The background loops, to await once told to stop: each finishes its current work (the
    /// worker its images, up to its grace period) and gives its lease back.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Serves until SIGTERM or Ctrl-C (actix stops taking connections and finishes the requests
    /// in flight, up to `SHUTDOWN_TIMEOUT`), then stops the background loops and waits for them.
    pub async fn until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        tracing::info!("stopping: finishing background work");
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a background task failed while stopping");
            }
        }
        served
    }
}

/// How long a stopping server waits for requests in flight.
const SHUTDOWN_TIMEOUT: u64 = 15;

/// How long a `.tmp/*.part` file must have gone unwritten before start-up removes it.
const STALE_PART: Duration = Duration::from_secs(15 * 60);

async fn metrics(handle: web::Data<metrics_exporter_prometheus::PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

/// `/metrics` alone on its own address, stopped with the background loops.
fn serve_metrics(
    bind: &str,
    prometheus: web::Data<metrics_exporter_prometheus::PrometheusHandle>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(u16, tokio::task::JoinHandle<()>)> {
    let listener = std::net::TcpListener::bind(bind)
        .with_context(|| format!("binding TOQ_MEDIA_METRICS_BIND {bind}"))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(prometheus.clone())
            .route("/metrics", web::get().to(metrics))
            .default_service(web::to(not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(async move {
        let stop = async move {
            while !*shutdown.borrow() && shutdown.changed().await.is_ok() {}
            handle.stop(true).await;
        };
        let (served, ()) = tokio::join!(server, stop);
        if let Err(e) = served {
            tracing::error!(error = %e, "the metrics server failed");
        }
    });
    Ok((port, task))
}

async fn not_found(_: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

/// Builds and binds everything; the caller awaits `server`.
pub async fn start(mut config: Config, store: Store) -> anyhow::Result<Running> {
    let listener = std::net::TcpListener::bind(&config.bind)
        .with_context(|| format!("binding {}", config.bind))?;
    let port = listener.local_addr()?.port();
    if let Some(base) = config.public_url.strip_suffix(":0") {
        // Bound to any free port (tests): signed URLs must name the real one.
        config.public_url = format!("{base}:{port}");
    }
    let secrets = config.secrets()?;
    let engine = Arc::new(Engine::new(store.clone()));
    let backends = Arc::new(Backends::new(&config, &secrets).await);
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(crate::queue::relay::run(
        store.clone(),
        engine.clone(),
        backends.sinks.clone(),
        Duration::from_millis(200),
        shutdown_rx.clone(),
    )));
    tasks.push(tokio::spawn(crate::reconciler::run(
        engine.clone(),
        config.clone(),
        Duration::from_secs(30),
        shutdown_rx.clone(),
    )));
    tasks.push(tokio::spawn(crate::telemetry::gauges::run(
        store.clone(),
        crate::telemetry::gauges::queues(&store, &backends.sqs),
        Duration::from_secs(5),
        shutdown_rx.clone(),
    )));
    let audit_key = config.audit_key()?;
    if let Some(every) = config.audit_checkpoint_every {
        tasks.push(tokio::spawn(crate::checkpointer::run(
            store.clone(),
            backends.objects.clone(),
            audit_key.clone(),
            every,
            shutdown_rx.clone(),
        )));
    }
    if let Some(results) = backends.results(engine.clone()) {
        tasks.push(tokio::spawn(results.run(shutdown_rx.clone())));
    }
    if config.worker == WorkerMode::Embedded {
        let settings = worker::Settings::from_config(&config);
        let worker = worker::Worker::new(
            engine.clone(),
            backends.objects.clone(),
            backends.worker_queues(),
            settings,
        );
        tasks.push(tokio::spawn(Arc::new(worker).run(shutdown_rx)));
    }

    if let Some(local) = backends.objects.local() {
        match local.sweep_stale_parts(STALE_PART).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "swept partial files a killed process left"),
            Err(e) => tracing::warn!(error = %e, "sweeping stale partial files failed"),
        }
    }
    let prometheus = web::Data::new(crate::telemetry::init_metrics());
    let metrics_port = match &config.metrics_bind {
        Some(bind) => {
            let (port, task) = serve_metrics(bind, prometheus.clone(), shutdown.subscribe())?;
            tasks.push(task);
            Some(port)
        }
        None => None,
    };
    let public_metrics = metrics_port.is_none();
    // The local store's own routes serve its signed URLs; S3 serves its own.
    let local = backends.objects.local().cloned().map(web::Data::from);
    let state = web::Data::new(AppState {
        engine,
        backends,
        config: config.clone(),
        secrets,
        audit_key: audit_key.verifying_key(),
    });
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(crate::telemetry::observe_http))
            .wrap(from_fn(request::with_request_id))
            .app_data(state.clone())
            .app_data(prometheus.clone())
            .configure(|cfg| {
                if public_metrics {
                    cfg.route("/metrics", web::get().to(metrics));
                }
            })
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::InvalidJson(e.to_string()).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| ApiError::InvalidJson(e.to_string()).into()),
            )
            .configure(http::configure)
            .configure(|cfg| {
                if let Some(local) = &local {
                    cfg.app_data(local.clone());
                    crate::storage::routes::configure(cfg);
                }
            })
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(SHUTDOWN_TIMEOUT)
    .listen(listener)?;
    Ok(Running {
        server: server.run(),
        port,
        metrics_port,
        shutdown,
        tasks,
    })
}
