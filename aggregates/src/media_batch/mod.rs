//! The `MediaBatch` aggregate: one photo session's upload, verified and processed.

pub mod commands;
pub mod errors;
pub mod events;
pub mod failure;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;

use crate::manifest::{FieldError, Problems};
use crate::values::{Checksum, ClientId, JobId, ObjectKey, RenditionName, RenditionPrefix};
use commands::*;
use errors::{MediaBatchError, UploadProblem};
use events::*;
use failure::FailureCode;
pub use state::{
    AssetProgress, AssetState, AssetStatus, Batch, BatchStatus, JobStatus, MediaBatch,
};

const MAX_REASON: usize = 500;
/// Per-asset error codes a pipeline reports are cut to this many characters.
const MAX_CODE: usize = 64;

/// The first `max` characters of text a pipeline or a person supplied.
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl Aggregate for MediaBatch {
    const TYPE: &'static str = "MediaBatch";
    type Command = MediaBatchCommand;
    type Event = MediaBatchEvent;
    type Error = MediaBatchError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.evolve(event);
    }
}

impl MediaBatch {
    /// The events a command leads to, or why it is refused. Applies nothing.
    pub fn decide(
        &self,
        command: MediaBatchCommand,
    ) -> Result<Vec<MediaBatchEvent>, MediaBatchError> {
        use MediaBatchCommand as C;
        match (command, &self.batch) {
            (C::RequestUploads(c), None) => request(c),
            (C::RequestUploads(_), Some(_)) => Err(MediaBatchError::AlreadyRequested),
            (_, None) => Err(MediaBatchError::NotFound),
            (C::ConfirmUploads(c), Some(b)) => confirm(b, c),
            (C::StartProcessing(c), Some(b)) => Ok(start(b, c.job_id, c.now)),
            (C::RecordResult(c), Some(b)) => record(b, c),
            (C::Retry(c), Some(b)) => retry(b, c),
            (C::ReplaceFiles(c), Some(b)) => replace(b, c),
            (C::Delete(c), Some(b)) => delete(b, c),
            (C::ExpireUpload(c), Some(b)) => Ok(expire(b, c)),
            (C::TimeOutJob(c), Some(b)) => Ok(time_out(b, c)),
        }
    }
}

fn reason_problems(reason: &str) -> Option<MediaBatchError> {
    let n = reason.trim().chars().count();
    (n == 0 || n > MAX_REASON).then(|| {
        MediaBatchError::Invalid(vec![FieldError::new(
            "reason",
            format!("must be 1 to {MAX_REASON} characters"),
        )])
    })
}

fn request(c: RequestUploads) -> Result<Vec<MediaBatchEvent>, MediaBatchError> {
    if !c.listing_status.awaits_media() {
        return Err(MediaBatchError::ListingNotAwaitingMedia {
            status: c.listing_status.as_str().to_owned(),
        });
    }
    let files = c
        .manifest
        .files
        .into_iter()
        .map(|file| RequestedFile {
            raw_key: ObjectKey::raw(
                c.listing_id,
                file.asset_type,
                c.batch_id,
                file.sequence,
                &file.client_id,
                &file.filename,
            ),
            file,
        })
        .collect();
    Ok(vec![MediaBatchEvent::Requested(Requested {
        batch_id: c.batch_id,
        listing_id: c.listing_id,
        batch_reference: c.manifest.batch_reference,
        files,
        upload_expires_at: c.now + c.upload_ttl,
        at: c.now,
    })])
}

fn live(b: &Batch) -> Result<(), MediaBatchError> {
    if b.deleted {
        Err(MediaBatchError::NotFound)
    } else {
        Ok(())
    }
}

fn confirm(b: &Batch, c: ConfirmUploads) -> Result<Vec<MediaBatchEvent>, MediaBatchError> {
    live(b)?;
    if b.status == BatchStatus::Failed && b.jobs.is_empty() {
        // Failed before any job: the reconciler expired its uploads.
        return Err(MediaBatchError::UploadExpired);
    }
    if b.status != BatchStatus::PendingUpload {
        return Err(MediaBatchError::NotPendingUpload {
            status: b.status.as_str(),
        });
    }
    if c.now > b.upload_expires_at + c.grace {
        return Err(MediaBatchError::UploadExpired);
    }

    let mut problems = Problems::default();
    let mut seen = BTreeSet::new();
    let mut etags = BTreeMap::new();
    for (i, f) in c.files.iter().enumerate() {
        let at = format!("files[{i}]");
        let Some(raw_id) = &f.client_id else {
            problems.add(format!("{at}.clientId"), "is required");
            continue;
        };
        let Some(id) = problems.take(format!("{at}.clientId"), ClientId::parse(raw_id)) else {
            continue;
        };
        let Some(asset) = b.asset(&id) else {
            problems.add(format!("{at}.clientId"), "is not in this batch's manifest");
            continue;
        };
        if !seen.insert(id.clone()) {
            problems.add(format!("{at}.clientId"), "is confirmed more than once");
            continue;
        }
        if asset.succeeded() {
            problems.add(
                format!("{at}.clientId"),
                "is processed already: confirm only the replaced files",
            );
            continue;
        }
        let expected = &asset.file;
        if f.object_key
            .as_deref()
            .is_some_and(|k| k != expected.raw_key.as_str())
        {
            problems.add(
                format!("{at}.objectKey"),
                "is not the key issued for this file",
            );
        }
        if f.bytes.is_some_and(|n| n != expected.file.bytes) {
            problems.add(format!("{at}.bytes"), "does not match the manifest");
        }
        if let Some(raw) = &f.checksum {
            match Checksum::parse(raw) {
                Ok(sum) if sum == expected.file.checksum => {}
                Ok(_) => problems.add(format!("{at}.checksum"), "does not match the manifest"),
                Err(e) => problems.add(format!("{at}.checksum"), e.to_string()),
            }
        }
        if let Some(etag) = f.etag.as_deref().filter(|e| !e.is_empty()) {
            etags.insert(id.clone(), etag.chars().take(200).collect());
        }
    }
    for asset in awaiting(b) {
        if !seen.contains(&asset.file.file.client_id) {
            problems.add(
                "files",
                format!(
                    "clientId {} of the manifest is not confirmed",
                    asset.file.file.client_id
                ),
            );
        }
    }
    problems
        .into_result(|| ())
        .map_err(MediaBatchError::Invalid)?;

    let mismatches: Vec<UploadProblem> = awaiting(b)
        .filter_map(|asset| {
            let expected = &asset.file.file;
            let stored = c.stored.get(&expected.client_id).copied().flatten();
            let problem = match stored {
                None => FailureCode::Missing,
                Some(s) if s.bytes != expected.bytes => FailureCode::SizeMismatch,
                Some(s) if s.checksum != expected.checksum => FailureCode::ChecksumMismatch,
                Some(_) => return None,
            };
            Some(UploadProblem {
                client_id: expected.client_id.clone(),
                problem,
                expected_bytes: expected.bytes,
                actual_bytes: stored.map(|s| s.bytes),
            })
        })
        .collect();
    if !mismatches.is_empty() {
        return Err(MediaBatchError::UploadMismatch(mismatches));
    }

    Ok(vec![MediaBatchEvent::Received(Received {
        job_id: c.job_id,
        attempt: b.attempt() + 1,
        etags,
        at: c.now,
    })])
}

/// The files a confirmation covers: all of them at first, the replaced ones after a
/// replacement (the others are processed already).
fn awaiting(b: &Batch) -> impl Iterator<Item = &AssetState> {
    b.assets.iter().filter(|a| !a.succeeded())
}

/// `Processing` if the batch waits for the pipeline to start this job; nothing otherwise.
fn start(b: &Batch, job_id: JobId, now: DateTime<Utc>) -> Vec<MediaBatchEvent> {
    if b.deleted || b.status != BatchStatus::Received || b.current_job() != Some(job_id) {
        return vec![];
    }
    vec![MediaBatchEvent::Processing(Processing {
        job_id,
        attempt: b.attempt(),
        at: now,
    })]
}

fn record(b: &Batch, c: RecordResult) -> Result<Vec<MediaBatchEvent>, MediaBatchError> {
    let attempt_of_job = b.jobs.iter().position(|j| *j == c.job_id);
    if attempt_of_job.map(|i| i + 1) != usize::try_from(c.attempt).ok() {
        return Err(MediaBatchError::UnknownJob);
    }
    let current = c.attempt == b.attempt()
        && !b.deleted
        && matches!(b.status, BatchStatus::Received | BatchStatus::Processing);
    if !current {
        // An older attempt, a duplicate after the end, or a deleted batch: acknowledged, no change.
        return Ok(vec![]);
    }

    let mut problems = Problems::default();
    // Keys outside the batch's own layout: refused apart, since they are an attack on other
    // listings' objects rather than a malformed report.
    let mut foreign: Vec<FieldError> = Vec::new();
    let mut outcomes: Vec<(ClientId, AssetOutcome)> = Vec::new();
    for (i, out) in c.outputs.iter().enumerate() {
        let at = format!("outputs[{i}]");
        let Some(id) = problems.take(format!("{at}.clientId"), ClientId::parse(&out.client_id))
        else {
            continue;
        };
        let Some(asset) = b.asset(&id) else {
            problems.add(format!("{at}.clientId"), "is not in this batch");
            continue;
        };
        if out
            .raw_key
            .as_deref()
            .is_some_and(|k| k != asset.file.raw_key.as_str())
        {
            problems.add(format!("{at}.rawKey"), "is not this asset's raw key");
        }
        if outcomes.iter().any(|(seen, _)| *seen == id) {
            problems.add(format!("{at}.clientId"), "is reported more than once");
            continue;
        }
        let outcome = if let Some(code) = out.error_code.as_deref().filter(|c| !c.is_empty()) {
            AssetOutcome::Failed {
                error_code: clip(code, MAX_CODE),
                error_message: clip(out.error_message.as_deref().unwrap_or_default(), MAX_REASON),
            }
        } else if out.renditions.is_empty() && c.status == ResultStatus::Running {
            continue; // still running
        } else {
            let prefix =
                RenditionPrefix::new(b.listing_id, asset.file.file.asset_type, b.id, c.attempt);
            let renditions = own_renditions(
                &out.renditions,
                &prefix,
                &asset.file.raw_key,
                &at,
                &mut problems,
                &mut foreign,
            );
            AssetOutcome::Succeeded {
                renditions,
                width: out.width,
                height: out.height,
                duration_millis: out.duration_millis,
                page_count: out.page_count,
            }
        };
        outcomes.push((id, outcome));
    }
    let zip = own_zip(b, &c, &mut problems, &mut foreign);
    problems
        .into_result(|| ())
        .map_err(MediaBatchError::Invalid)?;
    if !foreign.is_empty() {
        return Err(MediaBatchError::ForeignRendition(foreign));
    }

    let mut events = start(b, c.job_id, c.now);
    let mut after = MediaBatch {
        batch: Some(b.clone()),
    };
    for e in &events {
        after.evolve(e.clone());
    }
    let mut emit = |after: &mut MediaBatch, event: MediaBatchEvent| {
        after.evolve(event.clone());
        events.push(event);
    };
    for (client_id, outcome) in outcomes {
        let pending = after
            .batch
            .as_ref()
            .and_then(|b| b.asset(&client_id))
            .is_some_and(|a| a.progress == AssetProgress::Pending);
        if pending {
            let event = MediaBatchEvent::AssetProcessed(AssetProcessed {
                job_id: c.job_id,
                attempt: c.attempt,
                client_id,
                outcome,
                at: c.now,
            });
            emit(&mut after, event);
        }
    }

    // What the pipeline says of a failure is kept, but no longer than a person's reason.
    let reason = c.failure_reason.as_deref().map(|r| clip(r, MAX_REASON));
    // A finished job leaves no asset waiting: what it did not report, it did not process.
    if c.status != ResultStatus::Running {
        let (code, message) = match c.status {
            ResultStatus::Failed => (
                FailureCode::PipelineFailed.as_str(),
                reason
                    .clone()
                    .unwrap_or_else(|| "the pipeline reported a failure".into()),
            ),
            _ => (
                FailureCode::MissingOutput.as_str(),
                "the pipeline reported no output for this asset".into(),
            ),
        };
        let waiting: Vec<ClientId> = after
            .batch
            .iter()
            .flat_map(Batch::pending)
            .map(|a| a.file.file.client_id.clone())
            .collect();
        for client_id in waiting {
            let event = MediaBatchEvent::AssetProcessed(AssetProcessed {
                job_id: c.job_id,
                attempt: c.attempt,
                client_id,
                outcome: AssetOutcome::Failed {
                    error_code: code.into(),
                    error_message: message.clone(),
                },
                at: c.now,
            });
            emit(&mut after, event);
        }
    }

    let done = after.batch.as_ref().expect("the batch exists");
    if done.pending().next().is_none() {
        let failed = done.assets.iter().filter(|a| !a.succeeded()).count();
        let event = if failed == 0 && c.status != ResultStatus::Failed {
            MediaBatchEvent::Ready(Ready {
                job_id: c.job_id,
                attempt: c.attempt,
                at: c.now,
                zip,
            })
        } else {
            MediaBatchEvent::Failed(Failed {
                job_id: Some(c.job_id),
                attempt: c.attempt,
                code: if c.status == ResultStatus::Failed {
                    FailureCode::PipelineFailed
                } else {
                    FailureCode::AssetsFailed
                }
                .as_str()
                .into(),
                message: reason
                    .unwrap_or_else(|| format!("{failed} of {} assets failed", done.assets.len())),
                at: c.now,
            })
        };
        events.push(event);
    }
    Ok(events)
}

/// The reported ZIP of originals, as a key the batch may serve: only with `SUCCEEDED`, not
/// empty, and under the attempt's own ZIP prefix (any other well-formed key goes to `foreign`).
fn own_zip(
    b: &Batch,
    c: &RecordResult,
    problems: &mut Problems,
    foreign: &mut Vec<FieldError>,
) -> Option<BatchZip> {
    let zip = c.zip.as_ref()?;
    if c.status != ResultStatus::Succeeded {
        problems.add("zip", "is reported only with SUCCEEDED");
        return None;
    }
    if zip.bytes == 0 {
        problems.add("zip.bytes", "must be at least 1");
    }
    let key = problems.take("zip.objectKey", ObjectKey::parse(&zip.object_key))?;
    let prefix = RenditionPrefix::zip(b.listing_id, b.id, c.attempt);
    if !prefix.contains(&key) {
        let rule = format!("must lie under this attempt's {}", prefix.as_str());
        foreign.push(FieldError::new("zip.objectKey", rule));
        return None;
    }
    (zip.bytes > 0).then_some(BatchZip {
        object_key: key,
        bytes: zip.bytes,
    })
}

/// The renditions of one reported output, as keys the batch may serve: each under the
/// attempt's own prefix, and `original` the asset's own raw key. Malformed names or keys go to
/// `problems`; well-formed keys of anything else (another listing's, batch's or attempt's
/// objects) to `foreign`.
fn own_renditions(
    reported: &BTreeMap<String, String>,
    prefix: &RenditionPrefix,
    raw_key: &ObjectKey,
    at: &str,
    problems: &mut Problems,
    foreign: &mut Vec<FieldError>,
) -> BTreeMap<String, ObjectKey> {
    let mut renditions = BTreeMap::new();
    for (name, key) in reported {
        let field = format!("{at}.renditions.{}", clip(name, 32));
        let Some(name) = problems.take(field.clone(), RenditionName::parse(name)) else {
            continue;
        };
        let Some(key) = problems.take(field.clone(), ObjectKey::parse(key)) else {
            continue;
        };
        if name.is_original() && key != *raw_key {
            foreign.push(FieldError::new(field, "must be this asset's raw key"));
        } else if !name.is_original() && !prefix.contains(&key) {
            let rule = format!("must lie under this attempt's {}", prefix.as_str());
            foreign.push(FieldError::new(field, rule));
        } else {
            renditions.insert(name.as_str().to_owned(), key);
        }
    }
    renditions
}

fn retry(b: &Batch, c: Retry) -> Result<Vec<MediaBatchEvent>, MediaBatchError> {
    live(b)?;
    if let Some(e) = reason_problems(&c.reason) {
        return Err(e);
    }
    if !b.status.is_terminal() {
        return Err(MediaBatchError::NotTerminal {
            status: b.status.as_str(),
        });
    }
    if b.jobs.is_empty() {
        return Err(MediaBatchError::NothingToRetry);
    }
    if b.attempt() >= c.max_attempts {
        return Err(MediaBatchError::RetryLimitReached {
            max: c.max_attempts,
        });
    }
    let assets: Vec<ClientId> = b
        .assets
        .iter()
        .filter(|a| c.scope == RetryScope::All || !a.succeeded())
        .map(|a| a.file.file.client_id.clone())
        .collect();
    if assets.is_empty() {
        return Err(MediaBatchError::NothingToRetry);
    }
    Ok(vec![MediaBatchEvent::RetryRequested(RetryRequested {
        job_id: c.job_id,
        attempt: b.attempt() + 1,
        scope: c.scope,
        reason: c.reason.trim().to_owned(),
        assets,
        automatic: false,
        at: c.now,
    })])
}

fn replace(b: &Batch, c: ReplaceFiles) -> Result<Vec<MediaBatchEvent>, MediaBatchError> {
    live(b)?;
    if b.status != BatchStatus::Failed {
        return Err(MediaBatchError::NotReplaceable {
            reason: format!(
                "the batch is {}: only a FAILED batch's files can be replaced",
                b.status.as_str()
            ),
            client_ids: vec![],
        });
    }
    let mut problems = Problems::default();
    let mut processed = Vec::new();
    for (i, file) in c.files.iter().enumerate() {
        let at = format!("files[{i}]");
        let Some(asset) = b.asset(&file.client_id) else {
            problems.add(format!("{at}.clientId"), "is not in this batch");
            continue;
        };
        let old = &asset.file.file;
        if file.sequence != old.sequence {
            let rule = format!(
                "must be the replaced file's sequence, {}",
                old.sequence.get()
            );
            problems.add(format!("{at}.sequence"), rule);
        }
        if file.asset_type != old.asset_type {
            let rule = format!(
                "must be the replaced file's type, {}",
                old.asset_type.as_str()
            );
            problems.add(format!("{at}.assetType"), rule);
        }
        let title = file.title.as_deref();
        let taken = b.assets.iter().any(|a| {
            a.file.file.client_id != file.client_id
                && title.is_some()
                && a.file.file.title.as_deref() == title
        });
        if taken {
            problems.add(
                format!("{at}.title"),
                "is another file's title in this batch",
            );
        }
        if asset.succeeded() {
            processed.push(file.client_id.clone());
        }
    }
    let total: u64 = b
        .assets
        .iter()
        .map(|a| {
            let id = &a.file.file.client_id;
            c.files
                .iter()
                .find(|f| &f.client_id == id)
                .map_or(a.file.file.bytes, |f| f.bytes)
        })
        .sum();
    if total > c.max_total_bytes {
        let rule = format!(
            "the batch would total {total} bytes, over the limit of {} bytes",
            c.max_total_bytes
        );
        problems.add("files", rule);
    }
    problems
        .into_result(|| ())
        .map_err(MediaBatchError::Invalid)?;
    if !processed.is_empty() {
        return Err(MediaBatchError::NotReplaceable {
            reason: format!("{} of the files are processed already", processed.len()),
            client_ids: processed,
        });
    }
    if b.attempt() >= c.max_attempts {
        return Err(MediaBatchError::RetryLimitReached {
            max: c.max_attempts,
        });
    }
    let replacement = b.replacements + 1;
    let files = c
        .files
        .into_iter()
        .map(|file| RequestedFile {
            raw_key: ObjectKey::raw_replacement(
                b.listing_id,
                file.asset_type,
                b.id,
                replacement,
                file.sequence,
                &file.client_id,
                &file.filename,
            ),
            file,
        })
        .collect();
    Ok(vec![MediaBatchEvent::FilesReplaced(FilesReplaced {
        replacement,
        files,
        upload_expires_at: c.now + c.upload_ttl,
        at: c.now,
    })])
}

fn delete(b: &Batch, c: Delete) -> Result<Vec<MediaBatchEvent>, MediaBatchError> {
    live(b)?;
    if let Some(e) = reason_problems(&c.reason) {
        return Err(e);
    }
    if b.status == BatchStatus::Processing {
        return Err(MediaBatchError::Processing);
    }
    Ok(vec![MediaBatchEvent::Deleted(Deleted {
        reason: c.reason.trim().to_owned(),
        at: c.now,
    })])
}

fn expire(b: &Batch, c: ExpireUpload) -> Vec<MediaBatchEvent> {
    if b.deleted || b.status != BatchStatus::PendingUpload || c.now <= b.upload_expires_at + c.grace
    {
        return vec![];
    }
    vec![MediaBatchEvent::Failed(Failed {
        job_id: None,
        attempt: b.attempt(),
        code: FailureCode::UploadExpired.as_str().into(),
        message: format!(
            "uploads were not completed by {}",
            b.upload_expires_at + c.grace
        ),
        at: c.now,
    })]
}

fn time_out(b: &Batch, c: TimeOutJob) -> Vec<MediaBatchEvent> {
    let running = matches!(b.status, BatchStatus::Received | BatchStatus::Processing);
    if b.deleted || !running || c.now <= b.last_progress_at + c.timeout {
        return vec![];
    }
    if b.attempt() < c.max_attempts {
        let assets = b
            .assets
            .iter()
            .filter(|a| !a.succeeded())
            .map(|a| a.file.file.client_id.clone())
            .collect();
        return vec![MediaBatchEvent::RetryRequested(RetryRequested {
            job_id: c.next_job_id,
            attempt: b.attempt() + 1,
            scope: RetryScope::FailedOnly,
            reason: FailureCode::JobTimeout.as_str().into(),
            assets,
            automatic: true,
            at: c.now,
        })];
    }
    vec![MediaBatchEvent::Failed(Failed {
        job_id: b.current_job(),
        attempt: b.attempt(),
        code: FailureCode::JobTimeout.as_str().into(),
        message: format!("no result within {} seconds", c.timeout.num_seconds()),
        at: c.now,
    })]
}
