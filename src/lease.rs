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

use crate::store::{Store, StoreError};

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
    pub async fn acquire(&self) -> Result<bool, StoreError> {
        let held = self.try_acquire().await;
        metrics::gauge!("media_lease_held", "name" => self.name)
            .set(f64::from(u8::from(matches!(held, Ok(true)))));
        held
    }

    async fn try_acquire(&self) -> Result<bool, StoreError> {
        let now = Utc::now();
        let (now_s, until) = (stamp(now), stamp(now + self.ttl));
        self.store
            .take_lease(self.name, &self.holder, &now_s, &until)
            .await
    }

    /// Gives the lease back, if it is ours, so another process need not wait for it to expire.
    pub async fn release(&self) {
        let epoch = stamp(chrono::DateTime::<Utc>::UNIX_EPOCH);
        let released = self
            .store
            .expire_lease(self.name, &self.holder, &epoch)
            .await;
        metrics::gauge!("media_lease_held", "name" => self.name).set(0.0);
        if let Err(e) = released {
            tracing::warn!(lease = self.name, error = %e, "releasing a lease failed; it will expire");
        }
    }
}
