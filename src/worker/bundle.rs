//! The batch ZIP: when a job succeeds, the batch's originals streamed into one archive under
//! the attempt's ZIP prefix (API.md §4 `zip`).
//!
//! Stored, not deflated (photos and videos are compressed already; deflating them burns CPU
//! for nothing), one entry per asset in sequence order, named by the last segment of its raw
//! key, `{sequence:02}-{clientId}-{safeFilename}`. Each original is read chunk by chunk,
//! checked again against the manifest's size and SHA-256 on the way through, and written
//! straight into the object store's writer (an S3 multipart upload), so memory stays at a
//! chunk plus one part whatever the batch weighs. Entries carry a fixed timestamp, so a
//! redelivered job writes the same bytes under the same key.
//!
//! Metrics: `media_zip_bytes_total`, `media_zip_seconds`, `media_zips_total{outcome}`.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aggregates::{AssetState, Checksum, ObjectKey, StoredObject};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::storage::{ObjectStore, ObjectWriter, StorageError};

const CONTENT_TYPE: &str = "application/zip";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("the original {0} is gone")]
    Missing(ObjectKey),
    /// The object is no longer the upload that was verified.
    #[error("the original {0} no longer matches its manifest entry")]
    Changed(ObjectKey),
}

/// One original of the archive.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub key: ObjectKey,
    pub bytes: u64,
    pub checksum: Checksum,
}

impl Entry {
    /// The entry of one asset: its raw key, whose last segment is its name.
    pub fn of(asset: &AssetState) -> Self {
        let key = asset.file.raw_key.clone();
        let name = key
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        Self {
            name,
            key,
            bytes: asset.file.file.bytes,
            checksum: asset.file.file.checksum,
        }
    }
}

/// What the ZIP writer has produced and not yet handed to the store.
#[derive(Clone, Default)]
struct Pending(Arc<Mutex<Vec<u8>>>);

impl Pending {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().expect("never poisoned: no panic holds it"))
    }
}

impl Write for Pending {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("never poisoned: no panic holds it")
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes the ZIP of `entries` under `key`; on any failure nothing is left under it.
pub async fn write(
    objects: &ObjectStore,
    key: &ObjectKey,
    entries: &[Entry],
) -> Result<StoredObject, BundleError> {
    let started = Instant::now();
    let mut out = objects.create(key, CONTENT_TYPE).await?;
    let result = match fill(objects, &mut out, entries).await {
        Ok(()) => out.finish().await.map_err(BundleError::from),
        Err(e) => {
            out.abort().await;
            Err(e)
        }
    };
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    metrics::counter!("media_zips_total", "outcome" => outcome).increment(1);
    if let Ok(stored) = &result {
        metrics::counter!("media_zip_bytes_total").increment(stored.bytes);
        metrics::histogram!("media_zip_seconds").record(started.elapsed().as_secs_f64());
    }
    result
}

async fn fill(
    objects: &ObjectStore,
    out: &mut ObjectWriter<'_>,
    entries: &[Entry],
) -> Result<(), BundleError> {
    let pending = Pending::default();
    let mut zip = ZipWriter::new_stream(pending.clone());
    for entry in entries {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .large_file(entry.bytes >= u64::from(u32::MAX));
        zip.start_file(entry.name.as_str(), options)?;
        let mut object = objects
            .open(&entry.key)
            .await?
            .ok_or_else(|| BundleError::Missing(entry.key.clone()))?;
        let (mut hasher, mut read) = (Sha256::new(), 0u64);
        while let Some(chunk) = object.next_chunk().await? {
            read += chunk.len() as u64;
            if read > entry.bytes {
                return Err(BundleError::Changed(entry.key.clone()));
            }
            hasher.update(&chunk);
            zip.write_all(&chunk).map_err(zip::result::ZipError::Io)?;
            out.write(&pending.take()).await?;
        }
        let digest = Checksum::from_bytes(hasher.finalize().into());
        if read != entry.bytes || digest != entry.checksum {
            return Err(BundleError::Changed(entry.key.clone()));
        }
    }
    zip.finish()?;
    out.write(&pending.take()).await?;
    Ok(())
}
