//! The built-in processing worker: takes jobs off the job queue (table or SQS), turns raw
//! uploads into renditions, and reports through the same intake as the pipeline's callback (or
//! onto the results queue, with SQS), so that `toq-media serve` alone takes a batch to READY
//! (DESIGN.md "Processing").
//!
//! - `job`: the job message, parsed into typed fields (the `toq-contract` crate).
//! - `keys`: where renditions are written.
//! - `memory`: the memory budget that image renders reserve from (`toq_imaging` does the rendering
//!   and estimates it).
//! - `asset`: one asset read, verified, rendered or passed through, as an output.
//! - `media`: videos and PDFs through their sandboxed tools (`toq_tools`) and the photo pipeline.
//! - `bundle`: the batch ZIP of originals, written when a job succeeds.
//! - `report`: results into the `MediaBatch` aggregate, as the callback does.
//! - `heartbeat`: visibility extension while a job runs.
//! - `runner`: the loop, its concurrency bound, and the delete-after-record rule.
//!
//! Metrics at `/metrics`: `media_assets_processed_total{asset_type,error_code}`,
//! `media_asset_processing_seconds`, `media_image_seconds_per_megapixel`,
//! `media_queue_wait_seconds`, `media_processing_inflight_jobs`,
//! `media_processing_dlq_messages_total`, `media_worker_memory_budget_bytes`,
//! `media_worker_memory_reserved_bytes`; each job's log lines carry `job_id`, `batch_id`,
//! `listing_id` and the `traceparent` of the command that made it.

pub mod asset;
pub mod bundle;
pub mod heartbeat;
pub mod keys;
pub mod media;
pub mod memory;
pub mod report;
pub mod runner;

pub use runner::{Handled, Outcome, Queues, Settings, Worker};
pub use toq_contract::job::{self, Job};
