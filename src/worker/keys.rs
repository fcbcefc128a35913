//! Rendition keys (DESIGN.md "Storage keys"):
//! `{listingIdentityId}/processed/{segment}/{batchId}/{attempt}/{size}/{seq:02}-{clientRef}.{ext}`.
//!
//! Built only from the job's typed fields, so a client's text never shapes a path; and
//! deterministic per attempt, so a redelivered job overwrites its own renditions instead of
//! leaving orphans, while a retry (a new attempt) never touches the renditions still served.

use aggregates::{ObjectKey, RenditionPrefix};

use super::job::{Job, JobAsset};

/// The key of rendition `size` of `asset`, under the prefix the batch accepts results in.
pub fn rendition(job: &Job, asset: &JobAsset, size: &str, extension: &str) -> ObjectKey {
    RenditionPrefix::new(job.listing_id, asset.asset_type, job.batch_id, job.attempt).key(
        size,
        asset.sequence,
        &asset.client_id,
        extension,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(client_id: &str, asset_type: &str) -> Job {
        let payload = json!({
            "jobId": "0193a5b3-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
            "batchId": "0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
            "listingIdentityId": 123, "attempt": 2,
            "assets": [{"clientId": client_id, "sequence": 7, "assetType": asset_type,
                        "contentType": "image/jpeg", "rawKey": "123/raw/x", "bytes": 1,
                        "checksum": "00".repeat(32)}]
        });
        Job::parse(&payload.to_string()).unwrap()
    }

    #[test]
    fn follows_the_documented_layout() {
        let job = job("photo-1", "PHOTO_HORIZONTAL");
        let key = rendition(&job, &job.assets[0], "large", "jpg");
        assert_eq!(
            key.as_str(),
            "123/processed/photo/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/2/large/07-photo-1.jpg"
        );
        let job = self::job("plan", "PROJECT_RENDER");
        let key = rendition(&job, &job.assets[0], "thumbnail", "png");
        assert!(key.as_str().starts_with("123/processed/project/"), "{key}");
    }

    #[test]
    fn client_text_cannot_escape_its_segment() {
        let job = job("../../etc/passwd", "PHOTO_VERTICAL");
        let key = rendition(&job, &job.assets[0], "../small", "j/pg");
        let parts: Vec<&str> = key.as_str().split('/').collect();
        assert_eq!(parts.len(), 7, "{key}");
        assert!(parts.iter().all(|p| !p.starts_with('.')), "{key}");
    }
}
