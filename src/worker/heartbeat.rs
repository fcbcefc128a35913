//! Keeps a message hidden while its job runs, so a long job is not handed to a second worker
//! halfway through. Renewing in short steps (rather than one long visibility timeout) means a
//! worker that dies lets its message reappear soon.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::queue::JobQueue;

/// Extends the message's visibility every `every` until dropped.
pub struct Heartbeat(JoinHandle<()>);

impl Heartbeat {
    pub fn start(queue: JobQueue, receipt: String, visibility: Duration, every: Duration) -> Self {
        Self(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match queue.extend(&receipt, visibility).await {
                    Ok(true) => {}
                    Ok(false) => {
                        // Delivered again after all (the process stalled past the timeout):
                        // the other delivery owns the message now; this one finishes
                        // harmlessly, its results recorded once.
                        tracing::warn!(%receipt, "job message no longer held; not extending");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(%receipt, error = %e, "extending a job message failed")
                    }
                }
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}
