//! ffprobe, ffmpeg, pdfinfo, pdftoppm and heif-convert as sandboxed child processes for the
//! built-in worker: video probes, poster frames, the `web` rendition, PDF previews and HEIF
//! photos.
//!
//! Every file is sniffed by its first bytes before a tool sees it (`sniff`), every ffmpeg
//! input is read through the forced `mov` demuxer with only the `file` protocol allowed, and
//! every run is contained by rlimits, an empty environment and a wall-clock timeout that
//! kills its process group (`sandbox`). Failures carry the per-asset codes of the API.

mod args;
mod fit;
mod heif;
mod pdf;
mod poster;
mod probe;
mod sandbox;
mod sniff;
mod toolbox;
mod web;

pub use aggregates::FailureCode;
pub use pdf::PdfPreview;
pub use poster::Frame;
pub use probe::{VideoInfo, VideoLimits};
pub use sandbox::Limits;
pub use toolbox::Toolbox;
pub use toq_imaging::Failure;
pub use web::WebMode;

fn failure(code: FailureCode, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}
