//! Rebuilding read tables from the events: the same folds as the live path, in one transaction
//! that holds the tables while it works, so it is safe while the service runs.
//!
//! Every fold here goes one stream at a time, in stream order through the `events_stream`
//! index: memory holds one stream's events and rows (and a bounded write buffer), never the
//! store, so rebuild, verify and audit work at any size.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::store::{Session, Store, StoreError, Streams};
use indicatif::ProgressBar;
use projections::{Row, Table, View};

/// Rows buffered before a rebuild writes them.
const WRITE_BATCH: usize = 2_000;

/// One stream folded: its id, its event count and the rows its events imply.
pub struct Folded {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub events: u64,
    pub rows: Vec<Row>,
}

/// The next stream folded through the projections, as the live path folds it.
pub async fn next_fold(
    store: &Store,
    streams: &mut Streams,
    session: &mut Session<'_>,
) -> Result<Option<Folded>, StoreError> {
    let Some(events) = streams.next(session).await? else {
        return Ok(None);
    };
    let first = &events[0];
    let mut view = View::new(&first.aggregate_type)?;
    for stored in &events {
        view.apply(&stored.to_serialized(store.upcasters())?)?;
    }
    let mut rows = view.rows();
    rows.sort();
    Ok(Some(Folded {
        aggregate_type: first.aggregate_type.clone(),
        aggregate_id: first.aggregate_id.clone(),
        events: events.len() as u64,
        rows,
    }))
}

#[derive(Debug)]
pub struct Rebuilt {
    pub events: u64,
    pub rows: usize,
    pub elapsed: Duration,
}

impl Rebuilt {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Replaces the rows of `tables` with a fresh fold of every event.
pub async fn rebuild(
    store: &Store,
    tables: &[&'static Table],
    progress: &ProgressBar,
) -> Result<Rebuilt, StoreError> {
    let started = Instant::now();
    let mut session = store.begin_rebuild(tables).await?;
    progress.set_length(session.count_events().await?);
    let mut streams = Streams::default();
    let mut buffer: BTreeMap<&'static str, Vec<Row>> = BTreeMap::new();
    let (mut events, mut buffered, mut written) = (0, 0, 0);
    while let Some(folded) = next_fold(store, &mut streams, &mut session).await? {
        events += folded.events;
        progress.inc(folded.events);
        for row in folded.rows {
            if tables.iter().any(|t| t.name == row.table) {
                buffered += 1;
                buffer.entry(row.table).or_default().push(row);
            }
        }
        if buffered >= WRITE_BATCH {
            written += flush(&mut session, tables, &mut buffer).await?;
            buffered = 0;
        }
    }
    written += flush(&mut session, tables, &mut buffer).await?;
    session.commit().await?;
    progress.finish_and_clear();
    Ok(Rebuilt {
        events,
        rows: written,
        elapsed: started.elapsed(),
    })
}

/// Writes the buffered rows, table by table in `tables` order; returns how many.
async fn flush(
    session: &mut Session<'_>,
    tables: &[&'static Table],
    buffer: &mut BTreeMap<&'static str, Vec<Row>>,
) -> Result<usize, StoreError> {
    let mut written = 0;
    for table in tables {
        if let Some(rows) = buffer.get_mut(table.name) {
            let refs: Vec<&Row> = rows.iter().collect();
            session.insert(table, &refs).await?;
            written += rows.len();
            rows.clear();
        }
    }
    Ok(written)
}
