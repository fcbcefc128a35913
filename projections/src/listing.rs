//! How Listing events shape `listings`.

use aggregates::{ListingEvent, ListingStatus};
use toq_contract::listing::{LISTING_STATUS_CHANGED, ListingStatusChanged, StatusChangedType};

use crate::outbox::OutboxMessage;
use crate::table::{LISTINGS, Row};
use crate::time::stamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingRow {
    pub listing_id: u64,
    pub status: String,
    pub owner_user_id: u64,
    pub photographer_user_id: Option<u64>,
    pub project_media: bool,
    pub updated_at: String,
    pub last_seq: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingView {
    pub listing: Option<ListingRow>,
}

impl ListingView {
    pub fn rows(&self) -> Vec<Row> {
        self.listing
            .iter()
            .map(|l| Row {
                table: LISTINGS.name,
                cells: vec![
                    l.listing_id.into(),
                    l.status.clone().into(),
                    l.owner_user_id.into(),
                    l.photographer_user_id.into(),
                    l.project_media.into(),
                    l.updated_at.clone().into(),
                    l.last_seq.into(),
                ],
            })
            .collect()
    }

    /// Applies the event at `seq`; at or below the last applied sequence it is a no-op.
    pub fn apply(&mut self, seq: i64, event: &ListingEvent) -> Vec<OutboxMessage> {
        if self.listing.as_ref().is_some_and(|l| seq <= l.last_seq) {
            return vec![];
        }
        let at = stamp(event.at());
        match event {
            ListingEvent::Synced(e) => {
                self.listing = Some(ListingRow {
                    listing_id: e.listing_id.get(),
                    status: e.facts.status.as_str().to_owned(),
                    owner_user_id: e.facts.owner_user_id,
                    photographer_user_id: e.facts.photographer_user_id,
                    project_media: e.facts.project_media,
                    updated_at: at,
                    last_seq: seq,
                });
                vec![]
            }
            ListingEvent::AwaitingOwnerApproval(e) => {
                let Some(listing) = self.listing.as_mut() else {
                    return vec![];
                };
                listing.status = ListingStatus::PENDING_OWNER_APPROVAL.to_owned();
                listing.updated_at = at.clone();
                listing.last_seq = seq;
                vec![OutboxMessage {
                    topic: LISTING_STATUS_CHANGED,
                    payload: serde_json::to_value(ListingStatusChanged {
                        kind: StatusChangedType::StatusChanged,
                        listing_identity_id: e.listing_id,
                        previous_status: e.previous_status.clone(),
                        status: ListingStatus::named(ListingStatus::PENDING_OWNER_APPROVAL),
                        batch_id: e.batch_id,
                        occurred_at: at,
                    })
                    .expect("a message serializes"),
                }]
            }
        }
    }
}
