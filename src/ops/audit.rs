//! `audit verify`: recompute every stream's hash chain and name the first event that breaks it,
//! one stream at a time in stream order (bounded memory at any size).

use indicatif::ProgressBar;

use crate::store::{Store, StoreError, StoredEvent, Streams};
use toq_evidence::chain::{self, GENESIS};

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
    /// The first broken event in stream order, if any.
    pub broken: Option<Broken>,
}

pub async fn verify(store: &Store, progress: &ProgressBar) -> Result<Audited, StoreError> {
    let mut session = store.snapshot().await?;
    progress.set_length(session.count_events().await?);
    let mut report = Audited::default();
    let mut streams = Streams::default();
    while let Some(events) = streams.next(&mut session).await? {
        report.streams += 1;
        let mut previous = (0, GENESIS.to_owned());
        for event in &events {
            report.events += 1;
            if let Some(reason) = check(event, previous.0, &previous.1) {
                report.broken = Some(Broken {
                    position: event.position,
                    aggregate_type: event.aggregate_type.clone(),
                    aggregate_id: event.aggregate_id.clone(),
                    sequence: event.sequence,
                    reason,
                });
                progress.finish_and_clear();
                return Ok(report);
            }
            previous = (event.sequence, event.hash.clone());
        }
        progress.inc(events.len() as u64);
    }
    session.rollback().await?;
    progress.finish_and_clear();
    Ok(report)
}

fn check(event: &StoredEvent, last_seq: i64, previous: &str) -> Option<String> {
    if event.sequence != last_seq + 1 {
        return Some(format!("sequence {} follows {last_seq}", event.sequence));
    }
    let expected = chain::hash(previous, &event.link());
    (expected != event.hash)
        .then(|| "its hash does not match its contents and the previous event's hash".to_owned())
}
