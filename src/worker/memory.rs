//! The worker's memory budget for image work: MiB permits of an async semaphore, reserved from
//! each render's header estimate before its pixels exist and held until its renditions are
//! encoded, so that concurrent renders together never exceed the budget. A render whose
//! estimate is over the whole budget is refused; one that only lacks room now waits.
//!
//! Gauges: `media_worker_memory_budget_bytes`, `media_worker_memory_reserved_bytes`.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use toq_imaging::{Estimate, Failure};

const MIB: u64 = 1 << 20;

/// The budget shared by every render of one worker.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    permits: Arc<Semaphore>,
    mebibytes: u32,
}

/// Memory held for one asset; given back (and the gauge lowered) when dropped.
#[derive(Debug)]
pub struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
    budget: MemoryBudget,
}

impl MemoryBudget {
    pub fn new(mebibytes: u32) -> Self {
        metrics::gauge!("media_worker_memory_budget_bytes")
            .set((u64::from(mebibytes) * MIB) as f64);
        Self {
            permits: Arc::new(Semaphore::new(mebibytes as usize)),
            mebibytes,
        }
    }

    /// Waits until `estimate` fits beside the renders in flight; refuses it (`IMAGE_TOO_LARGE`)
    /// when it is over the whole budget and would wait forever.
    pub async fn reserve(&self, estimate: Estimate) -> Result<Reservation, Failure> {
        let mut reservation = Reservation {
            permit: None,
            budget: self.clone(),
        };
        reservation.grow_to(estimate).await?;
        Ok(reservation)
    }

    async fn acquire(&self, mebibytes: u32) -> OwnedSemaphorePermit {
        let permit = self
            .permits
            .clone()
            .acquire_many_owned(mebibytes)
            .await
            .expect("the semaphore is never closed");
        note_reserved(mebibytes, 1.0);
        permit
    }
}

impl Reservation {
    /// Raises the reservation to `estimate` (the raw bytes were reserved before they were
    /// read; the header then says what decoding adds). At once when the budget has room;
    /// otherwise it gives back what it holds and waits for the whole amount, because two
    /// renders each holding part while waiting for more could wait for each other forever.
    pub async fn grow_to(&mut self, estimate: Estimate) -> Result<(), Failure> {
        estimate.check(self.budget.mebibytes)?;
        let wanted = estimate.mebibytes();
        let held = self.mebibytes();
        if wanted <= held {
            return Ok(());
        }
        let more = self
            .budget
            .permits
            .clone()
            .try_acquire_many_owned(wanted - held);
        match (self.permit.as_mut(), more) {
            (Some(permit), Ok(more)) => {
                note_reserved(wanted - held, 1.0);
                permit.merge(more);
            }
            (None, Ok(more)) => {
                note_reserved(wanted, 1.0);
                self.permit = Some(more);
            }
            (_, Err(_)) => {
                self.release();
                self.permit = Some(self.budget.acquire(wanted).await);
            }
        }
        Ok(())
    }

    fn mebibytes(&self) -> u32 {
        self.permit
            .as_ref()
            .map_or(0, |p| u32::try_from(p.num_permits()).unwrap_or(u32::MAX))
    }

    fn release(&mut self) {
        if let Some(permit) = self.permit.take() {
            note_reserved(
                u32::try_from(permit.num_permits()).unwrap_or(u32::MAX),
                -1.0,
            );
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.release();
    }
}

fn note_reserved(mebibytes: u32, sign: f64) {
    metrics::gauge!("media_worker_memory_reserved_bytes")
        .increment(sign * (u64::from(mebibytes) * MIB) as f64);
}

#[cfg(test)]
mod tests {
    use aggregates::FailureCode;
    use std::pin::pin;

    use futures_util::future::poll_immediate;

    use super::*;

    fn mib(n: u64) -> Estimate {
        Estimate {
            raw: 0,
            working: n * MIB,
        }
    }

    #[tokio::test]
    async fn an_estimate_over_the_remaining_budget_waits_for_room() {
        let budget = MemoryBudget::new(10);
        let first = budget.reserve(mib(6)).await.expect("fits an empty budget");
        let mut second = pin!(budget.reserve(mib(6)));
        assert!(
            poll_immediate(&mut second).await.is_none(),
            "6 MiB do not fit beside 6 of 10: it must wait, not fail"
        );
        drop(first);
        let second = second.await.expect("fits once the first is given back");
        assert_eq!(second.mebibytes(), 6);
    }

    #[tokio::test]
    async fn an_estimate_over_the_whole_budget_is_refused_at_once() {
        let budget = MemoryBudget::new(10);
        let held = budget.reserve(mib(3)).await.unwrap();
        let refused = budget.reserve(mib(11)).await.unwrap_err();
        assert_eq!(refused.code, FailureCode::ImageTooLarge);
        assert!(refused.message.contains("11 MiB"), "{refused}");
        assert!(refused.message.contains("10 MiB"), "{refused}");
        drop(held);
        assert_eq!(budget.permits.available_permits(), 10);
    }

    /// Two renders each holding their raw bytes and each needing more than is left: holding
    /// while waiting would deadlock them; giving back lets the first finish, then the second.
    #[tokio::test]
    async fn growers_without_room_do_not_wait_for_each_other() {
        let budget = MemoryBudget::new(10);
        let mut a = budget.reserve(mib(4)).await.unwrap();
        let mut b = budget.reserve(mib(4)).await.unwrap();
        let guard = std::time::Duration::from_secs(10);
        {
            let mut grow_b = pin!(b.grow_to(mib(8)));
            {
                let mut grow_a = pin!(a.grow_to(mib(8)));
                assert!(
                    poll_immediate(&mut grow_a).await.is_none(),
                    "only 2 MiB are free"
                );
                assert!(poll_immediate(&mut grow_b).await.is_none());
                tokio::time::timeout(guard, &mut grow_a)
                    .await
                    .expect("the first grower is not blocked by the second")
                    .unwrap();
                assert!(poll_immediate(&mut grow_b).await.is_none(), "8 + 8 > 10");
            }
            drop(a);
            tokio::time::timeout(guard, grow_b)
                .await
                .expect("then the second")
                .unwrap();
        }
        assert_eq!(b.mebibytes(), 8);
        b.grow_to(mib(9)).await.unwrap();
        assert_eq!(b.mebibytes(), 9);
        drop(b);
        assert_eq!(budget.permits.available_permits(), 10);
    }
}
