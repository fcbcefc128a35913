//! `audit verify`: recompute every stream's hash chain and name the first event that breaks it.

use std::collections::HashMap;

use indicatif::ProgressBar;

use crate::store::{Store, StoreError, StoredEvent};
use toq_evidence::chain::{self, GENESIS, Link};

#[derive(Debug)]
pub struct Broken {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Audited {
    pub events: u64,
    pub streams: usize,
    /// The first broken event in commit order, if any.
    pub broken: Option<Broken>,
}

pub async fn verify(store: &Store, progress: &ProgressBar) -> Result<Audited, StoreError> {
    let mut session = store.snapshot().await?;
    progress.set_length(session.count_events().await?);
    // Per stream: the last sequence and hash seen.
    let mut heads: HashMap<(String, String), (i64, String)> = HashMap::new();
    let mut report = Audited::default();
    let mut after = 0;
    loop {
        let page = session.events_page(after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for event in &page {
            report.events += 1;
            let key = (event.aggregate_type.clone(), event.aggregate_id.clone());
            let (last_seq, previous) = heads.get(&key).cloned().unwrap_or((0, GENESIS.to_owned()));
            if let Some(reason) = check(event, last_seq, &previous) {
                report.broken = Some(Broken {
                    position: event.position,
                    aggregate_type: event.aggregate_type.clone(),
                    aggregate_id: event.aggregate_id.clone(),
                    sequence: event.sequence,
                    reason,
                });
                progress.finish_and_clear();
                report.streams = heads.len();
                return Ok(report);
            }
            heads.insert(key, (event.sequence, event.hash.clone()));
        }
        progress.inc(page.len() as u64);
    }
    progress.finish_and_clear();
    report.streams = heads.len();
    Ok(report)
}

fn check(event: &StoredEvent, last_seq: i64, previous: &str) -> Option<String> {
    if event.sequence != last_seq + 1 {
        return Some(format!("sequence {} follows {last_seq}", event.sequence));
    }
    let expected = chain::hash(
        previous,
        &Link {
            aggregate_type: &event.aggregate_type,
            aggregate_id: &event.aggregate_id,
            sequence: event.sequence,
            event_type: &event.event_type,
            event_version: &event.event_version,
            payload: &event.payload,
            metadata: &event.metadata,
        },
    );
    (expected != event.hash)
        .then(|| "its hash does not match its contents and the previous event's hash".to_owned())
}
