//! The upload manifest (API.md §1): any request body, through the same two steps as the API
//! (JSON into `RawManifest`, then `Manifest::parse` with the default limits).
//!
//! Beyond "never panics": what `parse` accepts must keep the promises the rest of the service
//! builds on without checking again (unique sequences become storage keys, the total bounds
//! disk use), and parsing must be idempotent, since an accepted manifest is stored in an event
//! and may be checked again by a later version of these rules.
#![no_main]

use std::collections::HashSet;

use aggregates::{Limits, Manifest, RawManifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Bodies that are not this JSON shape are the HTTP layer's 400; only the rest meets the rules.
    let Ok(raw) = serde_json::from_slice::<RawManifest>(data) else {
        return;
    };
    let limits = Limits::default();
    let manifest = match Manifest::parse(&raw, &limits) {
        Ok(manifest) => manifest,
        Err(errors) => {
            // A 422 must name at least one field, and only fields the client sent or should have.
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(
                    e.field == "batchReference" || e.field.starts_with("files"),
                    "{e:?}"
                );
            }
            return;
        }
    };

    let reference = &manifest.batch_reference;
    assert!(!reference.is_empty() && reference.trim() == reference);
    assert!(reference.chars().count() <= 120 && !reference.chars().any(char::is_control));
    assert!(!manifest.files.is_empty() && manifest.files.len() <= limits.max_files_per_batch);

    // Strictly increasing: sorted (the order renditions are listed in) and unique (keys differ).
    for pair in manifest.files.windows(2) {
        assert!(pair[0].sequence < pair[1].sequence, "{pair:?}");
    }
    let mut client_ids = HashSet::new();
    let mut titles = HashSet::new();
    let mut total: u128 = 0;
    for file in &manifest.files {
        assert!(
            client_ids.insert(&file.client_id),
            "duplicate {:?}",
            file.client_id
        );
        if let Some(title) = &file.title {
            assert!(titles.insert(title), "duplicate title {title:?}");
        }
        assert!((1..=limits.max_file_bytes).contains(&file.bytes));
        assert!(limits.allowed_content_types.contains(&file.content_type));
        assert!(file.asset_type.accepts(&file.content_type));
        total += u128::from(file.bytes);
    }
    // Summed wide here, so an overflow in the service's own sum could not hide behind ours.
    assert!(total <= u128::from(limits.max_total_bytes));
    assert_eq!(u128::from(manifest.total_bytes()), total);

    // What was accepted, sent again, is accepted as the very same manifest.
    let again: RawManifest =
        serde_json::from_value(serde_json::to_value(&manifest).unwrap()).unwrap();
    assert_eq!(Manifest::parse(&again, &limits).as_ref(), Ok(&manifest));
});
