//! Runs commands against the aggregates: loads, decides, appends — retrying when another writer
//! got in between — and returns what was committed, for the processes that follow on from it.

use std::collections::HashMap;
use std::time::Duration;

use aggregates::{
    BatchId, Listing, ListingCommand, ListingError, ListingEvent, ListingId, ListingStatus,
    MediaBatch, MediaBatchCommand, MediaBatchError, MediaBatchEvent,
};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateContext, AggregateError, EventStore, Query};

use crate::store::{OpenBatchTaken, Store, StoreError};

/// Who asked, recorded in every event's metadata for the audit trail.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<u64>,
    pub role: String,
    pub request_id: Option<String>,
    /// The W3C trace context the command arrived with; carried onto the messages it causes.
    pub traceparent: Option<String>,
}

impl Actor {
    /// The service itself: reconciler, relay, rebuild tools.
    pub fn system(role: &str) -> Self {
        Self {
            user_id: None,
            role: role.to_owned(),
            request_id: None,
            traceparent: None,
        }
    }

    fn metadata(&self) -> HashMap<String, String> {
        let mut m = HashMap::from([("actor_role".to_owned(), self.role.clone())]);
        if let Some(id) = self.user_id {
            m.insert("actor_user_id".into(), id.to_string());
        }
        if let Some(r) = &self.request_id {
            m.insert("request_id".into(), r.clone());
        }
        if let Some(t) = &self.traceparent {
            m.insert("traceparent".into(), t.clone());
        }
        m
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Batch(#[from] MediaBatchError),
    #[error(transparent)]
    Listing(#[from] ListingError),
    #[error("listing {listing_id} already has an open batch")]
    OpenBatchExists {
        listing_id: ListingId,
        /// The open batch, as the store knew it just after refusing this one.
        batch_id: Option<BatchId>,
    },
    #[error("too many concurrent changes to the same {0}; try again")]
    Contended(&'static str),
    #[error("event store: {0}")]
    Store(#[from] StoreError),
}

/// One aggregate type's load–decide–commit, as cqrs-es's `CqrsFramework::execute` does it, but
/// handing back the committed events (the framework returns nothing).
struct Decider<A: Aggregate> {
    events: PersistedEventStore<Store, A>,
    queries: Vec<Box<dyn Query<A>>>,
}

impl<A: Aggregate<Services = ()> + Clone> Decider<A> {
    fn new(store: &Store, queries: Vec<Box<dyn Query<A>>>) -> Self {
        Self {
            // A snapshot after every commit, kept in memory by the store: a command's load
            // reads only the events after this process's last commit of the stream.
            events: PersistedEventStore::new_snapshot_store(store.clone(), 1),
            queries,
        }
    }

    async fn execute(
        &self,
        id: &str,
        command: A::Command,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<A::Event>, AggregateError<A::Error>> {
        let mut context = self.events.load_aggregate(id).await?;
        let sink = EventSink::default();
        // cqrs-es 0.5's sink applies each event to the aggregate it is handed, and `commit`
        // applies them again to the loaded state to make its snapshot: the command decides on
        // a copy, so the snapshot is the loaded state plus the new events once.
        let mut deciding = context.aggregate().clone();
        deciding
            .handle(command, &(), &sink)
            .await
            .map_err(AggregateError::UserError)?;
        let committed = self
            .events
            .commit(sink.collect().await, context, metadata)
            .await?;
        if !committed.is_empty() {
            for query in &self.queries {
                query.dispatch(id, &committed).await;
            }
        }
        Ok(committed.into_iter().map(|e| e.payload).collect())
    }
}

pub struct Engine {
    store: Store,
    batches: Decider<MediaBatch>,
    listings: Decider<Listing>,
}

const ATTEMPTS: u32 = 8;

impl Engine {
    pub fn new(store: Store) -> Self {
        Self {
            batches: Decider::new(
                &store,
                vec![Box::new(crate::telemetry::BatchMetrics::new(store.clone()))],
            ),
            listings: Decider::new(&store, vec![]),
            store,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs `command` on the batch; returns the events it committed (none for a repeat the
    /// batch ignores).
    pub async fn batch(
        &self,
        id: BatchId,
        command: MediaBatchCommand,
        actor: &Actor,
    ) -> Result<Vec<MediaBatchEvent>, CommandError> {
        let result = run(
            &self.batches,
            &id.to_string(),
            command,
            actor,
            CommandError::Batch,
        )
        .await;
        match result {
            Err(CommandError::OpenBatchExists { listing_id, .. }) => {
                Err(CommandError::OpenBatchExists {
                    listing_id,
                    batch_id: self.store.open_batch_id(listing_id).await?,
                })
            }
            other => other,
        }
    }

    pub async fn listing(
        &self,
        id: ListingId,
        command: ListingCommand,
        actor: &Actor,
    ) -> Result<Vec<ListingEvent>, CommandError> {
        run(
            &self.listings,
            &id.to_string(),
            command,
            actor,
            CommandError::Listing,
        )
        .await
    }

    /// The batch as its events make it now.
    pub async fn batch_state(&self, id: BatchId) -> Result<MediaBatch, CommandError> {
        let mut state = MediaBatch::default();
        for stored in self.store.stream(MediaBatch::TYPE, &id.to_string()).await? {
            let event = stored.to_serialized(self.store.upcasters())?;
            let event =
                serde_json::from_value(event.payload).map_err(|source| StoreError::Corrupt {
                    position: stored.position,
                    source,
                })?;
            state.apply(event);
        }
        Ok(state)
    }

    /// The listing's status in the `listings` read table, if the listing is known.
    pub async fn listing_status(
        &self,
        id: ListingId,
    ) -> Result<Option<ListingStatus>, CommandError> {
        Ok(self.store.listing_access(id).await?.map(|l| l.status))
    }
}

async fn run<A>(
    decider: &Decider<A>,
    id: &str,
    command: A::Command,
    actor: &Actor,
    refused: fn(A::Error) -> CommandError,
) -> Result<Vec<A::Event>, CommandError>
where
    A: Aggregate<Services = ()> + Clone,
    A::Command: Clone,
{
    for attempt in 1..=ATTEMPTS {
        match decider.execute(id, command.clone(), actor.metadata()).await {
            Ok(events) => return Ok(events),
            Err(AggregateError::UserError(e)) => return Err(refused(e)),
            Err(AggregateError::AggregateConflict) if attempt < ATTEMPTS => {
                // Another writer appended first: decide again on the fresh state.
                let jitter = u64::from(attempt) * 3 + u64::from(rand_u8() % 7);
                tokio::time::sleep(Duration::from_millis(jitter)).await;
            }
            Err(AggregateError::AggregateConflict) => return Err(CommandError::Contended(A::TYPE)),
            Err(AggregateError::UnexpectedError(e)) => {
                return Err(match e.downcast_ref::<OpenBatchTaken>() {
                    Some(taken) => CommandError::OpenBatchExists {
                        listing_id: taken.listing_id,
                        batch_id: None,
                    },
                    None => StoreError::Framework(e).into(),
                });
            }
            Err(
                AggregateError::DatabaseConnectionError(e)
                | AggregateError::DeserializationError(e),
            ) => return Err(StoreError::Framework(e).into()),
        }
    }
    unreachable!("the last attempt returns")
}

/// A little jitter so that retrying writers do not collide in lockstep.
fn rand_u8() -> u8 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos % 251) as u8
}
