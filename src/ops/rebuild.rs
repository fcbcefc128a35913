//! Rebuilding read tables from the events: the same folds as the live path, in one transaction
//! that holds the tables while it works, so it is safe while the service runs.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use projections::{Row, Table, View};
use sqlx::AnyConnection;

use crate::store::{Dialect, Store, StoreError, events, read_model};

const PAGE: i64 = 5_000;

/// Every read-table row that the events imply, by table name, sorted.
pub async fn fold_all(
    store: &Store,
    conn: &mut AnyConnection,
    progress: &ProgressBar,
) -> Result<(u64, BTreeMap<&'static str, Vec<Row>>), StoreError> {
    let mut views: HashMap<(String, String), View> = HashMap::new();
    let mut after = 0;
    let mut count = 0u64;
    loop {
        let page = events::page(conn, store.dialect(), after, PAGE).await?;
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

pub async fn count_events(conn: &mut AnyConnection) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&mut *conn)
        .await?;
    Ok(u64::try_from(n).unwrap_or_default())
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
    let dialect = store.dialect();
    let _turn = store.write_turn().await;
    let mut tx = store.pool().begin_with(dialect.begin_write()).await?;
    let names: Vec<&str> = tables.iter().map(|t| t.name).collect();
    if dialect == Dialect::Postgres {
        // Appends wait until the rebuild commits; reads go on.
        let sql = format!("LOCK TABLE {} IN EXCLUSIVE MODE", names.join(", "));
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await?;
    }
    // Delete first: on MySQL the delete's locks are what hold concurrent appends back, and the
    // events read after it include every append that committed before.
    for name in &names {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {name}")))
            .execute(&mut *tx)
            .await?;
    }
    progress.set_length(count_events(&mut tx).await?);
    let (events, rows) = fold_all(store, &mut tx, progress).await?;
    let mut written = 0;
    for table in tables {
        if let Some(rows) = rows.get(table.name) {
            let refs: Vec<&Row> = rows.iter().collect();
            read_model::insert(&mut tx, dialect, table, &refs).await?;
            written += rows.len();
        }
    }
    tx.commit().await?;
    progress.finish_and_clear();
    Ok(Rebuilt {
        events,
        rows: written,
        elapsed: started.elapsed(),
    })
}
