//! A synthetic, seeded workload of valid and invalid commands over many listings and batches:
//! the property test, the crash test and the store benchmark all drive the store with it.

use std::collections::BTreeMap;

use aggregates::*;
use chrono::{Duration, Utc};
use indicatif::ProgressBar;

use crate::engine::{Actor, CommandError, Engine};
use crate::process::ready_listing;
use crate::store::StoreError;

/// SplitMix64: small, seedable, good enough to pick actions.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub commands: u64,
    pub accepted: u64,
    pub refused: u64,
}

pub struct Workload<'e> {
    engine: &'e Engine,
    rng: Rng,
    listings: u64,
    batches: Vec<BatchId>,
    pub stats: Stats,
}

fn checksum_of(client: &str) -> Checksum {
    use sha2::Digest as _;
    Checksum::from_bytes(sha2::Sha256::digest(client.as_bytes()).into())
}

/// A manifest of `files` photos; file `i` has `1000 + i` bytes and the SHA-256 of its client id.
pub fn manifest(files: usize) -> RawManifest {
    RawManifest {
        batch_reference: Some("session".into()),
        files: Some(
            (1..=files)
                .map(|i| RawFile {
                    client_id: Some(format!("photo-{i}")),
                    asset_type: Some("PHOTO_HORIZONTAL".into()),
                    orientation: None,
                    filename: Some(format!("IMG_{i:04}.jpg")),
                    content_type: Some("image/jpeg".into()),
                    bytes: Some(1000 + i as u64),
                    checksum: Some(checksum_of(&format!("photo-{i}")).to_hex()),
                    title: Some(format!("Room {i}")),
                    sequence: Some(i as i64),
                    metadata: None,
                })
                .collect(),
        ),
    }
}

impl<'e> Workload<'e> {
    /// Picks up the batches already in the store, so a restarted run goes on with them.
    pub async fn resume(engine: &'e Engine, seed: u64, listings: u64) -> Result<Self, StoreError> {
        let batches = engine.store().batch_ids().await?;
        Ok(Self {
            engine,
            rng: Rng::new(seed),
            listings: listings.max(1),
            batches,
            stats: Stats::default(),
        })
    }

    pub async fn run(&mut self, steps: u64, progress: &ProgressBar) -> Result<Stats, CommandError> {
        for _ in 0..steps {
            self.step().await?;
            progress.inc(1);
        }
        Ok(self.stats)
    }

    fn count<T>(&mut self, result: Result<T, CommandError>) -> Result<(), CommandError> {
        self.stats.commands += 1;
        match result {
            Ok(_) => self.stats.accepted += 1,
            Err(CommandError::Store(e)) => return Err(CommandError::Store(e)),
            Err(CommandError::Contended(e)) => return Err(CommandError::Contended(e)),
            Err(_) => self.stats.refused += 1,
        }
        Ok(())
    }

    pub async fn step(&mut self) -> Result<(), CommandError> {
        let roll = self.rng.below(100);
        let actor = Actor {
            user_id: Some(self.rng.below(5) + 1),
            role: "photographer".into(),
            request_id: Some(format!("req-{}", self.rng.next_u64() % 1_000_000)),
            traceparent: None,
        };
        let now = Utc::now();
        if roll < 12 {
            let listing = ListingId::parse(self.rng.below(self.listings) + 1).expect("positive");
            let status = [
                "PENDING_PHOTO_PROCESSING",
                "PENDING_PHOTO_PROCESSING",
                "REJECTED_BY_OWNER",
                "DRAFT",
            ][self.rng.below(4) as usize];
            let facts = ListingFacts {
                status: ListingStatus::parse(status).expect("a valid status"),
                owner_user_id: 100,
                photographer_user_id: Some(self.rng.below(5) + 1),
                project_media: self.rng.chance(20),
            };
            let r = self
                .engine
                .listing(
                    listing,
                    ListingCommand::Sync {
                        listing_id: listing,
                        facts,
                        now,
                    },
                    &actor,
                )
                .await;
            return self.count(r);
        }
        if roll < 32 || self.batches.is_empty() {
            return self.create(now, &actor).await;
        }
        let batch_id = self.batches[self.rng.below(self.batches.len() as u64) as usize];
        let state = self.engine.batch_state(batch_id).await?;
        let Some(batch) = state.batch else {
            return Ok(());
        };
        let command = match roll {
            32..=49 => self.confirm(&batch, now),
            50..=59 => MediaBatchCommand::StartProcessing(StartProcessing {
                job_id: batch.current_job().unwrap_or_else(JobId::generate),
                now,
            }),
            60..=84 => self.result(&batch, now),
            85..=91 => MediaBatchCommand::Retry(Retry {
                job_id: JobId::generate(),
                scope: if self.rng.chance(50) {
                    RetryScope::All
                } else {
                    RetryScope::FailedOnly
                },
                reason: if self.rng.chance(10) {
                    String::new()
                } else {
                    "reshoot".into()
                },
                max_attempts: 4,
                now,
            }),
            92..=94 => MediaBatchCommand::Delete(Delete {
                reason: "duplicate session".into(),
                now,
            }),
            95..=97 => MediaBatchCommand::ExpireUpload(ExpireUpload {
                grace: Duration::hours(24),
                now: now + Duration::days(2),
            }),
            _ => MediaBatchCommand::TimeOutJob(TimeOutJob {
                timeout: Duration::minutes(30),
                max_attempts: 4,
                next_job_id: JobId::generate(),
                now: now + Duration::hours(1),
            }),
        };
        let r = self.engine.batch(batch_id, command, &actor).await;
        self.count(r)?;
        ready_listing::catch_up(self.engine).await?;
        Ok(())
    }

    async fn create(
        &mut self,
        now: chrono::DateTime<Utc>,
        actor: &Actor,
    ) -> Result<(), CommandError> {
        let listing = ListingId::parse(self.rng.below(self.listings) + 1).expect("positive");
        let mut raw = manifest(1 + self.rng.below(6) as usize);
        if self.rng.chance(10) {
            raw.batch_reference = Some(String::new());
        }
        let Ok(manifest) = Manifest::parse(&raw, &Limits::default()) else {
            self.stats.commands += 1;
            self.stats.refused += 1;
            return Ok(());
        };
        let status = self.engine.listing_status(listing).await?;
        let batch_id = BatchId::generate();
        let command = MediaBatchCommand::RequestUploads(RequestUploads {
            batch_id,
            listing_id: listing,
            listing_status: status.unwrap_or_else(|| ListingStatus::named("DRAFT")),
            manifest,
            upload_ttl: Duration::minutes(15),
            now,
        });
        let r = self.engine.batch(batch_id, command, actor).await;
        if r.is_ok() {
            self.batches.push(batch_id);
        }
        self.count(r)
    }

    fn confirm(&mut self, batch: &Batch, now: chrono::DateTime<Utc>) -> MediaBatchCommand {
        let tamper = self.rng.chance(15);
        let stored: BTreeMap<ClientId, Option<StoredObject>> = batch
            .assets
            .iter()
            .map(|a| {
                let f = &a.file.file;
                let bytes = if tamper { f.bytes + 1 } else { f.bytes };
                (
                    f.client_id.clone(),
                    Some(StoredObject {
                        bytes,
                        checksum: f.checksum,
                    }),
                )
            })
            .collect();
        MediaBatchCommand::ConfirmUploads(ConfirmUploads {
            files: batch
                .assets
                .iter()
                .map(|a| RawConfirmedFile {
                    client_id: Some(a.file.file.client_id.to_string()),
                    etag: Some("\"etag\"".into()),
                    ..RawConfirmedFile::default()
                })
                .collect(),
            stored,
            job_id: JobId::generate(),
            grace: Duration::hours(24),
            now,
        })
    }

    fn result(&mut self, batch: &Batch, now: chrono::DateTime<Utc>) -> MediaBatchCommand {
        let stale = self.rng.chance(10) && batch.attempt() > 1;
        let attempt = if stale {
            batch.attempt() - 1
        } else {
            batch.attempt().max(1)
        };
        let job_id = batch
            .jobs
            .get(attempt as usize - 1)
            .copied()
            .unwrap_or_else(JobId::generate);
        let rng = &mut self.rng;
        let outputs = batch
            .pending()
            .filter_map(|a| {
                if !rng.chance(70) {
                    return None;
                }
                let client = a.file.file.client_id.to_string();
                let output = if rng.chance(15) {
                    AssetOutput {
                        client_id: client,
                        error_code: Some(FailureCode::DecodeFailed.as_str().into()),
                        error_message: Some("truncated JPEG".into()),
                        ..AssetOutput::default()
                    }
                } else {
                    AssetOutput {
                        renditions: BTreeMap::from([(
                            "large".to_owned(),
                            RenditionPrefix::new(
                                batch.listing_id,
                                a.file.file.asset_type,
                                batch.id,
                                attempt,
                            )
                            .key("large", a.file.file.sequence, &a.file.file.client_id, "jpg")
                            .to_string(),
                        )]),
                        width: Some(1920),
                        height: Some(1280),
                        client_id: client,
                        ..AssetOutput::default()
                    }
                };
                Some(output)
            })
            .collect();
        let status = match self.rng.below(10) {
            0 => ResultStatus::Failed,
            1..=3 => ResultStatus::Succeeded,
            _ => ResultStatus::Running,
        };
        MediaBatchCommand::RecordResult(RecordResult {
            job_id,
            attempt,
            status,
            outputs,
            zip: None,
            failure_reason: None,
            now,
        })
    }
}
