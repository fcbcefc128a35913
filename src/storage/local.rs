//! The object store on a local directory: the embedded default, where the api itself serves
//! uploads and downloads through signed URLs (see `signing`).
//!
//! Layout under the root: each object at `{root}/{key}`, its sidecar at `{root}/{key}.meta`
//! (size, SHA-256, content type, so `head` need not re-read the object), and uploads in flight
//! under `{root}/.tmp/`. An object appears under its key only by a rename after every check has
//! passed, so a refused or interrupted upload leaves nothing behind, and a reader never sees a
//! half-written object.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::pin;

use aggregates::{Checksum, ObjectKey, StoredObject};
use chrono::{DateTime, Duration, Utc};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::fs::{self, File};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::signing::{Grant, Method, SignatureError, SignedRequest, Signer, UploadTerms};

/// Directory for uploads in flight; keys cannot name it (see `LocalStore::path_of`).
const TMP_DIR: &str = ".tmp";
const SIDECAR_SUFFIX: &str = ".meta";
/// Served for objects whose sidecar is gone (the type was only ever recorded there).
const UNKNOWN_CONTENT_TYPE: &str = "application/octet-stream";

/// What a client needs to upload one file: send `headers` with a `method` request to `url`
/// before `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTicket {
    pub url: String,
    pub method: &'static str,
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// Why an upload was refused. `code()` is the stable `error` of the API error body.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("the URL was signed for Content-Type {signed:?}, the request sent {sent:?}")]
    ContentTypeMismatch {
        signed: String,
        sent: Option<String>,
    },
    #[error("the URL was signed for exactly {signed} bytes, the body has more")]
    TooLong { signed: u64 },
    #[error("the URL was signed for exactly {signed} bytes, the body has {received}")]
    SizeMismatch { signed: u64, received: u64 },
    #[error("the body's SHA-256 is {received}, the URL was signed for {signed}")]
    ChecksumMismatch { signed: String, received: String },
    #[error("the request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error("the key {0:?} is not a storable object key")]
    InvalidKey(String),
    #[error("the object store failed: {0}")]
    Storage(#[from] io::Error),
}

impl UploadError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Signature(SignatureError::Expired(_)) => "SIGNATURE_EXPIRED",
            Self::Signature(_) => "SIGNATURE_INVALID",
            Self::ContentTypeMismatch { .. } => "CONTENT_TYPE_MISMATCH",
            Self::TooLong { .. } | Self::SizeMismatch { .. } => "SIZE_MISMATCH",
            Self::ChecksumMismatch { .. } => "CHECKSUM_MISMATCH",
            Self::BodyUnreadable(_) => "BODY_UNREADABLE",
            Self::InvalidKey(_) => "INVALID_KEY",
            Self::Storage(_) => "STORAGE_ERROR",
        }
    }

    /// The HTTP status: 403 when the URL does not authorise the request, 400 when the request
    /// does not match what it authorises, 500 when the disk failed.
    pub fn status(&self) -> u16 {
        match self {
            Self::Signature(_) => 403,
            Self::Storage(_) => 500,
            _ => 400,
        }
    }
}

/// The sidecar's content.
#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    bytes: u64,
    sha256: String,
    content_type: String,
}

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
    ) -> UploadTicket {
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
        UploadTicket {
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
        self.commit(temp, &dest, &stored, &terms.content_type)
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
        self.commit(temp, &dest, &stored, content_type).await?;
        Ok(stored)
    }

    /// Size and SHA-256 of the object under `key`, or `None` if there is none. Read from the
    /// sidecar when it agrees with the file's size; otherwise (sidecar lost or stale) the file is
    /// hashed, since the object, not the sidecar, is the truth.
    pub async fn head(&self, key: &ObjectKey) -> io::Result<Option<StoredObject>> {
        let path = self.path_of(key)?;
        let Some(mut file) = open_file(&path).await? else {
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
        let mut hasher = Sha256::new();
        let mut buf = vec![0; 64 * 1024];
        let mut bytes = 0u64;
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
            hasher.update(&buf[..n]);
        }
        Ok(Some(StoredObject {
            bytes,
            checksum: Checksum::from_bytes(hasher.finalize().into()),
        }))
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
    async fn commit(
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

/// A file under `.tmp/` that is removed when dropped, unless it was persisted.
struct TempFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl TempFile {
    async fn create(root: &Path) -> io::Result<Self> {
        let dir = root.join(TMP_DIR);
        fs::create_dir_all(&dir).await?;
        let path = dir.join(format!("{}.part", uuid::Uuid::now_v7()));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(Self {
            path,
            file,
            persisted: false,
        })
    }

    async fn persist(mut self, dest: &Path) -> io::Result<()> {
        self.file.flush().await?;
        fs::rename(&self.path, dest).await?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for TempFile {
    /// Synchronous on purpose: it also runs when an upload's future is dropped mid-stream.
    fn drop(&mut self) {
        if !self.persisted {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn invalid_key(key: &ObjectKey) -> UploadError {
    UploadError::InvalidKey(key.as_str().to_owned())
}

fn at_second(unix: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix, 0).expect("expiry within chrono's range")
}

fn sidecar_path(object: &Path) -> PathBuf {
    let mut name = object.as_os_str().to_owned();
    name.push(SIDECAR_SUFFIX);
    PathBuf::from(name)
}

/// Opens a regular file; `None` if there is none (a directory is not an object).
async fn open_file(path: &Path) -> io::Result<Option<File>> {
    match File::open(path).await {
        Ok(file) if file.metadata().await?.is_file() => Ok(Some(file)),
        Ok(_) => Ok(None),
        // A key under an existing object (`a.jpg/b`) names nothing either.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The sidecar of an object, if it is there and readable; anything else means "re-derive".
async fn read_sidecar(object: &Path) -> Option<Sidecar> {
    let raw = fs::read(sidecar_path(object)).await.ok()?;
    serde_json::from_slice(&raw).ok()
}

async fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path).await {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    const SECRET: &[u8] = b"local store test secret";

    fn store(dir: &tempfile::TempDir) -> LocalStore {
        LocalStore::new(
            dir.path().to_path_buf(),
            "http://media.test/".into(),
            SECRET,
        )
    }

    fn key(raw: &str) -> ObjectKey {
        ObjectKey::parse(raw).unwrap()
    }

    #[tokio::test]
    async fn start_up_sweeps_only_parts_no_write_touched_for_a_while() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(TMP_DIR);
        std::fs::create_dir_all(&tmp).unwrap();
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for name in ["killed.part", "live.part", "old-but-not-a-part"] {
            let file = std::fs::File::create(tmp.join(name)).unwrap();
            if name != "live.part" {
                file.set_modified(hour_ago).unwrap();
            }
        }
        let store = store(&dir);
        let idle = std::time::Duration::from_secs(900);
        assert_eq!(store.sweep_stale_parts(idle).await.unwrap(), 1);
        let mut left: Vec<_> = std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["live.part", "old-but-not-a-part"]);
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            self::store(&empty).sweep_stale_parts(idle).await.unwrap(),
            0
        );
    }

    /// Signs a PUT for `body` and verifies it, as the route would.
    fn signed_put(store: &LocalStore, key: &ObjectKey, body: &[u8]) -> SignedRequest {
        let checksum = Checksum::from_bytes(Sha256::digest(body).into());
        let now = Utc::now();
        let ticket = store.presign_put(
            key,
            "image/png",
            body.len() as u64,
            &checksum,
            Duration::minutes(5),
            now,
        );
        let (path, query) = ticket.url.split_once('?').unwrap();
        let encoded = path.strip_prefix("http://media.test/storage/").unwrap();
        store.verify(Method::Put, encoded, query, now).unwrap()
    }

    fn files_under(root: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    out.push(path);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn ticket_carries_the_s3_style_headers() {
        let dir = tempfile::tempdir().unwrap();
        let checksum = Checksum::from_bytes([1; 32]);
        let now = DateTime::from_timestamp(1_700_000_000, 500).unwrap();
        let ticket = store(&dir).presign_put(
            &key("1/raw/a b.jpg"),
            "image/jpeg",
            42,
            &checksum,
            Duration::seconds(900),
            now,
        );
        assert!(
            ticket
                .url
                .starts_with("http://media.test/storage/1/raw/a%20b.jpg?")
        );
        assert_eq!(ticket.method, "PUT");
        assert_eq!(ticket.headers["Content-Length"], "42");
        assert_eq!(
            ticket.headers["x-amz-checksum-sha256"],
            checksum.to_base64()
        );
        assert_eq!(ticket.expires_at.timestamp(), 1_700_000_900);
    }

    #[tokio::test]
    async fn put_head_open_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let k = key("9/raw/photo/01-a.png");
        let body = b"not really a png".repeat(1000);
        let signed = signed_put(&store, &k, &body);
        let chunks = stream::iter(body.chunks(333).map(Ok::<_, io::Error>));
        let stored = store
            .put_verified(&signed, Some("image/png"), chunks)
            .await
            .unwrap();
        assert_eq!(stored.bytes, body.len() as u64);
        assert_eq!(store.head(&k).await.unwrap(), Some(stored));
        let (mut file, len, content_type) = store.open(&k).await.unwrap().unwrap();
        let mut read = Vec::new();
        file.read_to_end(&mut read).await.unwrap();
        assert_eq!(
            (read, len, content_type.as_str()),
            (body, stored.bytes, "image/png")
        );
        assert_eq!(store.head(&key("9/raw/other")).await.unwrap(), None);
        assert_eq!(
            store.head(&key("9/raw")).await.unwrap(),
            None,
            "a directory"
        );
    }

    #[tokio::test]
    async fn refuses_as_soon_as_the_body_outgrows_the_signed_length() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let k = key("9/raw/too-long");
        let signed = signed_put(&store, &k, &[0; 10]);
        let chunks = stream::iter([Ok::<_, io::Error>(vec![0; 6]), Ok(vec![0; 6])])
            .chain(stream::poll_fn(|_| panic!("read past the signed length")));
        let err = store
            .put_verified(&signed, Some("image/png"), chunks)
            .await
            .unwrap_err();
        assert!(matches!(err, UploadError::TooLong { signed: 10 }), "{err}");
        assert_eq!(files_under(dir.path()), Vec::<PathBuf>::new());
    }

    #[tokio::test]
    async fn a_dropped_upload_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let k = key("9/raw/abandoned");
        let signed = signed_put(&store, &k, &[0; 10]);
        let chunks = stream::iter([Ok::<_, io::Error>(vec![0; 4])]).chain(stream::pending());
        let upload = store.put_verified(&signed, Some("image/png"), chunks);
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(50), upload).await;
        assert!(timed_out.is_err());
        assert_eq!(files_under(dir.path()), Vec::<PathBuf>::new());
    }

    #[tokio::test]
    async fn head_rehashes_when_the_sidecar_is_missing_or_stale() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let k = key("9/processed/large/01-a.jpg");
        let stored = store.write(&k, b"rendition", "image/jpeg").await.unwrap();
        let object = dir.path().join("9/processed/large/01-a.jpg");
        std::fs::remove_file(sidecar_path(&object)).unwrap();
        assert_eq!(store.head(&k).await.unwrap(), Some(stored));
        store.write(&k, b"rendition", "image/jpeg").await.unwrap();
        std::fs::write(&object, b"changed behind our back").unwrap();
        let fresh = store.head(&k).await.unwrap().unwrap();
        assert_eq!(fresh.bytes, 23);
        assert_ne!(fresh.checksum, stored.checksum);
    }

    #[tokio::test]
    async fn keys_never_leave_the_root_or_touch_the_stores_own_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        // Built unchecked, as serde would: `ObjectKey::parse` refuses every one of them.
        let unchecked = |raw: &str| -> ObjectKey { serde_json::from_value(raw.into()).unwrap() };
        for k in ["../outside", ".tmp/x", "9/.hidden", "9/a.meta"].map(unchecked) {
            let err = store.write(&k, b"x", "image/jpeg").await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{k}");
            assert!(store.head(&k).await.is_err(), "{k}");
        }
        assert_eq!(files_under(dir.path()), Vec::<PathBuf>::new());
    }
}
