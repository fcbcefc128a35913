//! Configuration from `TOQ_MEDIA_*` environment variables; with none set, everything runs
//! embedded under `./data`, with secrets generated once and kept there.

use std::path::PathBuf;

use aggregates::Limits;
use anyhow::Context;
use chrono::Duration;

mod secrets;
pub use secrets::{Secrets, new_audit_key};

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub limits: Limits,
    pub upload_url_ttl: Duration,
    pub download_url_ttl: Duration,
    pub max_attempts: u32,
    pub job_timeout: Duration,
    pub upload_grace: Duration,
    /// The longest a JWT may live, from its `iat` (`TOQ_MEDIA_JWT_MAX_LIFETIME_SECONDS`).
    pub jwt_max_lifetime: Duration,
    /// Where `/metrics` is served: with the API when unset, else only on this address
    /// (`TOQ_MEDIA_METRICS_BIND`), for deployments that must not expose it publicly.
    pub metrics_bind: Option<String>,
    /// Owners may upload project media (PROJECT_DOC / PROJECT_RENDER) on listings that allow it.
    pub owner_project_media: bool,
    /// Whether `serve` runs the built-in worker (`TOQ_MEDIA_WORKER`).
    pub worker: WorkerMode,
    /// Jobs (and images) the built-in worker handles at once (`TOQ_MEDIA_WORKER_CONCURRENCY`).
    pub worker_concurrency: usize,
    /// MiB the built-in worker's image renders may hold together, by their header estimates
    /// (`TOQ_MEDIA_WORKER_MEMORY_BUDGET_MB`).
    pub worker_memory_budget_mb: u32,
    /// Videos the built-in worker probes and transcodes at once, in their own lane beside the
    /// photos (`TOQ_MEDIA_WORKER_VIDEO_CONCURRENCY`).
    pub worker_video_concurrency: usize,
    /// Longer videos fail with `VIDEO_TOO_LONG` (`TOQ_MEDIA_VIDEO_MAX_SECONDS`).
    pub video_max_duration: std::time::Duration,
    /// Wall-clock limit of one ffmpeg or pdftoppm run (`TOQ_MEDIA_TOOL_TIMEOUT_SECONDS`).
    pub tool_timeout: std::time::Duration,
    /// How long a job a worker took stays hidden from others without a heartbeat: how soon
    /// the job of a worker that died is picked up again (`TOQ_MEDIA_WORKER_VISIBILITY_SECONDS`).
    pub worker_visibility: std::time::Duration,
    /// Where objects live (`TOQ_MEDIA_STORAGE`).
    pub storage: StorageBackend,
    /// What carries jobs, results and listing events (`TOQ_MEDIA_QUEUE`).
    pub queue: QueueBackend,
    /// How often `serve` signs an audit checkpoint (`TOQ_MEDIA_AUDIT_CHECKPOINT_SECONDS`,
    /// 0 for never).
    pub audit_checkpoint_every: Option<std::time::Duration>,
}

/// `local`: a directory under the data dir, served by the api. `s3`: an S3 bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageBackend {
    Local,
    S3(S3Config),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// An S3-compatible endpoint instead of AWS's (emulators, MinIO).
    pub endpoint: Option<String>,
    /// Bucket in the path rather than the host name; on by default with a custom endpoint.
    pub path_style: bool,
}

/// `local`: the table queue in the database. `sqs`: Amazon SQS queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueBackend {
    Local,
    Sqs(SqsConfig),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsConfig {
    pub jobs_url: String,
    /// Jobs of a second or later attempt go here when set, else to `jobs_url`.
    pub retry_url: Option<String>,
    /// Pipeline results to apply; when set, the built-in worker also reports here.
    pub results_url: Option<String>,
    /// Where unreadable results are moved aside; without it they stay on the results queue
    /// until its redrive policy moves them.
    pub results_dlq_url: Option<String>,
    /// `listing.status_changed` messages for the platform; without it they stay in the
    /// database's table queue.
    pub listing_events_url: Option<String>,
    pub endpoint: Option<String>,
    /// Long-polling wait of a receive, 0–20 s.
    pub wait_seconds: i32,
}

impl StorageBackend {
    /// For the start-up banner.
    pub fn describe(&self) -> String {
        match self {
            Self::Local => "local directory, served by this api".into(),
            Self::S3(s3) => format!(
                "S3 bucket {}{}",
                s3.bucket,
                s3.endpoint
                    .as_ref()
                    .map_or_else(String::new, |e| format!(" at {e}"))
            ),
        }
    }

    fn from_env() -> anyhow::Result<Self> {
        match var("STORAGE").as_deref() {
            None | Some("local") => Ok(Self::Local),
            Some("s3") => {
                let endpoint = var("S3_ENDPOINT");
                Ok(Self::S3(S3Config {
                    bucket: required("S3_BUCKET", "TOQ_MEDIA_STORAGE=s3")?,
                    path_style: match var("S3_PATH_STYLE").as_deref() {
                        None => endpoint.is_some(),
                        Some("true") => true,
                        Some("false") => false,
                        Some(other) => {
                            anyhow::bail!(
                                "TOQ_MEDIA_S3_PATH_STYLE={other:?}: expected true or false"
                            )
                        }
                    },
                    endpoint,
                }))
            }
            Some(other) => anyhow::bail!("TOQ_MEDIA_STORAGE={other:?}: expected local or s3"),
        }
    }
}

impl QueueBackend {
    /// For the start-up banner.
    pub fn describe(&self) -> String {
        match self {
            Self::Local => "table queue in the database".into(),
            Self::Sqs(sqs) => format!(
                "SQS jobs {}{}",
                sqs.jobs_url,
                sqs.results_url
                    .as_ref()
                    .map_or_else(String::new, |r| format!(", results {r}"))
            ),
        }
    }

    fn from_env() -> anyhow::Result<Self> {
        match var("QUEUE").as_deref() {
            None | Some("local") => Ok(Self::Local),
            Some("sqs") => Ok(Self::Sqs(SqsConfig {
                jobs_url: required("SQS_JOBS_URL", "TOQ_MEDIA_QUEUE=sqs")?,
                retry_url: var("SQS_RETRY_URL"),
                results_url: var("SQS_RESULTS_URL"),
                results_dlq_url: var("SQS_RESULTS_DLQ_URL"),
                listing_events_url: var("SQS_LISTING_EVENTS_URL"),
                endpoint: var("SQS_ENDPOINT"),
                wait_seconds: match number("SQS_WAIT_SECONDS", 20)? {
                    n @ 0..=20 => n,
                    n => anyhow::bail!("TOQ_MEDIA_SQS_WAIT_SECONDS={n}: SQS allows 0 to 20"),
                },
            })),
            Some(other) => anyhow::bail!("TOQ_MEDIA_QUEUE={other:?}: expected local or sqs"),
        }
    }
}

fn required(name: &str, because: &str) -> anyhow::Result<String> {
    var(name).with_context(|| format!("{because} needs TOQ_MEDIA_{name}"))
}

/// `embedded`: `serve` processes jobs itself. `off`: an external pipeline or a separate
/// `toq-media worker` does, so api processes can scale apart from the CPU-heavy work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerMode {
    Embedded,
    Off,
}

impl WorkerMode {
    fn from_env() -> anyhow::Result<Self> {
        match var("WORKER").as_deref() {
            None | Some("embedded") => Ok(Self::Embedded),
            Some("off") => Ok(Self::Off),
            Some(other) => anyhow::bail!("TOQ_MEDIA_WORKER={other:?}: expected embedded or off"),
        }
    }
}

/// One job per core by default: image work is CPU-bound, so more only queues inside the process.
fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn var(name: &str) -> Option<String> {
    std::env::var(format!("TOQ_MEDIA_{name}"))
        .ok()
        .filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .with_context(|| format!("TOQ_MEDIA_{name}={v:?} is not a number")),
    }
}

fn seconds(name: &str, default: i64) -> anyhow::Result<Duration> {
    Ok(Duration::seconds(number(name, default)?))
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let data_dir = var("DATA_DIR").map_or_else(|| PathBuf::from("data"), PathBuf::from);
        let bind = var("BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let public_url = var("PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}"));
        let database_url = var("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}/toq-media.db?mode=rwc", data_dir.display()));
        let defaults = Limits::default();
        Ok(Self {
            limits: Limits {
                max_files_per_batch: number("MAX_FILES_PER_BATCH", defaults.max_files_per_batch)?,
                max_file_bytes: number("MAX_FILE_BYTES", defaults.max_file_bytes)?,
                max_total_bytes: number("MAX_TOTAL_BYTES", defaults.max_total_bytes)?,
                allowed_content_types: defaults.allowed_content_types,
            },
            upload_url_ttl: seconds("UPLOAD_URL_TTL_SECONDS", 900)?,
            download_url_ttl: seconds("DOWNLOAD_URL_TTL_SECONDS", 3600)?,
            max_attempts: number("MAX_ATTEMPTS", 5)?,
            job_timeout: seconds("JOB_TIMEOUT_SECONDS", 1800)?,
            upload_grace: seconds("UPLOAD_GRACE_SECONDS", 86_400)?,
            jwt_max_lifetime: match seconds("JWT_MAX_LIFETIME_SECONDS", 86_400)? {
                d if d <= Duration::zero() => {
                    anyhow::bail!("TOQ_MEDIA_JWT_MAX_LIFETIME_SECONDS must be at least 1")
                }
                d => d,
            },
            metrics_bind: var("METRICS_BIND"),
            owner_project_media: var("OWNER_PROJECT_MEDIA").is_none_or(|v| v != "false"),
            worker: WorkerMode::from_env()?,
            worker_concurrency: match number("WORKER_CONCURRENCY", default_concurrency())? {
                0 => anyhow::bail!("TOQ_MEDIA_WORKER_CONCURRENCY must be at least 1"),
                n => n,
            },
            worker_memory_budget_mb: match number("WORKER_MEMORY_BUDGET_MB", 512u32)? {
                0 => anyhow::bail!("TOQ_MEDIA_WORKER_MEMORY_BUDGET_MB must be at least 1"),
                n => n,
            },
            worker_video_concurrency: match number("WORKER_VIDEO_CONCURRENCY", 1usize)? {
                0 => anyhow::bail!("TOQ_MEDIA_WORKER_VIDEO_CONCURRENCY must be at least 1"),
                n => n,
            },
            video_max_duration: match number("VIDEO_MAX_SECONDS", 600u64)? {
                0 => anyhow::bail!("TOQ_MEDIA_VIDEO_MAX_SECONDS must be at least 1"),
                n => std::time::Duration::from_secs(n),
            },
            tool_timeout: match number("TOOL_TIMEOUT_SECONDS", 1800u64)? {
                0 => anyhow::bail!("TOQ_MEDIA_TOOL_TIMEOUT_SECONDS must be at least 1"),
                n => std::time::Duration::from_secs(n),
            },
            worker_visibility: match number("WORKER_VISIBILITY_SECONDS", 60u64)? {
                0 => anyhow::bail!("TOQ_MEDIA_WORKER_VISIBILITY_SECONDS must be at least 1"),
                n => std::time::Duration::from_secs(n),
            },
            storage: StorageBackend::from_env()?,
            queue: QueueBackend::from_env()?,
            audit_checkpoint_every: match number("AUDIT_CHECKPOINT_SECONDS", 600u64)? {
                0 => None,
                n => Some(std::time::Duration::from_secs(n)),
            },
            bind,
            public_url: public_url.trim_end_matches('/').to_owned(),
            data_dir,
            database_url,
        })
    }

    /// Creates the data directory when the embedded database or object store lives there.
    pub fn prepare(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
    }

    pub fn objects_dir(&self) -> PathBuf {
        self.data_dir.join("objects")
    }
}
