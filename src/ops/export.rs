//! `audit export BATCH_ID` (and `GET .../events?proof=true`): one batch's events, their hashes,
//! and the Merkle proof that its head at a checkpoint is one of the signed leaves; checked
//! offline by `audit check` or the README's Python with only the public key.

use aggregates::{BatchId, MediaBatch};
use cqrs_es::Aggregate;
use toq_evidence::export::{self, Export, ExportedEvent};
use toq_evidence::merkle::ProofBuilder;

use super::checkpoint::{CheckpointError, CheckpointFile};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("batch {0} has no events")]
    UnknownBatch(BatchId),
    #[error("batch {0} is newer than the checkpoint: export it after the next one")]
    NotCovered(BatchId),
}

pub async fn export(
    store: &Store,
    file: &CheckpointFile,
    batch: BatchId,
) -> Result<Export, ExportError> {
    let (kind, id) = (MediaBatch::TYPE, batch.to_string());
    let stored = store
        .stream(kind, &id)
        .await
        .map_err(CheckpointError::from)?;
    if stored.is_empty() {
        return Err(ExportError::UnknownBatch(batch));
    }
    // First pass: where the stream's head is among the leaves.
    let mut heads = file.heads().await?;
    let mut found = None;
    let mut index = 0;
    while let Some(head) = heads.next().await? {
        if found.is_none() && head.aggregate_type == kind && head.aggregate_id == id {
            found = Some((index, head));
        }
        index += 1;
    }
    let (leaf_index, head) = found.ok_or(ExportError::NotCovered(batch))?;
    // Second pass: the roots of the sibling subtrees.
    let mut proof = ProofBuilder::new(leaf_index, file.checkpoint.streams);
    let mut heads = file.heads().await?;
    while let Some(h) = heads.next().await? {
        proof.push(h.leaf());
    }
    let (_, proof) = proof
        .finish()
        .expect("the checked heads are as many as signed");
    Ok(Export {
        format: export::FORMAT.to_owned(),
        checkpoint: file.checkpoint.clone(),
        head,
        leaf_index,
        proof: proof.iter().map(hex::encode).collect(),
        events: stored
            .into_iter()
            .map(|e| ExportedEvent {
                sequence: e.sequence,
                event_type: e.event_type,
                event_version: e.event_version,
                payload: e.payload,
                metadata: e.metadata,
                hash: e.hash,
            })
            .collect(),
    })
}
