//! One asset: read the raw object, check it is the upload the manifest promised, then render it
//! (photos), hand it to its tools (videos and PDFs, see `media`), or, without those tools, hand
//! it back as it is. Every failure becomes an output with an error code, so a bad asset fails
//! only itself and the batch says which and why.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aggregates::{AssetOutput, FailureCode};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use toq_imaging::{Estimate, Failure, ImageOptions, Processed};
use toq_tools::{Toolbox, VideoLimits};

use super::job::{Job, JobAsset, Treatment};
use super::keys;
use super::media;
use super::memory::{MemoryBudget, Reservation};
use crate::storage::{ObjectStore, StorageError};

pub(super) fn failure(code: FailureCode, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

/// What the blocking part found: decoded renditions, a verified original, or a verified copy
/// on local disk for a tool to work on.
enum Verified {
    Image(Processed),
    Original,
    Local(Download),
}

/// What the bytes of a still are.
pub(super) enum Still {
    /// An encoded image; the content type is the client's claim, for messages.
    Encoded(String),
    /// Packed RGB pixels a tool decoded.
    Rgb { width: u32, height: u32 },
}

/// The verified upload in a private temp dir, where the tools' outputs go too.
pub(super) struct Download {
    pub(super) dir: tempfile::TempDir,
    pub(super) path: std::path::PathBuf,
}

/// Everything one asset is processed with; shared by the worker's jobs.
pub struct Pipeline {
    pub objects: Arc<ObjectStore>,
    pub image: Arc<ImageOptions>,
    pub memory: MemoryBudget,
    pub tools: Arc<Toolbox>,
    pub video: VideoLimits,
}

/// What processing does with an asset on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    Image,
    Video,
    Document,
    /// A video or document without its tools installed: verified and handed back as it is.
    PassThrough,
}

impl Pipeline {
    pub fn work(&self, asset: &JobAsset) -> Work {
        match asset.treatment() {
            Treatment::Image => Work::Image,
            Treatment::Video if self.tools.has_video() => Work::Video,
            Treatment::Document if self.tools.has_pdf() => Work::Document,
            Treatment::Video | Treatment::Document => Work::PassThrough,
        }
    }

    /// The long edge of the largest rendition: posters and previews are made at that size.
    pub fn long_edge(&self) -> u32 {
        self.image
            .sizes
            .iter()
            .map(|(_, edge)| *edge)
            .max()
            .unwrap_or(1920)
    }

    /// Processes one asset of `job` and says how it went, as the intake wants it.
    pub async fn process(&self, job: &Job, asset: &JobAsset) -> AssetOutput {
        let started = Instant::now();
        let work = self.work(asset);
        let result = match self.verify(asset, work).await {
            Ok(Verified::Original) => Ok(output(asset, original(asset), None, None)),
            Ok(Verified::Image(processed)) => {
                write_renditions(&self.objects, job, asset, processed).await
            }
            Ok(Verified::Local(download)) => {
                let done = if work == Work::Video {
                    media::video(self, job, asset, &download).await
                } else {
                    media::document(self, job, asset, &download).await
                };
                done.map_err(|f| without_paths(f, download.dir.path()))
            }
            Err(f) => Err(f),
        };
        let elapsed = started.elapsed();
        record(asset, &result, elapsed);
        match result {
            Ok(out) => {
                tracing::info!(
                    job_id = %job.job_id, batch_id = %job.batch_id, asset = %asset.client_id,
                    asset_type = asset.asset_type.as_str(), code = "OK",
                    ms = elapsed.as_millis() as u64, bytes = asset.bytes,
                    width = out.width, height = out.height, "asset processed"
                );
                out
            }
            Err(f) => {
                tracing::warn!(
                    job_id = %job.job_id, batch_id = %job.batch_id, asset = %asset.client_id,
                    asset_type = asset.asset_type.as_str(), code = f.code.as_str(),
                    ms = elapsed.as_millis() as u64, bytes = asset.bytes,
                    error = %f.message, "asset failed"
                );
                AssetOutput {
                    error_code: Some(f.code.as_str().to_owned()),
                    error_message: Some(f.message),
                    ..output(asset, BTreeMap::new(), None, None)
                }
            }
        }
    }

    /// Renders a still (a photo, a poster frame, a document's first page) under a memory
    /// reservation: its bytes first, then, once the header is read, the render's whole
    /// estimate, held until the renditions are encoded.
    pub(super) async fn render(
        &self,
        bytes: Vec<u8>,
        still: Still,
        reservation: Option<Reservation>,
    ) -> Result<Processed, Failure> {
        let mut reservation = match reservation {
            Some(r) => r,
            None => self.memory.reserve(raw_only(bytes.len() as u64)).await?,
        };
        let options = self.image.clone();
        let (bytes, inspection) = blocking({
            let options = options.clone();
            move || {
                let inspection = match still {
                    Still::Encoded(content_type) => {
                        toq_imaging::inspect(&bytes, &content_type, &options)?
                    }
                    Still::Rgb { width, height } => {
                        toq_imaging::inspect_rgb(&bytes, width, height, &options)?
                    }
                };
                Ok((bytes, inspection))
            }
        })
        .await?;
        reservation.grow_to(inspection.estimate()).await?;
        let processed = blocking(move || inspection.render(&bytes, &options)).await;
        drop(reservation);
        processed
    }

    /// The size is checked from the object's length before a byte is read, and again as it
    /// arrives (at most one byte past it is read, so an object that grew cannot balloon
    /// memory). An image's bytes are read once into memory, in a buffer that grows as they
    /// arrive, under a memory reservation of that size, and rendered (see [`Self::render`]).
    /// A video or document streams to a private temp file for its tools; a pass-through
    /// object is only hashed. Either way the SHA-256 is checked before anything else reads it.
    async fn verify(&self, asset: &JobAsset, work: Work) -> Result<Verified, Failure> {
        let key = &asset.raw_key;
        let mut object = self
            .objects
            .open(key)
            .await
            .map_err(|e| {
                failure(
                    FailureCode::StorageError,
                    format!("the raw object {key} is unreadable: {e}"),
                )
            })?
            .ok_or_else(|| {
                failure(
                    FailureCode::StorageError,
                    format!("there is no raw object under {key}"),
                )
            })?;
        check_size(asset, object.len)?;
        let limit = asset.bytes.saturating_add(1);
        let reservation = match work {
            Work::Image => Some(self.memory.reserve(raw_only(asset.bytes)).await?),
            _ => None,
        };
        let mut local = match work {
            Work::Video | Work::Document => Some(download_target(asset).await?),
            Work::Image | Work::PassThrough => None,
        };
        let mut hasher = Sha256::new();
        let mut bytes = Vec::new();
        let mut received = 0u64;
        while let Some(chunk) = object
            .next_chunk()
            .await
            .map_err(|e| unreadable(asset, e))?
        {
            received = received.saturating_add(chunk.len() as u64);
            if received > limit {
                break;
            }
            hasher.update(&chunk);
            if let Some((_, file)) = &mut local {
                file.write_all(&chunk).await.map_err(scratch)?;
            } else if work == Work::Image {
                bytes.extend_from_slice(&chunk);
            }
        }
        check_size(asset, received)?;
        check_checksum(asset, hasher.finalize().into())?;
        if let Some((download, mut file)) = local {
            file.flush().await.map_err(scratch)?;
            return Ok(Verified::Local(download));
        }
        if work == Work::PassThrough {
            return Ok(Verified::Original);
        }
        // the bytes held are then the bytes counted
        bytes.shrink_to_fit();
        if toq_imaging::heif::is_heif(&bytes) {
            let reservation = reservation.expect("images are read under a reservation");
            return media::heif(self, bytes, reservation)
                .await
                .map(Verified::Image);
        }
        self.render(
            bytes,
            Still::Encoded(asset.content_type.clone()),
            reservation,
        )
        .await
        .map(Verified::Image)
    }
}

/// Metrics of one asset's processing.
fn record(asset: &JobAsset, result: &Result<AssetOutput, Failure>, elapsed: Duration) {
    let asset_type = asset.asset_type.as_str();
    let code = result.as_ref().map_or_else(|f| f.code.as_str(), |_| "OK");
    metrics::counter!("media_assets_processed_total", "asset_type" => asset_type, "error_code" => code).increment(1);
    metrics::histogram!("media_asset_processing_seconds", "asset_type" => asset_type)
        .record(elapsed.as_secs_f64());
    let Ok(out) = result else {
        return;
    };
    if let Some(ms) = out.duration_millis.filter(|ms| *ms > 0) {
        let minutes = ms as f64 / 60_000.0;
        metrics::histogram!("media_video_seconds_per_minute")
            .record(elapsed.as_secs_f64() / minutes);
    } else if let (Some(w), Some(h)) = (out.width, out.height) {
        let megapixels = f64::from(w) * f64::from(h) / 1e6;
        if megapixels > 0.0 {
            metrics::histogram!("media_image_seconds_per_megapixel")
                .record(elapsed.as_secs_f64() / megapixels);
        }
    }
}

/// A private temp dir for one asset's upload and its tools' outputs.
pub(super) fn asset_dir() -> Result<tempfile::TempDir, Failure> {
    tempfile::Builder::new()
        .prefix("toq-media-asset-")
        .tempdir()
        .map_err(scratch)
}

/// The tools name the worker's temp paths; clients see only what they sent.
pub(super) fn without_paths(f: Failure, dir: &std::path::Path) -> Failure {
    Failure {
        message: f.message.replace(&dir.display().to_string(), "<upload>"),
        ..f
    }
}

/// A private temp dir and the file the upload streams into.
async fn download_target(asset: &JobAsset) -> Result<(Download, tokio::fs::File), Failure> {
    let dir = asset_dir()?;
    let extension = match asset.treatment() {
        Treatment::Document => "pdf",
        _ => "mov",
    };
    let path = dir.path().join(format!("input.{extension}"));
    let file = tokio::fs::File::create(&path).await.map_err(scratch)?;
    Ok((Download { dir, path }, file))
}

/// The worker's own disk failed it, not the asset.
pub(super) fn scratch(e: std::io::Error) -> Failure {
    failure(
        FailureCode::StorageError,
        format!("the worker's temp space failed: {e}"),
    )
}

fn output(
    asset: &JobAsset,
    renditions: BTreeMap<String, String>,
    width: Option<u32>,
    height: Option<u32>,
) -> AssetOutput {
    AssetOutput {
        client_id: asset.client_id.to_string(),
        raw_key: Some(asset.raw_key.to_string()),
        renditions,
        width,
        height,
        duration_millis: None,
        page_count: None,
        error_code: None,
        error_message: None,
    }
}

fn original(asset: &JobAsset) -> BTreeMap<String, String> {
    BTreeMap::from([(
        aggregates::RenditionName::ORIGINAL.to_owned(),
        asset.raw_key.to_string(),
    )])
}

/// The estimate of an image before its header is read: its bytes alone.
fn raw_only(bytes: u64) -> Estimate {
    Estimate {
        raw: bytes,
        working: 0,
    }
}

/// Runs `work` on the blocking pool; a decoder that panics on hostile input fails its asset,
/// not the worker.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(failure(
            FailureCode::DecodeFailed,
            format!("processing crashed: {e}"),
        ))
    })
}

fn check_size(asset: &JobAsset, len: u64) -> Result<(), Failure> {
    if len == asset.bytes {
        return Ok(());
    }
    Err(failure(
        FailureCode::SizeMismatch,
        format!(
            "the raw object has {len} bytes, the manifest says {}",
            asset.bytes
        ),
    ))
}

fn check_checksum(asset: &JobAsset, digest: [u8; 32]) -> Result<(), Failure> {
    let actual = aggregates::Checksum::from_bytes(digest);
    if actual == asset.checksum {
        return Ok(());
    }
    Err(failure(
        FailureCode::ChecksumMismatch,
        format!(
            "the raw object's SHA-256 is {}, the manifest says {}",
            actual.to_hex(),
            asset.checksum.to_hex()
        ),
    ))
}

fn unreadable(asset: &JobAsset, e: StorageError) -> Failure {
    failure(
        FailureCode::StorageError,
        format!("reading the raw object {} failed: {e}", asset.raw_key),
    )
}

/// Writes each rendition under its deterministic key; a redelivered job rewrites the same keys.
pub(super) async fn write_renditions(
    objects: &ObjectStore,
    job: &Job,
    asset: &JobAsset,
    processed: Processed,
) -> Result<AssetOutput, Failure> {
    let mut renditions = BTreeMap::new();
    for r in processed.renditions {
        let key = keys::rendition(job, asset, &r.name, r.extension);
        objects
            .write(&key, r.bytes, r.content_type)
            .await
            .map_err(|e| {
                failure(
                    FailureCode::StorageError,
                    format!("writing {key} failed: {e}"),
                )
            })?;
        renditions.insert(r.name, key.to_string());
    }
    Ok(output(
        asset,
        renditions,
        Some(processed.width),
        Some(processed.height),
    ))
}
