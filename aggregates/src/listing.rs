//! The `Listing` aggregate: this service's view of a platform listing, and the one move it makes
//! itself — to `PENDING_OWNER_APPROVAL` when the listing's media batch is ready.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::values::{BatchId, ListingId, ListingStatus, UserId};

/// The facts the platform owns about a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListingFacts {
    pub status: ListingStatus,
    pub owner_user_id: UserId,
    pub photographer_user_id: Option<UserId>,
    pub project_media: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ListingCommand {
    /// The platform says how the listing stands now.
    Sync {
        listing_id: ListingId,
        facts: ListingFacts,
        now: DateTime<Utc>,
    },
    /// The listing's batch became `READY`.
    MediaReady {
        batch_id: BatchId,
        now: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ListingEvent {
    Synced(Synced),
    AwaitingOwnerApproval(AwaitingOwnerApproval),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Synced {
    pub listing_id: ListingId,
    #[serde(flatten)]
    pub facts: ListingFacts,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwaitingOwnerApproval {
    pub listing_id: ListingId,
    pub batch_id: BatchId,
    pub previous_status: ListingStatus,
    pub at: DateTime<Utc>,
}

impl ListingEvent {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Synced(e) => e.at,
            Self::AwaitingOwnerApproval(e) => e.at,
        }
    }
}

/// Version 2 of `Synced` added `projectMedia` (see [`crate::upcasting`]).
pub const SYNCED_VERSION: &str = "2";

impl DomainEvent for ListingEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Synced(_) => "Synced",
            Self::AwaitingOwnerApproval(_) => "AwaitingOwnerApproval",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        match self {
            Self::Synced(_) => SYNCED_VERSION,
            Self::AwaitingOwnerApproval(_) => "1",
        }
        .to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    #[error("the listing is not known to this service")]
    NotFound,
    #[error("the listing id does not match the listing")]
    WrongListing,
}

impl ListingError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "LISTING_NOT_FOUND",
            Self::WrongListing => "VALIDATION_FAILED",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub state: Option<(ListingId, ListingFacts)>,
}

impl Listing {
    pub fn decide(&self, command: ListingCommand) -> Result<Vec<ListingEvent>, ListingError> {
        match command {
            ListingCommand::Sync {
                listing_id,
                facts,
                now,
            } => match &self.state {
                Some((id, _)) if *id != listing_id => Err(ListingError::WrongListing),
                Some((_, current)) if *current == facts => Ok(vec![]),
                _ => Ok(vec![ListingEvent::Synced(Synced {
                    listing_id,
                    facts,
                    at: now,
                })]),
            },
            ListingCommand::MediaReady { batch_id, now } => {
                let Some((listing_id, facts)) = &self.state else {
                    return Err(ListingError::NotFound);
                };
                if !facts.status.awaits_media() {
                    // Already moved on (by an earlier delivery, or by the platform): nothing to do.
                    return Ok(vec![]);
                }
                Ok(vec![ListingEvent::AwaitingOwnerApproval(
                    AwaitingOwnerApproval {
                        listing_id: *listing_id,
                        batch_id,
                        previous_status: facts.status.clone(),
                        at: now,
                    },
                )])
            }
        }
    }
}

impl Aggregate for Listing {
    const TYPE: &'static str = "Listing";
    type Command = ListingCommand;
    type Event = ListingEvent;
    type Error = ListingError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ListingEvent::Synced(e) => self.state = Some((e.listing_id, e.facts)),
            ListingEvent::AwaitingOwnerApproval(_) => {
                if let Some((_, facts)) = self.state.as_mut() {
                    facts.status = ListingStatus::named(ListingStatus::PENDING_OWNER_APPROVAL);
                }
            }
        }
    }
}
