//! What this process last knew of the streams it wrote, so that a command reads a stream's new
//! rows only, not the whole stream, twice:
//!
//! - **views** (the append): the read-model view folded at the stream's last append, used only
//!   when its last sequence and hash equal the head the append reads inside its transaction.
//!   The hash chain covers every earlier event, so an equal head means an equal history; an
//!   append by another process, a lost commit (the entry still holds the head before it) or a
//!   rebuild (which writes rows, never events) is simply a miss, and the stream is read whole.
//! - **snapshots** (cqrs-es's load): the aggregate's state after its last commit here, as
//!   cqrs-es's snapshot store keeps it; cqrs-es then reads only the events after it, so
//!   another process's appends are applied on top and a stale snapshot is never wrong, only
//!   less useful.
//!
//! Both are bounded by a stream count; a batch's entry is tens of kilobytes.
//!
//! Metrics: `media_stream_cache_total{cache=view|snapshot, outcome=hit|stale|miss}` (`stale`: a
//! view whose head is no longer the stream's).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

/// Streams kept: the batches being uploaded and processed at once, with room.
pub(super) const STREAMS: usize = 256;

type Key = (String, String);

/// The most recently written streams' `T`, least recently used out first.
#[derive(Clone)]
pub(super) struct Recent<T> {
    name: &'static str,
    entries: Arc<Mutex<LruCache<Key, T>>>,
}

impl<T: Clone> Recent<T> {
    /// `name` labels its metrics.
    pub(super) fn new(name: &'static str, streams: usize) -> Self {
        let capacity = NonZeroUsize::new(streams).unwrap_or(NonZeroUsize::MIN);
        Self {
            name,
            entries: Arc::new(Mutex::new(LruCache::new(capacity))),
        }
    }

    /// A copy of the stream's entry.
    pub(super) fn get(&self, aggregate_type: &str, aggregate_id: &str) -> Option<T> {
        self.lock().get(&key(aggregate_type, aggregate_id)).cloned()
    }

    /// The stream's entry, taken out (put it back once it is current again).
    pub(super) fn take(&self, aggregate_type: &str, aggregate_id: &str) -> Option<T> {
        self.lock().pop(&key(aggregate_type, aggregate_id))
    }

    /// Counts a lookup's outcome: `hit`, `stale` or `miss`.
    pub(super) fn count(&self, outcome: &'static str) {
        metrics::counter!("media_stream_cache_total", "cache" => self.name, "outcome" => outcome)
            .increment(1);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Key, T>> {
        self.entries
            .lock()
            .expect("a stream cache is never poisoned")
    }

    pub(super) fn put(&self, aggregate_type: &str, aggregate_id: &str, entry: T) {
        self.lock().put(key(aggregate_type, aggregate_id), entry);
    }
}

fn key(aggregate_type: &str, aggregate_id: &str) -> Key {
    (aggregate_type.to_owned(), aggregate_id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_copies_take_removes() {
        let cache = Recent::new("test", 2);
        cache.put("MediaBatch", "a", 3);
        assert_eq!(cache.get("MediaBatch", "a"), Some(3));
        assert_eq!(cache.get("MediaBatch", "b"), None);
        assert_eq!(cache.take("MediaBatch", "a"), Some(3));
        assert_eq!(cache.get("MediaBatch", "a"), None);
        assert_eq!(cache.take("MediaBatch", "a"), None);
    }

    #[test]
    fn the_least_recently_used_stream_goes_first() {
        let cache = Recent::new("test", 2);
        for id in ["a", "b"] {
            cache.put("MediaBatch", id, id);
        }
        assert!(cache.get("MediaBatch", "a").is_some());
        cache.put("MediaBatch", "c", "c");
        assert!(cache.get("MediaBatch", "b").is_none());
        assert!(cache.get("MediaBatch", "a").is_some());
        assert!(cache.get("MediaBatch", "c").is_some());
    }
}
