//! What the photo benches share.

use std::path::{Path, PathBuf};

/// The JPEGs of `dir`, in name order.
pub fn jpegs(dir: &Path) -> Vec<Vec<u8>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the photo folder exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read(p).expect("readable"))
        .collect()
}
