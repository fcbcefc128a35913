//! Every stream of a session's snapshot, one at a time in stream order through the
//! `events_stream` index: what rebuild, verify and audit fold, so that memory holds one stream,
//! never the store.

use std::collections::VecDeque;

use toq_evidence::checkpoint::Head;

use super::{Session, StoreError, StoredEvent};

/// Streams listed per query.
const STREAMS_PAGE: i64 = 1_000;
/// Events read per query: consecutive streams are read together up to this many (a longer
/// stream alone), so a query serves many streams and memory stays bounded.
const EVENTS_PER_READ: i64 = 5_000;

/// The streams of the store, one at a time, with their events.
#[derive(Default)]
pub struct Streams {
    after: (String, String),
    heads: VecDeque<Head>,
    read: VecDeque<Vec<StoredEvent>>,
    done: bool,
}

impl Streams {
    /// The next stream's events (in sequence order); `None` after the last stream.
    pub async fn next(
        &mut self,
        session: &mut Session<'_>,
    ) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        if self.read.is_empty() {
            self.read_more(session).await?;
        }
        Ok(self.read.pop_front())
    }

    /// Reads the next run of consecutive streams of one aggregate type in one query.
    async fn read_more(&mut self, session: &mut Session<'_>) -> Result<(), StoreError> {
        if self.heads.is_empty() && !self.done {
            let page = session
                .stream_heads((&self.after.0, &self.after.1), STREAMS_PAGE)
                .await?;
            match page.last() {
                Some(last) => {
                    self.after = (last.aggregate_type.clone(), last.aggregate_id.clone());
                }
                None => self.done = true,
            }
            self.heads.extend(page);
        }
        let Some(first) = self.heads.pop_front() else {
            return Ok(());
        };
        let (mut last, mut events) = (first.aggregate_id.clone(), first.sequence);
        while let Some(h) = self.heads.front() {
            if h.aggregate_type != first.aggregate_type || events + h.sequence > EVENTS_PER_READ {
                break;
            }
            events += h.sequence;
            last.clone_from(&h.aggregate_id);
            self.heads.pop_front();
        }
        let rows = session
            .streams_between(&first.aggregate_type, &first.aggregate_id, &last)
            .await?;
        for event in rows {
            match self.read.back_mut() {
                Some(stream) if stream[0].aggregate_id == event.aggregate_id => stream.push(event),
                _ => self.read.push_back(vec![event]),
            }
        }
        Ok(())
    }
}
