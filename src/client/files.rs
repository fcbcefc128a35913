//! The files a photographer hands the uploader, as manifest entries (API.md §1): kind from
//! the extension, orientation from the upright size, SHA-256 read in pieces.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

/// How much of a photo is read to find its size and EXIF orientation.
const HEADER_BYTES: u64 = 1 << 20;

/// One file to upload.
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub path: PathBuf,
    pub client_id: String,
    pub sequence: usize,
    pub content_type: &'static str,
    pub asset_type: &'static str,
    pub bytes: u64,
    pub checksum: String,
}

impl LocalFile {
    /// The manifest entry of API.md §1.
    pub fn entry(&self) -> Value {
        let filename = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        json!({"clientId": self.client_id, "assetType": self.asset_type, "filename": filename,
               "contentType": self.content_type, "bytes": self.bytes, "checksum": self.checksum,
               "sequence": self.sequence})
    }
}

/// The files named, a directory standing for its files (not its subdirectories), in name order.
pub fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading {}", path.display()))?
                .map(|entry| entry.map(|e| e.path()))
                .collect::<Result<_, _>>()?;
            inside.retain(|p| p.is_file());
            inside.sort();
            files.extend(inside);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            bail!("{} is neither a file nor a directory", path.display());
        }
    }
    if files.is_empty() {
        bail!("no files to upload");
    }
    Ok(files)
}

/// The content type the server allows for a file's extension.
fn content_type(path: &Path) -> anyhow::Result<&'static str> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    Ok(match extension.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "heic" | "heif" => "image/heic",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "pdf" => "application/pdf",
        _ => bail!(
            "{}: not a photo, video or PDF the service takes (jpg, png, webp, heic, mp4, mov, pdf)",
            path.display()
        ),
    })
}

/// A client id the server accepts (≤ 64 characters) that says which file it is.
fn client_id(sequence: usize, path: &Path) -> String {
    let stem: String = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(56)
        .collect();
    format!("{sequence:02}-{stem}")
}

/// Portrait photos are `PHOTO_VERTICAL`, the rest `PHOTO_HORIZONTAL` (one whose header cannot be
/// read is left for the server's worker to refuse with its code).
async fn photo_type(path: &Path, content_type: &str) -> anyhow::Result<&'static str> {
    let mut header = Vec::new();
    tokio::fs::File::open(path)
        .await?
        .take(HEADER_BYTES)
        .read_to_end(&mut header)
        .await?;
    let options = toq_imaging::ImageOptions::default();
    let upright = toq_imaging::inspect(&header, content_type, &options).map(|i| i.size());
    Ok(match upright {
        Ok((width, height)) if height > width => "PHOTO_VERTICAL",
        _ => "PHOTO_HORIZONTAL",
    })
}

/// Hashes and classifies `paths`, numbering them in order.
pub async fn describe(paths: &[PathBuf], hashed: impl Fn(u64)) -> anyhow::Result<Vec<LocalFile>> {
    let mut files = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        let sequence = i + 1;
        let content_type = content_type(path)?;
        let asset_type = match content_type.split('/').next() {
            Some("image") => photo_type(path, content_type).await?,
            Some("video") => "VIDEO_HORIZONTAL",
            _ => "PROJECT_DOC",
        };
        let file = tokio::fs::File::open(path)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        let stored = crate::storage::hash_file_counting(file, &hashed)
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        files.push(LocalFile {
            path: path.clone(),
            client_id: client_id(sequence, path),
            sequence,
            content_type,
            asset_type,
            bytes: stored.bytes,
            checksum: stored.checksum.to_hex(),
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_short_and_safe() {
        assert_eq!(client_id(3, Path::new("/a/IMG 2907.JPG")), "03-IMG-2907");
        let long = "x".repeat(300);
        assert_eq!(client_id(1, Path::new(&long)).len(), 59);
    }

    #[test]
    fn only_what_the_service_takes() {
        assert_eq!(content_type(Path::new("a.JPG")).unwrap(), "image/jpeg");
        assert_eq!(
            content_type(Path::new("tour.mov")).unwrap(),
            "video/quicktime"
        );
        assert!(content_type(Path::new("notes.txt")).is_err());
    }
}
