//! PDF previews through real pdfinfo and pdftoppm.

mod common;
#[path = "common/luma.rs"]
mod luma;

use common::{fixture, out_dir, toolbox};
use luma::luma_variance;
use toq_tools::{FailureCode, Limits};

#[tokio::test]
async fn previews_the_first_page() {
    let preview = toolbox(Limits::default())
        .pdf_preview(&fixture("doc.pdf"), 1000)
        .await
        .unwrap();
    assert_eq!(preview.pages, 2);
    let page = image::load_from_memory_with_format(&preview.png, image::ImageFormat::Png).unwrap();
    // A US Letter page, 612×792 pt.
    assert_eq!((page.width(), page.height()), (773, 1000));
    assert!(luma_variance(&page) > 100.0, "a blank page");
}

#[tokio::test]
async fn a_password_protected_pdf_is_encrypted() {
    let err = toolbox(Limits::default())
        .pdf_preview(&fixture("encrypted.pdf"), 1000)
        .await
        .unwrap_err();
    assert_eq!(err.code, FailureCode::DocumentEncrypted, "{err}");
}

#[tokio::test]
async fn a_broken_pdf_is_a_decode_failure() {
    let out = out_dir();
    let broken = out.path().join("broken.pdf");
    std::fs::write(&broken, b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage\n").unwrap();
    let err = toolbox(Limits::default())
        .pdf_preview(&broken, 1000)
        .await
        .unwrap_err();
    assert_eq!(err.code, FailureCode::DecodeFailed, "{err}");
}

#[tokio::test]
async fn a_non_pdf_is_unsupported() {
    let err = toolbox(Limits::default())
        .pdf_preview(&fixture("h264.mp4"), 1000)
        .await
        .unwrap_err();
    assert_eq!(err.code, FailureCode::UnsupportedMedia, "{err}");
}
