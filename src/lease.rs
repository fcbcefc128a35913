//! Leases: a background loop that must run in one process at a time (the outbox relay, the
//! reconciler) holds a row of `leases` until it expires, and renews it each round. A process
//! that dies stops renewing, and another takes over once the lease has expired; one that stops
//! cleanly gives it back at once.
//!
//! A holder that stalls past its lease may overlap the next holder for a moment; what the loops
//! do stays safe then (the table relay is exactly-once by its unique key, SQS consumers and the
//! aggregate take duplicates), so the lease keeps the work single, not correct.

use std::time::Duration;

use chrono::Utc;
use projections::time::stamp;

use crate::store::Store;

pub struct Lease {
    store: Store,
    name: &'static str,
    holder: String,
    ttl: chrono::Duration,
}

impl Lease {
    /// A lease on `name` for this process, held `ttl` past each renewal.
    pub fn new(store: Store, name: &'static str, ttl: Duration) -> Self {
        Self {
            store,
            name,
            holder: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple()),
            ttl: chrono::Duration::from_std(ttl).expect("a lease lasts less than a century"),
        }
    }

    /// Takes the lease when it is free or expired, or renews it when it is ours; true when this
    /// process holds it for `ttl` from now.
    pub async fn acquire(&self) -> Result<bool, sqlx::Error> {
        let held = self.try_acquire().await;
        metrics::gauge!("media_lease_held", "name" => self.name)
            .set(f64::from(u8::from(matches!(held, Ok(true)))));
        held
    }

    async fn try_acquire(&self) -> Result<bool, sqlx::Error> {
        let dialect = self.store.dialect();
        let pool = self.store.pool();
        let now = Utc::now();
        let (now_s, until) = (stamp(now), stamp(now + self.ttl));
        let sql = "UPDATE leases SET holder = ?, expires_at = ? \
                   WHERE name = ? AND (holder = ? OR expires_at < ?)";
        let updated = sqlx::query(dialect.sql(sql))
            .bind(&self.holder)
            .bind(&until)
            .bind(self.name)
            .bind(&self.holder)
            .bind(&now_s)
            .execute(pool)
            .await;
        match updated {
            Ok(r) if r.rows_affected() == 1 => return Ok(true),
            Ok(_) => {}
            Err(e) if dialect.is_transient(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
        let sql = "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)";
        let inserted = sqlx::query(dialect.sql(sql))
            .bind(self.name)
            .bind(&self.holder)
            .bind(&until)
            .execute(pool)
            .await;
        match inserted {
            Ok(_) => Ok(true),
            // Someone holds it (or created it just now). MySQL counts an UPDATE that changed
            // nothing as 0 rows, so a renewal in the same millisecond ends here too: ask.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                self.is_ours(&now_s).await
            }
            Err(e) if dialect.is_transient(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn is_ours(&self, now: &str) -> Result<bool, sqlx::Error> {
        let sql = "SELECT COUNT(*) FROM leases WHERE name = ? AND holder = ? AND expires_at >= ?";
        let n: i64 = sqlx::query_scalar(self.store.dialect().sql(sql))
            .bind(self.name)
            .bind(&self.holder)
            .bind(now)
            .fetch_one(self.store.pool())
            .await?;
        Ok(n == 1)
    }

    /// Gives the lease back, if it is ours, so another process need not wait for it to expire.
    pub async fn release(&self) {
        let sql = "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?";
        let released = sqlx::query(self.store.dialect().sql(sql))
            .bind(stamp(chrono::DateTime::<Utc>::UNIX_EPOCH))
            .bind(self.name)
            .bind(&self.holder)
            .execute(self.store.pool())
            .await;
        metrics::gauge!("media_lease_held", "name" => self.name).set(0.0);
        if let Err(e) = released {
            tracing::warn!(lease = self.name, error = %e, "releasing a lease failed; it will expire");
        }
    }
}
