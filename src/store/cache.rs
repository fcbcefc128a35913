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
//! Metrics: `media_stream_cache_total{cache=view|snapshot, outcome=hit|miss}`.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

/// Streams kept: the batches being uploaded and processed at once, with room.
pub(super) const STREAMS: usize = 256;

/// A stream's head: the sequence and hash of its last event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) sequence: i64,
    pub(super) hash: String,
}

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

    /// The entry of a stream that `accept` takes, counted as a hit; anything else is a miss.
    pub(super) fn get(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        accept: impl FnOnce(&T) -> bool,
    ) -> Option<T> {
        let key = (aggregate_type.to_owned(), aggregate_id.to_owned());
        let mut entries = self
            .entries
            .lock()
            .expect("a stream cache is never poisoned");
        let found = entries.get(&key).filter(|entry| accept(entry)).cloned();
        let outcome = if found.is_some() { "hit" } else { "miss" };
        metrics::counter!("media_stream_cache_total", "cache" => self.name, "outcome" => outcome)
            .increment(1);
        found
    }

    pub(super) fn put(&self, aggregate_type: &str, aggregate_id: &str, entry: T) {
        let key = (aggregate_type.to_owned(), aggregate_id.to_owned());
        self.entries
            .lock()
            .expect("a stream cache is never poisoned")
            .put(key, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(sequence: i64, hash: &str) -> Head {
        Head {
            sequence,
            hash: hash.to_owned(),
        }
    }

    #[test]
    fn an_entry_is_served_only_when_accepted() {
        let cache = Recent::new("test", 2);
        cache.put("MediaBatch", "a", (head(3, "h3"), "view"));
        let at = |h: Head| move |(cached, _): &(Head, &str)| *cached == h;
        assert_eq!(
            cache.get("MediaBatch", "a", at(head(3, "h3"))),
            Some((head(3, "h3"), "view"))
        );
        assert_eq!(cache.get("MediaBatch", "a", at(head(4, "h4"))), None);
        assert_eq!(cache.get("MediaBatch", "a", at(head(3, "other"))), None);
        assert_eq!(cache.get("MediaBatch", "b", at(head(3, "h3"))), None);
    }

    #[test]
    fn the_least_recently_used_stream_goes_first() {
        let cache = Recent::new("test", 2);
        for id in ["a", "b"] {
            cache.put("MediaBatch", id, id);
        }
        assert!(cache.get("MediaBatch", "a", |_| true).is_some());
        cache.put("MediaBatch", "c", "c");
        assert!(cache.get("MediaBatch", "b", |_| true).is_none());
        assert!(cache.get("MediaBatch", "a", |_| true).is_some());
        assert!(cache.get("MediaBatch", "c", |_| true).is_some());
    }
}
