//! Every stream of a session's snapshot, one at a time in stream order through the
//! `events_stream` index: what rebuild, verify and audit fold, so that memory holds one stream,
//! never the store.

use std::collections::VecDeque;

use toq_evidence::checkpoint::Head;

use super::{Session, StoreError, StoredEvent};

/// Streams listed per query.
const STREAMS_PAGE: i64 = 1_000;

/// The streams of the store, one at a time, with their events.
#[derive(Default)]
pub struct Streams {
    after: (String, String),
    queue: VecDeque<Head>,
    done: bool,
}

impl Streams {
    /// The next stream's events (in sequence order); `None` after the last stream.
    pub async fn next(
        &mut self,
        session: &mut Session<'_>,
    ) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        if self.queue.is_empty() && !self.done {
            let page = session
                .stream_heads((&self.after.0, &self.after.1), STREAMS_PAGE)
                .await?;
            match page.last() {
                Some(last) => {
                    self.after = (last.aggregate_type.clone(), last.aggregate_id.clone());
                }
                None => self.done = true,
            }
            self.queue.extend(page);
        }
        let Some(head) = self.queue.pop_front() else {
            return Ok(None);
        };
        let events = session
            .stream(&head.aggregate_type, &head.aggregate_id)
            .await?;
        Ok(Some(events))
    }
}
