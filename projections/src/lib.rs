//! How each event changes each read table (`media_batches`, `media_assets`, `media_jobs`,
//! `listings`) and which messages its commit publishes. Pure folds over events: the live append
//! path and rebuilds run the same code, so a rebuild gives the live rows byte for byte.

pub mod batch;
pub mod listing;
pub mod outbox;
pub mod table;
pub mod time;

use aggregates::{Listing, ListingEvent, MediaBatch, MediaBatchEvent};
use cqrs_es::Aggregate;
use cqrs_es::persist::SerializedEvent;
use serde::Deserialize;

pub use batch::BatchView;
pub use listing::ListingView;
pub use outbox::OutboxMessage;
pub use table::{Cell, Row, TABLES, Table};

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("no projection knows aggregate type {0:?}")]
    UnknownAggregate(String),
    #[error("event {aggregate_id}#{sequence} cannot be read: {source}")]
    Payload {
        aggregate_id: String,
        sequence: usize,
        source: serde_json::Error,
    },
}

/// The read-model rows of one aggregate instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Batch(Box<BatchView>),
    Listing(ListingView),
}

impl View {
    /// The empty view for an aggregate type.
    pub fn new(aggregate_type: &str) -> Result<Self, ProjectionError> {
        match aggregate_type {
            MediaBatch::TYPE => Ok(Self::Batch(Box::default())),
            Listing::TYPE => Ok(Self::Listing(ListingView::default())),
            other => Err(ProjectionError::UnknownAggregate(other.to_owned())),
        }
    }

    /// Applies one stored event (already upcast); returns the messages its commit publishes.
    pub fn apply(
        &mut self,
        event: &SerializedEvent,
    ) -> Result<Vec<OutboxMessage>, ProjectionError> {
        let seq = i64::try_from(event.sequence).unwrap_or(i64::MAX);
        let payload_error = |source| ProjectionError::Payload {
            aggregate_id: event.aggregate_id.clone(),
            sequence: event.sequence,
            source,
        };
        Ok(match self {
            Self::Batch(view) => {
                let e = MediaBatchEvent::deserialize(&event.payload).map_err(payload_error)?;
                view.apply(seq, &e)
            }
            Self::Listing(view) => {
                let e = ListingEvent::deserialize(&event.payload).map_err(payload_error)?;
                view.apply(seq, &e)
            }
        })
    }

    pub fn rows(&self) -> Vec<Row> {
        match self {
            Self::Batch(view) => view.rows(),
            Self::Listing(view) => view.rows(),
        }
    }
}
