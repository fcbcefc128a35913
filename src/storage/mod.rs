//! The object store: raw uploads and renditions, behind signed URLs.
//!
//! Two backends keep one contract: clients upload with a presigned `PUT` that fixes content
//! type, length and SHA-256 (so the store refuses any other bytes, API.md §1) and download with
//! a presigned `GET` (§5); a refused upload leaves nothing behind (DESIGN.md, guarantee 6).
//!
//! - `local`: a directory, served by the api itself (`routes`, `signing`): the embedded default.
//! - `s3`: an S3 bucket (aws-sdk-s3), where S3 checks the presigned terms.

pub mod local;
pub mod routes;
pub mod s3;
/// The signed URLs live in `toq-signing`, which the fuzz targets build on their own.
pub use toq_signing::url as signing;

use std::sync::Arc;

use aggregates::{Checksum, ObjectKey, StoredObject};
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

pub use local::{LocalStore, UploadError};
pub use s3::S3Store;

/// What a client needs to upload one file: send `headers` with a `method` request to `url`
/// before `expires_at`. Both backends hand out the same terms (S3's own header names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPut {
    pub url: String,
    pub method: &'static str,
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// A failure of the store itself (not a refused upload), with the backend's message.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object store: {0}")]
    Io(#[from] std::io::Error),
    #[error("S3: {0}")]
    S3(String),
}

/// Size and SHA-256 of a local file, read in chunks from where it stands.
async fn hash_file(file: tokio::fs::File) -> std::io::Result<StoredObject> {
    hash_file_counting(file, |_| {}).await
}

/// [`hash_file`], telling `read` the length of each chunk (for a progress bar).
pub(crate) async fn hash_file_counting(
    mut file: tokio::fs::File,
    mut read: impl FnMut(u64),
) -> std::io::Result<StoredObject> {
    let (mut hasher, mut bytes) = (Sha256::new(), 0u64);
    let mut buf = vec![0; CHUNK];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
        read(n as u64);
    }
    Ok(StoredObject {
        bytes,
        checksum: Checksum::from_bytes(hasher.finalize().into()),
    })
}

/// The configured object store.
pub enum ObjectStore {
    Local(Arc<LocalStore>),
    S3(S3Store),
}

/// An object opened for reading: its length and its bytes, chunk by chunk.
pub struct Object {
    pub len: u64,
    body: Body,
}

enum Body {
    Local(tokio::fs::File),
    S3(aws_sdk_s3::primitives::ByteStream),
}

/// Chunk size for reading local files.
const CHUNK: usize = 256 * 1024;

impl Object {
    /// The next chunk, or `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, StorageError> {
        match &mut self.body {
            Body::Local(file) => {
                let mut buf = vec![0; CHUNK];
                let n = file.read(&mut buf).await?;
                buf.truncate(n);
                Ok((n > 0).then(|| Bytes::from(buf)))
            }
            Body::S3(stream) => stream
                .try_next()
                .await
                .map_err(|e| StorageError::S3(s3::describe(&e))),
        }
    }
}

impl ObjectStore {
    /// The local store, when that is the backend (its routes are mounted only then).
    pub fn local(&self) -> Option<&Arc<LocalStore>> {
        match self {
            Self::Local(store) => Some(store),
            Self::S3(_) => None,
        }
    }

    /// A signed PUT that accepts exactly these bytes under `key` until `now + ttl`.
    pub async fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        bytes: u64,
        checksum: &Checksum,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<PresignedPut, StorageError> {
        match self {
            Self::Local(store) => {
                Ok(store.presign_put(key, content_type, bytes, checksum, ttl, now))
            }
            Self::S3(store) => {
                store
                    .presign_put(key, content_type, bytes, checksum, ttl, now)
                    .await
            }
        }
    }

    /// A signed GET for `key` and the instant it expires.
    pub async fn presign_get(
        &self,
        key: &ObjectKey,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), StorageError> {
        match self {
            Self::Local(store) => Ok(store.presign_get(key, ttl, now)),
            Self::S3(store) => store.presign_get(key, ttl, now).await,
        }
    }

    /// Size and SHA-256 of the object under `key`, or `None` if there is none.
    pub async fn head(&self, key: &ObjectKey) -> Result<Option<StoredObject>, StorageError> {
        match self {
            Self::Local(store) => Ok(store.head(key).await?),
            Self::S3(store) => store.head(key).await,
        }
    }

    /// The object under `key` for reading, or `None` if there is none.
    pub async fn open(&self, key: &ObjectKey) -> Result<Option<Object>, StorageError> {
        match self {
            Self::Local(store) => Ok(store.open(key).await?.map(|(file, len, _)| Object {
                len,
                body: Body::Local(file),
            })),
            Self::S3(store) => Ok(store.open(key).await?.map(|(stream, len)| Object {
                len,
                body: Body::S3(stream),
            })),
        }
    }

    /// Writes an object the service produced itself (a rendition).
    pub async fn write(
        &self,
        key: &ObjectKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<StoredObject, StorageError> {
        match self {
            Self::Local(store) => Ok(store.write(key, &bytes, content_type).await?),
            Self::S3(store) => store.write(key, bytes, content_type).await,
        }
    }

    /// Stores a file the service wrote itself (an audit checkpoint), streamed: bounded memory.
    pub async fn write_file(
        &self,
        key: &ObjectKey,
        source: &std::path::Path,
        content_type: &str,
    ) -> Result<StoredObject, StorageError> {
        match self {
            Self::Local(store) => Ok(store.write_file(key, source, content_type).await?),
            Self::S3(store) => store.write_file(key, source, content_type).await,
        }
    }

    /// Starts an object the service writes in pieces (the batch ZIP), in bounded memory
    /// whatever its size: nothing appears under `key` until [`ObjectWriter::finish`].
    pub async fn create(
        &self,
        key: &ObjectKey,
        content_type: &str,
    ) -> Result<ObjectWriter<'_>, StorageError> {
        let sink = match self {
            Self::Local(store) => Sink::Local(store.create(key).await?),
            Self::S3(store) => Sink::S3(store.create(key, content_type)),
        };
        Ok(ObjectWriter {
            sink,
            content_type: content_type.to_owned(),
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    /// Whether the store answers, for `/readyz`: the local directory always does; the bucket
    /// must exist and be reachable with our credentials.
    pub async fn check(&self) -> Result<(), StorageError> {
        match self {
            Self::Local(_) => Ok(()),
            Self::S3(store) => store.check().await,
        }
    }
}

/// An object being written in pieces (see [`ObjectStore::create`]), counted and hashed as it
/// goes.
pub struct ObjectWriter<'a> {
    sink: Sink<'a>,
    content_type: String,
    hasher: Sha256,
    bytes: u64,
}

enum Sink<'a> {
    Local(local::LocalWriter<'a>),
    S3(s3::S3Writer<'a>),
}

impl ObjectWriter<'_> {
    pub async fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        match &mut self.sink {
            Sink::Local(w) => Ok(w.write(data).await?),
            Sink::S3(w) => w.write(data).await,
        }
    }

    /// Stores the object whole under its key, with its size and SHA-256.
    pub async fn finish(self) -> Result<StoredObject, StorageError> {
        let stored = StoredObject {
            bytes: self.bytes,
            checksum: Checksum::from_bytes(self.hasher.finalize().into()),
        };
        match self.sink {
            Sink::Local(w) => {
                w.finish(&stored, &self.content_type).await?;
                Ok(stored)
            }
            Sink::S3(w) => w.finish(stored).await,
        }
    }

    /// Gives up: nothing is left under the key, nor a multipart upload in the bucket.
    pub async fn abort(self) {
        match self.sink {
            Sink::Local(w) => drop(w),
            Sink::S3(w) => w.abort().await,
        }
    }
}
