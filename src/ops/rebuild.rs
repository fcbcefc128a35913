//! Rebuilding read tables from the events: the same folds as the live path, in one transaction
//! that holds the tables while it works, so it is safe while the service runs.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::store::{Session, Store, StoreError};
use indicatif::ProgressBar;
use projections::{Row, Table, View};

const PAGE: i64 = 5_000;

/// Every read-table row that the events imply, by table name, sorted.
pub async fn fold_all(
    store: &Store,
    session: &mut Session<'_>,
    progress: &ProgressBar,
) -> Result<(u64, BTreeMap<&'static str, Vec<Row>>), StoreError> {
    let mut views: HashMap<(String, String), View> = HashMap::new();
    let mut after = 0;
    let mut count = 0u64;
    loop {
        let page = session.events_page(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for stored in &page {
            let key = (stored.aggregate_type.clone(), stored.aggregate_id.clone());
            let view = match views.entry(key) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(View::new(&stored.aggregate_type)?)
                }
            };
            view.apply(&stored.to_serialized(store.upcasters())?)?;
        }
        count += page.len() as u64;
        progress.inc(page.len() as u64);
    }
    let mut tables: BTreeMap<&'static str, Vec<Row>> = BTreeMap::new();
    for view in views.values() {
        for row in view.rows() {
            tables.entry(row.table).or_default().push(row);
        }
    }
    for rows in tables.values_mut() {
        rows.sort();
    }
    Ok((count, tables))
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
    let (events, rows) = fold_all(store, &mut session, progress).await?;
    let mut written = 0;
    for table in tables {
        if let Some(rows) = rows.get(table.name) {
            let refs: Vec<&Row> = rows.iter().collect();
            session.insert(table, &refs).await?;
            written += rows.len();
        }
    }
    session.commit().await?;
    progress.finish_and_clear();
    Ok(Rebuilt {
        events,
        rows: written,
        elapsed: started.elapsed(),
    })
}
