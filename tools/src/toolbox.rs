//! The tools found on this machine, and the operations built on them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use aggregates::FailureCode;

use crate::args::{self, os};
use crate::sandbox::{self, Limits};
use crate::{
    Failure, Frame, PdfPreview, VideoInfo, VideoLimits, WebMode, failure, heif, pdf, poster, sniff,
    web,
};

/// Absolute paths of the tools, found once at start-up, and the limits every run gets.
///
/// A missing tool is not an error here: the worker warns and passes videos (or PDFs) through
/// without renditions; an operation needing it fails with `UNSUPPORTED_MEDIA`.
#[derive(Debug, Clone)]
pub struct Toolbox {
    ffmpeg: Option<PathBuf>,
    ffprobe: Option<PathBuf>,
    pdfinfo: Option<PathBuf>,
    pdftoppm: Option<PathBuf>,
    heif_convert: Option<PathBuf>,
    limits: Limits,
}

impl Toolbox {
    /// Looks the tools up in the absolute directories of `PATH` (a relative entry would make
    /// the tool depend on the working directory).
    pub fn discover(limits: Limits) -> Self {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let find = |name: &str| {
            std::env::split_paths(&path)
                .filter(|dir| dir.is_absolute())
                .map(|dir| dir.join(name))
                .find(|file| is_executable(file))
        };
        Self {
            ffmpeg: find("ffmpeg"),
            ffprobe: find("ffprobe"),
            pdfinfo: find("pdfinfo"),
            pdftoppm: find("pdftoppm"),
            heif_convert: find("heif-convert"),
            limits,
        }
    }

    /// ffprobe and ffmpeg are both there: videos get posters and a `web` rendition.
    pub fn has_video(&self) -> bool {
        self.ffmpeg.is_some() && self.ffprobe.is_some()
    }

    /// pdfinfo and pdftoppm are both there: PDFs get previews.
    pub fn has_pdf(&self) -> bool {
        self.pdfinfo.is_some() && self.pdftoppm.is_some()
    }

    /// heif-convert is there: HEIC/HEIF/AVIF photos are decoded.
    pub fn has_heif(&self) -> bool {
        self.heif_convert.is_some()
    }

    /// Decodes the primary image of the HEIF photo `input` to a JPEG at `output`, upright and
    /// with its ICC profile, and returns its bytes. The caller has checked the declared size
    /// ([`toq_imaging::heif::primary_size`]); the sandbox bounds what a lying header costs.
    pub async fn heif(&self, input: &Path, output: &Path) -> Result<Vec<u8>, Failure> {
        sniff::heif(input).await?;
        let heif_convert = required(&self.heif_convert, "heif-convert")?;
        heif::decode(heif_convert, input, output, &self.limits).await
    }

    /// Sniffs and probes a video, refusing what is over `limits`.
    pub async fn probe(&self, input: &Path, limits: &VideoLimits) -> Result<VideoInfo, Failure> {
        sniff::video(input).await?;
        self.ffprobe(input, limits).await
    }

    /// [`Toolbox::probe`] without the sniff, so the tests can show that the forced demuxer
    /// alone keeps a playlist from reaching the network.
    #[cfg(feature = "test-support")]
    pub async fn probe_unsniffed(
        &self,
        input: &Path,
        limits: &VideoLimits,
    ) -> Result<VideoInfo, Failure> {
        self.ffprobe(input, limits).await
    }

    /// The poster frame of a probed video as RGB pixels, upright, inside `long_edge`.
    pub async fn poster(
        &self,
        input: &Path,
        info: &VideoInfo,
        long_edge: u32,
    ) -> Result<Frame, Failure> {
        sniff::video(input).await?;
        let ffmpeg = required(&self.ffmpeg, "ffmpeg")?;
        poster::poster(ffmpeg, input, info, long_edge, &self.limits).await
    }

    /// Writes the `web` rendition of a probed video to `output`, inside `long_edge`.
    pub async fn web(
        &self,
        input: &Path,
        info: &VideoInfo,
        output: &Path,
        long_edge: u32,
    ) -> Result<WebMode, Failure> {
        sniff::video(input).await?;
        let ffmpeg = required(&self.ffmpeg, "ffmpeg")?;
        web::web(ffmpeg, input, info, output, long_edge, &self.limits).await
    }

    /// The page count and the first page of a PDF, its long edge `long_edge`.
    pub async fn pdf_preview(&self, input: &Path, long_edge: u32) -> Result<PdfPreview, Failure> {
        sniff::pdf(input).await?;
        let pdfinfo = required(&self.pdfinfo, "pdfinfo")?;
        let pdftoppm = required(&self.pdftoppm, "pdftoppm")?;
        pdf::preview(pdfinfo, pdftoppm, input, long_edge, &self.limits).await
    }

    async fn ffprobe(&self, input: &Path, limits: &VideoLimits) -> Result<VideoInfo, Failure> {
        let ffprobe = required(&self.ffprobe, "ffprobe")?;
        let mut command = os(&["-v", "error", "-hide_banner"]);
        command.extend(args::mov_input(input)?);
        command.extend(os(&[
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ]));
        let json = sandbox::run("ffprobe", ffprobe, &command, &self.limits).await?;
        VideoInfo::parse(&json, limits)
    }
}

fn required<'a>(tool: &'a Option<PathBuf>, name: &str) -> Result<&'a Path, Failure> {
    tool.as_deref().ok_or_else(|| {
        failure(
            FailureCode::UnsupportedMedia,
            format!("{name} is not installed"),
        )
    })
}

fn is_executable(file: &Path) -> bool {
    file.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
