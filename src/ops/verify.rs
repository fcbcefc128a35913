//! `projections verify`: fold every event afresh and compare with the live tables, cell by cell,
//! over one consistent snapshot.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use indicatif::ProgressBar;
use projections::table::TABLES;
use projections::{Cell, Row, Table};

use crate::ops::rebuild::fold_all;
use crate::store::{Store, StoreError};

#[derive(Debug, Default)]
pub struct Verified {
    pub events: u64,
    pub rows: usize,
    /// Human-readable differences; empty when the live tables equal the rebuild.
    pub differences: Vec<String>,
}

pub async fn verify(store: &Store, progress: &ProgressBar) -> Result<Verified, StoreError> {
    let mut session = store.snapshot().await?;
    progress.set_length(session.count_events().await?);
    let (events, expected) = fold_all(store, &mut session, progress).await?;
    let mut report = Verified {
        events,
        ..Verified::default()
    };
    for table in TABLES {
        let mut live = session.select_all(table).await?;
        live.sort();
        let want = expected
            .get(table.name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        report.rows += live.len();
        diff(table, want, &live, &mut report.differences);
    }
    session.rollback().await?;
    progress.finish_and_clear();
    Ok(report)
}

fn diff(table: &Table, want: &[Row], live: &[Row], out: &mut Vec<String>) {
    let by_key = |rows: &[Row]| -> BTreeMap<Vec<Cell>, Row> {
        rows.iter()
            .map(|r| (r.key(table).to_vec(), r.clone()))
            .collect()
    };
    let (want, live) = (by_key(want), by_key(live));
    let key_text = |k: &[Cell]| {
        k.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (key, row) in &want {
        match live.get(key) {
            None => out.push(format!(
                "{} ({}): missing from the live table",
                table.name,
                key_text(key)
            )),
            Some(l) if l != row => {
                let mut line = format!("{} ({}):", table.name, key_text(key));
                for ((column, w), got) in table.columns.iter().zip(&row.cells).zip(&l.cells) {
                    if w != got {
                        let _ = write!(line, " {} live={} rebuilt={};", column.name, got, w);
                    }
                }
                out.push(line);
            }
            Some(_) => {}
        }
    }
    for key in live.keys().filter(|k| !want.contains_key(*k)) {
        out.push(format!(
            "{} ({}): in the live table, not implied by any event",
            table.name,
            key_text(key)
        ));
    }
}
