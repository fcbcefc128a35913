//! Signed checkpoints of the history (`audit checkpoint`, and every interval under `serve`):
//! the Merkle root over every stream's head, signed with the audit key and written outside the
//! database, and `audit verify --checkpoint`, which proves the history as of a checkpoint
//! unchanged. Both stream: the heads go through a temporary file, one page at a time, so memory
//! stays flat whatever the number of events or streams.

use std::path::PathBuf;

use aggregates::ObjectKey;
use chrono::Utc;
use indicatif::ProgressBar;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter, Lines};
use toq_evidence::checkpoint::{Checkpoint, Head, HeadsCheck};
use toq_evidence::merkle::RootBuilder;
use toq_evidence::{EvidenceError, SigningKey, VerifyingKey};

use crate::storage::{ObjectStore, StorageError};
use crate::store::{Store, StoreError, StreamHeads};

/// Where checkpoints go in the object store; `latest` names the newest one.
pub const PREFIX: &str = "audit/checkpoints";
const CONTENT_TYPE: &str = "application/jsonl";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("object store: {0}")]
    Storage(#[from] StorageError),
    #[error("checkpoint file: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error("no checkpoint under {PREFIX}/ yet: run `toq-media audit checkpoint`")]
    NoneYet,
}

/// A checkpoint taken, its file (header line, then one head per line) still local.
pub struct Taken {
    pub checkpoint: Checkpoint,
    pub file: tempfile::NamedTempFile,
}

/// Signs the heads of one consistent snapshot. Reads only: appends go on meanwhile.
pub async fn take(
    store: &Store,
    key: &SigningKey,
    progress: &ProgressBar,
) -> Result<Taken, CheckpointError> {
    let created_at = projections::time::stamp(Utc::now());
    let mut session = store.snapshot().await?;
    let events = session.count_events().await?;
    let heads = tempfile::NamedTempFile::new()?;
    let mut out = BufWriter::new(tokio::fs::File::from_std(heads.reopen()?));
    let mut root = RootBuilder::default();
    let mut heads_of = StreamHeads::default();
    while let Some(head) = heads_of.next(&mut session).await? {
        root.push(head.leaf());
        out.write_all(&line(&head)).await?;
        progress.inc(1);
    }
    out.flush().await?;
    session.rollback().await?;
    let checkpoint = Checkpoint::sign(key, created_at, events, &root);
    let file = tempfile::NamedTempFile::new()?;
    let mut whole = BufWriter::new(tokio::fs::File::from_std(file.reopen()?));
    whole.write_all(&line(&checkpoint)).await?;
    tokio::io::copy(&mut tokio::fs::File::open(heads.path()).await?, &mut whole).await?;
    whole.flush().await?;
    progress.finish_and_clear();
    Ok(Taken { checkpoint, file })
}

fn line(value: &impl serde::Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(value).expect("evidence serializes");
    bytes.push(b'\n');
    bytes
}

/// Writes the checkpoint to the object store and points `latest` at it; returns its key.
pub async fn publish(objects: &ObjectStore, taken: &Taken) -> Result<ObjectKey, CheckpointError> {
    let stamp: String = taken
        .checkpoint
        .created_at
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let key = object_key(&format!("{PREFIX}/{stamp}.jsonl"));
    objects
        .write_file(&key, taken.file.path(), CONTENT_TYPE)
        .await?;
    objects
        .write(&latest(), key.as_str().as_bytes().to_vec(), "text/plain")
        .await?;
    metrics::gauge!("media_audit_checkpoint_timestamp_seconds").set(Utc::now().timestamp() as f64);
    Ok(key)
}

fn object_key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).expect("checkpoint keys are well-formed")
}

fn latest() -> ObjectKey {
    object_key(&format!("{PREFIX}/latest"))
}

/// A checkpoint file: its header, signed by the trusted key, and its heads to read (as often
/// as needed) one by one.
pub struct CheckpointFile {
    pub checkpoint: Checkpoint,
    path: PathBuf,
    trusted: VerifyingKey,
    /// Keeps a downloaded copy alive while it is read.
    _download: Option<tempfile::NamedTempFile>,
}

impl CheckpointFile {
    /// A local checkpoint file, or `latest` from the object store.
    pub async fn open(
        source: &str,
        objects: &ObjectStore,
        trusted: VerifyingKey,
    ) -> Result<Self, CheckpointError> {
        if source == "latest" {
            Self::latest(objects, trusted).await
        } else {
            Self::read(source, trusted).await
        }
    }

    /// The newest checkpoint in the object store, copied to a temporary file.
    pub async fn latest(
        objects: &ObjectStore,
        trusted: VerifyingKey,
    ) -> Result<Self, CheckpointError> {
        let pointer = download(objects, &latest())
            .await?
            .ok_or(CheckpointError::NoneYet)?;
        let key = tokio::fs::read_to_string(pointer.path()).await?;
        let key = ObjectKey::parse(key.trim())
            .map_err(|e| EvidenceError::Format(format!("{PREFIX}/latest: {e}")))?;
        let file = download(objects, &key)
            .await?
            .ok_or(CheckpointError::NoneYet)?;
        Self::load(file.path().to_owned(), Some(file), trusted).await
    }

    /// A local checkpoint file, its header checked against `trusted`.
    pub async fn read(
        path: impl Into<PathBuf>,
        trusted: VerifyingKey,
    ) -> Result<Self, CheckpointError> {
        Self::load(path.into(), None, trusted).await
    }

    async fn load(
        path: PathBuf,
        download: Option<tempfile::NamedTempFile>,
        trusted: VerifyingKey,
    ) -> Result<Self, CheckpointError> {
        let mut lines = BufReader::new(tokio::fs::File::open(&path).await?).lines();
        let first = lines
            .next_line()
            .await?
            .ok_or_else(|| EvidenceError::Format("an empty checkpoint file".into()))?;
        let checkpoint: Checkpoint = parse(&first)?;
        checkpoint.verify(&trusted)?;
        Ok(Self {
            checkpoint,
            path,
            trusted,
            _download: download,
        })
    }

    /// The heads from the start, checked as they stream past.
    pub async fn heads(&self) -> Result<Heads, CheckpointError> {
        let mut lines = BufReader::new(tokio::fs::File::open(&self.path).await?).lines();
        lines.next_line().await?;
        Ok(Heads {
            lines,
            check: HeadsCheck::new(&self.checkpoint, &self.trusted)?,
        })
    }
}

pub struct Heads {
    lines: Lines<BufReader<tokio::fs::File>>,
    check: HeadsCheck,
}

impl Heads {
    /// The next head, in stream order; `None` after the last, once the heads proved to be
    /// exactly the signed ones.
    pub async fn next(&mut self) -> Result<Option<Head>, CheckpointError> {
        match self.lines.next_line().await? {
            Some(text) => {
                let head: Head = parse(&text)?;
                self.check.push(head.clone())?;
                Ok(Some(head))
            }
            None => {
                self.check.finish()?;
                Ok(None)
            }
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(line: &str) -> Result<T, EvidenceError> {
    serde_json::from_str(line).map_err(|e| EvidenceError::Format(e.to_string()))
}

/// An object copied to a local temporary file, chunk by chunk.
async fn download(
    objects: &ObjectStore,
    key: &ObjectKey,
) -> Result<Option<tempfile::NamedTempFile>, CheckpointError> {
    let Some(mut object) = objects.open(key).await? else {
        return Ok(None);
    };
    let file = tempfile::NamedTempFile::new()?;
    let mut out = tokio::fs::File::from_std(file.reopen()?);
    while let Some(chunk) = object.next_chunk().await? {
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    Ok(Some(file))
}

/// The first head that the store no longer holds as signed.
#[derive(Debug)]
pub struct Rewritten {
    pub head: Head,
    /// The store's hash for that event now; `None` when the event is gone (truncation).
    pub found: Option<String>,
}

/// What `audit verify --checkpoint` found.
#[derive(Debug)]
pub struct Verdict {
    pub checkpoint: Checkpoint,
    pub first_difference: Option<Rewritten>,
}

/// Proves every stream's head as of the checkpoint unchanged. Combined with the chain check
/// (each later event hashes its predecessor), this proves later history only extends it.
pub async fn verify(
    store: &Store,
    file: &CheckpointFile,
    progress: &ProgressBar,
) -> Result<Verdict, CheckpointError> {
    progress.set_length(file.checkpoint.streams);
    let mut heads = file.heads().await?;
    let mut session = store.snapshot().await?;
    let mut first_difference = None;
    while let Some(head) = heads.next().await? {
        if first_difference.is_none() {
            let found = session
                .hash_at(&head.aggregate_type, &head.aggregate_id, head.sequence)
                .await?;
            if found.as_deref() != Some(head.hash.as_str()) {
                first_difference = Some(Rewritten { head, found });
            }
        }
        progress.inc(1);
    }
    session.rollback().await?;
    progress.finish_and_clear();
    Ok(Verdict {
        checkpoint: file.checkpoint.clone(),
        first_difference,
    })
}
