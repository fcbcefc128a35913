//! The folded state of the streams this process appended to last, so that an append reads one
//! row (the stream's head) instead of the whole stream that cqrs-es has just loaded.
//!
//! An entry is used only when its last sequence and hash equal the head the append reads inside
//! its transaction: the hash chain covers every earlier event, so an equal head means an equal
//! history, and an append by another process (or a rebuild, which writes rows but never
//! events) is simply a miss, as is a commit whose outcome was lost (the entry still holds the
//! head before it). Bounded by a stream count; a batch's view is its rows (one per asset and
//! job), tens of kilobytes.
//!
//! Metrics: `media_stream_cache_total{outcome=hit|miss}`.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use projections::View;

/// Streams kept: the batches being uploaded and processed at once, with room.
pub(super) const STREAMS: usize = 1024;

/// A stream's head: the sequence and hash of its last event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) sequence: i64,
    pub(super) hash: String,
}

type Key = (String, String);

#[derive(Clone)]
pub(super) struct StreamCache {
    entries: Arc<Mutex<LruCache<Key, (Head, View)>>>,
}

impl StreamCache {
    pub(super) fn new(streams: usize) -> Self {
        let capacity = NonZeroUsize::new(streams).unwrap_or(NonZeroUsize::MIN);
        Self {
            entries: Arc::new(Mutex::new(LruCache::new(capacity))),
        }
    }

    /// The view folded up to `head`, if this process holds exactly that.
    pub(super) fn view_at(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        head: &Head,
    ) -> Option<View> {
        let key = (aggregate_type.to_owned(), aggregate_id.to_owned());
        let mut entries = self
            .entries
            .lock()
            .expect("the stream cache is never poisoned");
        let found = match entries.get(&key) {
            Some((cached, view)) if cached == head => Some(view.clone()),
            _ => None,
        };
        let outcome = if found.is_some() { "hit" } else { "miss" };
        metrics::counter!("media_stream_cache_total", "outcome" => outcome).increment(1);
        found
    }

    /// Records the view of a stream whose append committed at `head`.
    pub(super) fn put(&self, aggregate_type: &str, aggregate_id: &str, head: Head, view: View) {
        let key = (aggregate_type.to_owned(), aggregate_id.to_owned());
        self.entries
            .lock()
            .expect("the stream cache is never poisoned")
            .put(key, (head, view));
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
    fn a_view_is_served_only_at_its_own_head() {
        let cache = StreamCache::new(2);
        let view = View::new("MediaBatch").unwrap();
        cache.put("MediaBatch", "a", head(3, "h3"), view.clone());
        assert_eq!(
            cache.view_at("MediaBatch", "a", &head(3, "h3")),
            Some(view.clone())
        );
        assert_eq!(cache.view_at("MediaBatch", "a", &head(4, "h4")), None);
        assert_eq!(cache.view_at("MediaBatch", "a", &head(3, "other")), None);
        assert_eq!(cache.view_at("MediaBatch", "b", &head(3, "h3")), None);
    }

    #[test]
    fn the_least_recently_used_stream_goes_first() {
        let cache = StreamCache::new(2);
        let view = View::new("MediaBatch").unwrap();
        for id in ["a", "b"] {
            cache.put("MediaBatch", id, head(1, id), view.clone());
        }
        assert!(cache.view_at("MediaBatch", "a", &head(1, "a")).is_some());
        cache.put("MediaBatch", "c", head(1, "c"), view.clone());
        assert!(cache.view_at("MediaBatch", "b", &head(1, "b")).is_none());
        assert!(cache.view_at("MediaBatch", "a", &head(1, "a")).is_some());
        assert!(cache.view_at("MediaBatch", "c", &head(1, "c")).is_some());
    }
}
