//! The listing messages, each with its one serde shape: `listing.media_ready`, the READY saga's
//! own outbox row, and `listing.status_changed`, published for the platform.

use aggregates::{BatchId, ListingId, ListingStatus};
use serde::{Deserialize, Serialize};

/// Topic of [`MediaReady`].
pub const MEDIA_READY: &str = "listing.media_ready";
/// Topic (and `type`) of [`ListingStatusChanged`].
pub const LISTING_STATUS_CHANGED: &str = "listing.status_changed";

/// A batch became READY: its listing moves on to owner approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaReady {
    pub listing_identity_id: ListingId,
    pub batch_id: BatchId,
    pub attempt: u32,
}

/// A listing's status changed because of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListingStatusChanged {
    #[serde(rename = "type")]
    pub kind: StatusChangedType,
    pub listing_identity_id: ListingId,
    pub previous_status: ListingStatus,
    pub status: ListingStatus,
    pub batch_id: BatchId,
    /// RFC 3339 with milliseconds, as the read tables stamp it.
    pub occurred_at: String,
}

/// The one `type` of [`ListingStatusChanged`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusChangedType {
    #[serde(rename = "listing.status_changed")]
    StatusChanged,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_changed_keeps_its_published_shape() {
        let message = ListingStatusChanged {
            kind: StatusChangedType::StatusChanged,
            listing_identity_id: ListingId::parse(123).unwrap(),
            previous_status: ListingStatus::parse("PENDING_PHOTO_PROCESSING").unwrap(),
            status: ListingStatus::parse(ListingStatus::PENDING_OWNER_APPROVAL).unwrap(),
            batch_id: BatchId::parse("0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b").unwrap(),
            occurred_at: "2025-11-11T13:58:00.000Z".into(),
        };
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(json["type"], LISTING_STATUS_CHANGED);
        assert_eq!(json["listingIdentityId"], 123);
        assert_eq!(json["status"], "PENDING_OWNER_APPROVAL");
        assert_eq!(
            serde_json::from_value::<ListingStatusChanged>(json).unwrap(),
            message
        );
        assert!(
            serde_json::from_str::<MediaReady>(
                r#"{"listingIdentityId":0,"batchId":"x","attempt":1}"#
            )
            .is_err()
        );
    }
}
