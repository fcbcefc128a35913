//! One batch's history as evidence an auditor checks offline with only the public key: its
//! events with their chain hashes, the signed checkpoint, and the Merkle proof that the
//! stream's head at that checkpoint is one of the signed leaves.
//!
//! The file is the compact JSON that [`Export::to_bytes`] writes and nothing else: [`check`]
//! refuses any other spelling of the same content, so that changing any byte of a file fails.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::EvidenceError;
use crate::chain::{self, GENESIS, Link};
use crate::checkpoint::{Checkpoint, Head, decode};
use crate::merkle;

pub const FORMAT: &str = "toq-media-export/1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Export {
    pub format: String,
    pub checkpoint: Checkpoint,
    /// The stream's head at the checkpoint: the leaf at `leafIndex`.
    pub head: Head,
    pub leaf_index: u64,
    /// Sibling hashes from the leaf up (hex), RFC 9162 §2.1.3.
    pub proof: Vec<String>,
    /// Every event of the stream, in sequence order, those after the checkpoint included.
    pub events: Vec<ExportedEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportedEvent {
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    /// Exactly as stored: the hash covers these bytes.
    pub payload: String,
    pub metadata: String,
    pub hash: String,
}

/// What a passing check proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub events: usize,
    /// Events `1..=covered` are under the signed checkpoint; the rest only chain onto them.
    pub covered: i64,
    pub checkpoint_at: String,
}

impl Export {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an export serializes")
    }
}

/// Checks an export file against the auditor's trusted key.
pub fn check(bytes: &[u8], trusted: &VerifyingKey) -> Result<Checked, EvidenceError> {
    let export: Export =
        serde_json::from_slice(bytes).map_err(|e| EvidenceError::Format(e.to_string()))?;
    if export.to_bytes() != bytes {
        return Err(EvidenceError::Format(
            "not in the canonical form `audit export` writes".into(),
        ));
    }
    if export.format != FORMAT {
        return Err(EvidenceError::Format(format!(
            "export format {:?}",
            export.format
        )));
    }
    let root = export.checkpoint.verify(trusted)?;
    let Export { head, events, .. } = &export;
    let mut previous = GENESIS.to_owned();
    for (i, e) in events.iter().enumerate() {
        let expected = chain::hash(
            &previous,
            &Link {
                aggregate_type: &head.aggregate_type,
                aggregate_id: &head.aggregate_id,
                sequence: e.sequence,
                event_type: &e.event_type,
                event_version: &e.event_version,
                payload: &e.payload,
                metadata: &e.metadata,
            },
        );
        if e.sequence != i as i64 + 1 || expected != e.hash {
            return Err(EvidenceError::Chain {
                sequence: e.sequence,
            });
        }
        previous = expected;
    }
    let at_checkpoint = usize::try_from(head.sequence - 1)
        .ok()
        .and_then(|i| events.get(i));
    if at_checkpoint.map(|e| &e.hash) != Some(&head.hash) {
        return Err(EvidenceError::HeadMismatch {
            sequence: head.sequence,
        });
    }
    let proof = export
        .proof
        .iter()
        .map(|p| decode::<32>("a proof hash", p))
        .collect::<Result<Vec<_>, _>>()?;
    let implied = merkle::root_from_proof(
        export.leaf_index,
        export.checkpoint.streams,
        head.leaf(),
        &proof,
    );
    if implied != Some(root) {
        return Err(EvidenceError::RootMismatch);
    }
    Ok(Checked {
        aggregate_type: head.aggregate_type.clone(),
        aggregate_id: head.aggregate_id.clone(),
        events: events.len(),
        covered: head.sequence,
        checkpoint_at: export.checkpoint.created_at.clone(),
    })
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::merkle::{ProofBuilder, RootBuilder};

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[3; 32])
    }

    /// A stream of three events, the checkpoint taken after the second, among four streams.
    fn export() -> Export {
        let mut events = Vec::new();
        let mut previous = GENESIS.to_owned();
        for sequence in 1..=3 {
            let payload = format!("{{\"n\":{sequence},\"s\":\"a \\\"q\\\" é\"}}");
            let hash = chain::hash(
                &previous,
                &Link {
                    aggregate_type: "MediaBatch",
                    aggregate_id: "b2",
                    sequence,
                    event_type: "Received",
                    event_version: "1",
                    payload: &payload,
                    metadata: "{}",
                },
            );
            events.push(ExportedEvent {
                sequence,
                event_type: "Received".into(),
                event_version: "1".into(),
                payload,
                metadata: "{}".into(),
                hash: hash.clone(),
            });
            previous = hash;
        }
        let heads: Vec<Head> = (0..4)
            .map(|i| Head {
                aggregate_type: "MediaBatch".into(),
                aggregate_id: format!("b{i}"),
                sequence: 2,
                hash: if i == 2 {
                    events[1].hash.clone()
                } else {
                    hex::encode([i as u8; 32])
                },
            })
            .collect();
        let mut root = RootBuilder::default();
        let mut proof = ProofBuilder::new(2, 4);
        for h in &heads {
            root.push(h.leaf());
            proof.push(h.leaf());
        }
        let (_, proof) = proof.finish().unwrap();
        Export {
            format: FORMAT.into(),
            checkpoint: Checkpoint::sign(&key(), "2026-12-02T20:00:00.000Z".into(), 9, &root),
            head: heads[2].clone(),
            leaf_index: 2,
            proof: proof.iter().map(hex::encode).collect(),
            events,
        }
    }

    #[test]
    fn an_export_passes_and_fails_after_any_byte_changes() {
        let bytes = export().to_bytes();
        let trusted = key().verifying_key();
        let checked = check(&bytes, &trusted).unwrap();
        assert_eq!((checked.events, checked.covered), (3, 2));
        for i in 0..bytes.len() {
            for flip in [0x01, 0x20] {
                let mut changed = bytes.clone();
                changed[i] ^= flip;
                assert!(
                    check(&changed, &trusted).is_err(),
                    "byte {i} ^ {flip:#x} passed: {}",
                    String::from_utf8_lossy(&changed)
                );
            }
        }
    }

    #[test]
    fn a_rehashed_history_fails_against_the_signed_head() {
        let mut e = export();
        e.events[0].payload = "{\"n\":9}".into();
        let mut previous = GENESIS.to_owned();
        for ev in &mut e.events {
            ev.hash = chain::hash(
                &previous,
                &Link {
                    aggregate_type: "MediaBatch",
                    aggregate_id: "b2",
                    sequence: ev.sequence,
                    event_type: &ev.event_type,
                    event_version: &ev.event_version,
                    payload: &ev.payload,
                    metadata: &ev.metadata,
                },
            );
            previous = ev.hash.clone();
        }
        let err = check(&e.to_bytes(), &key().verifying_key()).unwrap_err();
        assert!(
            matches!(err, EvidenceError::HeadMismatch { sequence: 2 }),
            "{err}"
        );
    }
}
