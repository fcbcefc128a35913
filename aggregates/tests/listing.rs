//! The `Listing` aggregate (sync from the platform, the move to owner approval) and the upcaster
//! of its old `Synced` payloads.

use aggregates::listing::{AwaitingOwnerApproval, SYNCED_VERSION, Synced};
use aggregates::upcasting::upcasters;
use aggregates::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::persist::SerializedEvent;
use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use serde_json::{Value, json};

const BATCH: &str = "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b";

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 11, 14, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn listing_id(raw: u64) -> ListingId {
    ListingId::parse(raw).unwrap()
}

fn batch_id() -> BatchId {
    BatchId::parse(BATCH).unwrap()
}

fn facts(status: &str) -> ListingFacts {
    ListingFacts {
        status: ListingStatus::parse(status).unwrap(),
        owner_user_id: 12,
        photographer_user_id: Some(7),
        project_media: false,
    }
}

fn synced(status: &str, at: DateTime<Utc>) -> ListingEvent {
    ListingEvent::Synced(Synced {
        listing_id: listing_id(123),
        facts: facts(status),
        at,
    })
}

fn awaiting_owner_approval(previous: &str) -> ListingEvent {
    ListingEvent::AwaitingOwnerApproval(AwaitingOwnerApproval {
        listing_id: listing_id(123),
        batch_id: batch_id(),
        previous_status: ListingStatus::parse(previous).unwrap(),
        at: t(30),
    })
}

fn sync(id: u64, facts: ListingFacts) -> ListingCommand {
    ListingCommand::Sync {
        listing_id: listing_id(id),
        facts,
        now: t(10),
    }
}

fn media_ready() -> ListingCommand {
    ListingCommand::MediaReady {
        batch_id: batch_id(),
        now: t(30),
    }
}

fn given(history: Vec<ListingEvent>) -> AggregateTestExecutor<Listing> {
    TestFramework::<Listing>::with(()).given(history)
}

// ---------------------------------------------------------------- Sync

#[test]
fn the_first_sync_records_the_facts() {
    given(vec![])
        .when(sync(123, facts("PENDING_PHOTO_PROCESSING")))
        .then_expect_events(vec![synced("PENDING_PHOTO_PROCESSING", t(10))]);
}

#[test]
fn an_identical_sync_is_a_no_op() {
    given(vec![synced("PENDING_PHOTO_PROCESSING", t(0))])
        .when(sync(123, facts("PENDING_PHOTO_PROCESSING")))
        .then_expect_events(vec![]);
}

#[test]
fn a_sync_with_changed_facts_records_them() {
    let changes = [
        facts("PUBLISHED"),
        ListingFacts {
            owner_user_id: 13,
            ..facts("PENDING_PHOTO_PROCESSING")
        },
        ListingFacts {
            photographer_user_id: None,
            ..facts("PENDING_PHOTO_PROCESSING")
        },
        ListingFacts {
            project_media: true,
            ..facts("PENDING_PHOTO_PROCESSING")
        },
    ];
    for changed in changes {
        let expected = ListingEvent::Synced(Synced {
            listing_id: listing_id(123),
            facts: changed.clone(),
            at: t(10),
        });
        given(vec![synced("PENDING_PHOTO_PROCESSING", t(0))])
            .when(sync(123, changed))
            .then_expect_events(vec![expected]);
    }
}

#[test]
fn a_sync_for_another_listing_is_refused() {
    given(vec![synced("PENDING_PHOTO_PROCESSING", t(0))])
        .when(sync(124, facts("PENDING_PHOTO_PROCESSING")))
        .then_expect_error(ListingError::WrongListing);
}

// ---------------------------------------------------------------- MediaReady

#[test]
fn media_ready_moves_a_listing_awaiting_media_to_owner_approval() {
    for status in ["PENDING_PHOTO_PROCESSING", "REJECTED_BY_OWNER"] {
        given(vec![synced(status, t(0))])
            .when(media_ready())
            .then_expect_events(vec![awaiting_owner_approval(status)]);
    }
}

#[test]
fn media_ready_is_a_no_op_for_a_listing_not_awaiting_media() {
    for status in ["DRAFT", "PENDING_OWNER_APPROVAL", "PUBLISHED"] {
        given(vec![synced(status, t(0))])
            .when(media_ready())
            .then_expect_events(vec![]);
    }
}

#[test]
fn media_ready_for_an_unknown_listing_is_not_found() {
    given(vec![])
        .when(media_ready())
        .then_expect_error(ListingError::NotFound);
}

#[test]
fn a_second_media_ready_after_the_move_is_a_no_op() {
    given(vec![
        synced("PENDING_PHOTO_PROCESSING", t(0)),
        awaiting_owner_approval("PENDING_PHOTO_PROCESSING"),
    ])
    .when(media_ready())
    .then_expect_events(vec![]);
}

#[test]
fn every_refusal_has_its_api_code() {
    assert_eq!(ListingError::NotFound.code(), "LISTING_NOT_FOUND");
    assert_eq!(ListingError::WrongListing.code(), "VALIDATION_FAILED");
}

// ---------------------------------------------------------------- upcasting

fn serialized(version: &str, payload: Value) -> SerializedEvent {
    SerializedEvent::new(
        "123".into(),
        1,
        "Listing".into(),
        "Synced".into(),
        version.into(),
        payload,
        json!({}),
    )
}

fn synced_payload(project_media: Option<bool>) -> Value {
    let mut body = json!({
        "listingId": 123,
        "status": "PENDING_PHOTO_PROCESSING",
        "ownerUserId": 12,
        "photographerUserId": 7,
        "at": "2025-11-11T14:00:00Z",
    });
    if let Some(flag) = project_media {
        body["projectMedia"] = json!(flag);
    }
    json!({ "Synced": body })
}

/// Runs `event` through every upcaster that claims it, as the event store does.
fn upcast(event: SerializedEvent) -> SerializedEvent {
    upcasters().iter().fold(event, |event, upcaster| {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            upcaster.upcast(event)
        } else {
            event
        }
    })
}

#[test]
fn a_synced_v1_payload_is_upcast_without_project_media() {
    let event = upcast(serialized("1", synced_payload(None)));
    assert_eq!(event.payload, synced_payload(Some(false)));
    assert!(
        !upcasters()
            .iter()
            .any(|u| u.can_upcast("Synced", &event.event_version)),
        "an upcast event is current"
    );
    let read: ListingEvent = serde_json::from_value(event.payload).unwrap();
    assert_eq!(read, synced("PENDING_PHOTO_PROCESSING", t(0)));
}

#[test]
fn an_upcast_synced_event_has_the_version_of_new_events() {
    let event = upcast(serialized("1", synced_payload(None)));
    assert_eq!(event.event_version, SYNCED_VERSION);
}

#[test]
fn new_synced_events_carry_version_2() {
    use cqrs_es::DomainEvent;
    assert_eq!(SYNCED_VERSION, "2");
    assert_eq!(
        synced("PENDING_PHOTO_PROCESSING", t(0)).event_version(),
        SYNCED_VERSION
    );
}

#[test]
fn a_synced_v2_payload_is_not_touched() {
    let payload = synced_payload(Some(true));
    assert!(
        !upcasters()
            .iter()
            .any(|u| u.can_upcast("Synced", SYNCED_VERSION))
    );
    let event = upcast(serialized("2", payload.clone()));
    assert_eq!(event, serialized("2", payload));
}

#[test]
fn other_listing_events_are_not_upcast() {
    assert!(
        !upcasters()
            .iter()
            .any(|u| u.can_upcast("AwaitingOwnerApproval", "1"))
    );
}
