//! The object store and queues the configuration selects, built once for `serve` and
//! `worker`: the embedded local directory and table queue, or S3 and SQS.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, QueueBackend, Secrets, StorageBackend};
use crate::engine::Engine;
use crate::queue::relay::{Sink, Sinks};
use crate::queue::results::Results;
use crate::queue::{LISTING_EVENTS, SqsQueue};
use crate::storage::{LocalStore, ObjectStore, S3Store};
use crate::worker::Queues;

/// How long a result message stays hidden while it is applied.
const RESULTS_VISIBILITY: Duration = Duration::from_secs(60);

pub struct Backends {
    pub objects: Arc<ObjectStore>,
    /// Where the outbox relay sends each kind of message.
    pub sinks: Sinks,
    /// The SQS queues in use, which `/readyz` checks.
    pub sqs: Vec<SqsQueue>,
    /// The queues of jobs and results, with SQS.
    processing: Option<Processing>,
}

struct Processing {
    jobs: SqsQueue,
    results: Option<SqsQueue>,
    results_dlq: Option<SqsQueue>,
}

impl Backends {
    /// Builds the clients; nothing is contacted yet (`/readyz` does that), so a store or queue
    /// that is down delays readiness rather than failing the start.
    pub async fn new(config: &Config, secrets: &Secrets) -> Self {
        let sdk = match (&config.storage, &config.queue) {
            (StorageBackend::Local, QueueBackend::Local) => None,
            _ => Some(crate::aws::sdk_config().await),
        };
        let objects = Arc::new(match &config.storage {
            StorageBackend::Local => ObjectStore::Local(Arc::new(LocalStore::new(
                config.objects_dir(),
                config.public_url.clone(),
                &secrets.storage,
            ))),
            StorageBackend::S3(s3) => {
                ObjectStore::S3(S3Store::new(sdk.as_ref().expect("loaded for S3"), s3))
            }
        });
        let QueueBackend::Sqs(sqs) = &config.queue else {
            return Self {
                objects,
                sinks: Sinks::tables(),
                sqs: Vec::new(),
                processing: None,
            };
        };
        let client = crate::queue::sqs::client(sdk.as_ref().expect("loaded for SQS"), sqs);
        let queue =
            |url: &str| SqsQueue::new(client.clone(), url, sqs.wait_seconds, RESULTS_VISIBILITY);
        let jobs = queue(&sqs.jobs_url);
        let retries = sqs.retry_url.as_deref().map(queue);
        let results = sqs.results_url.as_deref().map(queue);
        let results_dlq = sqs.results_dlq_url.as_deref().map(queue);
        let listing_events = sqs.listing_events_url.as_deref().map(queue);
        let sqs_queues = [
            Some(&jobs),
            retries.as_ref(),
            results.as_ref(),
            results_dlq.as_ref(),
            listing_events.as_ref(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        Self {
            objects,
            sinks: Sinks {
                jobs: Sink::Sqs(jobs.clone()),
                retries: retries.map(Sink::Sqs),
                listing_events: listing_events.map_or(Sink::Table(LISTING_EVENTS), Sink::Sqs),
            },
            sqs: sqs_queues,
            processing: Some(Processing {
                jobs,
                results,
                results_dlq,
            }),
        }
    }

    /// Where a worker takes jobs from and reports to.
    pub fn worker_queues(&self) -> Queues {
        match &self.processing {
            None => Queues::Table,
            Some(p) => Queues::Sqs {
                jobs: p.jobs.clone(),
                results: p.results.clone(),
            },
        }
    }

    /// The results consumer, when results arrive on a queue.
    pub fn results(&self, engine: Arc<Engine>) -> Option<Results> {
        let p = self.processing.as_ref()?;
        Some(Results::new(
            engine,
            p.results.clone()?,
            p.results_dlq.clone(),
        ))
    }

    /// `None` when everything answers, else why not.
    pub async fn unready(&self) -> Option<String> {
        if let Err(e) = self.objects.check().await {
            return Some(e.to_string());
        }
        for queue in &self.sqs {
            if let Err(e) = queue.check().await {
                return Some(e.to_string());
            }
        }
        None
    }
}
