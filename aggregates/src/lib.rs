//! The domain of toq-media, and nothing else: states, commands, events and refusals of the
//! `MediaBatch` and `Listing` aggregates, the manifest rules and the values they are made of.
//! Pure: no I/O, no clock, no SQL.

pub mod json_int;
pub mod listing;
pub mod manifest;
pub mod media_batch;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod upcasting;
pub mod values;
mod wire;

pub use listing::{Listing, ListingCommand, ListingError, ListingEvent, ListingFacts};
pub use manifest::{
    FieldError, Limits, Manifest, ManifestFile, RawConfirmedFile, RawFile, RawManifest,
};
pub use media_batch::commands::*;
pub use media_batch::errors::{MediaBatchError, UploadProblem};
pub use media_batch::events::*;
pub use media_batch::failure::FailureCode;
pub use media_batch::{
    AssetProgress, AssetState, AssetStatus, Batch, BatchStatus, JobStatus, MediaBatch,
};
pub use values::*;
