//! The built-in processing worker: takes jobs off the job queue, turns raw uploads into
//! renditions, and reports through the same intake as the pipeline's callback, so that
//! `toq-media serve` alone takes a batch to READY (DESIGN.md "Processing").
//!
//! - `job`: the job message, parsed into typed fields.
//! - `keys`: where renditions are written.
//! - `image`: decoding and resizing one photo.
//! - `asset`: one asset read, verified, rendered or passed through, as an output.
//! - `report`: results into the `MediaBatch` aggregate, as the callback does.
//! - `heartbeat`: visibility extension while a job runs.
//! - `runner`: the loop, its concurrency bound, and the delete-after-record rule.
//!
//! Metrics are `tracing` events for now (`asset processed` / `asset failed` / `job handled`,
//! with `job_id`, `batch_id`, `asset`, `code`, `ms`), until a metrics exporter is wired.

pub mod asset;
pub mod heartbeat;
pub mod image;
pub mod job;
pub mod keys;
pub mod report;
pub mod runner;

pub use job::Job;
pub use runner::{Handled, Outcome, Queues, Settings, Worker};
