//! What the photo benches share.

use std::path::{Path, PathBuf};

/// The files of `dir` named `*.{extension}`, in name order.
pub fn files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the photo folder exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    names.sort();
    names
}

/// The JPEGs of `dir`, in name order.
#[allow(dead_code)] // the HEIC bench lists its files only
pub fn jpegs(dir: &Path) -> Vec<Vec<u8>> {
    files(dir, "jpg")
        .iter()
        .map(|p| std::fs::read(p).expect("readable"))
        .collect()
}
