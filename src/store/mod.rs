//! The event store: cqrs-es's `PersistedEventRepository` on SQLite, MySQL/MariaDB or PostgreSQL
//! (sqlx `Any`), which also writes the read tables and the outbox in the append transaction.

mod append;
mod cache;
mod dialect;
mod events;
mod job_queue;
mod leases;
mod outbox;
mod read_model;
mod reads;
mod repository;
mod session;
mod streams;

use std::str::FromStr;
use std::sync::Arc;

use cqrs_es::persist::EventUpcaster;
use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{ConnectOptions, Executor};

pub use append::OpenBatchTaken;
pub use dialect::Dialect;
pub use events::StoredEvent;
pub use job_queue::{Depth, Enqueue, Queued};
pub use outbox::OutboxMessage;
pub use reads::{AssetView, BatchReport, BatchView, JobView, ListingAccess, ListingView};
pub use session::Session;
pub use streams::{StreamHeads, Streams};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use sqlite://, mysql:// or postgres://")]
    UnsupportedUrl(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("projection: {0}")]
    Projection(#[from] projections::ProjectionError),
    #[error("stored event {position} cannot be read: {source}")]
    Corrupt {
        position: i64,
        source: serde_json::Error,
    },
    #[error("read table {table}: column {column} {problem}")]
    CorruptRow {
        table: &'static str,
        column: &'static str,
        problem: String,
    },
    #[error(
        "stream {next} came after {after}: the database does not sort stream ids byte by byte \
         (give aggregate_type and aggregate_id a C/binary collation)"
    )]
    Collation { after: String, next: String },
    #[error("outbox row {id} cannot be read: {source}")]
    CorruptOutbox { id: i64, source: serde_json::Error },
    /// What the cqrs-es framework reported from the repository, with its cause.
    #[error("{0}")]
    Framework(Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Whether a unique key refused the write: another writer stored the same thing first.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Self::Database(sqlx::Error::Database(db)) if db.is_unique_violation())
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    upcasters: Arc<Vec<Box<dyn EventUpcaster>>>,
    /// SQLite takes one writer at a time: the process's writers wait their turn here, in order,
    /// rather than in SQLite's busy handler, whose growing sleeps (up to 100 ms) make the tail.
    writers: Option<Arc<tokio::sync::Semaphore>>,
    /// The read-model views of this process's last appends, by stream.
    views: cache::Recent<(toq_evidence::checkpoint::Head, projections::View)>,
    /// The aggregates' states after this process's last commits (cqrs-es snapshots), by stream.
    snapshots: cache::Recent<Snapshot>,
}

/// An aggregate's state after its event `sequence` (`number`: cqrs-es's snapshot count), as
/// JSON text: several times smaller than a parsed `Value`.
#[derive(Clone)]
struct Snapshot {
    json: String,
    sequence: usize,
    number: usize,
}

impl Store {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect =
            Dialect::from_url(url).ok_or_else(|| StoreError::UnsupportedUrl(url.to_owned()))?;
        let mut options = AnyConnectOptions::from_str(url)?;
        options = options.log_statements(tracing::log::LevelFilter::Trace);
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        dialect::tune(&pool, dialect).await?;
        Ok(Self {
            pool,
            dialect,
            upcasters: Arc::new(aggregates::upcasting::upcasters()),
            writers: (dialect == Dialect::Sqlite).then(|| Arc::new(tokio::sync::Semaphore::new(1))),
            views: cache::Recent::new("view", cache::STREAMS),
            snapshots: cache::Recent::new("snapshot", cache::STREAMS),
        })
    }

    /// Applies the migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.dialect {
            Dialect::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Dialect::MySql => sqlx::migrate!("migrations/mysql"),
            Dialect::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Raw access for the integration tests' own SQL (feature `test-support`, which only the
    /// tests enable): the service itself reaches the database through the store's methods.
    #[cfg(feature = "test-support")]
    #[doc(hidden)]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// How many migrations have been applied successfully, for readiness.
    pub async fn applied_migrations(&self) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE";
        Ok(sqlx::query_scalar(sql).fetch_one(&self.pool).await?)
    }

    /// Held for the length of a write transaction (`begin_write`): on SQLite, this process's
    /// turn to write; elsewhere nothing, the database orders writers itself.
    pub async fn write_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        match &self.writers {
            Some(writers) => Some(
                writers
                    .acquire()
                    .await
                    .expect("the semaphore is never closed"),
            ),
            None => None,
        }
    }

    /// Whether the error means another transaction got in the way: running again may succeed.
    pub fn is_transient(&self, e: &StoreError) -> bool {
        matches!(e, StoreError::Database(e) if self.dialect.is_transient(e))
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn upcasters(&self) -> &[Box<dyn EventUpcaster>] {
        &self.upcasters
    }
}
