//! Operator tools over the event store: rebuild and verify projections, check the hash chains,
//! sign and check audit checkpoints and exports, show a batch's history, and drive a synthetic
//! workload.

pub mod audit;
pub mod checkpoint;
pub mod export;
pub mod history;
pub mod progress;
pub mod rebuild;
pub mod verify;
pub mod workload;
