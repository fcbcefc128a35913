//! A signed checkpoint: the Merkle root over every stream's head at one instant, signed with a
//! key the database never holds. Its file is JSON Lines: the [`Checkpoint`] on the first line,
//! then one [`Head`] per stream in `(aggregateType, aggregateId)` order — what lets `audit
//! verify` name the stream whose history changed, and `audit export` prove one stream's head.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::EvidenceError;
use crate::merkle::{self, Hash, RootBuilder};

pub const FORMAT: &str = "toq-media-checkpoint/1";

/// One stream's last event as the checkpoint saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Head {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    /// The event's chain hash (lowercase hex).
    pub hash: String,
}

impl Head {
    /// The Merkle leaf: `0x00`, then each field length-prefixed (8 bytes, big-endian) as in
    /// the event chain, the sequence in decimal.
    pub fn leaf(&self) -> Hash {
        let sequence = self.sequence.to_string();
        let mut data = Vec::new();
        for part in [
            self.aggregate_type.as_str(),
            &self.aggregate_id,
            &sequence,
            &self.hash,
        ] {
            data.extend_from_slice(&(part.len() as u64).to_be_bytes());
            data.extend_from_slice(part.as_bytes());
        }
        merkle::leaf_hash(&data)
    }

    fn stream(&self) -> (&str, &str) {
        (&self.aggregate_type, &self.aggregate_id)
    }
}

/// The signed statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkpoint {
    pub format: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// Events in the store at that instant.
    pub events: u64,
    /// Streams, hence leaves.
    pub streams: u64,
    /// The Merkle root over the heads (hex).
    pub root: String,
    /// The Ed25519 public key that signed it (hex).
    pub public_key: String,
    /// Ed25519 over [`Checkpoint::statement`] (hex).
    pub signature: String,
}

impl Checkpoint {
    pub fn sign(key: &SigningKey, created_at: String, events: u64, heads: &RootBuilder) -> Self {
        let root = hex::encode(heads.root());
        let statement = statement(&created_at, events, heads.len(), &root);
        Self {
            format: FORMAT.to_owned(),
            created_at,
            events,
            streams: heads.len(),
            root,
            public_key: hex::encode(key.verifying_key().as_bytes()),
            signature: hex::encode(key.sign(statement.as_bytes()).to_bytes()),
        }
    }

    /// The bytes signed: one `name value` line per field, in this order.
    pub fn statement(&self) -> String {
        statement(&self.created_at, self.events, self.streams, &self.root)
    }

    /// Checks the format and that `trusted` signed it; returns the root.
    pub fn verify(&self, trusted: &VerifyingKey) -> Result<Hash, EvidenceError> {
        if self.format != FORMAT {
            return Err(EvidenceError::Format(format!(
                "checkpoint format {:?}",
                self.format
            )));
        }
        if self.public_key != hex::encode(trusted.as_bytes()) {
            return Err(EvidenceError::UntrustedKey(self.public_key.clone()));
        }
        let signature: [u8; 64] = decode("signature", &self.signature)?;
        trusted
            .verify(
                self.statement().as_bytes(),
                &Signature::from_bytes(&signature),
            )
            .map_err(|_| EvidenceError::BadSignature)?;
        decode("root", &self.root)
    }
}

fn statement(created_at: &str, events: u64, streams: u64, root: &str) -> String {
    format!("{FORMAT}\ncreatedAt {created_at}\nevents {events}\nstreams {streams}\nroot {root}\n")
}

/// Strict lowercase hex of exactly `N` bytes.
pub(crate) fn decode<const N: usize>(what: &str, text: &str) -> Result<[u8; N], EvidenceError> {
    let bad = || EvidenceError::Format(format!("{what} is not {N} bytes of lowercase hex"));
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad());
    }
    hex::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)
}

/// Checks a checkpoint file's heads as they stream past: in strict stream order, and together
/// the signed root and count. Memory: the Merkle stack and the previous head.
pub struct HeadsCheck {
    root: Hash,
    streams: u64,
    builder: RootBuilder,
    previous: Option<Head>,
}

impl HeadsCheck {
    pub fn new(checkpoint: &Checkpoint, trusted: &VerifyingKey) -> Result<Self, EvidenceError> {
        Ok(Self {
            root: checkpoint.verify(trusted)?,
            streams: checkpoint.streams,
            builder: RootBuilder::default(),
            previous: None,
        })
    }

    pub fn push(&mut self, head: Head) -> Result<(), EvidenceError> {
        if let Some(p) = &self.previous
            && p.stream() >= head.stream()
        {
            return Err(EvidenceError::Format(format!(
                "heads out of order at {}/{}",
                head.aggregate_type, head.aggregate_id
            )));
        }
        decode::<32>("a head's hash", &head.hash)?;
        self.builder.push(head.leaf());
        self.previous = Some(head);
        Ok(())
    }

    /// After the last head: the heads are exactly the ones signed.
    pub fn finish(&self) -> Result<(), EvidenceError> {
        if self.builder.len() != self.streams || self.builder.root() != self.root {
            return Err(EvidenceError::RootMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn heads(n: usize) -> Vec<Head> {
        (0..n)
            .map(|i| Head {
                aggregate_type: "MediaBatch".into(),
                aggregate_id: format!("b{i:03}"),
                sequence: i as i64 + 1,
                hash: hex::encode([i as u8; 32]),
            })
            .collect()
    }

    fn signed(all: &[Head]) -> Checkpoint {
        let mut b = RootBuilder::default();
        for h in all {
            b.push(h.leaf());
        }
        Checkpoint::sign(&key(), "2026-12-02T20:00:00.000Z".into(), 40, &b)
    }

    fn check(c: &Checkpoint, all: Vec<Head>) -> Result<(), EvidenceError> {
        let mut check = HeadsCheck::new(c, &key().verifying_key())?;
        for h in all {
            check.push(h)?;
        }
        check.finish()
    }

    #[test]
    fn the_signed_heads_pass_and_any_change_fails() {
        let all = heads(5);
        let c = signed(&all);
        assert!(check(&c, all.clone()).is_ok());

        let mut rewritten = all.clone();
        rewritten[2].hash = hex::encode([9; 32]);
        assert!(matches!(
            check(&c, rewritten),
            Err(EvidenceError::RootMismatch)
        ));
        assert!(matches!(
            check(&c, all[..4].to_vec()),
            Err(EvidenceError::RootMismatch)
        ));
        let mut swapped = all.clone();
        swapped.swap(1, 2);
        assert!(matches!(check(&c, swapped), Err(EvidenceError::Format(_))));
    }

    #[test]
    fn another_key_or_a_changed_statement_is_refused() {
        let c = signed(&heads(3));
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(matches!(
            c.verify(&other),
            Err(EvidenceError::UntrustedKey(_))
        ));
        let mut more = c.clone();
        more.events += 1;
        assert!(matches!(
            more.verify(&key().verifying_key()),
            Err(EvidenceError::BadSignature)
        ));
        let mut upper = c.clone();
        upper.signature = upper.signature.to_uppercase();
        assert!(matches!(
            upper.verify(&key().verifying_key()),
            Err(EvidenceError::Format(_))
        ));
    }
}
