//! A pipeline result (API.md §6), as the callback and the results queue take it: any bytes,
//! through JSON into `CallbackBody`, `ResultMessage`, and the `MediaBatch` that decides on it (a
//! PROCESSING batch of listing 123 with a photo, a video and a document).
//!
//! Beyond "never panics": whatever the batch accepts keeps the promises downloads and cleanup
//! build on without checking again: every rendition lies under the attempt's own
//! `{listing}/processed/{segment}/{batch}/{attempt}/` (or is the asset's own raw key, as
//! `original`), its name is a short identifier, and every text the pipeline supplied is cut.
#![no_main]

use std::collections::BTreeMap;

use aggregates::*;
use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::Aggregate;
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use toq_contract::result::{CallbackBody, ResultMessage};

const BATCH: &str = "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b";
const JOB: &str = "0193a5b3-1a2b-7c3d-8e4f-5a6b7c8d9e0f";

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

/// The batch every input is decided against, built from its events as a replay would.
fn processing_batch() -> MediaBatch {
    let files = json!({"batchReference": "fuzz", "files": [
        {"clientId": "photo-1", "assetType": "PHOTO_HORIZONTAL", "filename": "a.jpg",
         "contentType": "image/jpeg", "bytes": 10, "checksum": "ab".repeat(32), "sequence": 1},
        {"clientId": "tour", "assetType": "VIDEO_VERTICAL", "filename": "b.mp4",
         "contentType": "video/mp4", "bytes": 10, "checksum": "cd".repeat(32), "sequence": 2},
        {"clientId": "plan", "assetType": "PROJECT_DOC", "filename": "c.pdf",
         "contentType": "application/pdf", "bytes": 10, "checksum": "ef".repeat(32), "sequence": 3}]});
    let raw: RawManifest = serde_json::from_value(files).unwrap();
    let manifest = Manifest::parse(&raw, &Limits::default()).unwrap();
    let (batch_id, listing_id) = (
        BatchId::parse(BATCH).unwrap(),
        ListingId::parse(123).unwrap(),
    );
    let job_id = JobId::parse(JOB).unwrap();
    let files = manifest
        .files
        .into_iter()
        .map(|file| RequestedFile {
            raw_key: ObjectKey::raw(
                listing_id,
                file.asset_type,
                batch_id,
                file.sequence,
                &file.client_id,
                &file.filename,
            ),
            file,
        })
        .collect();
    let mut batch = MediaBatch::default();
    for event in [
        MediaBatchEvent::Requested(Requested {
            batch_id,
            listing_id,
            batch_reference: manifest.batch_reference,
            files,
            upload_expires_at: at(),
            at: at(),
        }),
        MediaBatchEvent::Received(Received {
            job_id,
            attempt: 1,
            etags: BTreeMap::new(),
            at: at(),
        }),
        MediaBatchEvent::Processing(Processing {
            job_id,
            attempt: 1,
            at: at(),
        }),
    ] {
        batch.apply(event);
    }
    batch
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<CallbackBody>(data) else {
        return; // the HTTP layer's 400
    };
    let command = match ResultMessage::try_from(body) {
        Ok(message) => message.into_command(at()).1,
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(
                    ["batchId", "jobId", "status", "attempt"].contains(&e.field.as_str()),
                    "{e:?}"
                );
            }
            return;
        }
    };
    let batch = processing_batch();
    let state = batch.batch.as_ref().unwrap();
    let events = match batch.decide(command) {
        Ok(events) => events,
        Err(MediaBatchError::Invalid(errors) | MediaBatchError::ForeignRendition(errors)) => {
            assert!(!errors.is_empty());
            return;
        }
        Err(MediaBatchError::UnknownJob) => return,
        Err(other) => panic!("a result is never refused as {other:?}"),
    };
    for event in &events {
        match event {
            MediaBatchEvent::AssetProcessed(p) => {
                let asset = state.asset(&p.client_id).expect("only the batch's assets");
                let prefix = RenditionPrefix::new(
                    state.listing_id,
                    asset.file.file.asset_type,
                    state.id,
                    p.attempt,
                );
                match &p.outcome {
                    AssetOutcome::Succeeded { renditions, .. } => {
                        for (name, key) in renditions {
                            let name = RenditionName::parse(name).expect("a valid name");
                            if name.is_original() {
                                assert_eq!(key, &asset.file.raw_key);
                            } else {
                                assert!(prefix.contains(key), "{key} outside {prefix:?}");
                            }
                        }
                    }
                    AssetOutcome::Failed {
                        error_code,
                        error_message,
                    } => {
                        assert!(error_code.chars().count() <= 64);
                        assert!(error_message.chars().count() <= 500);
                    }
                }
            }
            MediaBatchEvent::Failed(f) => assert!(f.message.chars().count() <= 500),
            _ => {}
        }
    }
});
