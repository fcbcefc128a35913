//! One transaction held across many statements: the ops tools' reads over one consistent
//! snapshot, and a rebuild's replacement of read tables.

use projections::{Cell, Row, Table};
use sqlx::{Any, Transaction};
use tokio::sync::SemaphorePermit;
use toq_evidence::checkpoint::Head;

use super::{Dialect, Store, StoreError, StoredEvent, events, read_model};

pub struct Session<'s> {
    tx: Transaction<'static, Any>,
    dialect: Dialect,
    /// A rebuild's turn to write, held until it ends.
    _turn: Option<SemaphorePermit<'s>>,
}

impl Store {
    /// A read-only session over one consistent snapshot.
    pub async fn snapshot(&self) -> Result<Session<'_>, StoreError> {
        let tx = self.pool.begin_with(self.dialect.begin_snapshot()).await?;
        Ok(Session {
            tx,
            dialect: self.dialect,
            _turn: None,
        })
    }

    /// A write session that has emptied `tables` and holds them against appends until it
    /// commits, so it is safe while the service runs; reads go on.
    pub async fn begin_rebuild(&self, tables: &[&Table]) -> Result<Session<'_>, StoreError> {
        let turn = self.write_turn().await;
        let mut tx = self.pool.begin_with(self.dialect.begin_write()).await?;
        let names: Vec<&str> = tables.iter().map(|t| t.name).collect();
        if self.dialect == Dialect::Postgres {
            // Appends wait until the rebuild commits.
            let sql = format!("LOCK TABLE {} IN EXCLUSIVE MODE", names.join(", "));
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
        // Delete first: on MySQL the delete's locks are what hold concurrent appends back, and
        // the events read after it include every append that committed before.
        for name in &names {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {name}")))
                .execute(&mut *tx)
                .await?;
        }
        Ok(Session {
            tx,
            dialect: self.dialect,
            _turn: turn,
        })
    }
}

impl Session<'_> {
    pub async fn count_events(&mut self) -> Result<u64, StoreError> {
        self.count("events").await
    }

    pub async fn count_rows(&mut self, table: &Table) -> Result<u64, StoreError> {
        self.count(table.name).await
    }

    async fn count(&mut self, table: &str) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// Up to `limit` stream heads after the stream `after` (`("", "")` for the first page).
    pub async fn stream_heads(
        &mut self,
        after: (&str, &str),
        limit: i64,
    ) -> Result<Vec<Head>, StoreError> {
        Ok(events::heads_page(&mut self.tx, self.dialect, after, limit).await?)
    }

    /// The chain hash of one event, if the stream has it.
    pub async fn hash_at(
        &mut self,
        aggregate_type: &str,
        aggregate_id: &str,
        sequence: i64,
    ) -> Result<Option<String>, StoreError> {
        let conn = &mut self.tx;
        Ok(events::hash_at(conn, self.dialect, aggregate_type, aggregate_id, sequence).await?)
    }

    /// The events of every stream of one type with an id from `first` to `last`, in stream
    /// and sequence order.
    pub async fn streams_between(
        &mut self,
        aggregate_type: &str,
        first: &str,
        last: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let conn = &mut self.tx;
        Ok(events::streams_between(conn, self.dialect, aggregate_type, first, last).await?)
    }

    /// The rows of `table` that these streams wrote (one query), sorted by key.
    pub async fn rows_of_streams(
        &mut self,
        table: &'static Table,
        aggregate_ids: &[&str],
    ) -> Result<Vec<Row>, StoreError> {
        let ids: Vec<Cell> = aggregate_ids
            .iter()
            .filter_map(|id| table.stream_cell(id))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&str> = table.key_columns().iter().map(|c| c.name).collect();
        let filter = format!(
            "{} IN ({}) ORDER BY {}",
            table.stream_column,
            vec!["?"; ids.len()].join(", "),
            keys.join(", ")
        );
        let conn = &mut *self.tx;
        Ok(read_model::select(conn, self.dialect, table, &filter, &ids).await?)
    }

    /// Up to `limit` rows of `table` whose stream has no events.
    pub async fn orphans(
        &mut self,
        table: &'static Table,
        limit: i64,
    ) -> Result<Vec<Row>, StoreError> {
        Ok(read_model::orphans(&mut self.tx, self.dialect, table, limit).await?)
    }

    pub async fn insert(&mut self, table: &Table, rows: &[&Row]) -> Result<(), StoreError> {
        Ok(read_model::insert(&mut self.tx, self.dialect, table, rows).await?)
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.tx.rollback().await?)
    }
}
