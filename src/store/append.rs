//! The append transaction: events, their read-table rows and their outbox rows commit together,
//! or not at all.

use std::collections::BTreeMap;

use cqrs_es::persist::{PersistenceError, SerializedEvent};
use projections::{Row, View, table};
use sqlx::AnyConnection;

use super::events::{self, StoredEvent};
use super::read_model;
use super::{Store, StoreError};
use toq_evidence::chain::{self, GENESIS, Link};
use toq_evidence::checkpoint::Head;

/// Another open batch holds the listing: the unique open-batch index refused this one.
#[derive(Debug, thiserror::Error)]
#[error("listing {listing_id} already has an open batch")]
pub struct OpenBatchTaken {
    pub listing_id: aggregates::ListingId,
}

fn unknown(e: impl std::error::Error + Send + Sync + 'static) -> PersistenceError {
    PersistenceError::UnknownError(Box::new(e))
}

impl Store {
    fn db_error(&self, e: sqlx::Error) -> PersistenceError {
        if self.dialect.is_transient(&e) {
            PersistenceError::OptimisticLockError
        } else {
            PersistenceError::ConnectionError(Box::new(e))
        }
    }

    pub(super) async fn append(&self, new: &[SerializedEvent]) -> Result<(), PersistenceError> {
        let started = std::time::Instant::now();
        let result = self.append_in_transaction(new).await;
        let outcome = match &result {
            Ok(()) => "ok",
            Err(PersistenceError::OptimisticLockError) => "conflict",
            Err(_) => "error",
        };
        metrics::histogram!("media_event_append_seconds", "backend" => self.dialect.name(), "status" => outcome)
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn append_in_transaction(&self, new: &[SerializedEvent]) -> Result<(), PersistenceError> {
        let Some(first) = new.first() else {
            return Ok(());
        };
        let _turn = self.write_turn().await;
        let mut tx = self
            .pool
            .begin_with(self.dialect.begin_write())
            .await
            .map_err(|e| self.db_error(e))?;
        let (kind, id) = (first.aggregate_type.as_str(), first.aggregate_id.as_str());
        let (head, view) = self.view_at_head(&mut tx, kind, id).await?;
        let expected = head.as_ref().map_or(0, |h| h.sequence) + 1;
        if i64::try_from(first.sequence).ok() != Some(expected) {
            return Err(PersistenceError::OptimisticLockError);
        }

        let recorded_at = projections::time::stamp(chrono::Utc::now());
        let mut previous = head.map_or(GENESIS.to_owned(), |h| h.hash);
        let mut stored = Vec::with_capacity(new.len());
        for event in new {
            let payload = serde_json::to_string(&event.payload)?;
            let metadata = serde_json::to_string(&event.metadata)?;
            let sequence = i64::try_from(event.sequence).map_err(unknown)?;
            let hash = chain::hash(
                &previous,
                &Link {
                    aggregate_type: &event.aggregate_type,
                    aggregate_id: &event.aggregate_id,
                    sequence,
                    event_type: &event.event_type,
                    event_version: &event.event_version,
                    payload: &payload,
                    metadata: &metadata,
                },
            );
            previous.clone_from(&hash);
            stored.push((event, sequence, payload, metadata, hash));
        }
        self.insert_events(&mut tx, &stored, &recorded_at).await?;

        let before = view.rows();
        let (view, outbox) = project(view, new).map_err(unknown)?;
        let after = view.rows();
        self.write_rows(&mut tx, &before, &after).await?;
        for (event, messages) in outbox {
            for mut message in messages {
                // The trace of the command that caused it travels with the message.
                if let (Some(trace), Some(body)) = (
                    event.metadata.get("traceparent"),
                    message.payload.as_object_mut(),
                ) {
                    body.insert("traceparent".into(), trace.clone());
                }
                let sql = "INSERT INTO outbox (topic, aggregate_type, aggregate_id, sequence, payload, created_at, available_at, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, 0)";
                sqlx::query(self.dialect.sql(sql))
                    .bind(message.topic)
                    .bind(event.aggregate_type.clone())
                    .bind(event.aggregate_id.clone())
                    .bind(i64::try_from(event.sequence).map_err(unknown)?)
                    .bind(message.payload.to_string())
                    .bind(recorded_at.clone())
                    .bind(recorded_at.clone())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.db_error(e))?;
            }
        }
        tx.commit().await.map_err(|e| self.db_error(e))?;
        let last = stored.last().expect("at least one event");
        let head = Head {
            aggregate_type: kind.to_owned(),
            aggregate_id: id.to_owned(),
            sequence: last.1,
            hash: last.4.clone(),
        };
        self.views.put(kind, id, (head, view));
        Ok(())
    }

    async fn insert_events(
        &self,
        conn: &mut AnyConnection,
        stored: &[(&SerializedEvent, i64, String, String, String)],
        recorded_at: &str,
    ) -> Result<(), PersistenceError> {
        let one = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let sql = format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, hash, recorded_at) VALUES {}",
            vec![one; stored.len()].join(", ")
        );
        let mut query = sqlx::query(self.dialect.sql(&sql));
        for (event, sequence, payload, metadata, hash) in stored {
            query = query
                .bind(event.aggregate_type.clone())
                .bind(event.aggregate_id.clone())
                .bind(*sequence)
                .bind(event.event_type.clone())
                .bind(event.event_version.clone())
                .bind(payload.clone())
                .bind(metadata.clone())
                .bind(hash.clone())
                .bind(recorded_at.to_owned());
        }
        match query.execute(&mut *conn).await {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Err(PersistenceError::OptimisticLockError)
            }
            Err(e) => Err(self.db_error(e)),
        }
    }

    /// The stream's head and its read-model view there: the one this process kept at its last
    /// commit when the head is still that (one indexed row read), else the whole stream read
    /// and folded. Taken out of the cache: an append that fails leaves a miss, not a copy.
    async fn view_at_head(
        &self,
        tx: &mut AnyConnection,
        kind: &str,
        id: &str,
    ) -> Result<(Option<Head>, View), PersistenceError> {
        if let Some((at, view)) = self.views.take(kind, id) {
            let head = events::head(tx, self.dialect, kind, id)
                .await
                .map_err(|e| self.db_error(e))?;
            if head.as_ref() == Some(&at) {
                self.views.count("hit");
                return Ok((head, view));
            }
            self.views.count("stale");
        } else {
            self.views.count("miss");
        }
        let old = events::stream(tx, self.dialect, kind, id, 0)
            .await
            .map_err(|e| self.db_error(e))?;
        let head = old.last().map(|e| Head {
            aggregate_type: e.aggregate_type.clone(),
            aggregate_id: e.aggregate_id.clone(),
            sequence: e.sequence,
            hash: e.hash.clone(),
        });
        Ok((head, self.fold(kind, &old).map_err(unknown)?))
    }

    /// The view of a stream's stored events: the same fold as a rebuild, so the live rows
    /// always equal a rebuild's.
    fn fold(&self, aggregate_type: &str, old: &[StoredEvent]) -> Result<View, StoreError> {
        let mut view = View::new(aggregate_type)?;
        for event in old {
            view.apply(&event.to_serialized(&self.upcasters)?)?;
        }
        Ok(view)
    }

    /// Inserts rows that are new and updates rows that changed; whole rows, so a concurrent
    /// rebuild can never leave a half-updated row.
    async fn write_rows(
        &self,
        conn: &mut AnyConnection,
        before: &[Row],
        after: &[Row],
    ) -> Result<(), PersistenceError> {
        let mut old: BTreeMap<(&str, &[projections::Cell]), &Row> = BTreeMap::new();
        for row in before {
            let t = table::table(row.table).expect("rows name known tables");
            old.insert((row.table, row.key(t)), row);
        }
        let mut inserts: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for row in after {
            let t = table::table(row.table).expect("rows name known tables");
            match old.get(&(row.table, row.key(t))) {
                Some(previous) if *previous == row => {}
                Some(_) => read_model::update(conn, self.dialect, t, row)
                    .await
                    .map_err(|e| self.row_error(e, row))?,
                None => inserts.entry(row.table).or_default().push(row),
            }
        }
        for t in table::TABLES {
            if let Some(rows) = inserts.get(t.name) {
                read_model::insert(conn, self.dialect, t, rows)
                    .await
                    .map_err(|e| self.row_error(e, rows[0]))?;
            }
        }
        Ok(())
    }

    fn row_error(&self, e: sqlx::Error, row: &Row) -> PersistenceError {
        let open_batch_conflict = row.table == table::MEDIA_BATCHES.name
            && matches!(&e, sqlx::Error::Database(db) if db.is_unique_violation());
        let listing_id = match row.cells.get(1) {
            Some(projections::Cell::Int(id)) => u64::try_from(*id).ok(),
            _ => None,
        };
        if let (true, Some(Ok(listing_id))) = (
            open_batch_conflict,
            listing_id.map(aggregates::ListingId::parse),
        ) {
            return unknown(OpenBatchTaken { listing_id });
        }
        self.db_error(e)
    }
}

/// `view` after the new events, and the messages each of them publishes.
#[allow(clippy::type_complexity)]
fn project(
    mut view: View,
    new: &[SerializedEvent],
) -> Result<
    (
        View,
        Vec<(&SerializedEvent, Vec<projections::OutboxMessage>)>,
    ),
    StoreError,
> {
    let mut outbox = Vec::new();
    for event in new {
        let messages = view.apply(event)?;
        if !messages.is_empty() {
            outbox.push((event, messages));
        }
    }
    Ok((view, outbox))
}
