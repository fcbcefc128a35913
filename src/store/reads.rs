//! What the HTTP queries and the background loops read: the read tables, never the events.
//! Each view is decoded by column name from the table's description in `projections::table`,
//! so a new column touches only that description and the migrations.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use aggregates::{
    AssetStatus, AssetType, BatchId, BatchStatus, ClientId, FailureCode, JobId, JobStatus,
    ListingId, ListingStatus, ObjectKey, ParseError,
};
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

/// Who may see and change a listing (API.md "Who may do what"), and the status commands check.
#[derive(Debug, Clone)]
pub struct ListingAccess {
    pub listing_id: ListingId,
    pub status: ListingStatus,
    pub owner_user_id: u64,
    pub photographer_user_id: Option<u64>,
    pub project_media: bool,
}

#[derive(Debug, Clone)]
pub struct BatchView {
    pub batch_id: BatchId,
    pub listing_id: ListingId,
    pub batch_reference: String,
    pub status: BatchStatus,
    pub status_message: Option<String>,
    pub failure_code: Option<FailureCode>,
    pub attempt: u32,
    pub current_job_id: Option<JobId>,
    pub deleted: bool,
    pub upload_expires_at: String,
    pub ready_attempt: Option<u32>,
    /// The READY attempt's ZIP of originals: its key and length.
    pub zip: Option<(ObjectKey, u64)>,
    pub asset_count: u32,
    pub total_bytes: u64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct AssetView {
    pub client_id: ClientId,
    pub sequence: u32,
    pub title: Option<String>,
    pub asset_type: AssetType,
    pub content_type: String,
    pub bytes: u64,
    pub status: AssetStatus,
    pub raw_key: ObjectKey,
    pub renditions: BTreeMap<String, ObjectKey>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_millis: Option<u64>,
    pub page_count: Option<u32>,
    /// The pipeline's code: the built-in worker's are [`FailureCode`]s, an external one may
    /// report its own.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// What a read of one batch shows (status, downloads): its listing's access fields, the
/// batch, its current job and its assets by sequence, read together.
#[derive(Debug, Clone)]
pub struct BatchReport {
    pub listing: ListingAccess,
    pub batch: BatchView,
    pub job: Option<JobView>,
    pub assets: Vec<AssetView>,
}

#[derive(Debug, Clone)]
pub struct JobView {
    pub job_id: JobId,
    pub status: JobStatus,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
}

/// A read-table row's cells by column name. A cell that does not hold what its column promises
/// is [`StoreError::CorruptRow`], naming the table and column: never a silent default.
struct Fields<'a> {
    table: &'static Table,
    row: &'a Row,
}

impl<'a> Fields<'a> {
    fn of(table: &'static Table, row: &'a Row) -> Self {
        Self { table, row }
    }
    fn corrupt(&self, column: &'static str, problem: impl Into<String>) -> StoreError {
        StoreError::CorruptRow {
            table: self.table.name,
            column,
            problem: problem.into(),
        }
    }
    fn cell(&self, name: &'static str) -> &Cell {
        let i = self
            .table
            .columns
            .iter()
            .position(|c| c.name == name)
            .unwrap_or_else(|| panic!("{} has no column {name}", self.table.name));
        &self.row.cells[i]
    }
    fn opt_text(&self, name: &'static str) -> Result<Option<String>, StoreError> {
        match self.cell(name) {
            Cell::Text(s) => Ok(Some(s.clone())),
            Cell::Null => Ok(None),
            other => Err(self.corrupt(name, format!("expected text, found {other:?}"))),
        }
    }
    fn text(&self, name: &'static str) -> Result<String, StoreError> {
        self.opt_text(name)?
            .ok_or_else(|| self.corrupt(name, "is NULL"))
    }
    fn opt_parsed<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> Result<T, ParseError>,
    ) -> Result<Option<T>, StoreError> {
        self.opt_text(name)?
            .map(|s| parse(&s).map_err(|e| self.corrupt(name, format!("{s:?} {e}"))))
            .transpose()
    }
    fn parsed<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> Result<T, ParseError>,
    ) -> Result<T, StoreError> {
        self.opt_parsed(name, parse)?
            .ok_or_else(|| self.corrupt(name, "is NULL"))
    }
    fn opt_int<T: TryFrom<i64>>(&self, name: &'static str) -> Result<Option<T>, StoreError> {
        match self.cell(name) {
            Cell::Int(n) => T::try_from(*n)
                .map(Some)
                .map_err(|_| self.corrupt(name, format!("{n} is out of range"))),
            Cell::Null => Ok(None),
            other => Err(self.corrupt(name, format!("expected an integer, found {other:?}"))),
        }
    }
    fn int<T: TryFrom<i64>>(&self, name: &'static str) -> Result<T, StoreError> {
        self.opt_int(name)?
            .ok_or_else(|| self.corrupt(name, "is NULL"))
    }
    fn flag(&self, name: &'static str) -> Result<bool, StoreError> {
        Ok(self.int::<i64>(name)? != 0)
    }
    fn listing_id(&self, name: &'static str) -> Result<ListingId, StoreError> {
        ListingId::parse(self.int(name)?).map_err(|e| self.corrupt(name, e.to_string()))
    }
    /// A JSON object of strings.
    fn map(&self, name: &'static str) -> Result<BTreeMap<String, String>, StoreError> {
        serde_json::from_str(&self.text(name)?).map_err(|e| self.corrupt(name, e.to_string()))
    }
}

fn access_of(row: &Row) -> Result<ListingAccess, StoreError> {
    let f = Fields::of(&LISTINGS, row);
    Ok(ListingAccess {
        listing_id: f.listing_id("listing_id")?,
        status: f.parsed("status", ListingStatus::parse)?,
        owner_user_id: f.int("owner_user_id")?,
        photographer_user_id: f.opt_int("photographer_user_id")?,
        project_media: f.flag("project_media")?,
    })
}

fn batch_of(row: &Row) -> Result<BatchView, StoreError> {
    let f = Fields::of(&MEDIA_BATCHES, row);
    Ok(BatchView {
        batch_id: f.parsed("batch_id", BatchId::parse)?,
        listing_id: f.listing_id("listing_id")?,
        batch_reference: f.text("batch_reference")?,
        status: f.parsed("status", BatchStatus::parse)?,
        status_message: f.opt_text("status_message")?,
        failure_code: f.opt_parsed("failure_code", FailureCode::parse)?,
        attempt: f.int("attempt")?,
        current_job_id: f.opt_parsed("current_job_id", JobId::parse)?,
        deleted: f.flag("deleted")?,
        upload_expires_at: f.text("upload_expires_at")?,
        ready_attempt: f.opt_int("ready_attempt")?,
        zip: f
            .opt_parsed("zip_key", ObjectKey::parse)?
            .zip(f.opt_int("zip_bytes")?),
        asset_count: f.int("asset_count")?,
        total_bytes: f.int("total_bytes")?,
        created_at: f.text("created_at")?,
        updated_at: f.text("updated_at")?,
    })
}

fn asset_of(row: &Row) -> Result<AssetView, StoreError> {
    let f = Fields::of(&MEDIA_ASSETS, row);
    let renditions = f
        .map("renditions")?
        .into_iter()
        .map(|(name, key)| match ObjectKey::parse(&key) {
            Ok(key) => Ok((name, key)),
            Err(e) => Err(f.corrupt("renditions", format!("{key:?} {e}"))),
        })
        .collect::<Result<_, _>>()?;
    Ok(AssetView {
        client_id: f.parsed("client_id", ClientId::parse)?,
        sequence: f.int("sequence")?,
        title: f.opt_text("title")?,
        asset_type: f.parsed("asset_type", AssetType::parse)?,
        content_type: f.text("content_type")?,
        bytes: f.int("bytes")?,
        status: f.parsed("status", AssetStatus::parse)?,
        raw_key: f.parsed("raw_key", ObjectKey::parse)?,
        renditions,
        width: f.opt_int("width")?,
        height: f.opt_int("height")?,
        duration_millis: f.opt_int("duration_millis")?,
        page_count: f.opt_int("page_count")?,
        error_code: f.opt_text("error_code")?,
        error_message: f.opt_text("error_message")?,
        metadata: f.map("metadata")?,
    })
}

fn job_of(row: &Row) -> Result<JobView, StoreError> {
    let f = Fields::of(&MEDIA_JOBS, row);
    Ok(JobView {
        job_id: f.parsed("job_id", JobId::parse)?,
        status: f.parsed("status", JobStatus::parse)?,
        created_at: f.text("created_at")?,
        started_at: f.opt_text("started_at")?,
        completed_at: f.opt_text("completed_at")?,
    })
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

    /// Who may see and change the listing: what every request's access check reads, in one
    /// query.
    pub async fn listing_access(&self, id: ListingId) -> Result<Option<ListingAccess>, StoreError> {
        let rows = self
            .select(&LISTINGS, "listing_id = ?", &[id.into()])
            .await?;
        rows.first().map(access_of).transpose()
    }

    /// The listing as the registry shows it, with its open batch if any.
    pub async fn listing_view(&self, id: ListingId) -> Result<Option<ListingView>, StoreError> {
        let rows = self
            .select(&LISTINGS, "listing_id = ?", &[id.into()])
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let access = access_of(row)?;
        Ok(Some(ListingView {
            listing_identity_id: access.listing_id.get(),
            status: access.status.as_str().to_owned(),
            owner_user_id: access.owner_user_id,
            photographer_user_id: access.photographer_user_id,
            project_media: access.project_media,
            open_batch_id: self.open_batch_id(id).await?.map(|b| b.to_string()),
            updated_at: Fields::of(&LISTINGS, row).text("updated_at")?,
        }))
    }

    /// The listing's open batch: the unique `open_listing_id` holds at most one.
    pub async fn open_batch_id(&self, listing: ListingId) -> Result<Option<BatchId>, StoreError> {
        let rows = self
            .select(&MEDIA_BATCHES, "open_listing_id = ?", &[listing.into()])
            .await?;
        rows.first()
            .map(|row| Fields::of(&MEDIA_BATCHES, row).parsed("batch_id", BatchId::parse))
            .transpose()
    }

    /// A batch that is not soft-deleted.
    pub async fn batch_view(&self, id: BatchId) -> Result<Option<BatchView>, StoreError> {
        let filter = "batch_id = ? AND deleted = 0";
        let rows = self.select(&MEDIA_BATCHES, filter, &[id.into()]).await?;
        rows.first().map(batch_of).transpose()
    }

    /// The listing's newest batch with a complete set of renditions.
    pub async fn newest_ready_batch(
        &self,
        listing: ListingId,
    ) -> Result<Option<BatchView>, StoreError> {
        let filter = "listing_id = ? AND deleted = 0 AND status = ? ORDER BY ready_at DESC LIMIT 1";
        let params = [listing.into(), BatchStatus::Ready.as_str().into()];
        let rows = self.select(&MEDIA_BATCHES, filter, &params).await?;
        rows.first().map(batch_of).transpose()
    }

    pub async fn asset_views(&self, batch_id: BatchId) -> Result<Vec<AssetView>, StoreError> {
        let filter = "batch_id = ? ORDER BY sequence";
        let rows = self
            .select(&MEDIA_ASSETS, filter, &[batch_id.into()])
            .await?;
        rows.iter().map(asset_of).collect()
    }

    /// The live batch `batch_id` of `listing` with its listing, current job and assets, in one
    /// query: the batch by its key, joined to its listing, its job and its assets. `None` when
    /// there is no such batch (or no such listing).
    pub async fn batch_report(
        &self,
        listing: ListingId,
        batch_id: BatchId,
    ) -> Result<Option<BatchReport>, StoreError> {
        /// The tables in SELECT order, each with its alias.
        const PARTS: [(&Table, &str); 4] = [
            (&LISTINGS, "l"),
            (&MEDIA_BATCHES, "b"),
            (&MEDIA_JOBS, "j"),
            (&MEDIA_ASSETS, "a"),
        ];
        static SQL: LazyLock<String> = LazyLock::new(|| {
            let columns: Vec<String> = PARTS
                .iter()
                .map(|(table, alias)| read_model::qualified(table, alias))
                .collect();
            format!(
                "SELECT {} FROM media_batches b \
                 JOIN listings l ON l.listing_id = b.listing_id \
                 LEFT JOIN media_jobs j ON j.job_id = b.current_job_id \
                 LEFT JOIN media_assets a ON a.batch_id = b.batch_id \
                 WHERE b.batch_id = ? AND b.listing_id = ? AND b.deleted = 0 \
                 ORDER BY a.sequence",
                columns.join(", ")
            )
        });
        let [listings, batches, jobs, assets_at] = {
            let mut at = 0;
            PARTS.map(|(table, _)| {
                let offset = at;
                at += table.columns.len();
                offset
            })
        };
        let rows = sqlx::query(self.dialect.sql(&SQL))
            .bind(batch_id.to_string())
            .bind(i64::try_from(listing.get()).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let inner = |table: &'static Table, offset| -> Result<Row, StoreError> {
            read_model::decode_at(table, first, offset)?.ok_or(StoreError::CorruptRow {
                table: table.name,
                column: "(join)",
                problem: "missing from its own join".into(),
            })
        };
        let job = read_model::decode_at(&MEDIA_JOBS, first, jobs)?;
        let mut assets = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(asset) = read_model::decode_at(&MEDIA_ASSETS, row, assets_at)? {
                assets.push(asset_of(&asset)?);
            }
        }
        Ok(Some(BatchReport {
            listing: access_of(&inner(&LISTINGS, listings)?)?,
            batch: batch_of(&inner(&MEDIA_BATCHES, batches)?)?,
            job: job.as_ref().map(job_of).transpose()?,
            assets,
        }))
    }

    pub async fn job_view(&self, job_id: JobId) -> Result<Option<JobView>, StoreError> {
        let rows = self
            .select(&MEDIA_JOBS, "job_id = ?", &[job_id.to_string().into()])
            .await?;
        rows.first().map(job_of).transpose()
    }

    /// Batches that are soft-deleted or whose uploads expired, last changed before `before`.
    pub async fn cleanup_candidates(
        &self,
        before: &str,
        limit: i64,
    ) -> Result<Vec<BatchView>, StoreError> {
        let filter = "updated_at < ? AND (deleted = 1 OR (status = ? AND failure_code = ?)) \
                      ORDER BY updated_at LIMIT ?";
        let params = [
            before.into(),
            BatchStatus::Failed.as_str().into(),
            FailureCode::UploadExpired.as_str().into(),
            limit.into(),
        ];
        let rows = self.select(&MEDIA_BATCHES, filter, &params).await?;
        rows.iter().map(batch_of).collect()
    }

    /// Live batches overdue for the reconciler: uploads open past `expired_before`, jobs with no
    /// change since `stalled_before`.
    pub async fn overdue_batches(
        &self,
        expired_before: &str,
        stalled_before: &str,
        limit: i64,
    ) -> Result<Vec<BatchView>, StoreError> {
        let filter = "deleted = 0 AND ((status = ? AND upload_expires_at < ?) OR \
                      (status IN (?, ?) AND updated_at < ?)) LIMIT ?";
        let params = [
            BatchStatus::PendingUpload.as_str().into(),
            expired_before.into(),
            BatchStatus::Received.as_str().into(),
            BatchStatus::Processing.as_str().into(),
            stalled_before.into(),
            limit.into(),
        ];
        let rows = self.select(&MEDIA_BATCHES, filter, &params).await?;
        rows.iter().map(batch_of).collect()
    }

    /// Every batch id in the read table, deleted ones included.
    pub async fn batch_ids(&self) -> Result<Vec<BatchId>, StoreError> {
        let rows = self.select(&MEDIA_BATCHES, "1 = 1", &[]).await?;
        rows.iter()
            .map(|row| Fields::of(&MEDIA_BATCHES, row).parsed("batch_id", BatchId::parse))
            .collect()
    }
}
