//! The embedded durable job queue and the outbox relay that feeds it.
//!
//! The queue is a table (`job_queue`) in the same database as the event store, so the embedded
//! default needs no queue server, and the relay moves a committed outbox row into the queue in
//! one local transaction: no message is lost or enqueued twice between the two. It behaves like
//! SQS (visibility timeout, receive count, dead letter), so consumers are written once for both.

pub mod relay;
pub mod table;

pub use relay::{JOBS, LISTING_EVENTS, relay_once};
pub use table::{Depth, Message, QueueError, TableQueue};
