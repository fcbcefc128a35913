//! The messages between toq-media and its processing pipeline (API.md §6), parsed into domain
//! values at the edge. Their own crate so that the fuzz targets build them without the service,
//! since both arrive from outside: a job from a queue anyone with send rights can write to, a
//! result from a queue or from the open callback route.

pub mod job;
pub mod listing;
pub mod result;
