//! How events fold into read-table rows and outbox messages, through `View::apply` as the live
//! append path and rebuilds call it.

use aggregates::listing::{AwaitingOwnerApproval, Synced};
use aggregates::{
    AssetOutcome, AssetProcessed, BatchId, ClientId, Deleted, Failed, JobId, Limits, Listing,
    ListingEvent, ListingFacts, ListingId, ListingStatus, Manifest, MediaBatch, MediaBatchEvent,
    ObjectKey, Processing, RawFile, RawManifest, Ready, Received, Requested, RequestedFile,
    RetryRequested, RetryScope,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, DomainEvent};
use projections::table::{self, Kind, LISTINGS, MEDIA_ASSETS, MEDIA_BATCHES, MEDIA_JOBS};
use projections::time::stamp;
use projections::{Cell, OutboxMessage, ProjectionError, Row, TABLES, Table, View};
use proptest::prelude::*;
use serde_json::{Value, json};

const LISTING: u64 = 123;
const BATCH: &str = "0193a000-0000-7000-8000-000000000001";
const FILES: [usize; 3] = [1, 2, 3];
/// Files 1 and 2 are photos, file 3 is a video.
const VIDEO: usize = 3;
const NULL: Cell = Cell::Null;

// ---- values -------------------------------------------------------------------------------

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 11, 14, minute, 0).unwrap()
}
/// `at(minute)` as the read tables must store it.
fn ts(minute: u32) -> Cell {
    text(&format!("2025-11-11T14:{minute:02}:00.000Z"))
}
fn int(n: u64) -> Cell {
    n.into()
}
fn text(s: &str) -> Cell {
    s.into()
}

fn listing_id() -> ListingId {
    ListingId::parse(LISTING).unwrap()
}
fn batch_id() -> BatchId {
    BatchId::parse(BATCH).unwrap()
}
fn job_text(attempt: u32) -> String {
    format!("0193a000-0000-7000-8000-0000000000a{attempt}")
}
fn job_id(attempt: u32) -> JobId {
    JobId::parse(&job_text(attempt)).unwrap()
}
fn client(i: usize) -> String {
    format!("file-{i}")
}
fn client_id(i: usize) -> ClientId {
    ClientId::parse(&client(i)).unwrap()
}
fn asset_type(i: usize) -> &'static str {
    if i == VIDEO {
        "VIDEO_HORIZONTAL"
    } else {
        "PHOTO_HORIZONTAL"
    }
}
fn content_type(i: usize) -> &'static str {
    if i == VIDEO {
        "video/mp4"
    } else {
        "image/jpeg"
    }
}
fn filename(i: usize) -> String {
    format!("IMG_{i}.{}", if i == VIDEO { "mp4" } else { "jpg" })
}
fn bytes(i: usize) -> u64 {
    1000 * i as u64
}
fn checksum(i: usize) -> String {
    format!("{i:064x}")
}
/// The raw key of API.md §1, written out rather than computed.
fn raw_key(i: usize) -> String {
    let segment = if i == VIDEO { "video" } else { "photo" };
    format!(
        "{LISTING}/raw/{segment}/horizontal/{BATCH}/{i:02}-file-{i}-{}",
        filename(i)
    )
}
fn metadata(i: usize) -> &'static str {
    if i == 1 { r#"{"room":"living"}"# } else { "{}" }
}
fn rendition_key(attempt: u32, i: usize, size: &str) -> String {
    let segment = if i == VIDEO { "video" } else { "photo" };
    format!("{LISTING}/processed/{segment}/{BATCH}/{attempt}/{size}/{i:02}-file-{i}.jpg")
}
/// The `renditions` cell: JSON with its keys sorted.
fn renditions(attempt: u32, i: usize) -> Cell {
    let key = |size| rendition_key(attempt, i, size);
    text(&format!(
        r#"{{"large":"{}","small":"{}","thumbnail":"{}"}}"#,
        key("large"),
        key("small"),
        key("thumbnail")
    ))
}

// ---- events -------------------------------------------------------------------------------

fn raw_file(i: usize) -> RawFile {
    RawFile {
        client_id: Some(client(i)),
        asset_type: Some(asset_type(i).into()),
        orientation: Some("HORIZONTAL".into()),
        filename: Some(filename(i)),
        content_type: Some(content_type(i).into()),
        bytes: Some(bytes(i)),
        checksum: Some(checksum(i)),
        title: Some(format!("Room {i}")),
        sequence: Some(i as i64),
        metadata: serde_json::from_str(metadata(i)).unwrap(),
    }
}

fn requested() -> MediaBatchEvent {
    let raw = RawManifest {
        batch_reference: Some("slot-123".into()),
        files: Some(FILES.map(raw_file).to_vec()),
    };
    let manifest = Manifest::parse(&raw, &Limits::default()).expect("a valid manifest");
    let files = manifest
        .files
        .into_iter()
        .map(|file| RequestedFile {
            raw_key: ObjectKey::raw(
                listing_id(),
                file.asset_type,
                batch_id(),
                file.sequence,
                &file.client_id,
                &file.filename,
            ),
            file,
        })
        .collect();
    MediaBatchEvent::Requested(Requested {
        batch_id: batch_id(),
        listing_id: listing_id(),
        batch_reference: manifest.batch_reference,
        files,
        upload_expires_at: at(15),
        at: at(0),
    })
}

fn received(minute: u32) -> MediaBatchEvent {
    MediaBatchEvent::Received(Received {
        job_id: job_id(1),
        attempt: 1,
        etags: [(client_id(1), "etag-1".to_owned())].into(),
        at: at(minute),
    })
}

fn processing(attempt: u32, minute: u32) -> MediaBatchEvent {
    MediaBatchEvent::Processing(Processing {
        job_id: job_id(attempt),
        attempt,
        at: at(minute),
    })
}

fn processed(attempt: u32, i: usize, outcome: AssetOutcome, minute: u32) -> MediaBatchEvent {
    MediaBatchEvent::AssetProcessed(AssetProcessed {
        job_id: job_id(attempt),
        attempt,
        client_id: client_id(i),
        outcome,
        at: at(minute),
    })
}

/// Photos come back 1920×1080, the video also with a duration.
fn succeeded(attempt: u32, i: usize, minute: u32) -> MediaBatchEvent {
    let sizes = ["thumbnail", "small", "large"];
    let outcome = AssetOutcome::Succeeded {
        renditions: sizes
            .map(|s| {
                (
                    s.to_owned(),
                    ObjectKey::parse(&rendition_key(attempt, i, s)).unwrap(),
                )
            })
            .into(),
        width: Some(1920),
        height: Some(1080),
        duration_millis: (i == VIDEO).then_some(12_000),
        page_count: None,
    };
    processed(attempt, i, outcome, minute)
}

fn asset_failed(attempt: u32, i: usize, minute: u32) -> MediaBatchEvent {
    let outcome = AssetOutcome::Failed {
        error_code: "PIPELINE_FAILED".into(),
        error_message: "decoder crashed".into(),
    };
    processed(attempt, i, outcome, minute)
}

fn ready(attempt: u32, minute: u32) -> MediaBatchEvent {
    MediaBatchEvent::Ready(Ready {
        job_id: job_id(attempt),
        attempt,
        at: at(minute),
        zip: None,
    })
}

/// Attempt 0 is a batch whose uploads never completed: no job.
fn failed(attempt: u32, code: &str, message: &str, minute: u32) -> MediaBatchEvent {
    MediaBatchEvent::Failed(Failed {
        job_id: (attempt > 0).then(|| job_id(attempt)),
        attempt,
        code: code.into(),
        message: message.into(),
        at: at(minute),
    })
}

fn retry(
    attempt: u32,
    scope: RetryScope,
    files: &[usize],
    reason: &str,
    minute: u32,
) -> MediaBatchEvent {
    MediaBatchEvent::RetryRequested(RetryRequested {
        job_id: job_id(attempt),
        attempt,
        scope,
        reason: reason.into(),
        assets: files.iter().map(|&i| client_id(i)).collect(),
        automatic: reason == "JOB_TIMEOUT",
        at: at(minute),
    })
}

fn deleted(minute: u32) -> MediaBatchEvent {
    MediaBatchEvent::Deleted(Deleted {
        reason: "duplicate session".into(),
        at: at(minute),
    })
}

/// Requested, Received, Processing, three successes, Ready: sequences 1 to 7.
fn happy_path() -> [MediaBatchEvent; 7] {
    [
        requested(),
        received(2),
        processing(1, 3),
        succeeded(1, 1, 4),
        succeeded(1, 2, 5),
        succeeded(1, 3, 6),
        ready(1, 7),
    ]
}

fn synced(
    status: &str,
    photographer: Option<u64>,
    project_media: bool,
    minute: u32,
) -> ListingEvent {
    ListingEvent::Synced(Synced {
        listing_id: listing_id(),
        facts: ListingFacts {
            status: ListingStatus::parse(status).unwrap(),
            owner_user_id: 12,
            photographer_user_id: photographer,
            project_media,
        },
        at: at(minute),
    })
}

fn awaiting_owner_approval(minute: u32) -> ListingEvent {
    ListingEvent::AwaitingOwnerApproval(AwaitingOwnerApproval {
        listing_id: listing_id(),
        batch_id: batch_id(),
        previous_status: ListingStatus::parse("PENDING_PHOTO_PROCESSING").unwrap(),
        at: at(minute),
    })
}

// ---- folding ------------------------------------------------------------------------------

fn serialized<E: DomainEvent>(aggregate_type: &str, sequence: usize, event: &E) -> SerializedEvent {
    SerializedEvent::new(
        BATCH.to_owned(),
        sequence,
        aggregate_type.to_owned(),
        event.event_type(),
        event.event_version(),
        serde_json::to_value(event).unwrap(),
        json!({}),
    )
}

/// One aggregate's events, folded one by one; every row is checked against its table each time.
struct Stream {
    aggregate_type: &'static str,
    view: View,
    events: Vec<SerializedEvent>,
}

impl Stream {
    fn new(aggregate_type: &'static str) -> Self {
        Self {
            aggregate_type,
            view: View::new(aggregate_type).unwrap(),
            events: vec![],
        }
    }

    fn batch(events: impl IntoIterator<Item = MediaBatchEvent>) -> Self {
        let mut stream = Self::new(MediaBatch::TYPE);
        for event in events {
            stream.push(event);
        }
        stream
    }

    /// Appends the event at the next sequence.
    fn push(&mut self, event: impl DomainEvent) -> Vec<OutboxMessage> {
        let event = serialized(self.aggregate_type, self.events.len() + 1, &event);
        let messages = self.apply(&event);
        self.events.push(event);
        messages
    }

    fn apply(&mut self, event: &SerializedEvent) -> Vec<OutboxMessage> {
        let messages = self.view.apply(event).expect("a readable event");
        assert_shape(&self.view.rows());
        messages
    }

    fn rows(&self) -> Vec<Row> {
        self.view.rows()
    }
}

/// Every row has one cell per column of its table, of the column's kind or NULL; keys are never NULL.
fn assert_shape(rows: &[Row]) {
    for row in rows {
        let table = table::table(row.table).expect("a known table");
        assert_eq!(
            row.cells.len(),
            table.columns.len(),
            "cells of a {} row",
            table.name
        );
        for (cell, column) in row.cells.iter().zip(table.columns) {
            let fits = matches!(
                (cell, column.kind),
                (Cell::Null, _) | (Cell::Int(_), Kind::Int) | (Cell::Text(_), Kind::Text)
            );
            assert!(fits, "{}.{} is {cell}", table.name, column.name);
        }
        assert!(
            row.key(table).iter().all(|c| *c != NULL),
            "{row:?} has a NULL key"
        );
    }
}

fn count(rows: &[Row], table: &Table) -> usize {
    rows.iter().filter(|r| r.table == table.name).count()
}

/// The cell in `column` of the `table` row whose last key cell is `key` (batch id, client id,
/// job id or listing id: unique within one view).
fn cell(rows: &[Row], table: &Table, key: impl Into<Cell>, column: &str) -> Cell {
    let key = key.into();
    let index = table
        .columns
        .iter()
        .position(|c| c.name == column)
        .unwrap_or_else(|| panic!("{} has no column {column}", table.name));
    let row = rows
        .iter()
        .find(|r| r.table == table.name && r.key(table).last() == Some(&key))
        .unwrap_or_else(|| panic!("no {} row {key}", table.name));
    row.cells[index].clone()
}

fn assert_cells(rows: &[Row], table: &Table, key: impl Into<Cell>, expected: &[(&str, Cell)]) {
    let key = key.into();
    for (column, want) in expected {
        let got = cell(rows, table, key.clone(), column);
        assert_eq!(&got, want, "{}.{column} of {key}", table.name);
    }
}

/// A processing job message (API.md §6) for `files`.
fn assert_job_message(messages: &[OutboxMessage], attempt: u32, files: &[usize]) {
    let [message] = messages else {
        panic!("one message expected, got {messages:?}");
    };
    assert_eq!(message.topic, "processing.job");
    let p = &message.payload;
    assert_eq!(p["jobId"], job_text(attempt));
    assert_eq!(p["batchId"], BATCH);
    assert_eq!(p["listingIdentityId"], LISTING);
    assert_eq!(p["attempt"], attempt);
    let fields = [
        "clientId",
        "assetType",
        "contentType",
        "rawKey",
        "bytes",
        "checksum",
    ];
    let assets: Vec<Value> = p["assets"]
        .as_array()
        .expect("an asset list")
        .iter()
        .map(|a| {
            Value::Object(
                fields
                    .iter()
                    .map(|&f| (f.to_owned(), a[f].clone()))
                    .collect(),
            )
        })
        .collect();
    let expected: Vec<Value> = files
        .iter()
        .map(|&i| {
            json!({"clientId": client(i), "assetType": asset_type(i), "contentType": content_type(i),
                   "rawKey": raw_key(i), "bytes": bytes(i), "checksum": checksum(i)})
        })
        .collect();
    assert_eq!(assets, expected);
}

fn batch_cells(stream: &Stream, expected: &[(&str, Cell)]) {
    assert_cells(&stream.rows(), &MEDIA_BATCHES, BATCH, expected);
}
fn asset_cells(stream: &Stream, files: &[usize], expected: &[(&str, Cell)]) {
    for &i in files {
        assert_cells(&stream.rows(), &MEDIA_ASSETS, client(i), expected);
    }
}
fn job_cells(stream: &Stream, attempt: u32, expected: &[(&str, Cell)]) {
    assert_cells(&stream.rows(), &MEDIA_JOBS, job_text(attempt), expected);
}

// ---- tests --------------------------------------------------------------------------------

#[test]
fn every_row_fits_its_table() {
    let mut batch = Stream::batch(happy_path());
    batch.push(retry(2, RetryScope::All, &FILES, "reshoot", 10));
    batch.push(deleted(11));
    let mut listing = Stream::new(Listing::TYPE);
    listing.push(synced("PENDING_PHOTO_PROCESSING", None, true, 0));
    listing.push(awaiting_owner_approval(8));

    let rows = [batch.rows(), listing.rows()].concat();
    assert_shape(&rows);
    let counts = TABLES.map(|t| count(&rows, t));
    assert_eq!(counts, [1, 3, 2, 1], "rows of {:?}", TABLES.map(|t| t.name));
}

#[test]
fn a_batch_goes_from_request_to_ready() {
    let [requested, received, processing, p1, p2, p3, ready] = happy_path();
    let mut s = Stream::new(MediaBatch::TYPE);

    assert!(s.push(requested).is_empty());
    assert_eq!(TABLES.map(|t| count(&s.rows(), t)), [1, 3, 0, 0]);
    batch_cells(
        &s,
        &[
            ("listing_id", int(LISTING)),
            ("batch_reference", text("slot-123")),
            ("status", text("PENDING_UPLOAD")),
            ("attempt", int(0)),
            ("current_job_id", NULL),
            ("open_listing_id", int(LISTING)),
            ("deleted", int(0)),
            ("upload_expires_at", ts(15)),
            ("received_at", NULL),
            ("ready_attempt", NULL),
            ("asset_count", int(3)),
            ("total_bytes", int(6000)),
            ("created_at", ts(0)),
            ("updated_at", ts(0)),
            ("last_seq", int(1)),
        ],
    );
    for i in FILES {
        asset_cells(
            &s,
            &[i],
            &[
                ("batch_id", text(BATCH)),
                ("sequence", int(i as u64)),
                ("title", text(&format!("Room {i}"))),
                ("asset_type", text(asset_type(i))),
                ("content_type", text(content_type(i))),
                ("filename", text(&filename(i))),
                ("bytes", int(bytes(i))),
                ("checksum", text(&checksum(i))),
                ("status", text("PENDING_UPLOAD")),
                ("raw_key", text(&raw_key(i))),
                ("renditions", text("{}")),
                ("width", NULL),
                ("metadata", text(metadata(i))),
            ],
        );
    }

    assert_job_message(&s.push(received), 1, &FILES);
    batch_cells(
        &s,
        &[
            ("status", text("RECEIVED")),
            ("attempt", int(1)),
            ("current_job_id", text(&job_text(1))),
            ("received_at", ts(2)),
            ("updated_at", ts(2)),
            ("last_seq", int(2)),
        ],
    );
    asset_cells(
        &s,
        &FILES,
        &[("status", text("UPLOADED")), ("updated_at", ts(2))],
    );
    job_cells(
        &s,
        1,
        &[
            ("batch_id", text(BATCH)),
            ("listing_id", int(LISTING)),
            ("attempt", int(1)),
            ("status", text("PENDING")),
            ("scope", text("ALL")),
            ("reason", NULL),
            ("asset_count", int(3)),
            ("created_at", ts(2)),
            ("started_at", NULL),
            ("completed_at", NULL),
        ],
    );

    assert!(s.push(processing).is_empty());
    batch_cells(&s, &[("status", text("PROCESSING")), ("last_seq", int(3))]);
    asset_cells(
        &s,
        &FILES,
        &[("status", text("PROCESSING")), ("last_seq", int(3))],
    );
    job_cells(&s, 1, &[("status", text("RUNNING")), ("started_at", ts(3))]);

    for event in [p1, p2, p3] {
        assert!(s.push(event).is_empty());
    }
    for i in FILES {
        let duration = if i == VIDEO { int(12_000) } else { NULL };
        asset_cells(
            &s,
            &[i],
            &[
                ("status", text("PROCESSED")),
                ("renditions", renditions(1, i)),
                ("width", int(1920)),
                ("height", int(1080)),
                ("duration_millis", duration),
                ("error_code", NULL),
                ("updated_at", ts(3 + i as u32)),
            ],
        );
    }
    batch_cells(&s, &[("status", text("PROCESSING")), ("last_seq", int(6))]);

    let messages = s.push(ready);
    let [message] = &messages[..] else {
        panic!("one message expected, got {messages:?}");
    };
    assert_eq!(message.topic, "listing.media_ready");
    assert_eq!(message.payload["listingIdentityId"], LISTING);
    assert_eq!(message.payload["batchId"], BATCH);
    assert_eq!(message.payload["attempt"], 1);
    batch_cells(
        &s,
        &[
            ("status", text("READY")),
            ("status_message", NULL),
            ("failure_code", NULL),
            ("ready_at", ts(7)),
            ("ready_attempt", int(1)),
            ("open_listing_id", NULL),
            ("last_seq", int(7)),
        ],
    );
    job_cells(
        &s,
        1,
        &[
            ("status", text("SUCCEEDED")),
            ("completed_at", ts(7)),
            ("last_seq", int(7)),
        ],
    );
}

#[test]
fn a_full_retry_of_a_ready_batch_keeps_renditions_until_replaced() {
    let mut s = Stream::batch(happy_path());

    assert_job_message(
        &s.push(retry(2, RetryScope::All, &FILES, "reshoot", 10)),
        2,
        &FILES,
    );
    batch_cells(
        &s,
        &[
            ("status", text("RECEIVED")),
            ("status_message", text("reshoot")),
            ("attempt", int(2)),
            ("current_job_id", text(&job_text(2))),
            ("open_listing_id", int(LISTING)),
            ("ready_at", ts(7)),
            ("ready_attempt", int(1)),
            ("last_seq", int(8)),
        ],
    );
    job_cells(
        &s,
        1,
        &[("status", text("SUCCEEDED")), ("completed_at", ts(7))],
    );
    job_cells(
        &s,
        2,
        &[
            ("attempt", int(2)),
            ("status", text("PENDING")),
            ("scope", text("ALL")),
            ("reason", text("reshoot")),
            ("asset_count", int(3)),
            ("created_at", ts(10)),
            ("completed_at", NULL),
        ],
    );
    for i in FILES {
        asset_cells(
            &s,
            &[i],
            &[
                ("status", text("UPLOADED")),
                ("renditions", renditions(1, i)),
                ("width", int(1920)),
            ],
        );
    }

    for event in [
        processing(2, 11),
        succeeded(2, 1, 12),
        asset_failed(2, 2, 12),
        asset_failed(2, 3, 12),
        failed(2, "ASSETS_FAILED", "2 of 3 assets failed", 12),
    ] {
        assert!(s.push(event).is_empty());
    }
    batch_cells(
        &s,
        &[
            ("status", text("FAILED")),
            ("status_message", text("2 of 3 assets failed")),
            ("failure_code", text("ASSETS_FAILED")),
            ("attempt", int(2)),
            ("open_listing_id", NULL),
            ("ready_attempt", int(1)),
            ("last_seq", int(13)),
        ],
    );
    job_cells(&s, 1, &[("status", text("SUCCEEDED"))]);
    job_cells(
        &s,
        2,
        &[
            ("status", text("FAILED")),
            ("started_at", ts(11)),
            ("completed_at", ts(12)),
            ("last_seq", int(13)),
        ],
    );
    asset_cells(
        &s,
        &[1],
        &[
            ("status", text("PROCESSED")),
            ("renditions", renditions(2, 1)),
        ],
    );
    for i in [2, 3] {
        asset_cells(
            &s,
            &[i],
            &[
                ("status", text("FAILED")),
                ("error_code", text("PIPELINE_FAILED")),
                ("error_message", text("decoder crashed")),
                ("renditions", renditions(1, i)),
            ],
        );
    }
}

#[test]
fn a_failed_only_retry_reprocesses_only_the_failed_assets() {
    let [requested, received, start, p1, _, p3, _] = happy_path();
    let failure = failed(1, "ASSETS_FAILED", "1 of 3 assets failed", 7);
    let mut s = Stream::batch([
        requested,
        received,
        start,
        p1,
        asset_failed(1, 2, 5),
        p3,
        failure,
    ]);
    asset_cells(
        &s,
        &[2],
        &[
            ("status", text("FAILED")),
            ("error_code", text("PIPELINE_FAILED")),
        ],
    );
    job_cells(
        &s,
        1,
        &[("status", text("FAILED")), ("completed_at", ts(7))],
    );

    assert_job_message(
        &s.push(retry(2, RetryScope::FailedOnly, &[2], "try again", 10)),
        2,
        &[2],
    );
    batch_cells(
        &s,
        &[
            ("status", text("RECEIVED")),
            ("failure_code", NULL),
            ("open_listing_id", int(LISTING)),
        ],
    );
    job_cells(
        &s,
        2,
        &[("scope", text("FAILED_ONLY")), ("asset_count", int(1))],
    );
    asset_cells(
        &s,
        &[2],
        &[
            ("status", text("UPLOADED")),
            ("error_code", NULL),
            ("error_message", NULL),
            ("last_seq", int(8)),
        ],
    );
    asset_cells(
        &s,
        &[1],
        &[("status", text("PROCESSED")), ("last_seq", int(4))],
    );
    asset_cells(
        &s,
        &[3],
        &[("status", text("PROCESSED")), ("last_seq", int(6))],
    );

    assert!(s.push(processing(2, 11)).is_empty());
    asset_cells(&s, &[2], &[("status", text("PROCESSING"))]);
    asset_cells(&s, &[1, 3], &[("status", text("PROCESSED"))]);

    assert!(s.push(succeeded(2, 2, 12)).is_empty());
    let messages = s.push(ready(2, 12));
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].topic, "listing.media_ready");
    assert_eq!(messages[0].payload["attempt"], 2);
    batch_cells(
        &s,
        &[
            ("status", text("READY")),
            ("status_message", NULL),
            ("ready_attempt", int(2)),
            ("ready_at", ts(12)),
            ("open_listing_id", NULL),
        ],
    );
    asset_cells(&s, &[2], &[("renditions", renditions(2, 2))]);
    asset_cells(&s, &[1], &[("renditions", renditions(1, 1))]);
}

#[test]
fn a_timed_out_job_is_failed_by_the_retry_that_replaces_it() {
    let [requested, received, processing, ..] = happy_path();
    let mut s = Stream::batch([requested, received, processing]);

    let messages = s.push(retry(2, RetryScope::FailedOnly, &FILES, "JOB_TIMEOUT", 40));
    assert_job_message(&messages, 2, &FILES);
    job_cells(
        &s,
        1,
        &[
            ("status", text("FAILED")),
            ("started_at", ts(3)),
            ("completed_at", ts(40)),
            ("last_seq", int(4)),
        ],
    );
    job_cells(
        &s,
        2,
        &[("status", text("PENDING")), ("reason", text("JOB_TIMEOUT"))],
    );
    asset_cells(&s, &FILES, &[("status", text("UPLOADED"))]);

    assert!(
        s.push(failed(
            2,
            "JOB_TIMEOUT",
            "no result within 1800 seconds",
            50
        ))
        .is_empty()
    );
    job_cells(
        &s,
        2,
        &[("status", text("FAILED")), ("completed_at", ts(50))],
    );
    batch_cells(
        &s,
        &[
            ("status", text("FAILED")),
            ("failure_code", text("JOB_TIMEOUT")),
            ("open_listing_id", NULL),
        ],
    );
}

#[test]
fn open_listing_id_is_set_only_while_the_batch_is_open_and_not_deleted() {
    let open = || int(LISTING);
    let happy = happy_path().into_iter().map(|e| (e, open()));
    let cases: [Vec<(MediaBatchEvent, Cell)>; 3] = [
        happy
            .take(6)
            .chain([
                (ready(1, 7), NULL),
                (retry(2, RetryScope::All, &FILES, "reshoot", 10), open()),
                (deleted(11), NULL),
            ])
            .collect(),
        vec![
            (requested(), open()),
            (
                failed(0, "UPLOAD_EXPIRED", "uploads were not completed", 40),
                NULL,
            ),
        ],
        vec![
            (requested(), open()),
            (received(2), open()),
            (deleted(3), NULL),
        ],
    ];
    for case in cases {
        let mut s = Stream::new(MediaBatch::TYPE);
        for (event, expected) in case {
            let name = event.event_type();
            let is_delete = matches!(event, MediaBatchEvent::Deleted(_));
            s.push(event);
            let rows = s.rows();
            assert_eq!(
                cell(&rows, &MEDIA_BATCHES, BATCH, "open_listing_id"),
                expected,
                "after {name}"
            );
            let deleted_flag = int(u64::from(is_delete));
            assert_eq!(
                cell(&rows, &MEDIA_BATCHES, BATCH, "deleted"),
                deleted_flag,
                "after {name}"
            );
        }
    }
}

#[test]
fn a_second_pass_over_the_same_events_changes_nothing() {
    let mut batch = Stream::batch(happy_path());
    batch.push(retry(2, RetryScope::All, &FILES, "reshoot", 10));
    batch.push(deleted(11));
    let mut listing = Stream::new(Listing::TYPE);
    listing.push(synced("PENDING_PHOTO_PROCESSING", Some(7), false, 0));
    listing.push(awaiting_owner_approval(8));

    for s in [&mut batch, &mut listing] {
        let before = s.rows();
        for event in s.events.clone() {
            assert_eq!(s.apply(&event), [], "{} replayed", event.event_type);
        }
        assert_eq!(s.rows(), before);
    }
}

#[test]
fn an_event_at_or_below_the_last_sequence_is_ignored() {
    let mut batch = Stream::batch(happy_path());
    let before = batch.rows();
    for sequence in [1, 4, 7] {
        for event in [
            requested(),
            received(20),
            retry(2, RetryScope::All, &FILES, "stale", 20),
            failed(1, "JOB_TIMEOUT", "stale", 20),
            deleted(20),
        ] {
            let event = serialized(MediaBatch::TYPE, sequence, &event);
            assert_eq!(
                batch.apply(&event),
                [],
                "{} at {sequence}",
                event.event_type
            );
        }
    }
    assert_eq!(batch.rows(), before);

    let mut listing = Stream::new(Listing::TYPE);
    listing.push(synced("PENDING_PHOTO_PROCESSING", Some(7), false, 0));
    let before = listing.rows();
    for event in [awaiting_owner_approval(8), synced("DRAFT", None, true, 9)] {
        assert_eq!(listing.apply(&serialized(Listing::TYPE, 1, &event)), []);
    }
    assert_eq!(listing.rows(), before);
}

#[test]
fn a_listing_moves_to_owner_approval_and_tells_the_platform() {
    let mut s = Stream::new(Listing::TYPE);
    assert_eq!(
        s.push(synced("PENDING_PHOTO_PROCESSING", Some(7), false, 0)),
        []
    );
    let listing = |s: &Stream, expected: &[(&str, Cell)]| {
        assert_cells(&s.rows(), &LISTINGS, LISTING, expected)
    };
    listing(
        &s,
        &[
            ("status", text("PENDING_PHOTO_PROCESSING")),
            ("owner_user_id", int(12)),
            ("photographer_user_id", int(7)),
            ("project_media", int(0)),
            ("updated_at", ts(0)),
            ("last_seq", int(1)),
        ],
    );

    let messages = s.push(awaiting_owner_approval(8));
    let [message] = &messages[..] else {
        panic!("one message expected, got {messages:?}");
    };
    assert_eq!(message.topic, "listing.status_changed");
    assert_eq!(message.payload["listingIdentityId"], LISTING);
    assert_eq!(
        message.payload["previousStatus"],
        "PENDING_PHOTO_PROCESSING"
    );
    assert_eq!(message.payload["status"], "PENDING_OWNER_APPROVAL");
    assert_eq!(message.payload["batchId"], BATCH);
    listing(
        &s,
        &[
            ("status", text("PENDING_OWNER_APPROVAL")),
            ("owner_user_id", int(12)),
            ("updated_at", ts(8)),
            ("last_seq", int(2)),
        ],
    );

    assert_eq!(s.push(synced("PUBLISHED", None, true, 9)), []);
    listing(
        &s,
        &[
            ("status", text("PUBLISHED")),
            ("photographer_user_id", NULL),
            ("project_media", int(1)),
            ("last_seq", int(3)),
        ],
    );
}

#[test]
fn stamps_are_rfc3339_utc_with_milliseconds() {
    assert_eq!(stamp(at(0)), "2025-11-11T14:00:00.000Z");
    let precise = at(0) + Duration::microseconds(123_456);
    assert_eq!(stamp(precise), "2025-11-11T14:00:00.123Z");
    let early = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(stamp(early), "1970-01-01T00:00:00.000Z");
}

/// 1970-01-01 to 9999-12-31, in milliseconds.
const MILLIS: std::ops::Range<i64> = 0..253_402_300_800_000;

proptest! {
    #[test]
    fn stamps_sort_as_text_in_time_order(a in MILLIS, b in MILLIS, near in -2_000i64..2_000) {
        let time = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap();
        let c = (a + near).clamp(MILLIS.start, MILLIS.end - 1);
        for (x, y) in [(a, b), (a, c)] {
            let (sx, sy) = (stamp(time(x)), stamp(time(y)));
            prop_assert_eq!(sx.cmp(&sy), x.cmp(&y), "{} vs {}", sx, sy);
        }
        let s = stamp(time(a));
        prop_assert_eq!(s.len(), 24);
        prop_assert!(s.ends_with('Z') && &s[19..20] == ".", "{}", s);
        prop_assert_eq!(DateTime::parse_from_rfc3339(&s).unwrap(), time(a));
    }
}

#[test]
fn an_unknown_aggregate_type_is_refused() {
    let error = View::new("Nope").unwrap_err();
    assert!(
        matches!(&error, ProjectionError::UnknownAggregate(t) if t == "Nope"),
        "{error:?}"
    );
}

#[test]
fn an_unreadable_payload_is_a_payload_error() {
    let garbage = |kind| SerializedEvent {
        payload: json!({"Nope": {"at": 1}}),
        ..serialized(kind, 4, &deleted(0))
    };
    let cases = [
        (MediaBatch::TYPE, garbage(MediaBatch::TYPE)),
        (Listing::TYPE, garbage(Listing::TYPE)),
        (Listing::TYPE, serialized(Listing::TYPE, 4, &requested())),
        (
            MediaBatch::TYPE,
            serialized(MediaBatch::TYPE, 4, &awaiting_owner_approval(0)),
        ),
    ];
    for (kind, event) in cases {
        let mut view = View::new(kind).unwrap();
        let error = view.apply(&event).unwrap_err();
        assert!(
            matches!(&error, ProjectionError::Payload { aggregate_id, sequence: 4, .. } if aggregate_id == BATCH),
            "{error:?}"
        );
        assert_eq!(
            view,
            View::new(kind).unwrap(),
            "a failed apply changes nothing"
        );
    }
}
