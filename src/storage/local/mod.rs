//! The object store on a local directory: the embedded default, where the api itself serves
//! uploads and downloads through signed URLs (see `signing`).
//!
//! Layout under the root: each object at `{root}/{key}`, its sidecar at `{root}/{key}.meta`
//! (size, SHA-256, content type, so `head` need not re-read the object), and uploads in flight
//! under `{root}/.tmp/`. An object appears under its key only by a rename after every check has
//! passed, so a refused or interrupted upload leaves nothing behind, and a reader never sees a
//! half-written object.

mod error;
mod files;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::pin;

use aggregates::{Checksum, ObjectKey, StoredObject};
use chrono::{DateTime, Duration, Utc};
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::fs::{self, File};
use tokio::io::AsyncWriteExt;

pub use error::UploadError;
use files::{Sidecar, TMP_DIR, TempFile, open_file, read_sidecar, remove_if_exists, sidecar_path};

use super::PresignedPut;
use super::signing::{Grant, Method, SignatureError, SignedRequest, Signer, UploadTerms};

/// Served for objects whose sidecar is gone (the type was only ever recorded there).
const UNKNOWN_CONTENT_TYPE: &str = "application/octet-stream";

/// The object store on a local directory.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    public_url: String,
    signer: Signer,
}

impl LocalStore {
    /// `public_url` is the api's base as clients reach it (`TOQ_MEDIA_PUBLIC_URL`); the
    /// directory is created on the first write.
    pub fn new(root: PathBuf, public_url: String, secret: &[u8]) -> Self {
        Self {
            root,
            public_url: public_url.trim_end_matches('/').to_owned(),
            signer: Signer::new(secret),
        }
    }

    /// Removes the `.tmp/*.part` files that no write touched for `idle`: what uploads and
    /// writes of a killed process left behind (a live upload writes every few seconds, so the
    /// files of other processes sharing the directory are left alone). Returns how many.
    pub async fn sweep_stale_parts(&self, idle: std::time::Duration) -> io::Result<usize> {
        let mut entries = match fs::read_dir(self.root.join(TMP_DIR)).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            other => other?,
        };
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await? {
            let stale = entry
                .metadata()
                .await?
                .modified()?
                .elapsed()
                .is_ok_and(|age| age >= idle);
            if stale && entry.file_name().to_string_lossy().ends_with(".part") {
                match fs::remove_file(entry.path()).await {
                    Ok(()) => removed += 1,
                    // Another process sweeping at the same time got there first.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    /// A signed PUT URL that accepts exactly these bytes under `key` until `now + ttl`.
    pub fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        bytes: u64,
        checksum: &Checksum,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> PresignedPut {
        let expires = (now + ttl).timestamp();
        let terms = UploadTerms {
            content_type: content_type.to_owned(),
            bytes,
            checksum: *checksum,
        };
        let headers = BTreeMap::from([
            ("Content-Type".to_owned(), content_type.to_owned()),
            ("Content-Length".to_owned(), bytes.to_string()),
            ("x-amz-checksum-sha256".to_owned(), checksum.to_base64()),
        ]);
        PresignedPut {
            url: self.url(key, &self.signer.sign_put(key, expires, &terms)),
            method: "PUT",
            headers,
            expires_at: at_second(expires),
        }
    }

    /// A signed GET URL for `key`, valid until the returned instant.
    pub fn presign_get(
        &self,
        key: &ObjectKey,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> (String, DateTime<Utc>) {
        let expires = (now + ttl).timestamp();
        let url = self.url(key, &self.signer.sign_get(key, expires));
        (url, at_second(expires))
    }

    fn url(&self, key: &ObjectKey, query: &str) -> String {
        let path = super::signing::encode_key(key);
        format!(
            "{}{}/{path}?{query}",
            self.public_url,
            super::routes::PREFIX
        )
    }

    /// Checks a request's URL; see `Signer::verify`.
    pub fn verify(
        &self,
        method: Method,
        encoded_key: &str,
        query: &str,
        now: DateTime<Utc>,
    ) -> Result<SignedRequest, SignatureError> {
        self.signer.verify(method, encoded_key, query, now)
    }

    /// Stores a body under a verified PUT URL's key, if it is exactly what the URL was signed
    /// for. The body streams to a temporary file and is hashed on the way; it is refused as soon
    /// as it grows past the signed length, and moved under its key only after the length and
    /// SHA-256 match. On any refusal, or if this future is dropped (the client went away), the
    /// temporary file is removed.
    pub async fn put_verified<S, B, E>(
        &self,
        signed: &SignedRequest,
        content_type_header: Option<&str>,
        body: S,
    ) -> Result<StoredObject, UploadError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]>,
        E: Display,
    {
        // A download URL never authorises a write, whatever else it says.
        let Grant::Upload(terms) = &signed.grant else {
            return Err(SignatureError::Invalid.into());
        };
        let sent = content_type_header.map(str::trim);
        if !sent.is_some_and(|ct| ct.eq_ignore_ascii_case(&terms.content_type)) {
            return Err(UploadError::ContentTypeMismatch {
                signed: terms.content_type.clone(),
                sent: sent.map(str::to_owned),
            });
        }
        let dest = self
            .path_of(&signed.key)
            .map_err(|_| invalid_key(&signed.key))?;

        let mut temp = TempFile::create(&self.root).await?;
        let mut hasher = Sha256::new();
        let mut received: u64 = 0;
        let mut body = pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| UploadError::BodyUnreadable(e.to_string()))?;
            let chunk = chunk.as_ref();
            received = received.saturating_add(chunk.len() as u64);
            if received > terms.bytes {
                return Err(UploadError::TooLong {
                    signed: terms.bytes,
                });
            }
            hasher.update(chunk);
            temp.file.write_all(chunk).await?;
        }
        if received != terms.bytes {
            return Err(UploadError::SizeMismatch {
                signed: terms.bytes,
                received,
            });
        }
        let checksum = Checksum::from_bytes(hasher.finalize().into());
        if checksum != terms.checksum {
            return Err(UploadError::ChecksumMismatch {
                signed: terms.checksum.to_hex(),
                received: checksum.to_hex(),
            });
        }
        let stored = StoredObject {
            bytes: received,
            checksum,
        };
        self.commit_temp(temp, &dest, &stored, &terms.content_type)
            .await?;
        Ok(stored)
    }

    /// Writes an object the service produced itself (a rendition), with the same
    /// temporary-file-then-rename discipline as uploads.
    pub async fn write(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        content_type: &str,
    ) -> io::Result<StoredObject> {
        let dest = self.path_of(key)?;
        let mut temp = TempFile::create(&self.root).await?;
        temp.file.write_all(bytes).await?;
        let stored = StoredObject {
            bytes: bytes.len() as u64,
            checksum: Checksum::from_bytes(Sha256::digest(bytes).into()),
        };
        self.commit_temp(temp, &dest, &stored, content_type).await?;
        Ok(stored)
    }

    /// Stores a file the service wrote itself, copied in chunks: bounded memory whatever its
    /// size.
    pub async fn write_file(
        &self,
        key: &ObjectKey,
        source: &Path,
        content_type: &str,
    ) -> io::Result<StoredObject> {
        let dest = self.path_of(key)?;
        let stored = super::hash_file(File::open(source).await?).await?;
        let mut temp = TempFile::create(&self.root).await?;
        tokio::io::copy(&mut File::open(source).await?, &mut temp.file).await?;
        self.commit_temp(temp, &dest, &stored, content_type).await?;
        Ok(stored)
    }

    /// Starts an object written in pieces: a temp file until [`LocalWriter::finish`] moves it
    /// into place, gone if the writer is dropped first.
    pub async fn create(&self, key: &ObjectKey) -> io::Result<LocalWriter<'_>> {
        Ok(LocalWriter {
            dest: self.path_of(key)?,
            temp: TempFile::create(&self.root).await?,
            store: self,
        })
    }

    /// Size and SHA-256 of the object under `key`, or `None` if there is none. Read from the
    /// sidecar when it agrees with the file's size; otherwise (sidecar lost or stale) the file is
    /// hashed, since the object, not the sidecar, is the truth.
    pub async fn head(&self, key: &ObjectKey) -> io::Result<Option<StoredObject>> {
        let path = self.path_of(key)?;
        let Some(file) = open_file(&path).await? else {
            return Ok(None);
        };
        let len = file.metadata().await?.len();
        if let Some(meta) = read_sidecar(&path).await
            && meta.bytes == len
            && let Ok(checksum) = Checksum::parse(&meta.sha256)
        {
            return Ok(Some(StoredObject {
                bytes: len,
                checksum,
            }));
        }
        Ok(Some(super::hash_file(file).await?))
    }

    /// The object under `key` for reading, with its length and content type.
    pub async fn open(&self, key: &ObjectKey) -> io::Result<Option<(File, u64, String)>> {
        let path = self.path_of(key)?;
        let Some(file) = open_file(&path).await? else {
            return Ok(None);
        };
        let len = file.metadata().await?.len();
        let content_type = read_sidecar(&path)
            .await
            .map_or_else(|| UNKNOWN_CONTENT_TYPE.to_owned(), |m| m.content_type);
        Ok(Some((file, len, content_type)))
    }

    /// The path of `key` under the root. The key is parsed again because `ObjectKey` can also
    /// be deserialised without its checks, and this is the line that keeps paths inside the
    /// root and off the store's own files: `ObjectKey::parse` refuses `..`, empty segments,
    /// leading `/`, backslashes, segments starting with `.` (`.tmp/`) and names ending in
    /// `.meta` (sidecars).
    fn path_of(&self, key: &ObjectKey) -> io::Result<PathBuf> {
        let key = ObjectKey::parse(key.as_str())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.0))?;
        let mut path = self.root.clone();
        path.extend(key.as_str().split('/'));
        Ok(path)
    }

    /// Moves a checked temporary file under its key and records its sidecar. The old sidecar
    /// goes first, so at no instant does a sidecar describe bytes other than the file's (a
    /// missing sidecar only costs a re-hash). Failing to write the new sidecar is therefore not
    /// an error: the object is stored.
    async fn commit_temp(
        &self,
        temp: TempFile,
        dest: &Path,
        stored: &StoredObject,
        content_type: &str,
    ) -> io::Result<()> {
        temp.file.sync_all().await?;
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).await?;
        }
        let sidecar = sidecar_path(dest);
        remove_if_exists(&sidecar).await?;
        temp.persist(dest).await?;

        let meta = Sidecar {
            bytes: stored.bytes,
            sha256: stored.checksum.to_hex(),
            content_type: content_type.to_owned(),
        };
        if let Err(e) = self.write_sidecar(&sidecar, &meta).await {
            let path = sidecar.display();
            tracing::warn!(%path, error = %e, "object stored without its sidecar");
        }
        Ok(())
    }

    async fn write_sidecar(&self, path: &Path, meta: &Sidecar) -> io::Result<()> {
        let mut temp = TempFile::create(&self.root).await?;
        temp.file.write_all(&serde_json::to_vec(meta)?).await?;
        temp.file.flush().await?;
        temp.persist(path).await
    }
}

fn invalid_key(key: &ObjectKey) -> UploadError {
    UploadError::InvalidKey(key.as_str().to_owned())
}

fn at_second(unix: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix, 0).expect("expiry within chrono's range")
}

/// An object of the local store being written in pieces (see [`LocalStore::create`]).
pub struct LocalWriter<'a> {
    store: &'a LocalStore,
    dest: PathBuf,
    temp: TempFile,
}

impl LocalWriter<'_> {
    pub async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.temp.file.write_all(data).await
    }

    /// Moves the object into place with its sidecar; `stored` is what the caller counted.
    pub async fn finish(self, stored: &StoredObject, content_type: &str) -> io::Result<()> {
        self.store
            .commit_temp(self.temp, &self.dest, stored, content_type)
            .await
    }
}
