//! PDF previews: the page count and the first page as a PNG.

use std::ffi::OsString;
use std::path::Path;

use aggregates::FailureCode;

use crate::args::{absolute, os};
use crate::sandbox::{self, Limits, ToolError};
use crate::{Failure, failure};

/// A rendered first page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfPreview {
    /// The first page, its long edge the requested one (pages are vectors: scaling up is
    /// rendering at a higher resolution, not upscaling pixels).
    pub png: Vec<u8>,
    pub pages: u32,
}

/// What poppler says when the document needs a user password.
const WRONG_PASSWORD: &str = "Incorrect password";

pub(crate) async fn preview(
    pdfinfo: &Path,
    pdftoppm: &Path,
    input: &Path,
    long_edge: u32,
    limits: &Limits,
) -> Result<PdfPreview, Failure> {
    let file = OsString::from(absolute(input)?);
    let info = sandbox::run("pdfinfo", pdfinfo, std::slice::from_ref(&file), limits)
        .await
        .map_err(encrypted_or_broken)?;
    let pages = pages(&String::from_utf8_lossy(&info))
        .ok_or_else(|| failure(FailureCode::DecodeFailed, "a PDF without pages"))?;
    let scale = long_edge.to_string();
    let mut command = os(&[
        "-f",
        "1",
        "-l",
        "1",
        "-png",
        "-singlefile",
        "-scale-to",
        &scale,
    ]);
    // Without an output root, pdftoppm writes the page to stdout.
    command.push(file);
    let png = sandbox::run("pdftoppm", pdftoppm, &command, limits)
        .await
        .map_err(encrypted_or_broken)?;
    Ok(PdfPreview { png, pages })
}

fn encrypted_or_broken(error: ToolError) -> Failure {
    match &error {
        ToolError::Exited { stderr, .. } if stderr.contains(WRONG_PASSWORD) => failure(
            FailureCode::DocumentEncrypted,
            "the document needs a password",
        ),
        _ => error.into(),
    }
}

/// The `Pages:` line of pdfinfo's output.
fn pages(info: &str) -> Option<u32> {
    info.lines()
        .find_map(|line| line.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_page_count() {
        let info = "Producer: qpdf\nPages:           12\nEncrypted:       no\n";
        assert_eq!(super::pages(info), Some(12));
        assert_eq!(super::pages("Pages: 0\n"), None);
        assert_eq!(super::pages("Title: Pages: 3\n"), None);
    }
}
