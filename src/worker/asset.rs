//! One asset: read the raw object, check it is the upload the manifest promised, then render it
//! (photos) or hand it back as it is (videos, PDFs). Every failure becomes an output with an
//! error code, so a bad asset fails only itself and the batch says which and why.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use aggregates::{AssetOutput, FailureCode};
use sha2::{Digest, Sha256};
use toq_imaging::{Estimate, Failure, ImageOptions, Processed};

use super::job::{Job, JobAsset, Treatment};
use super::keys;
use super::memory::MemoryBudget;
use crate::storage::{ObjectStore, StorageError};

fn failure(code: FailureCode, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

/// What the blocking part found: decoded renditions, or a verified original.
enum Verified {
    Image(Processed),
    Original,
}

/// Processes one asset of `job` and says how it went, as the intake wants it.
pub async fn process(
    objects: &ObjectStore,
    options: Arc<ImageOptions>,
    memory: &MemoryBudget,
    job: &Job,
    asset: &JobAsset,
) -> AssetOutput {
    let started = Instant::now();
    let result = match verify_and_render(objects, options, memory, asset).await {
        Ok(Verified::Original) => Ok(output(asset, original(asset), None, None)),
        Ok(Verified::Image(processed)) => write_renditions(objects, job, asset, processed).await,
        Err(f) => Err(f),
    };
    let elapsed = started.elapsed();
    let ms = elapsed.as_millis() as u64;
    let asset_type = asset.asset_type.as_str();
    let code = result.as_ref().map_or_else(|f| f.code.as_str(), |_| "OK");
    metrics::counter!("media_assets_processed_total", "asset_type" => asset_type, "error_code" => code).increment(1);
    metrics::histogram!("media_asset_processing_seconds", "asset_type" => asset_type)
        .record(elapsed.as_secs_f64());
    if let Ok(AssetOutput {
        width: Some(w),
        height: Some(h),
        ..
    }) = &result
    {
        let megapixels = f64::from(*w) * f64::from(*h) / 1e6;
        if megapixels > 0.0 {
            metrics::histogram!("media_image_seconds_per_megapixel")
                .record(elapsed.as_secs_f64() / megapixels);
        }
    }
    match result {
        Ok(out) => {
            tracing::info!(
                job_id = %job.job_id, batch_id = %job.batch_id, asset = %asset.client_id,
                asset_type = asset.asset_type.as_str(), code = "OK", ms, bytes = asset.bytes,
                width = out.width, height = out.height, "asset processed"
            );
            out
        }
        Err(f) => {
            tracing::warn!(
                job_id = %job.job_id, batch_id = %job.batch_id, asset = %asset.client_id,
                asset_type = asset.asset_type.as_str(), code = f.code.as_str(), ms, bytes = asset.bytes,
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

/// The size is checked from the object's length before a byte is read, and again as it
/// arrives (at most one byte past it is read, so an object that grew cannot balloon memory).
/// An image's bytes are read once into memory, in a buffer that grows as they arrive (no
/// allocation of the manifest's size up front), under a memory reservation of that size;
/// after the header is read the reservation grows to the render's whole estimate, and it is
/// held until the renditions are encoded. Hashing and rendering run on the blocking pool,
/// where a slow image cannot stall the runtime; a pass-through object is hashed chunk by chunk
/// as it streams, never held whole.
async fn verify_and_render(
    objects: &ObjectStore,
    options: Arc<ImageOptions>,
    memory: &MemoryBudget,
    asset: &JobAsset,
) -> Result<Verified, Failure> {
    let key = &asset.raw_key;
    let mut object = objects
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
    let treatment = asset.treatment();
    let mut reservation = match treatment {
        Treatment::Image => Some(memory.reserve(raw_only(asset.bytes)).await?),
        Treatment::PassThrough => None,
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
        match treatment {
            Treatment::Image => bytes.extend_from_slice(&chunk),
            Treatment::PassThrough => hasher.update(&chunk),
        }
    }
    check_size(asset, received)?;
    let Some(reservation) = reservation.as_mut() else {
        check_checksum(asset, hasher.finalize().into())?;
        return Ok(Verified::Original);
    };
    // the bytes held are then the bytes counted
    bytes.shrink_to_fit();
    let (bytes, inspection) = blocking({
        let (asset, options) = (asset.clone(), options.clone());
        move || {
            check_checksum(&asset, Sha256::digest(&bytes).into())?;
            let inspection = toq_imaging::inspect(&bytes, &asset.content_type, &options)?;
            Ok((bytes, inspection))
        }
    })
    .await?;
    reservation.grow_to(inspection.estimate()).await?;
    blocking(move || inspection.render(&bytes, &options).map(Verified::Image)).await
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
async fn write_renditions(
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
