//! Operator tools over the event store: rebuild and verify projections, check the hash chains,
//! show a batch's history, and drive a synthetic workload.

pub mod audit;
pub mod history;
pub mod progress;
pub mod rebuild;
pub mod verify;
pub mod workload;
