//! The worker loop: takes job messages off the queue and runs each to a recorded result.
//!
//! At least once, made safe by idempotence: a message is deleted only after its result is
//! recorded (or found stale), so a crash at any point just lets it reappear after the
//! visibility timeout; the rendition keys of an attempt are fixed, and the aggregate records
//! each asset of a job once, so doing a job twice ends in the same state as doing it once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aggregates::{
    AssetOutput, AssetProgress, Batch, BatchStatus, RenditionPrefix, ResultStatus, ZipOutput,
};
use futures_util::StreamExt;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use toq_imaging::ImageOptions;
use toq_tools::{Limits, Toolbox, VideoLimits};

use super::asset::{Pipeline, Work};
use super::bundle::{self, BundleError, Entry};
use super::heartbeat::Heartbeat;
use super::job::{Job, JobAsset};
use super::memory::MemoryBudget;
use super::report::{self, ReportError, Reported};
use crate::config::Config;
use crate::engine::{CommandError, Engine};
use crate::fault::{self, Fault};
use crate::queue::{JOBS, JobQueue, Message, SqsQueue, TableQueue};
use crate::storage::ObjectStore;

/// How the worker runs; [`Settings::from_config`] for the service, any values in tests.
pub struct Settings {
    /// Jobs in flight, and images decoded, at once.
    pub concurrency: usize,
    /// How long a received message stays hidden; renewed every `heartbeat` while it is worked on.
    pub visibility: Duration,
    pub heartbeat: Duration,
    /// Deliveries before a message is dead-lettered.
    pub max_receives: i64,
    /// Pause before asking again when the queue was empty.
    pub idle_poll: Duration,
    /// How long a stopping worker waits for jobs in flight before abandoning them to redelivery.
    pub shutdown_grace: Duration,
    pub image: ImageOptions,
    /// MiB that image renders in flight may hold together, by their header estimates.
    pub memory_budget_mb: u32,
    /// Videos worked on at once, in their own lane: they hold no photo slot.
    pub video_concurrency: usize,
    pub video: VideoLimits,
    /// What each ffmpeg or pdftoppm run may use.
    pub tools: Limits,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            concurrency: std::thread::available_parallelism().map_or(1, usize::from),
            visibility: Duration::from_secs(60),
            heartbeat: Duration::from_secs(20),
            max_receives: 5,
            idle_poll: Duration::from_millis(250),
            shutdown_grace: Duration::from_secs(10),
            image: ImageOptions::default(),
            memory_budget_mb: 512,
            video_concurrency: 1,
            video: VideoLimits::default(),
            tools: Limits::default(),
        }
    }
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            concurrency: config.worker_concurrency,
            visibility: config.worker_visibility,
            memory_budget_mb: config.worker_memory_budget_mb,
            video_concurrency: config.worker_video_concurrency,
            video: VideoLimits {
                max_duration: config.video_max_duration,
                ..VideoLimits::default()
            },
            tools: Limits {
                timeout: config.tool_timeout,
                ..Limits::default()
            },
            ..Self::default()
        }
    }
}

/// How one job ended for this delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its results are recorded.
    Done,
    /// Nothing to do: an older attempt, a finished or deleted batch, a job the batch does not know.
    Stale,
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Processed or stale, and deleted.
    Deleted(Outcome),
    /// Left on the queue to be delivered again after the visibility timeout.
    Retry,
    /// Not a job message; left to reach the dead-letter flag, where an operator can see it.
    Malformed,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error("reporting the result failed: {0}")]
    Report(#[from] ReportError),
    #[error("reading the batch failed: {0}")]
    State(#[from] CommandError),
    #[error("writing the batch ZIP failed: {0}")]
    Bundle(#[from] BundleError),
}

/// Where the worker takes jobs from and reports to.
pub enum Queues {
    /// The table queue `jobs`; results straight into the aggregate.
    Table,
    /// SQS jobs; results onto the results queue when there is one.
    Sqs {
        jobs: SqsQueue,
        results: Option<SqsQueue>,
    },
}

pub struct Worker {
    engine: Arc<Engine>,
    pipeline: Pipeline,
    queue: JobQueue,
    results: Option<SqsQueue>,
    /// Bounds the CPU-heavy part of photos and documents (read, verify, decode, encode)
    /// across all jobs.
    cpu: Arc<Semaphore>,
    /// The video lane: a long transcode waits here, never in front of another batch's photos.
    video: Arc<Semaphore>,
    settings: Settings,
}

impl Worker {
    pub fn new(
        engine: Arc<Engine>,
        objects: Arc<ObjectStore>,
        queues: Queues,
        mut settings: Settings,
    ) -> Self {
        settings.concurrency = settings.concurrency.max(1);
        settings.video_concurrency = settings.video_concurrency.max(1);
        // Renew well before the message would reappear, whatever the two were set to.
        settings.heartbeat =
            (settings.heartbeat.min(settings.visibility / 3)).max(Duration::from_millis(100));
        let (queue, results) = match queues {
            Queues::Table => (
                JobQueue::Table(TableQueue::new(
                    engine.store().clone(),
                    JOBS,
                    settings.visibility,
                    settings.max_receives,
                )),
                None,
            ),
            Queues::Sqs { jobs, results } => (
                JobQueue::Sqs(jobs.with_visibility(settings.visibility)),
                results,
            ),
        };
        let tools = Toolbox::discover(settings.tools);
        if !tools.has_video() {
            tracing::warn!(
                "ffmpeg/ffprobe not found on PATH: videos pass through without posters or a web rendition"
            );
        }
        if !tools.has_pdf() {
            tracing::warn!(
                "pdfinfo/pdftoppm not found on PATH: PDFs pass through without previews"
            );
        }
        let pipeline = Pipeline {
            objects,
            image: Arc::new(std::mem::take(&mut settings.image)),
            memory: MemoryBudget::new(settings.memory_budget_mb),
            tools: Arc::new(tools),
            video: settings.video,
        };
        Self {
            engine,
            pipeline,
            queue,
            results,
            cpu: Arc::new(Semaphore::new(settings.concurrency)),
            video: Arc::new(Semaphore::new(settings.video_concurrency)),
            settings,
        }
    }

    /// The queue it consumes, with its visibility and receive limit.
    pub fn queue(&self) -> &JobQueue {
        &self.queue
    }

    /// Receives and handles jobs, at most `concurrency` plus the video lane's at once (so jobs
    /// waiting on the video lane leave room for photo jobs), until `shutdown` turns true (or
    /// its sender is gone); then waits up to the grace period for the jobs in flight.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let limit = self.settings.concurrency + self.settings.video_concurrency;
        tracing::info!(
            concurrency = limit,
            queue = self.queue.name(),
            "worker started"
        );
        let mut tasks = JoinSet::new();
        while !*shutdown.borrow() {
            while let Some(done) = tasks.try_join_next() {
                log_panic(done);
            }
            let free = limit.saturating_sub(tasks.len());
            let wait = if free == 0 {
                None
            } else {
                // Long polling (SQS) may wait a while: a stop must not.
                let received = tokio::select! {
                    received = self.queue.receive(free) => received,
                    changed = shutdown.changed() => if changed.is_err() { break } else { continue },
                };
                match received {
                    Ok(messages) if !messages.is_empty() => {
                        for message in messages {
                            let worker = self.clone();
                            tasks.spawn(async move { worker.handle(&message).await });
                        }
                        continue;
                    }
                    Ok(_) => Some(self.settings.idle_poll),
                    Err(e) => {
                        tracing::warn!(error = %e, "receiving jobs failed; trying again");
                        Some(self.settings.idle_poll)
                    }
                }
            };
            tokio::select! {
                // Full: wait for a slot. Idle: wait a little, or for a slot (a finished job
                // may have been the last of a burst).
                Some(done) = tasks.join_next(), if !tasks.is_empty() => log_panic(done),
                () = sleep_or_forever(wait) => {}
                changed = shutdown.changed() => if changed.is_err() { break },
            }
        }
        let drained = tokio::time::timeout(self.settings.shutdown_grace, async {
            while let Some(done) = tasks.join_next().await {
                log_panic(done);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                abandoned = tasks.len(),
                "worker stopped with jobs in flight; they will be delivered again"
            );
            tasks.shutdown().await;
        }
        tracing::info!("worker stopped");
    }

    /// One delivery of one message: process it, keeping it hidden meanwhile, and delete it
    /// once its result is recorded or it turns out stale.
    pub async fn handle(&self, message: &Message) -> Handled {
        let job = match Job::parse(&message.payload) {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(
                    message_id = %message.id, receive_count = message.receive_count, error = %e,
                    "unreadable job message; left for the dead-letter queue"
                );
                self.queue.note_failed_delivery(message).await;
                return Handled::Malformed;
            }
        };
        let started = Instant::now();
        if message.receive_count == 1
            && let Ok(enqueued) = chrono::DateTime::parse_from_rfc3339(&message.enqueued_at)
        {
            let waited = (chrono::Utc::now() - enqueued.with_timezone(&chrono::Utc))
                .to_std()
                .unwrap_or_default();
            metrics::histogram!("media_queue_wait_seconds").record(waited.as_secs_f64());
        }
        let inflight = metrics::gauge!("media_processing_inflight_jobs");
        inflight.increment(1.0);
        let heartbeat = Heartbeat::start(
            self.queue.clone(),
            message.receipt.clone(),
            self.settings.visibility,
            self.settings.heartbeat,
        );
        let span = tracing::info_span!(
            "job", job_id = %job.job_id, batch_id = %job.batch_id, listing_id = %job.listing_id,
            traceparent = job.traceparent.as_deref().unwrap_or_default()
        );
        let outcome = tracing::Instrument::instrument(self.process(&job), span).await;
        drop(heartbeat);
        inflight.decrement(1.0);
        let ms = started.elapsed().as_millis() as u64;
        let (job_id, batch_id) = (job.job_id, job.batch_id);
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(
                    %job_id, %batch_id, receive_count = message.receive_count, ms, error = %e,
                    "job failed; it will be delivered again"
                );
                self.queue.note_failed_delivery(message).await;
                return Handled::Retry;
            }
        };
        match self.queue.delete(&message.receipt).await {
            Ok(true) => {}
            Ok(false) => tracing::info!(
                %job_id, %batch_id,
                "job message was delivered again meanwhile; that delivery will find it done"
            ),
            Err(e) => tracing::warn!(
                %job_id, %batch_id, error = %e,
                "deleting the job message failed; it will be delivered again"
            ),
        }
        tracing::info!(
            %job_id, %batch_id, assets = job.assets.len(), receive_count = message.receive_count,
            ms, outcome = ?outcome, "job handled"
        );
        Handled::Deleted(outcome)
    }

    /// Runs a job to its recorded result, without touching the queue: RUNNING, each asset's
    /// output as it finishes (progress, and what a redelivery skips), then SUCCEEDED with all.
    pub async fn process(&self, job: &Job) -> Result<Outcome, WorkError> {
        if self
            .report(job, ResultStatus::Running, vec![], None)
            .await?
            == Reported::UnknownJob
        {
            return Ok(Outcome::Stale);
        }
        let Some((batch, todo)) = self.pending(job).await? else {
            return Ok(Outcome::Stale);
        };
        let mut outputs = Vec::with_capacity(todo.len());
        // Futures made up front (not by a stream closure), which keeps the task `Send`.
        let assets: Vec<_> = todo.into_iter().map(|a| self.asset(job, a)).collect();
        let mut results = futures_util::stream::iter(assets).buffered(self.settings.concurrency);
        // Each output is reported as the next one arrives: the last goes with SUCCEEDED, so
        // that the batch turns READY with its ZIP, not on the last RUNNING report.
        while let Some(output) = results.next().await {
            if let Some(previous) = outputs.last().cloned()
                && self
                    .report(job, ResultStatus::Running, vec![previous], None)
                    .await?
                    == Reported::UnknownJob
            {
                return Ok(Outcome::Stale);
            }
            outputs.push(output);
        }
        let zip = self.bundle(job, &batch, &outputs).await?;
        Ok(
            match self
                .report(job, ResultStatus::Succeeded, outputs, zip)
                .await?
            {
                Reported::Accepted => Outcome::Done,
                Reported::UnknownJob => Outcome::Stale,
            },
        )
    }

    /// The ZIP of the batch's originals, when every asset has succeeded: those recorded
    /// before this delivery and those it just processed. Otherwise the batch is about to fail
    /// and gets none.
    async fn bundle(
        &self,
        job: &Job,
        batch: &Batch,
        outputs: &[AssetOutput],
    ) -> Result<Option<ZipOutput>, WorkError> {
        let succeeded_now = |a: &aggregates::AssetState| {
            outputs
                .iter()
                .any(|o| o.client_id == a.file.file.client_id.as_str() && o.error_code.is_none())
        };
        if !batch
            .assets
            .iter()
            .all(|a| a.succeeded() || succeeded_now(a))
        {
            return Ok(None);
        }
        let mut assets: Vec<_> = batch.assets.iter().collect();
        assets.sort_by_key(|a| a.file.file.sequence);
        let entries: Vec<Entry> = assets.into_iter().map(Entry::of).collect();
        let key = RenditionPrefix::zip_key(job.listing_id, job.batch_id, job.attempt);
        let stored = bundle::write(&self.pipeline.objects, &key, &entries).await?;
        tracing::info!(%key, bytes = stored.bytes, entries = entries.len(), "batch ZIP written");
        Ok(Some(ZipOutput {
            object_key: key.to_string(),
            bytes: stored.bytes,
        }))
    }

    async fn report(
        &self,
        job: &Job,
        status: ResultStatus,
        outputs: Vec<AssetOutput>,
        zip: Option<ZipOutput>,
    ) -> Result<Reported, ReportError> {
        report::report(
            &self.engine,
            self.results.as_ref(),
            job,
            status,
            outputs,
            zip,
        )
        .await
    }

    /// The batch, and the job's assets still waiting for a result; `None` when the job is no
    /// longer the batch's current work. Read after RUNNING was reported, so a redelivery of a
    /// half-done job redoes only what was recorded by then.
    async fn pending<'j>(
        &self,
        job: &'j Job,
    ) -> Result<Option<(Batch, Vec<&'j JobAsset>)>, CommandError> {
        let state = self.engine.batch_state(job.batch_id).await?;
        let Some(batch) = state.batch else {
            return Ok(None);
        };
        // RECEIVED too: a RUNNING report sent through the results queue may not be applied yet.
        let current = !batch.deleted
            && matches!(
                batch.status,
                BatchStatus::Received | BatchStatus::Processing
            )
            && batch.current_job() == Some(job.job_id)
            && batch.attempt() == job.attempt;
        if !current {
            return Ok(None);
        }
        let todo = job
            .assets
            .iter()
            .filter(|a| {
                batch
                    .asset(&a.client_id)
                    .is_some_and(|s| s.progress == AssetProgress::Pending)
            })
            .collect();
        Ok(Some((batch, todo)))
    }

    async fn asset(&self, job: &Job, asset: &JobAsset) -> AssetOutput {
        let lane = match self.pipeline.work(asset) {
            Work::Video => &self.video,
            Work::Image | Work::Document | Work::PassThrough => &self.cpu,
        };
        let _permit = lane.acquire().await.expect("the semaphore is never closed");
        if fault::fires(Fault::RenderTwice) {
            // The first result is dropped, as an undetected duplicate delivery's would be.
            self.pipeline.process(job, asset).await;
        }
        self.pipeline.process(job, asset).await
    }
}

/// A job task that panicked left its message on the queue, to be delivered again.
fn log_panic(done: Result<Handled, tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!(error = %e, "a job task panicked; its message will be delivered again");
    }
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
