//! toq-media: the service around the `aggregates` and `projections` crates — event store
//! backends, command engine, operator tools and CLI.

pub mod auth;
pub mod aws;
pub mod backends;
pub mod checkpointer;
pub mod client;
pub mod config;
pub mod engine;
pub mod fault;
pub mod http;
pub mod intake;
pub mod lease;
pub mod ops;
pub mod process;
pub mod queue;
pub mod reconciler;
pub mod startup;
pub mod storage;
pub mod store;
pub mod telemetry;
pub mod worker;
