//! Read tables described as data, so that one writer per SQL dialect can store any of them and
//! `projections verify` can compare any of them cell by cell.

use std::fmt;

/// One value of a read-table cell. Integers and text only: the same bytes on every backend.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("NULL"),
            Self::Int(n) => write!(f, "{n}"),
            Self::Text(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}
impl From<u32> for Cell {
    fn from(n: u32) -> Self {
        Self::Int(i64::from(n))
    }
}
impl From<u64> for Cell {
    /// Values above `i64::MAX` do not occur: ids and sizes are bounded far below by validation.
    fn from(n: u64) -> Self {
        Self::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}
impl From<bool> for Cell {
    fn from(b: bool) -> Self {
        Self::Int(i64::from(b))
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}
impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}
impl From<aggregates::BatchId> for Cell {
    fn from(id: aggregates::BatchId) -> Self {
        Self::Text(id.to_string())
    }
}
impl From<aggregates::ListingId> for Cell {
    fn from(id: aggregates::ListingId) -> Self {
        Self::from(id.get())
    }
}
impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Text,
}

#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

/// A read table: its name, its columns in order, and how many leading columns form its key.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
    pub key_len: usize,
    /// The aggregate whose stream writes every row, and the column that holds the stream's id:
    /// what lets a rebuild or verify work one stream at a time.
    pub aggregate: &'static str,
    pub stream_column: &'static str,
}

impl Table {
    /// The stream id as a cell of the stream column (listing ids are integers), or `None` when
    /// it cannot be one.
    pub fn stream_cell(&self, aggregate_id: &str) -> Option<Cell> {
        let column = self.columns.iter().find(|c| c.name == self.stream_column)?;
        match column.kind {
            Kind::Int => aggregate_id.parse().ok().map(Cell::Int),
            Kind::Text => Some(Cell::Text(aggregate_id.to_owned())),
        }
    }
    pub fn key_columns(&self) -> &'static [Column] {
        &self.columns[..self.key_len]
    }
    pub fn value_columns(&self) -> &'static [Column] {
        &self.columns[self.key_len..]
    }
}

/// One row of a read table, cells in the table's column order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    pub table: &'static str,
    pub cells: Vec<Cell>,
}

impl Row {
    pub fn key(&self, table: &Table) -> &[Cell] {
        &self.cells[..table.key_len]
    }
}

const fn int(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Int,
    }
}
const fn text(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Text,
    }
}

const BATCH: &str = <aggregates::MediaBatch as cqrs_es::Aggregate>::TYPE;
const LISTING: &str = <aggregates::Listing as cqrs_es::Aggregate>::TYPE;

pub static MEDIA_BATCHES: Table = Table {
    name: "media_batches",
    key_len: 1,
    aggregate: BATCH,
    stream_column: "batch_id",
    columns: &[
        text("batch_id"),
        int("listing_id"),
        text("batch_reference"),
        text("status"),
        text("status_message"),
        text("failure_code"),
        int("attempt"),
        text("current_job_id"),
        int("open_listing_id"),
        int("deleted"),
        text("deleted_at"),
        text("upload_expires_at"),
        text("received_at"),
        text("ready_at"),
        int("ready_attempt"),
        text("zip_key"),
        int("zip_bytes"),
        int("asset_count"),
        int("total_bytes"),
        text("created_at"),
        text("updated_at"),
        int("last_seq"),
    ],
};

pub static MEDIA_ASSETS: Table = Table {
    name: "media_assets",
    key_len: 2,
    aggregate: BATCH,
    stream_column: "batch_id",
    columns: &[
        text("batch_id"),
        text("client_id"),
        int("sequence"),
        text("title"),
        text("asset_type"),
        text("content_type"),
        text("filename"),
        int("bytes"),
        text("checksum"),
        text("status"),
        text("raw_key"),
        text("renditions"),
        int("width"),
        int("height"),
        int("duration_millis"),
        int("page_count"),
        text("error_code"),
        text("error_message"),
        text("metadata"),
        text("updated_at"),
        int("last_seq"),
    ],
};

pub static MEDIA_JOBS: Table = Table {
    name: "media_jobs",
    key_len: 1,
    aggregate: BATCH,
    stream_column: "batch_id",
    columns: &[
        text("job_id"),
        text("batch_id"),
        int("listing_id"),
        int("attempt"),
        text("status"),
        text("scope"),
        text("reason"),
        int("asset_count"),
        text("created_at"),
        text("started_at"),
        text("completed_at"),
        int("last_seq"),
    ],
};

pub static LISTINGS: Table = Table {
    name: "listings",
    key_len: 1,
    aggregate: LISTING,
    stream_column: "listing_id",
    columns: &[
        int("listing_id"),
        text("status"),
        int("owner_user_id"),
        int("photographer_user_id"),
        int("project_media"),
        text("updated_at"),
        int("last_seq"),
    ],
};

/// Every read table, in the order rebuilds write them.
pub static TABLES: [&Table; 4] = [&MEDIA_BATCHES, &MEDIA_ASSETS, &MEDIA_JOBS, &LISTINGS];

pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().copied().find(|t| t.name == name)
}
