//! Configuration from `TOQ_MEDIA_*` environment variables; with none set, everything runs
//! embedded under `./data`.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
}

impl Config {
    pub fn from_env() -> Self {
        let data_dir = std::env::var_os("TOQ_MEDIA_DATA_DIR")
            .map_or_else(|| PathBuf::from("data"), PathBuf::from);
        let database_url = std::env::var("TOQ_MEDIA_DATABASE_URL")
            .unwrap_or_else(|_| format!("sqlite://{}/toq-media.db?mode=rwc", data_dir.display()));
        Self {
            data_dir,
            database_url,
        }
    }

    /// Creates the data directory when the embedded SQLite database lives there.
    pub fn prepare(&self) -> std::io::Result<()> {
        if self.database_url.starts_with("sqlite:") {
            std::fs::create_dir_all(&self.data_dir)?;
        }
        Ok(())
    }
}
