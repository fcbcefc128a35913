//! The job message (API.md §6), as the worker takes it off a queue: any bytes that are UTF-8,
//! through `Job::parse`.
//!
//! Beyond "never panics": an accepted job keeps the promises the worker builds keys and reads
//! on without checking again: a listing and an attempt of at least 1, raw keys that are valid
//! object keys, and rendition keys (built from its typed fields) that lie under the attempt's
//! own prefix, whatever the client ids say.
#![no_main]

use aggregates::{ObjectKey, RenditionPrefix};
use libfuzzer_sys::fuzz_target;
use toq_contract::job::Job;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // queue bodies are text
    };
    let Ok(job) = Job::parse(text) else {
        return;
    };
    assert!(job.listing_id.get() >= 1 && job.attempt >= 1);
    for asset in &job.assets {
        assert_eq!(
            ObjectKey::parse(asset.raw_key.as_str()).as_ref(),
            Ok(&asset.raw_key)
        );
        let prefix =
            RenditionPrefix::new(job.listing_id, asset.asset_type, job.batch_id, job.attempt);
        let key = prefix.key("large", asset.sequence, &asset.client_id, "jpg");
        assert!(prefix.contains(&key), "{key} outside {prefix:?}");
        assert_eq!(ObjectKey::parse(key.as_str()).as_ref(), Ok(&key));
    }
});
