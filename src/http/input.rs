//! Request bodies parsed into typed inputs (`TryFrom<Dto>`), every broken field reported in one
//! 422 before anything else is looked at; handlers receive only values that parsed.

use std::sync::LazyLock;

use aggregates::{
    BatchId, FieldError, Limits, ListingId, Manifest, ManifestFile, RawConfirmedFile,
    RenditionName, RetryScope,
};

use crate::http::dto::{
    CompleteRequest, CreateBatchRequest, DeleteRequest, DownloadsRequest, ReplaceRequest,
    RetryRequest, StatusRequest,
};
use crate::http::error::ApiError;

type Field<T> = Result<T, Vec<FieldError>>;

fn broken<T>(field: &str, message: impl Into<String>) -> Field<T> {
    Err(vec![FieldError::new(field, message)])
}

fn listing_id(raw: Option<u64>) -> Field<ListingId> {
    match raw.map(ListingId::parse) {
        Some(Ok(id)) => Ok(id),
        Some(Err(_)) => broken("listingIdentityId", "must be a positive integer"),
        None => broken("listingIdentityId", "is required"),
    }
}

fn batch_id(raw: Option<&str>) -> Field<BatchId> {
    match raw.map(BatchId::parse) {
        Some(Ok(id)) => Ok(id),
        Some(Err(e)) => broken("batchId", e.to_string()),
        None => broken("batchId", "is required"),
    }
}

/// A free-text reason: 1–500 characters after trimming (kept as sent).
fn reason(raw: Option<String>) -> Field<String> {
    let reason = raw.unwrap_or_default();
    let n = reason.trim().chars().count();
    if n == 0 || n > 500 {
        return broken("reason", "must be 1 to 500 characters");
    }
    Ok(reason)
}

/// Every error of the fields that broke, in field order.
fn refused<const N: usize>(fields: [Option<Vec<FieldError>>; N]) -> ApiError {
    ApiError::Validation(fields.into_iter().flatten().flatten().collect())
}

/// The batch a request names.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub listing_id: ListingId,
    pub batch_id: BatchId,
}

fn target(listing: Option<u64>, batch: Option<&str>) -> (Field<ListingId>, Field<BatchId>) {
    (listing_id(listing), batch_id(batch))
}

impl TryFrom<StatusRequest> for Target {
    type Error = ApiError;
    fn try_from(body: StatusRequest) -> Result<Self, ApiError> {
        match target(body.listing_identity_id, body.batch_id.as_deref()) {
            (Ok(listing_id), Ok(batch_id)) => Ok(Self {
                listing_id,
                batch_id,
            }),
            (l, b) => Err(refused([l.err(), b.err()])),
        }
    }
}

pub struct Complete {
    pub target: Target,
    pub files: Vec<RawConfirmedFile>,
}

impl TryFrom<CompleteRequest> for Complete {
    type Error = ApiError;
    fn try_from(body: CompleteRequest) -> Result<Self, ApiError> {
        let files = match body.files {
            Some(files) if !files.is_empty() => Ok(files),
            _ => broken("files", "must confirm every file of the batch"),
        };
        match (
            target(body.listing_identity_id, body.batch_id.as_deref()),
            files,
        ) {
            ((Ok(l), Ok(batch_id)), Ok(files)) => Ok(Self {
                target: Target {
                    listing_id: l,
                    batch_id,
                },
                files,
            }),
            ((l, b), f) => Err(refused([l.err(), b.err(), f.err()])),
        }
    }
}

pub struct Retry {
    pub target: Target,
    pub scope: RetryScope,
    pub reason: String,
}

impl TryFrom<RetryRequest> for Retry {
    type Error = ApiError;
    fn try_from(body: RetryRequest) -> Result<Self, ApiError> {
        let scope = match body.scope.as_deref().map(RetryScope::parse) {
            None => Ok(RetryScope::FailedOnly),
            Some(Ok(scope)) => Ok(scope),
            Some(Err(e)) => broken("scope", e.to_string()),
        };
        let ids = target(body.listing_identity_id, body.batch_id.as_deref());
        match (ids, scope, reason(body.reason)) {
            ((Ok(l), Ok(batch_id)), Ok(scope), Ok(reason)) => Ok(Self {
                target: Target {
                    listing_id: l,
                    batch_id,
                },
                scope,
                reason,
            }),
            ((l, b), s, r) => Err(refused([l.err(), b.err(), s.err(), r.err()])),
        }
    }
}

pub struct Replace {
    pub target: Target,
    /// In sequence order.
    pub files: Vec<ManifestFile>,
}

impl TryFrom<(ReplaceRequest, &Limits)> for Replace {
    type Error = ApiError;
    fn try_from((body, limits): (ReplaceRequest, &Limits)) -> Result<Self, ApiError> {
        let ids = target(body.listing_identity_id, body.batch_id.as_deref());
        let files = Manifest::parse_replacements(body.files.as_deref().unwrap_or_default(), limits);
        match (ids, files) {
            ((Ok(listing_id), Ok(batch_id)), Ok(files)) => Ok(Self {
                target: Target {
                    listing_id,
                    batch_id,
                },
                files,
            }),
            ((l, b), f) => Err(refused([l.err(), b.err(), f.err()])),
        }
    }
}

pub struct Delete {
    pub target: Target,
    pub reason: String,
}

impl TryFrom<DeleteRequest> for Delete {
    type Error = ApiError;
    fn try_from(body: DeleteRequest) -> Result<Self, ApiError> {
        let ids = target(body.listing_identity_id, body.batch_id.as_deref());
        match (ids, reason(body.reason)) {
            ((Ok(l), Ok(batch_id)), Ok(reason)) => Ok(Self {
                target: Target {
                    listing_id: l,
                    batch_id,
                },
                reason,
            }),
            ((l, b), r) => Err(refused([l.err(), b.err(), r.err()])),
        }
    }
}

pub struct Downloads {
    pub listing_id: ListingId,
    /// Without it, the listing's newest READY batch.
    pub batch_id: Option<BatchId>,
    pub resolution: Resolution,
}

/// What one download hands out (API.md §5 `resolution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// A rendered size; an asset without it (a video or document that passed through) gives
    /// its original.
    Size(&'static str),
    /// A video's web rendition; any other asset gives its largest size.
    Web,
    Original,
    /// One entry: the batch's ZIP of originals.
    Zip,
}

/// The name of the batch ZIP's resolution.
pub(crate) const ZIP: &str = "zip";

impl Resolution {
    pub fn name(self) -> &'static str {
        match self {
            Self::Size(name) => name,
            Self::Web => RenditionName::WEB,
            Self::Original => RenditionName::ORIGINAL,
            Self::Zip => ZIP,
        }
    }
}

/// The sizes the worker renders, named by its image options, smallest first. Computed once:
/// they are fixed for the process.
pub(crate) static SIZES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let sizes = toq_imaging::ImageOptions::default().sizes;
    sizes.into_iter().map(|(name, _)| &*name.leak()).collect()
});

/// What downloads hand out: the sizes, then `web`, `original` and `zip`.
pub(crate) static RESOLUTIONS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    SIZES
        .iter()
        .copied()
        .chain([RenditionName::WEB, RenditionName::ORIGINAL, ZIP])
        .collect()
});

impl Resolution {
    fn parse(asked: &str) -> Option<Self> {
        match asked {
            RenditionName::WEB => Some(Self::Web),
            RenditionName::ORIGINAL => Some(Self::Original),
            ZIP => Some(Self::Zip),
            _ => SIZES.iter().find(|&&n| n == asked).map(|&n| Self::Size(n)),
        }
    }

    /// The largest rendered size.
    pub fn largest() -> Self {
        Self::Size(SIZES[SIZES.len() - 1])
    }
}

impl TryFrom<DownloadsRequest> for Downloads {
    type Error = ApiError;
    fn try_from(body: DownloadsRequest) -> Result<Self, ApiError> {
        let batch = body
            .batch_id
            .as_deref()
            .map(|b| batch_id(Some(b)))
            .transpose();
        let resolution = match body.resolution.as_deref() {
            None => Ok(Resolution::largest()),
            Some(asked) => Resolution::parse(asked).map_or_else(
                || {
                    let names = RESOLUTIONS.join(", ");
                    broken("resolution", format!("must be one of {names}"))
                },
                Ok,
            ),
        };
        match (listing_id(body.listing_identity_id), batch, resolution) {
            (Ok(listing_id), Ok(batch_id), Ok(resolution)) => Ok(Self {
                listing_id,
                batch_id,
                resolution,
            }),
            (l, b, r) => Err(refused([l.err(), b.err(), r.err()])),
        }
    }
}

pub struct Create {
    pub listing_id: ListingId,
    pub manifest: Manifest,
}

/// The manifest's rules depend on the configured limits.
impl TryFrom<(CreateBatchRequest, &Limits)> for Create {
    type Error = ApiError;
    fn try_from((body, limits): (CreateBatchRequest, &Limits)) -> Result<Self, ApiError> {
        match (
            listing_id(body.listing_identity_id),
            Manifest::parse(&body.manifest, limits),
        ) {
            (Ok(listing_id), Ok(manifest)) => Ok(Self {
                listing_id,
                manifest,
            }),
            (l, m) => Err(refused([l.err(), m.err()])),
        }
    }
}
