//! What the HTTP queries read: the projected tables, never the events.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::store::{Store, StoreError};

/// This service's view of a listing (`GET /internal/listings/{id}`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"listingIdentityId": 123, "status": "PENDING_PHOTO_PROCESSING", "ownerUserId": 12,
    "photographerUserId": 7, "projectMedia": false, "openBatchId": null, "updatedAt": "2025-11-11T13:58:00.000Z"}))]
pub struct ListingView {
    pub listing_identity_id: u64,
    pub status: String,
    pub owner_user_id: u64,
    pub photographer_user_id: Option<u64>,
    pub project_media: bool,
    pub open_batch_id: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct BatchView {
    pub batch_id: String,
    pub listing_id: u64,
    pub batch_reference: String,
    pub status: String,
    pub status_message: Option<String>,
    pub failure_code: Option<String>,
    pub attempt: u32,
    pub current_job_id: Option<String>,
    pub deleted: bool,
    pub upload_expires_at: String,
    pub ready_attempt: Option<u32>,
    pub asset_count: u32,
    pub total_bytes: u64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct AssetView {
    pub client_id: String,
    pub sequence: u32,
    pub title: Option<String>,
    pub asset_type: String,
    pub content_type: String,
    pub bytes: u64,
    pub status: String,
    pub raw_key: String,
    pub renditions: BTreeMap<String, String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct JobView {
    pub job_id: String,
    pub status: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
}

fn u64_of(row: &AnyRow, i: usize) -> Result<u64, sqlx::Error> {
    Ok(u64::try_from(row.try_get::<i64, _>(i)?).unwrap_or_default())
}
fn opt_u32(row: &AnyRow, i: usize) -> Result<Option<u32>, sqlx::Error> {
    Ok(row
        .try_get::<Option<i64>, _>(i)?
        .and_then(|n| u32::try_from(n).ok()))
}
fn json_map(row: &AnyRow, i: usize) -> Result<BTreeMap<String, String>, sqlx::Error> {
    let text: String = row.try_get(i)?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

pub async fn listing(store: &Store, id: u64) -> Result<Option<ListingView>, StoreError> {
    let sql = "SELECT l.listing_id, l.status, l.owner_user_id, l.photographer_user_id, l.project_media, l.updated_at, \
               (SELECT b.batch_id FROM media_batches b WHERE b.open_listing_id = l.listing_id) \
               FROM listings l WHERE l.listing_id = ?";
    let row = sqlx::query(store.dialect().sql(sql))
        .bind(i64::try_from(id).unwrap_or(i64::MAX))
        .fetch_optional(store.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(ListingView {
        listing_identity_id: u64_of(&row, 0)?,
        status: row.try_get(1)?,
        owner_user_id: u64_of(&row, 2)?,
        photographer_user_id: row
            .try_get::<Option<i64>, _>(3)?
            .and_then(|n| u64::try_from(n).ok()),
        project_media: row.try_get::<i64, _>(4)? != 0,
        updated_at: row.try_get(5)?,
        open_batch_id: row.try_get(6)?,
    }))
}

const BATCH_COLUMNS: &str = "batch_id, listing_id, batch_reference, status, status_message, failure_code, attempt, \
    current_job_id, deleted, upload_expires_at, ready_attempt, asset_count, total_bytes, created_at, updated_at";

fn batch_of(row: &AnyRow) -> Result<BatchView, sqlx::Error> {
    Ok(BatchView {
        batch_id: row.try_get(0)?,
        listing_id: u64_of(row, 1)?,
        batch_reference: row.try_get(2)?,
        status: row.try_get(3)?,
        status_message: row.try_get(4)?,
        failure_code: row.try_get(5)?,
        attempt: opt_u32(row, 6)?.unwrap_or_default(),
        current_job_id: row.try_get(7)?,
        deleted: row.try_get::<i64, _>(8)? != 0,
        upload_expires_at: row.try_get(9)?,
        ready_attempt: opt_u32(row, 10)?,
        asset_count: opt_u32(row, 11)?.unwrap_or_default(),
        total_bytes: u64_of(row, 12)?,
        created_at: row.try_get(13)?,
        updated_at: row.try_get(14)?,
    })
}

/// A batch that is not soft-deleted.
pub async fn batch(store: &Store, id: &str) -> Result<Option<BatchView>, StoreError> {
    let sql =
        format!("SELECT {BATCH_COLUMNS} FROM media_batches WHERE batch_id = ? AND deleted = 0");
    let row = sqlx::query(store.dialect().sql(&sql))
        .bind(id.to_owned())
        .fetch_optional(store.pool())
        .await?;
    Ok(row.as_ref().map(batch_of).transpose()?)
}

/// The listing's newest batch with a complete set of renditions.
pub async fn newest_ready_batch(
    store: &Store,
    listing: u64,
) -> Result<Option<BatchView>, StoreError> {
    let sql = format!(
        "SELECT {BATCH_COLUMNS} FROM media_batches WHERE listing_id = ? AND deleted = 0 AND status = 'READY' \
         ORDER BY ready_at DESC LIMIT 1"
    );
    let row = sqlx::query(store.dialect().sql(&sql))
        .bind(i64::try_from(listing).unwrap_or(i64::MAX))
        .fetch_optional(store.pool())
        .await?;
    Ok(row.as_ref().map(batch_of).transpose()?)
}

pub async fn assets(store: &Store, batch_id: &str) -> Result<Vec<AssetView>, StoreError> {
    let sql = "SELECT client_id, sequence, title, asset_type, content_type, bytes, status, raw_key, renditions, \
               width, height, error_code, error_message, metadata FROM media_assets WHERE batch_id = ? ORDER BY sequence";
    let rows = sqlx::query(store.dialect().sql(sql))
        .bind(batch_id.to_owned())
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(AssetView {
                client_id: row.try_get(0)?,
                sequence: opt_u32(row, 1)?.unwrap_or_default(),
                title: row.try_get(2)?,
                asset_type: row.try_get(3)?,
                content_type: row.try_get(4)?,
                bytes: u64_of(row, 5)?,
                status: row.try_get(6)?,
                raw_key: row.try_get(7)?,
                renditions: json_map(row, 8)?,
                width: opt_u32(row, 9)?,
                height: opt_u32(row, 10)?,
                error_code: row.try_get(11)?,
                error_message: row.try_get(12)?,
                metadata: json_map(row, 13)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

pub async fn job(store: &Store, job_id: &str) -> Result<Option<JobView>, StoreError> {
    let sql = "SELECT job_id, status, created_at, started_at, completed_at FROM media_jobs WHERE job_id = ?";
    let row = sqlx::query(store.dialect().sql(sql))
        .bind(job_id.to_owned())
        .fetch_optional(store.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(JobView {
        job_id: row.try_get(0)?,
        status: row.try_get(1)?,
        created_at: row.try_get(2)?,
        started_at: row.try_get(3)?,
        completed_at: row.try_get(4)?,
    }))
}

/// Batches that are soft-deleted or whose uploads expired, last changed before `before`.
pub async fn cleanup_candidates(
    store: &Store,
    before: &str,
    limit: i64,
) -> Result<Vec<BatchView>, StoreError> {
    let sql = format!(
        "SELECT {BATCH_COLUMNS} FROM media_batches WHERE updated_at < ? \
         AND (deleted = 1 OR (status = 'FAILED' AND failure_code = 'UPLOAD_EXPIRED')) ORDER BY updated_at LIMIT ?"
    );
    let rows = sqlx::query(store.dialect().sql(&sql))
        .bind(before.to_owned())
        .bind(limit)
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(batch_of)
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}
