//! toq-media: the service around the `aggregates` and `projections` crates — event store
//! backends, command engine, operator tools and CLI.

pub mod config;
pub mod engine;
pub mod ops;
pub mod store;
