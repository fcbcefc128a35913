//! The local store's own files: uploads in flight under `.tmp/` (gone unless persisted), the
//! sidecars beside objects, and opens that treat "not a file" as "no object".

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::fs::{self, File};
use tokio::io::AsyncWriteExt;

/// Directory for uploads in flight; keys cannot name it (see `LocalStore::path_of`).
pub(super) const TMP_DIR: &str = ".tmp";
const SIDECAR_SUFFIX: &str = ".meta";

/// The sidecar's content.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Sidecar {
    pub(super) bytes: u64,
    pub(super) sha256: String,
    pub(super) content_type: String,
}

/// A file under `.tmp/` that is removed when dropped, unless it was persisted.
pub(super) struct TempFile {
    path: PathBuf,
    pub(super) file: File,
    persisted: bool,
}

impl TempFile {
    pub(super) async fn create(root: &Path) -> io::Result<Self> {
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

    pub(super) async fn persist(mut self, dest: &Path) -> io::Result<()> {
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

pub(super) fn sidecar_path(object: &Path) -> PathBuf {
    let mut name = object.as_os_str().to_owned();
    name.push(SIDECAR_SUFFIX);
    PathBuf::from(name)
}

/// Opens a regular file; `None` if there is none (a directory is not an object).
pub(super) async fn open_file(path: &Path) -> io::Result<Option<File>> {
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
pub(super) async fn read_sidecar(object: &Path) -> Option<Sidecar> {
    let raw = fs::read(sidecar_path(object)).await.ok()?;
    serde_json::from_slice(&raw).ok()
}

pub(super) async fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path).await {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
