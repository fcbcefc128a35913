//! The job message of API.md §6, parsed into domain values once, so that everything downstream
//! (keys, reads, reports) works from typed fields and never from the message's raw text.

use aggregates::{
    AssetType, BatchId, Checksum, ClientId, JobId, ListingId, ObjectKey, ParseError, Sequence,
};
use serde::{Deserialize, Serialize};

/// One processing job: the assets of one attempt of one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub job_id: JobId,
    pub batch_id: BatchId,
    pub listing_id: ListingId,
    pub attempt: u32,
    pub assets: Vec<JobAsset>,
    /// The trace context of the command that made the job, continued by its results.
    pub traceparent: Option<String>,
}

/// One raw upload to process, with the size and SHA-256 the manifest promised for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobAsset {
    pub client_id: ClientId,
    pub sequence: Sequence,
    pub asset_type: AssetType,
    pub content_type: String,
    pub raw_key: ObjectKey,
    pub bytes: u64,
    pub checksum: Checksum,
}

/// What the worker does with an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Decode and write resized renditions.
    Image,
    /// Probe, poster frames and a web rendition.
    Video,
    /// A PDF: a preview of its first page.
    Document,
}

impl JobAsset {
    /// Photos and renders are images whatever their declared type (a mislabelled file then
    /// fails with the image decoder's code, not silently as a pass-through); a project document
    /// is an image only when it says so, otherwise a PDF.
    pub fn treatment(&self) -> Treatment {
        match self.asset_type {
            AssetType::PhotoVertical | AssetType::PhotoHorizontal | AssetType::ProjectRender => {
                Treatment::Image
            }
            AssetType::ProjectDoc if self.content_type.starts_with("image/") => Treatment::Image,
            AssetType::ProjectDoc => Treatment::Document,
            AssetType::VideoVertical | AssetType::VideoHorizontal => Treatment::Video,
        }
    }
}

/// Topic of the job message, for the job queue.
pub const PROCESSING_JOB: &str = "processing.job";

/// The job message as the outbox writes it and the wire carries it. Ids and keys are checked
/// again in [`Job::parse`], because their serde forms are lenient (a listing id of 0, an
/// object key with `..`) and a queue anyone with send rights can write to is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobMessage {
    pub job_id: JobId,
    pub batch_id: BatchId,
    pub listing_identity_id: ListingId,
    pub attempt: u32,
    pub assets: Vec<JobAsset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the job message is not a valid job: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the job message's {field} {reason}")]
    Field { field: String, reason: ParseError },
}

impl Job {
    pub fn parse(payload: &str) -> Result<Self, JobError> {
        let wire: JobMessage = serde_json::from_str(payload)?;
        let field = |field: &str| {
            let field = field.to_owned();
            move |reason| JobError::Field { field, reason }
        };
        let listing_id =
            ListingId::parse(wire.listing_identity_id.get()).map_err(field("listingIdentityId"))?;
        if wire.attempt == 0 {
            return Err(field("attempt")(ParseError("must be at least 1".into())));
        }
        for (i, asset) in wire.assets.iter().enumerate() {
            ObjectKey::parse(asset.raw_key.as_str())
                .map_err(field(&format!("assets[{i}].rawKey")))?;
        }
        Ok(Self {
            job_id: wire.job_id,
            batch_id: wire.batch_id,
            listing_id,
            attempt: wire.attempt,
            assets: wire.assets,
            traceparent: wire.traceparent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(listing: u64, raw_key: &str, asset_type: &str, content_type: &str) -> String {
        json!({
            "jobId": "0193a5b3-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
            "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
            "listingIdentityId": listing, "attempt": 2,
            "assets": [{"clientId": "photo-1", "sequence": 3, "assetType": asset_type,
                        "contentType": content_type, "rawKey": raw_key, "bytes": 10,
                        "checksum": "ab".repeat(32)}]
        })
        .to_string()
    }

    #[test]
    fn parses_the_message_the_outbox_writes() {
        let job = Job::parse(&payload(9, "9/raw/a.jpg", "PHOTO_VERTICAL", "image/jpeg")).unwrap();
        assert_eq!((job.listing_id.get(), job.attempt), (9, 2));
        let asset = &job.assets[0];
        assert_eq!(asset.sequence.get(), 3);
        assert_eq!(asset.treatment(), Treatment::Image);
    }

    #[test]
    fn refuses_what_serde_alone_would_let_through() {
        assert!(Job::parse(&payload(0, "9/raw/a.jpg", "PHOTO_VERTICAL", "image/jpeg")).is_err());
        assert!(Job::parse(&payload(9, "9/../a.jpg", "PHOTO_VERTICAL", "image/jpeg")).is_err());
        assert!(Job::parse(&payload(9, "9/raw/a.jpg", "THUMBNAIL", "image/jpeg")).is_err());
        assert!(Job::parse("{}").is_err());
    }

    #[test]
    fn documents_are_images_only_when_they_say_so() {
        let treat = |t: &str, ct: &str| {
            Job::parse(&payload(9, "9/raw/a", t, ct)).unwrap().assets[0].treatment()
        };
        assert_eq!(treat("PROJECT_DOC", "application/pdf"), Treatment::Document);
        assert_eq!(treat("PROJECT_DOC", "image/png"), Treatment::Image);
        assert_eq!(treat("PROJECT_RENDER", "image/png"), Treatment::Image);
        assert_eq!(treat("VIDEO_HORIZONTAL", "video/mp4"), Treatment::Video);
        assert_eq!(
            treat("PHOTO_HORIZONTAL", "application/pdf"),
            Treatment::Image
        );
    }
}
