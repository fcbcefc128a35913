//! Every stream of a session's snapshot in stream order through the `events_stream` index:
//! its heads page by page ([`StreamHeads`], what a checkpoint signs), or its events one stream
//! at a time ([`Streams`], what rebuild, verify and audit fold), so that memory holds a page or
//! a run of streams, never the store.

use std::collections::VecDeque;

use toq_evidence::checkpoint::Head;

use super::{Session, StoreError, StoredEvent};

/// Stream heads listed per query.
const HEADS_PAGE: i64 = 1_000;
/// Events read per query: consecutive streams are read together up to this many (a longer
/// stream alone), so a query serves many streams and memory stays bounded.
const EVENTS_PER_READ: i64 = 5_000;

/// Every stream's head, in strictly increasing `(aggregate_type, aggregate_id)` byte order.
#[derive(Default)]
pub struct StreamHeads {
    after: (String, String),
    page: VecDeque<Head>,
    done: bool,
}

impl StreamHeads {
    /// The next stream's head; `None` after the last.
    pub async fn next(&mut self, session: &mut Session<'_>) -> Result<Option<Head>, StoreError> {
        if self.page.is_empty() && !self.done {
            let page = session
                .stream_heads((&self.after.0, &self.after.1), HEADS_PAGE)
                .await?;
            self.done = page.is_empty();
            self.page.extend(page);
        }
        let Some(head) = self.page.pop_front() else {
            return Ok(None);
        };
        // Paging resumes after the last head seen: a database that does not sort ids byte
        // by byte would skip or repeat streams, so it is refused, never folded or signed.
        let key = (head.aggregate_type.clone(), head.aggregate_id.clone());
        if key <= self.after {
            return Err(StoreError::Collation {
                after: format!("{}/{}", self.after.0, self.after.1),
                next: format!("{}/{}", key.0, key.1),
            });
        }
        self.after = key;
        Ok(Some(head))
    }

    fn peek(&self) -> Option<&Head> {
        self.page.front()
    }
}

/// The streams of the store, one at a time, with their events.
#[derive(Default)]
pub struct Streams {
    heads: StreamHeads,
    read: VecDeque<Vec<StoredEvent>>,
}

impl Streams {
    /// The next stream's events (in sequence order, never empty); `None` after the last.
    pub async fn next(
        &mut self,
        session: &mut Session<'_>,
    ) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        while self.read.is_empty() {
            if !self.read_more(session).await? {
                return Ok(None);
            }
        }
        Ok(self.read.pop_front())
    }

    /// Reads the next run of consecutive streams of one aggregate type in one query; false
    /// when no stream is left.
    async fn read_more(&mut self, session: &mut Session<'_>) -> Result<bool, StoreError> {
        let Some(first) = self.heads.next(session).await? else {
            return Ok(false);
        };
        let (mut last, mut events) = (first.aggregate_id.clone(), first.sequence);
        while let Some(h) = self.heads.peek() {
            if h.aggregate_type != first.aggregate_type || events + h.sequence > EVENTS_PER_READ {
                break;
            }
            let h = self.heads.next(session).await?.expect("peeked");
            events += h.sequence;
            last = h.aggregate_id;
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
        Ok(true)
    }
}
