//! Videos, documents and HEIF photos, once their upload is verified: the tools of `toq_tools`
//! (sandboxed ffprobe, ffmpeg, pdftoppm, heif-convert) make a still, which goes through the
//! same photo pipeline into `thumbnail`/`small`/`medium`/`large`; a video also gets its `web`
//! rendition (DESIGN.md "Processing").
//!
//! Metrics: `media_video_web_total{mode}` (`remux` or `transcode`); the tools count their own
//! runs and timeouts (`media_tool_runs_total`, `media_tool_seconds`).

use aggregates::{AssetOutput, FailureCode, RenditionName};
use toq_imaging::{Failure, Processed};
use toq_tools::WebMode;

use super::asset::{
    Download, Pipeline, Still, asset_dir, failure, scratch, without_paths, write_renditions,
};
use super::job::{Job, JobAsset};
use super::keys;
use super::memory::Reservation;

/// A HEIF photo (`bytes`, verified, held under `reservation`): its declared size is checked
/// from its boxes before any decoder runs, then heif-convert decodes it to a JPEG, upright and
/// with its colour profile, which the photo pipeline renders.
pub(super) async fn heif(
    pipeline: &Pipeline,
    bytes: Vec<u8>,
    reservation: Reservation,
) -> Result<Processed, Failure> {
    toq_imaging::heif::primary_size(&bytes, pipeline.image.max_pixels)?;
    let dir = asset_dir()?;
    let input = dir.path().join("input.heic");
    tokio::fs::write(&input, &bytes).await.map_err(scratch)?;
    drop(bytes);
    let decoded = dir.path().join("decoded.jpg");
    let jpeg = pipeline
        .tools
        .heif(&input, &decoded)
        .await
        .map_err(|f| without_paths(f, dir.path()))?;
    drop(dir);
    let still = Still::Encoded("image/jpeg (decoded from HEIF)".into());
    pipeline.render(jpeg, still, Some(reservation)).await
}

/// Probe (refusing what is over the limits), poster frame, renditions, then the web MP4.
pub(super) async fn video(
    pipeline: &Pipeline,
    job: &Job,
    asset: &JobAsset,
    download: &Download,
) -> Result<AssetOutput, Failure> {
    let tools = &pipeline.tools;
    let edge = pipeline.long_edge();
    let info = tools.probe(&download.path, &pipeline.video).await?;
    let poster = tools.poster(&download.path, &info, edge).await?;
    let size = Still::Rgb {
        width: poster.width,
        height: poster.height,
    };
    let stills = pipeline.render(poster.pixels, size, None).await?;
    let web_path = download.dir.path().join("web.mp4");
    let mode = tools.web(&download.path, &info, &web_path, edge).await?;
    let mode = match mode {
        WebMode::Remuxed => "remux",
        WebMode::Transcoded => "transcode",
    };
    metrics::counter!("media_video_web_total", "mode" => mode).increment(1);
    let web_key = keys::rendition(job, asset, RenditionName::WEB, "mp4");
    pipeline
        .objects
        .write_file(&web_key, &web_path, "video/mp4")
        .await
        .map_err(|e| {
            failure(
                FailureCode::StorageError,
                format!("writing {web_key} failed: {e}"),
            )
        })?;
    let mut out = write_renditions(&pipeline.objects, job, asset, stills).await?;
    out.renditions
        .insert(RenditionName::WEB.to_owned(), web_key.to_string());
    Ok(AssetOutput {
        width: Some(info.display_width),
        height: Some(info.display_height),
        duration_millis: Some(u64::try_from(info.duration.as_millis()).unwrap_or(u64::MAX)),
        ..out
    })
}

/// The first page as the four stills, and the page count.
pub(super) async fn document(
    pipeline: &Pipeline,
    job: &Job,
    asset: &JobAsset,
    download: &Download,
) -> Result<AssetOutput, Failure> {
    let preview = pipeline
        .tools
        .pdf_preview(&download.path, pipeline.long_edge())
        .await?;
    let stills = pipeline
        .render(preview.png, Still::Encoded("image/png".into()), None)
        .await?;
    let out = write_renditions(&pipeline.objects, job, asset, stills).await?;
    Ok(AssetOutput {
        page_count: Some(preview.pages),
        ..out
    })
}
