//! The READY saga: a batch that becomes READY moves its listing on to owner approval
//! (`ListingCommand::MediaReady`). The batch's commit leaves a `listing.media_ready` outbox row
//! in its own transaction; [`follow`] settles it right after the commit (read your writes), and
//! the relay's rounds [`catch_up`] on rows a crash or a failed follow left behind. At least
//! once: the Listing aggregate ignores a repeat.

use aggregates::{ListingCommand, ListingError, MediaBatchEvent};

use crate::engine::{Actor, CommandError, Engine};

/// After a batch commit: settles now when it made the batch READY.
pub async fn follow(engine: &Engine, committed: &[MediaBatchEvent]) -> Result<usize, CommandError> {
    if committed
        .iter()
        .any(|e| matches!(e, MediaBatchEvent::Ready(_)))
    {
        catch_up(engine).await
    } else {
        Ok(0)
    }
}

/// Moves the listings of every READY batch still waiting in the outbox; returns how many.
pub async fn catch_up(engine: &Engine) -> Result<usize, CommandError> {
    let store = engine.store();
    let rows = store.ready_outbox(100).await?;
    for (id, ready) in &rows {
        let command = ListingCommand::MediaReady {
            batch_id: ready.batch_id,
            now: chrono::Utc::now(),
        };
        match engine
            .listing(
                ready.listing_identity_id,
                command,
                &Actor::system("settler"),
            )
            .await
        {
            // A batch of a listing this service never synced has nothing to move.
            Ok(_) | Err(CommandError::Listing(ListingError::NotFound)) => {}
            Err(e) => return Err(e),
        }
        store.delete_outbox(&[*id]).await?;
    }
    Ok(rows.len())
}
