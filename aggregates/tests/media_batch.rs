//! Every transition and every refusal of the `MediaBatch` aggregate, through cqrs-es' TestFramework.
//!
//! The story of every test: batch `BATCH` of listing 123 was requested at 14:00 (`t(0)`) with three
//! photos (`photo-1..3`), upload URLs valid 15 minutes, confirmed at `t(10)` under job 1.

use std::collections::BTreeMap;

use aggregates::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use uuid::Uuid;

use MediaBatchCommand as C;
use MediaBatchEvent as E;

const BATCH: &str = "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b";
const REFERENCE: &str = "2025-11-11T14:00Z-slot-123";

// ---------------------------------------------------------------- values

/// `minutes` after the batch was requested, 2025-11-11 14:00 UTC.
fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 11, 14, 0, 0).unwrap() + Duration::minutes(minutes)
}

/// The last moment a confirmation is still taken: URLs expire at `t(15)`, plus 24 h of grace.
fn deadline() -> DateTime<Utc> {
    t(15) + Duration::hours(24)
}

fn job(attempt: u32) -> JobId {
    JobId::from(Uuid::from_u128(u128::from(attempt)))
}

fn client(i: usize) -> ClientId {
    ClientId::parse(&format!("photo-{i}")).unwrap()
}

fn bytes(i: usize) -> u64 {
    1000 + i as u64
}

fn checksum_hex(i: usize) -> String {
    format!("{i:064x}")
}

fn checksum(i: usize) -> Checksum {
    Checksum::parse(&checksum_hex(i)).unwrap()
}

fn raw_key(i: usize) -> String {
    format!("123/raw/photo/horizontal/{BATCH}/0{i}-photo-{i}-IMG_{i}.jpg")
}

fn key(raw: &str) -> ObjectKey {
    ObjectKey::parse(raw).unwrap()
}

fn rendition_key(i: usize, attempt: u32, size: &str) -> String {
    format!("123/processed/photo/{BATCH}/{attempt}/{size}/0{i}-photo-{i}.jpg")
}

fn renditions(i: usize, attempt: u32) -> BTreeMap<String, String> {
    ["thumbnail", "large"]
        .map(|size| (size.to_owned(), rendition_key(i, attempt, size)))
        .into()
}

fn field(field: &str, message: &str) -> FieldError {
    FieldError::new(field, message)
}

/// Three photos, given out of order: the manifest sorts them by sequence.
fn manifest() -> Manifest {
    let file = |i: usize| RawFile {
        client_id: Some(format!("photo-{i}")),
        asset_type: Some("PHOTO_HORIZONTAL".into()),
        orientation: Some("HORIZONTAL".into()),
        filename: Some(format!("IMG_{i}.jpg")),
        content_type: Some("image/jpeg".into()),
        bytes: Some(bytes(i)),
        checksum: Some(checksum_hex(i)),
        title: Some(format!("Room {i}")),
        sequence: Some(i as i64),
        metadata: None,
    };
    let raw = RawManifest {
        batch_reference: Some(REFERENCE.into()),
        files: Some(vec![file(3), file(1), file(2)]),
    };
    Manifest::parse(&raw, &Limits::default()).unwrap()
}

// ---------------------------------------------------------------- events

fn requested() -> E {
    let files = (1..)
        .zip(manifest().files)
        .map(|(i, file)| RequestedFile {
            raw_key: key(&raw_key(i)),
            file,
        })
        .collect();
    E::Requested(Requested {
        batch_id: BatchId::parse(BATCH).unwrap(),
        listing_id: ListingId::parse(123).unwrap(),
        batch_reference: REFERENCE.into(),
        files,
        upload_expires_at: t(15),
        at: t(0),
    })
}

fn received(etags: BTreeMap<ClientId, String>, at: DateTime<Utc>) -> E {
    E::Received(Received {
        job_id: job(1),
        attempt: 1,
        etags,
        at,
    })
}

fn processing(attempt: u32, at: DateTime<Utc>) -> E {
    E::Processing(Processing {
        job_id: job(attempt),
        attempt,
        at,
    })
}

fn asset_processed(i: usize, attempt: u32, outcome: AssetOutcome, at: DateTime<Utc>) -> E {
    E::AssetProcessed(AssetProcessed {
        job_id: job(attempt),
        attempt,
        client_id: client(i),
        outcome,
        at,
    })
}

fn asset_ok(i: usize, attempt: u32, at: DateTime<Utc>) -> E {
    let renditions = renditions(i, attempt)
        .into_iter()
        .map(|(size, k)| (size, key(&k)))
        .collect();
    let outcome = AssetOutcome::Succeeded {
        renditions,
        width: Some(1920),
        height: Some(1080),
        duration_millis: None,
        page_count: None,
    };
    asset_processed(i, attempt, outcome, at)
}

fn asset_failed(i: usize, attempt: u32, code: &str, message: &str, at: DateTime<Utc>) -> E {
    let outcome = AssetOutcome::Failed {
        error_code: code.into(),
        error_message: message.into(),
    };
    asset_processed(i, attempt, outcome, at)
}

fn ready(attempt: u32, at: DateTime<Utc>) -> E {
    E::Ready(Ready {
        job_id: job(attempt),
        attempt,
        at,
        zip: None,
    })
}

fn failed(job_id: Option<JobId>, attempt: u32, code: &str, message: &str, at: DateTime<Utc>) -> E {
    E::Failed(Failed {
        job_id,
        attempt,
        code: code.into(),
        message: message.into(),
        at,
    })
}

fn retry_requested(attempt: u32, scope: RetryScope, reason: &str, assets: &[usize]) -> E {
    E::RetryRequested(RetryRequested {
        job_id: job(attempt),
        attempt,
        scope,
        reason: reason.into(),
        assets: assets.iter().copied().map(client).collect(),
        automatic: false,
        at: t(60),
    })
}

fn deleted(at: DateTime<Utc>) -> E {
    E::Deleted(Deleted {
        reason: "shot the wrong flat".into(),
        at,
    })
}

// ---------------------------------------------------------------- histories

fn pending_upload() -> Vec<E> {
    vec![requested()]
}

fn upload_expired() -> Vec<E> {
    let message = "uploads were not completed by 2025-11-12 14:15:00 UTC";
    vec![
        requested(),
        failed(
            None,
            0,
            "UPLOAD_EXPIRED",
            message,
            deadline() + Duration::minutes(1),
        ),
    ]
}

fn in_received() -> Vec<E> {
    vec![requested(), received(BTreeMap::new(), t(10))]
}

fn in_processing() -> Vec<E> {
    [in_received(), vec![processing(1, t(11))]].concat()
}

fn in_ready() -> Vec<E> {
    let done = (1..=3).map(|i| asset_ok(i, 1, t(20)));
    [in_processing(), done.collect(), vec![ready(1, t(20))]].concat()
}

/// photo-1 succeeded, photo-2 could not be decoded, photo-3 had no output.
fn in_failed() -> Vec<E> {
    let no_output = "the pipeline reported no output for this asset";
    let events = vec![
        asset_ok(1, 1, t(20)),
        asset_failed(2, 1, "CORRUPT_FILE", "cannot decode", t(20)),
        asset_failed(3, 1, "MISSING_OUTPUT", no_output, t(20)),
        failed(
            Some(job(1)),
            1,
            "ASSETS_FAILED",
            "2 of 3 assets failed",
            t(20),
        ),
    ];
    [in_processing(), events].concat()
}

fn plus(history: Vec<E>, event: E) -> Vec<E> {
    [history, vec![event]].concat()
}

fn given(history: Vec<E>) -> AggregateTestExecutor<MediaBatch> {
    TestFramework::<MediaBatch>::with(()).given(history)
}

// ---------------------------------------------------------------- commands

fn request(status: &str) -> C {
    C::RequestUploads(RequestUploads {
        batch_id: BatchId::parse(BATCH).unwrap(),
        listing_id: ListingId::parse(123).unwrap(),
        listing_status: ListingStatus::parse(status).unwrap(),
        manifest: manifest(),
        upload_ttl: Duration::minutes(15),
        now: t(0),
    })
}

fn confirmed(i: usize) -> RawConfirmedFile {
    RawConfirmedFile {
        client_id: Some(format!("photo-{i}")),
        object_key: Some(raw_key(i)),
        bytes: Some(bytes(i)),
        checksum: Some(checksum_hex(i)),
        etag: Some(format!("etag-{i}")),
    }
}

/// What the store holds: `size` bytes whose SHA-256 is the checksum of file `sum`.
fn object(size: u64, sum: usize) -> Option<StoredObject> {
    Some(StoredObject {
        bytes: size,
        checksum: checksum(sum),
    })
}

fn stored(i: usize) -> (ClientId, Option<StoredObject>) {
    (client(i), object(bytes(i), i))
}

/// Every file confirmed as issued, every object stored as announced.
fn confirmation() -> ConfirmUploads {
    ConfirmUploads {
        files: (1..=3).map(confirmed).collect(),
        stored: (1..=3).map(stored).collect(),
        job_id: job(1),
        grace: Duration::hours(24),
        now: t(10),
    }
}

fn start(job_id: JobId) -> C {
    C::StartProcessing(StartProcessing { job_id, now: t(30) })
}

fn output(i: usize) -> AssetOutput {
    AssetOutput {
        client_id: format!("photo-{i}"),
        raw_key: Some(raw_key(i)),
        renditions: renditions(i, 1),
        width: Some(1920),
        height: Some(1080),
        ..AssetOutput::default()
    }
}

fn output_error(i: usize, code: &str, message: &str) -> AssetOutput {
    AssetOutput {
        client_id: format!("photo-{i}"),
        error_code: Some(code.into()),
        error_message: Some(message.into()),
        ..AssetOutput::default()
    }
}

/// A result of job 1 (attempt 1) at `t(30)`.
fn result(status: ResultStatus, outputs: Vec<AssetOutput>) -> RecordResult {
    RecordResult {
        job_id: job(1),
        attempt: 1,
        status,
        outputs,
        zip: None,
        failure_reason: None,
        now: t(30),
    }
}

fn record(status: ResultStatus, outputs: Vec<AssetOutput>) -> C {
    C::RecordResult(result(status, outputs))
}

fn retry(scope: RetryScope) -> Retry {
    Retry {
        job_id: job(2),
        scope,
        reason: "  colour profile fixed ".into(),
        max_attempts: 5,
        now: t(60),
    }
}

fn delete(reason: &str) -> C {
    C::Delete(Delete {
        reason: reason.into(),
        now: t(90),
    })
}

fn expire(now: DateTime<Utc>) -> C {
    C::ExpireUpload(ExpireUpload {
        grace: Duration::hours(24),
        now,
    })
}

fn time_out(max_attempts: u32, now: DateTime<Utc>) -> C {
    C::TimeOutJob(TimeOutJob {
        timeout: Duration::minutes(30),
        max_attempts,
        next_job_id: job(2),
        now,
    })
}

fn invalid_reason() -> MediaBatchError {
    MediaBatchError::Invalid(vec![field("reason", "must be 1 to 500 characters")])
}

// ---------------------------------------------------------------- RequestUploads

#[test]
fn request_uploads_issues_a_key_per_file_and_an_expiry() {
    for status in ["PENDING_PHOTO_PROCESSING", "REJECTED_BY_OWNER"] {
        given(vec![])
            .when(request(status))
            .then_expect_events(vec![requested()]);
    }
}

#[test]
fn request_uploads_is_refused_when_the_listing_does_not_await_media() {
    for status in ["DRAFT", "PENDING_OWNER_APPROVAL", "PUBLISHED"] {
        given(vec![]).when(request(status)).then_expect_error(
            MediaBatchError::ListingNotAwaitingMedia {
                status: status.into(),
            },
        );
    }
}

#[test]
fn request_uploads_is_refused_when_the_batch_exists() {
    for history in [pending_upload(), plus(pending_upload(), deleted(t(5)))] {
        given(history)
            .when(request("PENDING_PHOTO_PROCESSING"))
            .then_expect_error(MediaBatchError::AlreadyRequested);
    }
}

#[test]
fn every_other_command_on_an_unknown_batch_is_not_found() {
    let commands = [
        C::ConfirmUploads(confirmation()),
        start(job(1)),
        record(ResultStatus::Succeeded, vec![]),
        C::Retry(retry(RetryScope::All)),
        delete("gone"),
        expire(t(0)),
        time_out(5, t(0)),
    ];
    for command in commands {
        given(vec![])
            .when(command)
            .then_expect_error(MediaBatchError::NotFound);
    }
}

// ---------------------------------------------------------------- ConfirmUploads

#[test]
fn confirm_uploads_receives_the_batch_and_keeps_the_etags() {
    let mut files = (1..=3).map(confirmed).collect::<Vec<_>>();
    files[1].checksum = Some(format!("sha256:{}", checksum(2).to_base64()));
    files[2].etag = None;
    let etags = BTreeMap::from([
        (client(1), "etag-1".to_owned()),
        (client(2), "etag-2".to_owned()),
    ]);
    given(pending_upload())
        .when(C::ConfirmUploads(ConfirmUploads {
            files,
            ..confirmation()
        }))
        .then_expect_events(vec![received(etags, t(10))]);
}

#[test]
fn confirm_uploads_of_a_deleted_batch_is_not_found() {
    given(plus(pending_upload(), deleted(t(5))))
        .when(C::ConfirmUploads(confirmation()))
        .then_expect_error(MediaBatchError::NotFound);
}

#[test]
fn confirm_uploads_is_refused_when_the_batch_is_not_pending_upload() {
    let cases = [
        (in_received(), "RECEIVED"),
        (in_processing(), "PROCESSING"),
        (in_ready(), "READY"),
    ];
    for (history, status) in cases {
        given(history)
            .when(C::ConfirmUploads(confirmation()))
            .then_expect_error(MediaBatchError::NotPendingUpload { status });
    }
}

#[test]
fn confirm_uploads_of_a_batch_the_reconciler_expired_is_upload_expired() {
    given(upload_expired())
        .when(C::ConfirmUploads(confirmation()))
        .then_expect_error(MediaBatchError::UploadExpired);
}

#[test]
fn confirm_uploads_is_accepted_until_the_end_of_the_grace_period() {
    given(pending_upload())
        .when(C::ConfirmUploads(ConfirmUploads {
            now: deadline(),
            ..confirmation()
        }))
        .then_expect_events(vec![received(etags_of_all(), deadline())]);
}

fn etags_of_all() -> BTreeMap<ClientId, String> {
    (1..=3).map(|i| (client(i), format!("etag-{i}"))).collect()
}

#[test]
fn confirm_uploads_after_the_grace_period_is_expired() {
    given(pending_upload())
        .when(C::ConfirmUploads(ConfirmUploads {
            now: deadline() + Duration::seconds(1),
            ..confirmation()
        }))
        .then_expect_error(MediaBatchError::UploadExpired);
}

#[test]
fn confirm_uploads_reports_every_invalid_confirmation_at_once() {
    let files = vec![
        RawConfirmedFile {
            client_id: Some("ghost".into()),
            ..confirmed(1)
        },
        RawConfirmedFile {
            object_key: Some(raw_key(2)),
            bytes: Some(999),
            checksum: Some(checksum_hex(9)),
            ..confirmed(1)
        },
        confirmed(1),
        RawConfirmedFile {
            client_id: None,
            ..confirmed(2)
        },
        RawConfirmedFile {
            checksum: Some("nope".into()),
            ..confirmed(2)
        },
    ];
    let digest = "must be a SHA-256 digest: 64 hex characters or base64 of 32 bytes";
    given(pending_upload())
        .when(C::ConfirmUploads(ConfirmUploads {
            files,
            ..confirmation()
        }))
        .then_expect_error(MediaBatchError::Invalid(vec![
            field("files[0].clientId", "is not in this batch's manifest"),
            field("files[1].objectKey", "is not the key issued for this file"),
            field("files[1].bytes", "does not match the manifest"),
            field("files[1].checksum", "does not match the manifest"),
            field("files[2].clientId", "is confirmed more than once"),
            field("files[3].clientId", "is required"),
            field("files[4].checksum", digest),
            field("files", "clientId photo-3 of the manifest is not confirmed"),
        ]));
}

#[test]
fn confirm_uploads_lists_every_stored_object_that_does_not_match() {
    let stored = BTreeMap::from([
        (client(1), None),
        (client(2), object(5, 2)),
        (client(3), object(bytes(3), 9)),
    ]);
    let problem = |i, problem, actual_bytes| UploadProblem {
        client_id: client(i),
        problem,
        expected_bytes: bytes(i),
        actual_bytes,
    };
    given(pending_upload())
        .when(C::ConfirmUploads(ConfirmUploads {
            stored,
            ..confirmation()
        }))
        .then_expect_error(MediaBatchError::UploadMismatch(vec![
            problem(1, FailureCode::Missing, None),
            problem(2, FailureCode::SizeMismatch, Some(5)),
            problem(3, FailureCode::ChecksumMismatch, Some(bytes(3))),
        ]));
}

// ---------------------------------------------------------------- StartProcessing

#[test]
fn start_processing_moves_a_received_batch_to_processing() {
    given(in_received())
        .when(start(job(1)))
        .then_expect_events(vec![processing(1, t(30))]);
}

#[test]
fn start_processing_is_a_no_op_unless_the_current_job_is_waiting() {
    let cases = [
        (in_processing(), job(1)),
        (in_received(), job(9)),
        (pending_upload(), job(1)),
        (in_ready(), job(1)),
        (in_failed(), job(1)),
        (plus(in_received(), deleted(t(12))), job(1)),
    ];
    for (history, job_id) in cases {
        given(history)
            .when(start(job_id))
            .then_expect_events(vec![]);
    }
}

// ---------------------------------------------------------------- RecordResult

#[test]
fn a_running_result_without_outputs_only_starts_processing() {
    given(in_received())
        .when(record(ResultStatus::Running, vec![]))
        .then_expect_events(vec![processing(1, t(30))]);
}

#[test]
fn a_running_result_records_each_finished_asset() {
    let still_running = AssetOutput {
        client_id: "photo-3".into(),
        ..AssetOutput::default()
    };
    let outputs = vec![
        output(1),
        output_error(2, "CORRUPT_FILE", "cannot decode"),
        still_running,
    ];
    given(in_processing())
        .when(record(ResultStatus::Running, outputs))
        .then_expect_events(vec![
            asset_ok(1, 1, t(30)),
            asset_failed(2, 1, "CORRUPT_FILE", "cannot decode", t(30)),
        ]);
}

#[test]
fn a_duplicate_result_is_a_no_op() {
    given(plus(in_processing(), asset_ok(1, 1, t(30))))
        .when(record(ResultStatus::Running, vec![output(1)]))
        .then_expect_events(vec![]);
    let all = (1..=3).map(output).collect();
    given(in_ready())
        .when(record(ResultStatus::Succeeded, all))
        .then_expect_events(vec![]);
}

#[test]
fn a_result_of_an_older_attempt_is_acknowledged_without_events() {
    let retried = plus(
        in_ready(),
        retry_requested(2, RetryScope::All, "again", &[1, 2, 3]),
    );
    given(retried)
        .when(record(ResultStatus::Failed, vec![]))
        .then_expect_events(vec![]);
}

#[test]
fn a_result_of_an_unknown_job_or_attempt_is_refused() {
    let cases = [
        (in_processing(), job(9), 1),
        (in_processing(), job(1), 2),
        (in_processing(), job(1), 0),
        (pending_upload(), job(1), 1),
    ];
    for (history, job_id, attempt) in cases {
        given(history)
            .when(C::RecordResult(RecordResult {
                job_id,
                attempt,
                ..result(ResultStatus::Succeeded, vec![])
            }))
            .then_expect_error(MediaBatchError::UnknownJob);
    }
}

#[test]
fn a_result_with_invalid_outputs_reports_every_field() {
    let mut escaping = output(1);
    escaping
        .renditions
        .insert("large".into(), "123/../other/listing.jpg".into());
    let outputs = vec![
        AssetOutput {
            client_id: "ghost".into(),
            ..output(1)
        },
        escaping,
        AssetOutput {
            raw_key: Some(raw_key(3)),
            ..output(2)
        },
        output(2),
        AssetOutput {
            client_id: " ".into(),
            ..output(3)
        },
    ];
    given(in_processing())
        .when(record(ResultStatus::Succeeded, outputs))
        .then_expect_error(MediaBatchError::Invalid(vec![
            field("outputs[0].clientId", "is not in this batch"),
            field(
                "outputs[1].renditions.large",
                "must be a relative path without empty segments or ones starting with '.'",
            ),
            field("outputs[2].rawKey", "is not this asset's raw key"),
            field("outputs[3].clientId", "is reported more than once"),
            field("outputs[4].clientId", "must not be empty"),
        ]));
}

#[test]
fn renditions_outside_the_attempts_own_prefix_are_refused_whole() {
    let other_batch = "0193a5b2-7c3d-7e4f-8a9b-ffffffffffff";
    let with = |i: usize, name: &str, key: String| {
        let mut out = output(i);
        out.renditions.insert(name.into(), key);
        out
    };
    let under = |attempt: u32| format!("123/processed/photo/{BATCH}/{attempt}/");
    let cases = [
        // another listing's photo
        with(
            1,
            "large",
            format!("456/processed/photo/{BATCH}/1/large/01-photo-1.jpg"),
        ),
        // another batch of the same listing
        with(
            1,
            "large",
            format!("123/processed/photo/{other_batch}/1/large/01-x.jpg"),
        ),
        // another attempt of this batch (what a retry must not overwrite)
        with(1, "large", rendition_key(1, 2, "large")),
        // another segment of this attempt
        with(
            1,
            "large",
            format!("123/processed/video/{BATCH}/1/large/01-photo-1.jpg"),
        ),
        // a raw object, even this batch's own
        with(1, "large", raw_key(2)),
        // the prefix itself
        with(1, "large", under(1).trim_end_matches('/').to_owned()),
        // `original` is the asset's own raw key and nothing else
        with(1, "original", raw_key(2)),
    ];
    for (n, out) in cases.into_iter().enumerate() {
        let name = if n == 6 { "original" } else { "large" };
        let message = if n == 6 {
            "must be this asset's raw key".to_owned()
        } else {
            format!("must lie under this attempt's {}", under(1))
        };
        given(in_processing())
            .when(record(ResultStatus::Succeeded, vec![out, output(2)]))
            .then_expect_error(MediaBatchError::ForeignRendition(vec![field(
                &format!("outputs[0].renditions.{name}"),
                &message,
            )]));
    }
}

#[test]
fn original_is_accepted_as_the_assets_own_raw_key() {
    let mut out = output(1);
    out.renditions = BTreeMap::from([("original".into(), raw_key(1))]);
    given(in_processing())
        .when(record(ResultStatus::Running, vec![out]))
        .then_expect_events(vec![asset_processed(
            1,
            1,
            AssetOutcome::Succeeded {
                renditions: BTreeMap::from([("original".into(), key(&raw_key(1)))]),
                width: Some(1920),
                height: Some(1080),
                duration_millis: None,
                page_count: None,
            },
            t(30),
        )]);
}

#[test]
fn rendition_names_and_pipeline_texts_are_bounded() {
    let mut out = output(1);
    out.renditions
        .insert("a b".into(), rendition_key(1, 1, "ab"));
    out.renditions
        .insert("x".repeat(40), rendition_key(1, 1, "x"));
    let names = "must be 1 to 32 ASCII letters, digits, '_' or '-'";
    given(in_processing())
        .when(record(ResultStatus::Succeeded, vec![out]))
        .then_expect_error(MediaBatchError::Invalid(vec![
            field("outputs[0].renditions.a b", names),
            field(&format!("outputs[0].renditions.{}", "x".repeat(32)), names),
        ]));

    let long = "é".repeat(2000);
    let failure = C::RecordResult(RecordResult {
        zip: None,
        failure_reason: Some(long.clone()),
        ..result(
            ResultStatus::Failed,
            vec![output_error(1, &"C".repeat(99), &long)],
        )
    });
    let clipped: String = long.chars().take(500).collect();
    given(in_processing())
        .when(failure)
        .then_expect_events(vec![
            asset_failed(1, 1, &"C".repeat(64), &clipped, t(30)),
            asset_failed(2, 1, "PIPELINE_FAILED", &clipped, t(30)),
            asset_failed(3, 1, "PIPELINE_FAILED", &clipped, t(30)),
            failed(Some(job(1)), 1, "PIPELINE_FAILED", &clipped, t(30)),
        ]);
}

#[test]
fn a_succeeded_job_fails_the_assets_it_did_not_report() {
    let no_output = "the pipeline reported no output for this asset";
    given(in_processing())
        .when(record(ResultStatus::Succeeded, vec![output(1)]))
        .then_expect_events(vec![
            asset_ok(1, 1, t(30)),
            asset_failed(2, 1, "MISSING_OUTPUT", no_output, t(30)),
            asset_failed(3, 1, "MISSING_OUTPUT", no_output, t(30)),
            failed(
                Some(job(1)),
                1,
                "ASSETS_FAILED",
                "2 of 3 assets failed",
                t(30),
            ),
        ]);
}

fn pipeline_failure() -> C {
    C::RecordResult(RecordResult {
        zip: None,
        failure_reason: Some("out of memory".into()),
        ..result(ResultStatus::Failed, vec![output(1)])
    })
}

#[test]
fn a_failed_job_fails_its_waiting_assets_with_pipeline_failed() {
    let events = given(in_processing())
        .when(pipeline_failure())
        .inspect_result()
        .unwrap();
    assert_eq!(
        events[..3],
        [
            asset_ok(1, 1, t(30)),
            asset_failed(2, 1, "PIPELINE_FAILED", "out of memory", t(30)),
            asset_failed(3, 1, "PIPELINE_FAILED", "out of memory", t(30)),
        ]
    );
    assert!(
        matches!(&events[3], E::Failed(f) if f.message == "out of memory" && f.job_id == Some(job(1)))
    );
    assert_eq!(events.len(), 4);
}

#[test]
fn a_failed_job_fails_the_batch_with_pipeline_failed() {
    given(in_processing())
        .when(pipeline_failure())
        .then_expect_events(vec![
            asset_ok(1, 1, t(30)),
            asset_failed(2, 1, "PIPELINE_FAILED", "out of memory", t(30)),
            asset_failed(3, 1, "PIPELINE_FAILED", "out of memory", t(30)),
            failed(Some(job(1)), 1, "PIPELINE_FAILED", "out of memory", t(30)),
        ]);
}

fn zip_key(attempt: u32) -> String {
    format!("123/processed/zip/{BATCH}/{attempt}/{BATCH}.zip")
}

fn with_zip(status: ResultStatus, key: String, bytes: u64) -> C {
    C::RecordResult(RecordResult {
        zip: Some(ZipOutput {
            object_key: key,
            bytes,
        }),
        ..result(status, (1..=3).map(output).collect())
    })
}

#[test]
fn a_ready_batch_keeps_the_zip_its_job_made() {
    let E::Ready(ready) = ready(1, t(30)) else {
        unreachable!()
    };
    given(in_processing())
        .when(with_zip(ResultStatus::Succeeded, zip_key(1), 4096))
        .then_expect_events(vec![
            asset_ok(1, 1, t(30)),
            asset_ok(2, 1, t(30)),
            asset_ok(3, 1, t(30)),
            E::Ready(Ready {
                zip: Some(BatchZip {
                    object_key: key(&zip_key(1)),
                    bytes: 4096,
                }),
                ..ready
            }),
        ]);
}

#[test]
fn a_zip_outside_the_attempt_or_without_success_is_refused() {
    let foreign = [
        zip_key(2),
        format!("123/processed/photo/{BATCH}/1/{BATCH}.zip"),
        format!("124/processed/zip/{BATCH}/1/{BATCH}.zip"),
        raw_key(1),
    ];
    for zip in foreign {
        let rule = format!("must lie under this attempt's 123/processed/zip/{BATCH}/1/");
        given(in_processing())
            .when(with_zip(ResultStatus::Succeeded, zip, 10))
            .then_expect_error(MediaBatchError::ForeignRendition(vec![field(
                "zip.objectKey",
                &rule,
            )]));
    }
    let invalid = [
        (
            ResultStatus::Running,
            zip_key(1),
            10,
            "zip",
            "is reported only with SUCCEEDED",
        ),
        (
            ResultStatus::Succeeded,
            zip_key(1),
            0,
            "zip.bytes",
            "must be at least 1",
        ),
    ];
    for (status, zip, bytes, name, message) in invalid {
        given(in_processing())
            .when(with_zip(status, zip, bytes))
            .then_expect_error(MediaBatchError::Invalid(vec![field(name, message)]));
    }
}

#[test]
fn a_job_whose_every_asset_succeeded_makes_the_batch_ready() {
    given(in_received())
        .when(record(
            ResultStatus::Succeeded,
            (1..=3).map(output).collect(),
        ))
        .then_expect_events(vec![
            processing(1, t(30)),
            asset_ok(1, 1, t(30)),
            asset_ok(2, 1, t(30)),
            asset_ok(3, 1, t(30)),
            ready(1, t(30)),
        ]);
}

#[test]
fn results_for_a_deleted_batch_change_nothing() {
    given(plus(in_received(), deleted(t(12))))
        .when(record(
            ResultStatus::Succeeded,
            (1..=3).map(output).collect(),
        ))
        .then_expect_events(vec![]);
}

// ---------------------------------------------------------------- Retry

#[test]
fn retry_all_reprocesses_every_asset_of_a_ready_batch() {
    given(in_ready())
        .when(C::Retry(retry(RetryScope::All)))
        .then_expect_events(vec![retry_requested(
            2,
            RetryScope::All,
            "colour profile fixed",
            &[1, 2, 3],
        )]);
}

#[test]
fn retry_failed_only_of_a_ready_batch_has_nothing_to_retry() {
    given(in_ready())
        .when(C::Retry(retry(RetryScope::FailedOnly)))
        .then_expect_error(MediaBatchError::NothingToRetry);
}

#[test]
fn retry_failed_only_picks_the_assets_that_did_not_succeed() {
    given(in_failed())
        .when(C::Retry(retry(RetryScope::FailedOnly)))
        .then_expect_events(vec![retry_requested(
            2,
            RetryScope::FailedOnly,
            "colour profile fixed",
            &[2, 3],
        )]);
}

#[test]
fn a_retry_that_fixes_the_failed_assets_makes_the_batch_ready() {
    let retried = plus(
        in_failed(),
        retry_requested(2, RetryScope::FailedOnly, "again", &[2, 3]),
    );
    let second = |i| AssetOutput {
        renditions: renditions(i, 2),
        ..output(i)
    };
    given(retried)
        .when(C::RecordResult(RecordResult {
            job_id: job(2),
            attempt: 2,
            ..result(ResultStatus::Succeeded, vec![second(2), second(3)])
        }))
        .then_expect_events(vec![
            processing(2, t(30)),
            asset_ok(2, 2, t(30)),
            asset_ok(3, 2, t(30)),
            ready(2, t(30)),
        ]);
}

#[test]
fn retry_is_refused_while_the_batch_is_not_terminal() {
    let cases = [
        (pending_upload(), "PENDING_UPLOAD"),
        (in_received(), "RECEIVED"),
        (in_processing(), "PROCESSING"),
    ];
    for (history, status) in cases {
        given(history)
            .when(C::Retry(retry(RetryScope::All)))
            .then_expect_error(MediaBatchError::NotTerminal { status });
    }
}

#[test]
fn retry_of_a_batch_never_uploaded_has_nothing_to_retry() {
    given(upload_expired())
        .when(C::Retry(retry(RetryScope::All)))
        .then_expect_error(MediaBatchError::NothingToRetry);
}

#[test]
fn retry_is_refused_once_the_attempts_are_used_up() {
    given(in_failed())
        .when(C::Retry(Retry {
            max_attempts: 1,
            ..retry(RetryScope::FailedOnly)
        }))
        .then_expect_error(MediaBatchError::RetryLimitReached { max: 1 });
}

#[test]
fn retry_needs_a_reason_of_1_to_500_characters() {
    for reason in ["", "   ", &"x".repeat(501)] {
        given(in_failed())
            .when(C::Retry(Retry {
                reason: reason.into(),
                ..retry(RetryScope::All)
            }))
            .then_expect_error(invalid_reason());
    }
    let longest = "x".repeat(500);
    let events = given(in_failed())
        .when(C::Retry(Retry {
            reason: longest.clone(),
            ..retry(RetryScope::All)
        }))
        .inspect_result()
        .unwrap();
    assert!(matches!(&events[..], [E::RetryRequested(r)] if r.reason == longest));
}

#[test]
fn retry_of_a_deleted_batch_is_not_found() {
    given(plus(in_failed(), deleted(t(30))))
        .when(C::Retry(retry(RetryScope::All)))
        .then_expect_error(MediaBatchError::NotFound);
}

// ---------------------------------------------------------------- Delete

#[test]
fn delete_soft_deletes_a_batch_that_is_not_processing() {
    for history in [pending_upload(), in_received(), in_ready(), in_failed()] {
        given(history)
            .when(delete("  shot the wrong flat  "))
            .then_expect_events(vec![deleted(t(90))]);
    }
}

#[test]
fn delete_is_refused_while_processing() {
    given(in_processing())
        .when(delete("shot the wrong flat"))
        .then_expect_error(MediaBatchError::Processing);
}

#[test]
fn delete_twice_is_not_found() {
    given(plus(in_ready(), deleted(t(90))))
        .when(delete("shot the wrong flat"))
        .then_expect_error(MediaBatchError::NotFound);
}

#[test]
fn delete_needs_a_reason_of_1_to_500_characters() {
    for reason in ["", " \t ", &"x".repeat(501)] {
        given(in_ready())
            .when(delete(reason))
            .then_expect_error(invalid_reason());
    }
}

// ---------------------------------------------------------------- ExpireUpload

#[test]
fn expire_upload_is_a_no_op_until_the_grace_period_ends() {
    for now in [t(16), deadline()] {
        given(pending_upload())
            .when(expire(now))
            .then_expect_events(vec![]);
    }
}

#[test]
fn expire_upload_after_the_grace_period_fails_the_batch() {
    let now = deadline() + Duration::minutes(1);
    given(pending_upload())
        .when(expire(now))
        .then_expect_events(upload_expired()[1..].to_vec());
}

#[test]
fn expire_upload_is_a_no_op_outside_pending_upload() {
    let histories = [
        in_received(),
        in_ready(),
        upload_expired(),
        plus(pending_upload(), deleted(t(5))),
    ];
    for history in histories {
        given(history)
            .when(expire(deadline() + Duration::days(1)))
            .then_expect_events(vec![]);
    }
}

// ---------------------------------------------------------------- TimeOutJob

#[test]
fn time_out_job_is_a_no_op_before_the_timeout() {
    // Last progress: photo-1 at t(20); the timeout is 30 minutes.
    given(plus(in_processing(), asset_ok(1, 1, t(20))))
        .when(time_out(5, t(50)))
        .then_expect_events(vec![]);
}

#[test]
fn time_out_job_retries_the_waiting_assets_while_attempts_remain() {
    given(plus(in_processing(), asset_ok(1, 1, t(20))))
        .when(time_out(5, t(51)))
        .then_expect_events(vec![E::RetryRequested(RetryRequested {
            job_id: job(2),
            attempt: 2,
            scope: RetryScope::FailedOnly,
            reason: "JOB_TIMEOUT".into(),
            assets: vec![client(2), client(3)],
            automatic: true,
            at: t(51),
        })]);
}

#[test]
fn time_out_job_fails_the_batch_at_the_last_attempt() {
    given(in_received())
        .when(time_out(1, t(41)))
        .then_expect_events(vec![failed(
            Some(job(1)),
            1,
            "JOB_TIMEOUT",
            "no result within 1800 seconds",
            t(41),
        )]);
}

#[test]
fn time_out_job_is_a_no_op_when_no_job_runs() {
    let histories = [
        pending_upload(),
        in_ready(),
        in_failed(),
        plus(in_received(), deleted(t(12))),
    ];
    for history in histories {
        given(history)
            .when(time_out(5, t(600)))
            .then_expect_events(vec![]);
    }
}

// ---------------------------------------------------------------- error codes

#[test]
fn every_refusal_has_its_api_code() {
    use MediaBatchError as Error;
    let cases = [
        (Error::Invalid(vec![]), "VALIDATION_FAILED"),
        (
            Error::ListingNotAwaitingMedia {
                status: "DRAFT".into(),
            },
            "LISTING_NOT_AWAITING_MEDIA",
        ),
        (Error::AlreadyRequested, "BATCH_ALREADY_EXISTS"),
        (Error::NotFound, "BATCH_NOT_FOUND"),
        (
            Error::NotPendingUpload { status: "READY" },
            "BATCH_NOT_PENDING_UPLOAD",
        ),
        (Error::UploadExpired, "UPLOAD_EXPIRED"),
        (Error::UploadMismatch(vec![]), "UPLOAD_MISMATCH"),
        (
            Error::NotTerminal { status: "RECEIVED" },
            "BATCH_NOT_TERMINAL",
        ),
        (Error::NothingToRetry, "NOTHING_TO_RETRY"),
        (Error::RetryLimitReached { max: 5 }, "RETRY_LIMIT_REACHED"),
        (
            Error::NotReplaceable {
                reason: "the batch is READY".into(),
                client_ids: vec![],
            },
            "ASSET_NOT_REPLACEABLE",
        ),
        (Error::Processing, "BATCH_PROCESSING"),
        (Error::UnknownJob, "JOB_NOT_FOUND"),
    ];
    for (error, code) in cases {
        assert_eq!(error.code(), code, "{error:?}");
    }
}

// ---------------------------------------------------------------- replacing failed files

/// A new upload for photo-`i`: other bytes and filename; its client id, sequence and type.
fn replacement(i: usize) -> ManifestFile {
    ManifestFile {
        filename: format!("IMG_{i}-again.jpg"),
        bytes: bytes(i) + 500,
        checksum: checksum(i + 100),
        ..manifest().files[i - 1].clone()
    }
}

fn replace_files(files: Vec<ManifestFile>) -> ReplaceFiles {
    ReplaceFiles {
        files,
        max_total_bytes: Limits::default().max_total_bytes,
        max_attempts: 5,
        upload_ttl: Duration::minutes(15),
        now: t(60),
    }
}

fn replace(files: Vec<ManifestFile>) -> C {
    C::ReplaceFiles(replace_files(files))
}

/// The first replacement's key for photo-`i`: under the batch's raw prefix, in `r1/`.
fn replaced_key(i: usize) -> String {
    format!("123/raw/photo/horizontal/{BATCH}/r1/0{i}-photo-{i}-IMG_{i}-again.jpg")
}

fn files_replaced(files: &[usize]) -> E {
    E::FilesReplaced(FilesReplaced {
        replacement: 1,
        files: files
            .iter()
            .map(|&i| RequestedFile {
                raw_key: key(&replaced_key(i)),
                file: replacement(i),
            })
            .collect(),
        upload_expires_at: t(75),
        at: t(60),
    })
}

fn refusal(history: Vec<E>, command: C) -> MediaBatchError {
    given(history)
        .when(command)
        .inspect_result()
        .expect_err("refused")
}

#[test]
fn replace_takes_new_uploads_for_the_failed_files_under_new_keys() {
    given(in_failed())
        .when(replace(vec![replacement(2), replacement(3)]))
        .then_expect_events(vec![files_replaced(&[2, 3])]);
}

#[test]
fn replace_is_refused_unless_the_batch_failed() {
    for (history, status) in [
        (pending_upload(), "PENDING_UPLOAD"),
        (in_received(), "RECEIVED"),
        (in_processing(), "PROCESSING"),
        (in_ready(), "READY"),
        (plus(in_failed(), files_replaced(&[2])), "PENDING_UPLOAD"),
    ] {
        let refused = refusal(history, replace(vec![replacement(2)]));
        assert_eq!(refused.code(), "ASSET_NOT_REPLACEABLE", "{status}");
        assert_eq!(
            refused.to_string(),
            format!("the batch is {status}: only a FAILED batch's files can be replaced")
        );
    }
    let gone = refusal(
        plus(in_failed(), deleted(t(50))),
        replace(vec![replacement(2)]),
    );
    assert_eq!(gone, MediaBatchError::NotFound);
}

#[test]
fn replacing_a_processed_file_is_refused_naming_it() {
    let refused = refusal(in_failed(), replace(vec![replacement(1), replacement(2)]));
    assert_eq!(
        refused,
        MediaBatchError::NotReplaceable {
            reason: "1 of the files are processed already".into(),
            client_ids: vec![client(1)],
        }
    );
}

#[test]
fn a_replacement_keeps_the_files_sequence_and_type_and_the_batch_within_its_total() {
    let moved = ManifestFile {
        sequence: Sequence::parse(9).unwrap(),
        asset_type: AssetType::PhotoVertical,
        ..replacement(2)
    };
    let stranger = ManifestFile {
        client_id: ClientId::parse("photo-9").unwrap(),
        title: Some("Room 1".into()),
        ..replacement(3)
    };
    let command = C::ReplaceFiles(ReplaceFiles {
        max_total_bytes: 3000,
        ..replace_files(vec![moved, stranger])
    });
    let total = bytes(1) + bytes(2) + 500 + bytes(3);
    assert_eq!(
        refusal(in_failed(), command),
        MediaBatchError::Invalid(vec![
            field(
                "files[0].sequence",
                "must be the replaced file's sequence, 2"
            ),
            field(
                "files[0].assetType",
                "must be the replaced file's type, PHOTO_HORIZONTAL"
            ),
            field("files[1].clientId", "is not in this batch"),
            field(
                "files",
                &format!("the batch would total {total} bytes, over the limit of 3000 bytes"),
            ),
        ])
    );
    let taken = ManifestFile {
        title: Some("Room 1".into()),
        ..replacement(3)
    };
    assert_eq!(
        refusal(in_failed(), replace(vec![taken])),
        MediaBatchError::Invalid(vec![field(
            "files[0].title",
            "is another file's title in this batch"
        )])
    );
}

#[test]
fn replace_counts_against_the_attempt_limit() {
    let command = C::ReplaceFiles(ReplaceFiles {
        max_attempts: 1,
        ..replace_files(vec![replacement(2)])
    });
    assert_eq!(
        refusal(in_failed(), command),
        MediaBatchError::RetryLimitReached { max: 1 }
    );
}

/// Confirms the replacements of `files` as issued, stored as announced, under job 2 at `t(70)`.
fn confirm_replacements(files: &[usize]) -> ConfirmUploads {
    ConfirmUploads {
        files: files
            .iter()
            .map(|&i| RawConfirmedFile {
                object_key: Some(replaced_key(i)),
                bytes: Some(bytes(i) + 500),
                checksum: Some(checksum_hex(i + 100)),
                ..confirmed(i)
            })
            .collect(),
        stored: files
            .iter()
            .map(|&i| (client(i), object(bytes(i) + 500, i + 100)))
            .collect(),
        job_id: job(2),
        grace: Duration::hours(24),
        now: t(70),
    }
}

#[test]
fn after_a_replacement_only_the_replaced_files_are_confirmed_processed_and_kept_ready() {
    let replaced = plus(in_failed(), files_replaced(&[2, 3]));
    // the processed photo-1 is not confirmed again
    let mut again = confirm_replacements(&[2, 3]);
    again.files.push(confirmed(1));
    assert_eq!(
        refusal(replaced.clone(), C::ConfirmUploads(again)),
        MediaBatchError::Invalid(vec![field(
            "files[2].clientId",
            "is processed already: confirm only the replaced files"
        )])
    );
    // the old upload under the old key no longer counts
    let mut old = confirm_replacements(&[2, 3]);
    old.stored.insert(client(2), object(bytes(2), 2));
    let MediaBatchError::UploadMismatch(problems) =
        refusal(replaced.clone(), C::ConfirmUploads(old))
    else {
        panic!("not an upload mismatch");
    };
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].problem, FailureCode::SizeMismatch);

    let etags = [2, 3].map(|i| (client(i), format!("etag-{i}"))).into();
    let received = E::Received(Received {
        job_id: job(2),
        attempt: 2,
        etags,
        at: t(70),
    });
    given(replaced.clone())
        .when(C::ConfirmUploads(confirm_replacements(&[2, 3])))
        .then_expect_events(vec![received.clone()]);

    // the second attempt reports only photo-2 and -3; photo-1 keeps attempt 1's renditions
    let second = |i| AssetOutput {
        raw_key: Some(replaced_key(i)),
        renditions: renditions(i, 2),
        ..output(i)
    };
    given(plus(replaced, received))
        .when(C::RecordResult(RecordResult {
            job_id: job(2),
            attempt: 2,
            ..result(ResultStatus::Succeeded, vec![second(2), second(3)])
        }))
        .then_expect_events(vec![
            processing(2, t(30)),
            asset_ok(2, 2, t(30)),
            asset_ok(3, 2, t(30)),
            ready(2, t(30)),
        ]);
}
