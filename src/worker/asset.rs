//! One asset: read the raw object, check it is the upload the manifest promised, then render it
//! (photos) or hand it back as it is (videos, PDFs). Every failure becomes an output with an
//! error code, so a bad asset fails only itself and the batch says which and why.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::image::{self, Failure, ImageOptions, Processed};
use super::job::{Job, JobAsset, Treatment};
use super::keys;
use crate::http::dto::CallbackOutput;
use crate::storage::{ObjectStore, StorageError};

pub const STORAGE_ERROR: &str = "STORAGE_ERROR";
pub const SIZE_MISMATCH: &str = "SIZE_MISMATCH";
pub const CHECKSUM_MISMATCH: &str = "CHECKSUM_MISMATCH";

/// The rendition name under which videos and documents are passed through.
pub const ORIGINAL: &str = "original";

fn failure(code: &'static str, message: impl Into<String>) -> Failure {
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
    job: &Job,
    asset: &JobAsset,
) -> CallbackOutput {
    let started = Instant::now();
    let result = match verify_and_render(objects, options, asset).await {
        Ok(Verified::Original) => Ok(output(asset, original(asset), None, None)),
        Ok(Verified::Image(processed)) => write_renditions(objects, job, asset, processed).await,
        Err(f) => Err(f),
    };
    let elapsed = started.elapsed();
    let ms = elapsed.as_millis() as u64;
    let asset_type = asset.asset_type.as_str();
    let code = result.as_ref().map_or_else(|f| f.code, |_| "OK");
    metrics::counter!("media_assets_processed_total", "asset_type" => asset_type, "error_code" => code).increment(1);
    metrics::histogram!("media_asset_processing_seconds", "asset_type" => asset_type)
        .record(elapsed.as_secs_f64());
    if let Ok(CallbackOutput {
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
                asset_type = asset.asset_type.as_str(), code = f.code, ms, bytes = asset.bytes,
                error = %f.message, "asset failed"
            );
            CallbackOutput {
                error_code: Some(f.code.to_owned()),
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
) -> CallbackOutput {
    CallbackOutput {
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
    BTreeMap::from([(ORIGINAL.to_owned(), asset.raw_key.to_string())])
}

/// The size is checked from the object's length before a byte is read, and again as it
/// arrives (at most one byte past it is read, so an object that grew cannot balloon memory).
/// Hashing and decoding an image run on the blocking pool, where a slow image cannot stall the
/// runtime; a pass-through object is hashed chunk by chunk as it streams, never held whole.
async fn verify_and_render(
    objects: &ObjectStore,
    options: Arc<ImageOptions>,
    asset: &JobAsset,
) -> Result<Verified, Failure> {
    let key = &asset.raw_key;
    let mut object = objects
        .open(key)
        .await
        .map_err(|e| {
            failure(
                STORAGE_ERROR,
                format!("the raw object {key} is unreadable: {e}"),
            )
        })?
        .ok_or_else(|| failure(STORAGE_ERROR, format!("there is no raw object under {key}")))?;
    check_size(asset, object.len)?;
    let limit = asset.bytes.saturating_add(1);
    let treatment = asset.treatment();
    let mut hasher = Sha256::new();
    let capacity = match treatment {
        Treatment::Image => usize::try_from(asset.bytes).unwrap_or(usize::MAX),
        Treatment::PassThrough => 0,
    };
    let mut bytes = Vec::with_capacity(capacity);
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
    if treatment == Treatment::PassThrough {
        check_checksum(asset, hasher.finalize().into())?;
        return Ok(Verified::Original);
    }
    let asset = asset.clone();
    tokio::task::spawn_blocking(move || {
        check_checksum(&asset, Sha256::digest(&bytes).into())?;
        image::render(&bytes, &asset.content_type, &options).map(Verified::Image)
    })
    .await
    // A decoder that panics on hostile input fails its asset, not the worker.
    .unwrap_or_else(|e| {
        Err(failure(
            Failure::DECODE_FAILED,
            format!("processing crashed: {e}"),
        ))
    })
}

fn check_size(asset: &JobAsset, len: u64) -> Result<(), Failure> {
    if len == asset.bytes {
        return Ok(());
    }
    Err(failure(
        SIZE_MISMATCH,
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
        CHECKSUM_MISMATCH,
        format!(
            "the raw object's SHA-256 is {}, the manifest says {}",
            actual.to_hex(),
            asset.checksum.to_hex()
        ),
    ))
}

fn unreadable(asset: &JobAsset, e: StorageError) -> Failure {
    failure(
        STORAGE_ERROR,
        format!("reading the raw object {} failed: {e}", asset.raw_key),
    )
}

/// Writes each rendition under its deterministic key; a redelivered job rewrites the same keys.
async fn write_renditions(
    objects: &ObjectStore,
    job: &Job,
    asset: &JobAsset,
    processed: Processed,
) -> Result<CallbackOutput, Failure> {
    let mut renditions = BTreeMap::new();
    for r in processed.renditions {
        let key = keys::rendition(job, asset, &r.name, r.extension);
        objects
            .write(&key, r.bytes, r.content_type)
            .await
            .map_err(|e| failure(STORAGE_ERROR, format!("writing {key} failed: {e}")))?;
        renditions.insert(r.name, key.to_string());
    }
    Ok(output(
        asset,
        renditions,
        Some(processed.width),
        Some(processed.height),
    ))
}
