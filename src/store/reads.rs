//! What the HTTP queries and the background loops read: the read tables, never the events.
//! Each view is decoded by column name from the table's description in `projections::table`,
//! so a new column touches only that description and the migrations.

use std::collections::BTreeMap;

use aggregates::{BatchId, ListingId, ListingStatus};
use projections::table::{LISTINGS, MEDIA_ASSETS, MEDIA_BATCHES, MEDIA_JOBS, Table};
use projections::{Cell, Row};
use serde::Serialize;

use super::{Store, StoreError, read_model};

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

/// A read-table row's cells by column name.
struct Fields<'a> {
    table: &'static Table,
    row: &'a Row,
}

impl Fields<'_> {
    fn cell(&self, name: &str) -> &Cell {
        let i = self
            .table
            .columns
            .iter()
            .position(|c| c.name == name)
            .unwrap_or_else(|| panic!("{} has no column {name}", self.table.name));
        &self.row.cells[i]
    }
    fn int(&self, name: &str) -> Option<i64> {
        match self.cell(name) {
            Cell::Int(n) => Some(*n),
            _ => None,
        }
    }
    fn opt_text(&self, name: &str) -> Option<String> {
        match self.cell(name) {
            Cell::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn text(&self, name: &str) -> String {
        self.opt_text(name).unwrap_or_default()
    }
    fn opt_u64(&self, name: &str) -> Option<u64> {
        self.int(name).and_then(|n| u64::try_from(n).ok())
    }
    fn opt_u32(&self, name: &str) -> Option<u32> {
        self.int(name).and_then(|n| u32::try_from(n).ok())
    }
    fn flag(&self, name: &str) -> bool {
        self.int(name).is_some_and(|n| n != 0)
    }
    /// A JSON object of strings; an unreadable one reads as empty.
    fn map(&self, name: &str) -> BTreeMap<String, String> {
        serde_json::from_str(&self.text(name)).unwrap_or_default()
    }
}

fn batch_of(row: &Row) -> BatchView {
    let f = Fields {
        table: &MEDIA_BATCHES,
        row,
    };
    BatchView {
        batch_id: f.text("batch_id"),
        listing_id: f.opt_u64("listing_id").unwrap_or_default(),
        batch_reference: f.text("batch_reference"),
        status: f.text("status"),
        status_message: f.opt_text("status_message"),
        failure_code: f.opt_text("failure_code"),
        attempt: f.opt_u32("attempt").unwrap_or_default(),
        current_job_id: f.opt_text("current_job_id"),
        deleted: f.flag("deleted"),
        upload_expires_at: f.text("upload_expires_at"),
        ready_attempt: f.opt_u32("ready_attempt"),
        asset_count: f.opt_u32("asset_count").unwrap_or_default(),
        total_bytes: f.opt_u64("total_bytes").unwrap_or_default(),
        created_at: f.text("created_at"),
        updated_at: f.text("updated_at"),
    }
}

fn asset_of(row: &Row) -> AssetView {
    let f = Fields {
        table: &MEDIA_ASSETS,
        row,
    };
    AssetView {
        client_id: f.text("client_id"),
        sequence: f.opt_u32("sequence").unwrap_or_default(),
        title: f.opt_text("title"),
        asset_type: f.text("asset_type"),
        content_type: f.text("content_type"),
        bytes: f.opt_u64("bytes").unwrap_or_default(),
        status: f.text("status"),
        raw_key: f.text("raw_key"),
        renditions: f.map("renditions"),
        width: f.opt_u32("width"),
        height: f.opt_u32("height"),
        error_code: f.opt_text("error_code"),
        error_message: f.opt_text("error_message"),
        metadata: f.map("metadata"),
    }
}

fn job_of(row: &Row) -> JobView {
    let f = Fields {
        table: &MEDIA_JOBS,
        row,
    };
    JobView {
        job_id: f.text("job_id"),
        status: f.text("status"),
        created_at: f.text("created_at"),
        started_at: f.opt_text("started_at"),
        completed_at: f.opt_text("completed_at"),
    }
}

fn id_cell(id: u64) -> Cell {
    Cell::Int(i64::try_from(id).unwrap_or(i64::MAX))
}

impl Store {
    async fn select(
        &self,
        table: &'static Table,
        filter: &str,
        params: &[Cell],
    ) -> Result<Vec<Row>, StoreError> {
        Ok(read_model::select(&self.pool, self.dialect, table, filter, params).await?)
    }

    pub async fn listing_view(&self, id: u64) -> Result<Option<ListingView>, StoreError> {
        let rows = self
            .select(&LISTINGS, "listing_id = ?", &[id_cell(id)])
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let open = self
            .select(&MEDIA_BATCHES, "open_listing_id = ?", &[id_cell(id)])
            .await?;
        let f = Fields {
            table: &LISTINGS,
            row,
        };
        Ok(Some(ListingView {
            listing_identity_id: f.opt_u64("listing_id").unwrap_or_default(),
            status: f.text("status"),
            owner_user_id: f.opt_u64("owner_user_id").unwrap_or_default(),
            photographer_user_id: f.opt_u64("photographer_user_id"),
            project_media: f.flag("project_media"),
            open_batch_id: open.first().map(|b| batch_of(b).batch_id),
            updated_at: f.text("updated_at"),
        }))
    }

    /// The listing's status in the `listings` read table, if the listing is known.
    pub async fn listing_status(&self, id: ListingId) -> Result<Option<ListingStatus>, StoreError> {
        let rows = self
            .select(&LISTINGS, "listing_id = ?", &[id_cell(id.get())])
            .await?;
        Ok(rows.first().and_then(|row| {
            let f = Fields {
                table: &LISTINGS,
                row,
            };
            ListingStatus::parse(&f.text("status")).ok()
        }))
    }

    /// A batch that is not soft-deleted.
    pub async fn batch_view(&self, id: &str) -> Result<Option<BatchView>, StoreError> {
        let filter = "batch_id = ? AND deleted = 0";
        let rows = self.select(&MEDIA_BATCHES, filter, &[id.into()]).await?;
        Ok(rows.first().map(batch_of))
    }

    /// The listing's newest batch with a complete set of renditions.
    pub async fn newest_ready_batch(&self, listing: u64) -> Result<Option<BatchView>, StoreError> {
        let filter =
            "listing_id = ? AND deleted = 0 AND status = 'READY' ORDER BY ready_at DESC LIMIT 1";
        let rows = self
            .select(&MEDIA_BATCHES, filter, &[id_cell(listing)])
            .await?;
        Ok(rows.first().map(batch_of))
    }

    pub async fn asset_views(&self, batch_id: &str) -> Result<Vec<AssetView>, StoreError> {
        let filter = "batch_id = ? ORDER BY sequence";
        let rows = self
            .select(&MEDIA_ASSETS, filter, &[batch_id.into()])
            .await?;
        Ok(rows.iter().map(asset_of).collect())
    }

    pub async fn job_view(&self, job_id: &str) -> Result<Option<JobView>, StoreError> {
        let rows = self
            .select(&MEDIA_JOBS, "job_id = ?", &[job_id.into()])
            .await?;
        Ok(rows.first().map(job_of))
    }

    /// Batches that are soft-deleted or whose uploads expired, last changed before `before`.
    pub async fn cleanup_candidates(
        &self,
        before: &str,
        limit: i64,
    ) -> Result<Vec<BatchView>, StoreError> {
        let filter = "updated_at < ? AND (deleted = 1 OR (status = 'FAILED' AND failure_code = 'UPLOAD_EXPIRED')) \
                      ORDER BY updated_at LIMIT ?";
        let rows = self
            .select(&MEDIA_BATCHES, filter, &[before.into(), limit.into()])
            .await?;
        Ok(rows.iter().map(batch_of).collect())
    }

    /// Live batches overdue for the reconciler: uploads open past `expired_before`, jobs with no
    /// change since `stalled_before`.
    pub async fn overdue_batches(
        &self,
        expired_before: &str,
        stalled_before: &str,
        limit: i64,
    ) -> Result<Vec<BatchView>, StoreError> {
        let filter = "deleted = 0 AND ((status = 'PENDING_UPLOAD' AND upload_expires_at < ?) OR \
                      (status IN ('RECEIVED', 'PROCESSING') AND updated_at < ?)) LIMIT ?";
        let params = [expired_before.into(), stalled_before.into(), limit.into()];
        let rows = self.select(&MEDIA_BATCHES, filter, &params).await?;
        Ok(rows.iter().map(batch_of).collect())
    }

    /// Every batch id in the read table, deleted ones included.
    pub async fn batch_ids(&self) -> Result<Vec<BatchId>, StoreError> {
        let rows = self.select(&MEDIA_BATCHES, "1 = 1", &[]).await?;
        Ok(rows
            .iter()
            .filter_map(|row| BatchId::parse(&batch_of(row).batch_id).ok())
            .collect())
    }
}
