//! `projections verify`: fold every event afresh and compare with the live tables, cell by cell,
//! over one consistent snapshot, streams folded one at a time (bounded memory at any size) and
//! compared with their live rows a few hundred streams per query, then the live rows of streams
//! that have no events at all.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use indicatif::ProgressBar;
use projections::table::TABLES;
use projections::{Cell, Row, Table};

use crate::ops::rebuild::{Folded, next_fold};
use crate::store::{Session, Store, StoreError, Streams};

/// Rows of streams without events named at most, per table.
const ORPHANS_SHOWN: i64 = 50;
/// Folded streams compared with their live rows together, up to this many streams or events.
const CHECK_STREAMS: usize = 500;
const CHECK_EVENTS: u64 = 5_000;
/// Differences kept for the report; the rest are only counted.
const DIFFERENCES_KEPT: usize = 1_000;

#[derive(Debug, Default)]
pub struct Verified {
    pub events: u64,
    pub rows: usize,
    /// Human-readable differences, the first [`DIFFERENCES_KEPT`]; empty when the live tables
    /// equal the rebuild.
    pub differences: Vec<String>,
    /// All differences found, kept or not.
    pub total_differences: u64,
}

impl Verified {
    fn record(&mut self, found: Vec<String>) {
        self.total_differences += found.len() as u64;
        let room = DIFFERENCES_KEPT.saturating_sub(self.differences.len());
        self.differences.extend(found.into_iter().take(room));
    }
}

pub async fn verify(store: &Store, progress: &ProgressBar) -> Result<Verified, StoreError> {
    let mut session = store.snapshot().await?;
    progress.set_length(session.count_events().await?);
    let mut report = Verified::default();
    let mut streams = Streams::default();
    let (mut pending, mut pending_events) = (Vec::new(), 0);
    while let Some(folded) = next_fold(store, &mut streams, &mut session).await? {
        report.events += folded.events;
        progress.inc(folded.events);
        pending_events += folded.events;
        pending.push(folded);
        if pending.len() >= CHECK_STREAMS || pending_events >= CHECK_EVENTS {
            compare(&mut session, &pending, &mut report).await?;
            (pending, pending_events) = (Vec::new(), 0);
        }
    }
    compare(&mut session, &pending, &mut report).await?;
    for table in TABLES {
        let orphans = session.orphans(table, ORPHANS_SHOWN).await?;
        report.rows += orphans.len();
        report.record(
            orphans
                .iter()
                .map(|row| {
                    format!(
                        "{} ({}): in the live table, not implied by any event",
                        table.name,
                        key_text(row.key(table))
                    )
                })
                .collect(),
        );
    }
    session.rollback().await?;
    progress.finish_and_clear();
    Ok(report)
}

/// Diffs some folded streams against their live rows: one query per table for all of them.
async fn compare(
    session: &mut Session<'_>,
    folded: &[Folded],
    report: &mut Verified,
) -> Result<(), StoreError> {
    for table in TABLES {
        let ids: Vec<&str> = folded
            .iter()
            .filter(|f| f.aggregate_type == table.aggregate)
            .map(|f| f.aggregate_id.as_str())
            .collect();
        if ids.is_empty() {
            continue;
        }
        let live = session.rows_of_streams(table, &ids).await?;
        let want: Vec<Row> = folded
            .iter()
            .flat_map(|f| &f.rows)
            .filter(|r| r.table == table.name)
            .cloned()
            .collect();
        report.rows += live.len();
        let mut found = Vec::new();
        diff(table, &want, &live, &mut found);
        report.record(found);
    }
    Ok(())
}

fn key_text(key: &[Cell]) -> String {
    key.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn diff(table: &Table, want: &[Row], live: &[Row], out: &mut Vec<String>) {
    let by_key = |rows: &[Row]| -> BTreeMap<Vec<Cell>, Row> {
        rows.iter()
            .map(|r| (r.key(table).to_vec(), r.clone()))
            .collect()
    };
    let (want, live) = (by_key(want), by_key(live));
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
