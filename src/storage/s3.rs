//! The object store on Amazon S3 (or an S3-compatible endpoint).
//!
//! S3 enforces the upload terms itself: the presigned PUT signs `Content-Type`,
//! `Content-Length` and `x-amz-checksum-sha256`, so any other bytes are refused by S3 and
//! never stored. `head` asks S3 for the SHA-256 it recorded, so confirming an upload reads no
//! object data.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use aggregates::{Checksum, ObjectKey, StoredObject};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use super::{PresignedPut, StorageError};
use crate::config::S3Config;

pub struct S3Store {
    client: Client,
    bucket: String,
}

/// The error with its causes, which the SDK's own `Display` leaves out.
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    DisplayErrorContext(e).to_string()
}

fn s3_error(e: impl std::error::Error + 'static) -> StorageError {
    StorageError::S3(describe(&e))
}

impl S3Store {
    pub fn new(sdk: &aws_config::SdkConfig, config: &S3Config) -> Self {
        let mut builder =
            aws_sdk_s3::config::Builder::from(sdk).force_path_style(config.path_style);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Self {
            client: Client::from_conf(builder.build()),
            bucket: config.bucket.clone(),
        }
    }

    pub async fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        bytes: u64,
        checksum: &Checksum,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<PresignedPut, StorageError> {
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .content_length(i64::try_from(bytes).unwrap_or(i64::MAX))
            // Both are needed for S3 to check and record the checksum of a presigned PUT.
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(checksum.to_base64())
            .presigned(presigning(ttl, now)?)
            .await
            .map_err(s3_error)?;
        Ok(PresignedPut {
            url: presigned.uri().to_owned(),
            method: "PUT",
            headers: headers(&presigned),
            expires_at: now + ttl,
        })
    }

    pub async fn presign_get(
        &self,
        key: &ObjectKey,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), StorageError> {
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .presigned(presigning(ttl, now)?)
            .await
            .map_err(s3_error)?;
        Ok((presigned.uri().to_owned(), now + ttl))
    }

    /// Size and SHA-256 as S3 recorded them. An object stored without a SHA-256 (written by
    /// another tool) is hashed by reading it, since the object, not its metadata, is the truth.
    pub async fn head(&self, key: &ObjectKey) -> Result<Option<StoredObject>, StorageError> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        let head = match head {
            Ok(head) => head,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(None),
            Err(e) => return Err(s3_error(e)),
        };
        let bytes = u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0);
        if let Some(checksum) = head.checksum_sha256().and_then(from_base64) {
            return Ok(Some(StoredObject { bytes, checksum }));
        }
        let Some((mut stream, _)) = self.open(key).await? else {
            return Ok(None);
        };
        let (mut hasher, mut bytes) = (Sha256::new(), 0u64);
        while let Some(chunk) = stream.try_next().await.map_err(s3_error)? {
            bytes += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok(Some(StoredObject {
            bytes,
            checksum: Checksum::from_bytes(hasher.finalize().into()),
        }))
    }

    /// The object's body as a stream, with its length.
    pub async fn open(&self, key: &ObjectKey) -> Result<Option<(ByteStream, u64)>, StorageError> {
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await;
        match got {
            Ok(object) => {
                let len = u64::try_from(object.content_length().unwrap_or(0)).unwrap_or(0);
                Ok(Some((object.body, len)))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(s3_error(e)),
        }
    }

    /// Writes with its SHA-256, which S3 checks on the way in and keeps for `head`.
    pub async fn write(
        &self,
        key: &ObjectKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<StoredObject, StorageError> {
        let stored = StoredObject {
            bytes: bytes.len() as u64,
            checksum: Checksum::from_bytes(Sha256::digest(&bytes).into()),
        };
        self.put(key, ByteStream::from(bytes), stored, content_type)
            .await
    }

    /// Uploads a file the service wrote itself, streamed from disk: bounded memory.
    pub async fn write_file(
        &self,
        key: &ObjectKey,
        source: &std::path::Path,
        content_type: &str,
    ) -> Result<StoredObject, StorageError> {
        let stored = super::hash_file(tokio::fs::File::open(source).await?).await?;
        let body = ByteStream::from_path(source)
            .await
            .map_err(|e| StorageError::S3(e.to_string()))?;
        self.put(key, body, stored, content_type).await
    }

    /// One PUT whose SHA-256 S3 checks on arrival.
    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        stored: StoredObject,
        content_type: &str,
    ) -> Result<StoredObject, StorageError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(stored.checksum.to_base64())
            .body(body)
            .send()
            .await
            .map_err(s3_error)?;
        Ok(stored)
    }

    /// Starts an object written in pieces: a multipart upload once it outgrows one part.
    pub fn create(&self, key: &ObjectKey, content_type: &str) -> S3Writer<'_> {
        S3Writer {
            store: self,
            key: key.clone(),
            content_type: content_type.to_owned(),
            upload_id: None,
            parts: Vec::new(),
            buffer: Vec::new(),
        }
    }

    /// The bucket exists and our credentials reach it.
    pub async fn check(&self) -> Result<(), StorageError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(StorageError::S3(format!(
                "bucket {:?}: {}",
                self.bucket,
                e.code().map_or_else(|| describe(&e), str::to_owned)
            ))),
        }
    }
}

/// Signed to expire at `now + ttl`, counted from `now` (not from when the SDK gets to it), so
/// the URL's expiry is the one we report.
fn presigning(ttl: Duration, now: DateTime<Utc>) -> Result<PresigningConfig, StorageError> {
    let ttl = ttl.to_std().unwrap_or(StdDuration::ZERO);
    PresigningConfig::builder()
        .start_time(now.into())
        .expires_in(ttl)
        .build()
        .map_err(s3_error)
}

/// The headers the client must send, named as API.md spells them.
fn headers(presigned: &PresignedRequest) -> BTreeMap<String, String> {
    presigned
        .headers()
        .map(|(name, value)| {
            let name = match name.to_ascii_lowercase().as_str() {
                "content-type" => "Content-Type".to_owned(),
                "content-length" => "Content-Length".to_owned(),
                other => other.to_owned(),
            };
            (name, value.to_owned())
        })
        .collect()
}

fn from_base64(encoded: &str) -> Option<Checksum> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    Some(Checksum::from_bytes(bytes.try_into().ok()?))
}

/// Bytes buffered per part: S3 wants at least 5 MiB for every part but the last.
const PART: usize = 8 << 20;

/// An S3 object being written in pieces (see [`S3Store::create`]): at most one part held in
/// memory. An object that stays under one part is sent as one PUT; a larger one goes up as a
/// multipart upload, completed by [`S3Writer::finish`] or aborted by [`S3Writer::abort`], so
/// that a failed write leaves no upload behind.
pub struct S3Writer<'a> {
    store: &'a S3Store,
    key: ObjectKey,
    content_type: String,
    upload_id: Option<String>,
    parts: Vec<aws_sdk_s3::types::CompletedPart>,
    buffer: Vec<u8>,
}

impl S3Writer<'_> {
    pub async fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        self.buffer.extend_from_slice(data);
        while self.buffer.len() >= PART {
            let rest = self.buffer.split_off(PART);
            let part = std::mem::replace(&mut self.buffer, rest);
            self.upload_part(part).await?;
        }
        Ok(())
    }

    async fn upload_part(&mut self, part: Vec<u8>) -> Result<(), StorageError> {
        let (client, bucket) = (&self.store.client, &self.store.bucket);
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let created = client
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(self.key.as_str())
                    .content_type(&self.content_type)
                    .send()
                    .await
                    .map_err(s3_error)?;
                let id = created
                    .upload_id()
                    .ok_or_else(|| StorageError::S3("no upload id for a multipart upload".into()))?
                    .to_owned();
                self.upload_id.insert(id).clone()
            }
        };
        let number = i32::try_from(self.parts.len() + 1).unwrap_or(i32::MAX);
        let uploaded = client
            .upload_part()
            .bucket(bucket)
            .key(self.key.as_str())
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(part))
            .send()
            .await
            .map_err(s3_error)?;
        self.parts.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(number)
                .set_e_tag(uploaded.e_tag().map(str::to_owned))
                .build(),
        );
        Ok(())
    }

    /// Sends what is left and makes the object whole; `stored` is what the caller counted.
    pub async fn finish(mut self, stored: StoredObject) -> Result<StoredObject, StorageError> {
        if self.upload_id.is_none() {
            let body = ByteStream::from(std::mem::take(&mut self.buffer));
            return self
                .store
                .put(&self.key, body, stored, &self.content_type)
                .await;
        }
        if !self.buffer.is_empty() {
            let last = std::mem::take(&mut self.buffer);
            if let Err(e) = self.upload_part(last).await {
                self.abort().await;
                return Err(e);
            }
        }
        let completed = aws_sdk_s3::types::CompletedMultipartUpload::builder()
            .set_parts(Some(std::mem::take(&mut self.parts)))
            .build();
        let done = self
            .store
            .client
            .complete_multipart_upload()
            .bucket(&self.store.bucket)
            .key(self.key.as_str())
            .upload_id(self.upload_id.clone().unwrap_or_default())
            .multipart_upload(completed)
            .send()
            .await;
        match done {
            Ok(_) => Ok(stored),
            Err(e) => {
                self.abort().await;
                Err(s3_error(e))
            }
        }
    }

    /// Drops the multipart upload, if one was started; a failure is logged, since the bucket's
    /// lifecycle rule for incomplete uploads is the second net (README).
    pub async fn abort(self) {
        let Some(upload_id) = &self.upload_id else {
            return;
        };
        let aborted = self
            .store
            .client
            .abort_multipart_upload()
            .bucket(&self.store.bucket)
            .key(self.key.as_str())
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(e) = aborted {
            tracing::warn!(key = %self.key, error = %describe(&e), "aborting a multipart upload failed");
        }
    }
}
