//! Probes, posters and web renditions of real files through real ffmpeg.

mod common;
#[path = "common/luma.rs"]
mod luma;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{fixture, out_dir, toolbox};
use luma::luma_variance;
use toq_tools::{FailureCode, Limits, VideoInfo, VideoLimits, WebMode};

/// Well above a flat frame (0) and a compression-noisy black one (< 5).
const NOT_BLACK: f64 = 200.0;

async fn probe(name: &str) -> VideoInfo {
    toolbox(Limits::default())
        .probe(&fixture(name), &VideoLimits::default())
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn seconds(info: &VideoInfo) -> f64 {
    info.duration.as_secs_f64()
}

async fn poster(name: &str) -> image::DynamicImage {
    let info = probe(name).await;
    let frame = toolbox(Limits::default())
        .poster(&fixture(name), &info, 1920)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let rgb = image::RgbImage::from_raw(frame.width, frame.height, frame.pixels)
        .expect("width × height RGB pixels");
    image::DynamicImage::ImageRgb8(rgb)
}

/// The top-level atom types of an MP4, in file order.
fn top_level_atoms(file: &Path) -> Vec<String> {
    let bytes = std::fs::read(file).unwrap();
    let mut atoms = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let mut size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if size == 1 {
            size = u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap()) as usize;
        }
        atoms.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        assert!(size >= 8, "atom of size {size} at {at}");
        at += size;
    }
    atoms
}

fn assert_faststart(file: &Path) {
    let atoms = top_level_atoms(file);
    let position = |kind: &str| atoms.iter().position(|a| a == kind);
    let (moov, mdat) = (position("moov").unwrap(), position("mdat").unwrap());
    assert!(moov < mdat, "moov after mdat: {atoms:?}");
}

fn assert_no_location(file: &Path) {
    let json = ffprobe_json(file);
    let tags = &json["format"]["tags"];
    let location = tags
        .as_object()
        .into_iter()
        .flatten()
        .find(|(key, _)| key.starts_with("location"));
    assert!(location.is_none(), "location kept: {tags}");
}

#[tokio::test]
async fn probes_h264() {
    let info = probe("h264.mp4").await;
    assert_eq!(info.format, "mov,mp4,m4a,3gp,3g2,mj2");
    assert_eq!(info.video_codec, "h264");
    assert_eq!(info.profile.as_deref(), Some("High"));
    assert_eq!(info.pix_fmt.as_deref(), Some("yuv420p"));
    assert_eq!((info.width, info.height), (1280, 720));
    assert_eq!((info.display_width, info.display_height), (1280, 720));
    assert_eq!(info.rotation, 0);
    assert_eq!(info.audio_codec.as_deref(), Some("aac"));
    assert!(info.has_audio());
    assert!((2.9..3.2).contains(&seconds(&info)), "{:?}", info.duration);
}

#[tokio::test]
async fn probes_rotated_hevc() {
    let info = probe("hevc-rotated.mov").await;
    assert_eq!(info.video_codec, "hevc");
    assert_eq!((info.width, info.height), (1280, 720));
    assert_eq!(info.rotation, 90);
    assert_eq!((info.display_width, info.display_height), (720, 1280));
    assert_eq!(info.audio_codec.as_deref(), Some("aac"));
    assert!((1.9..2.2).contains(&seconds(&info)), "{:?}", info.duration);
}

#[tokio::test]
async fn probes_black_start_and_uhd() {
    let black = probe("black-start.mp4").await;
    assert_eq!((black.display_width, black.display_height), (640, 360));
    assert!(!black.has_audio());
    assert!(
        (3.9..4.2).contains(&seconds(&black)),
        "{:?}",
        black.duration
    );
    let uhd = probe("uhd.mp4").await;
    assert_eq!((uhd.width, uhd.height), (3840, 2160));
    assert!((0.9..1.2).contains(&seconds(&uhd)), "{:?}", uhd.duration);
}

#[tokio::test]
async fn truncated_is_a_decode_failure() {
    let err = toolbox(Limits::default())
        .probe(&fixture("truncated.mp4"), &VideoLimits::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, FailureCode::DecodeFailed, "{err}");
}

#[tokio::test]
async fn playlist_is_unsupported() {
    let err = toolbox(Limits::default())
        .probe(&fixture("playlist.mp4"), &VideoLimits::default())
        .await
        .unwrap_err();
    assert_eq!(err.code, FailureCode::UnsupportedMedia, "{err}");
}

#[tokio::test]
async fn too_long_and_too_large_are_refused() {
    let tools = toolbox(Limits::default());
    let short = VideoLimits {
        max_duration: Duration::from_secs(2),
        ..VideoLimits::default()
    };
    let err = tools.probe(&fixture("h264.mp4"), &short).await.unwrap_err();
    assert_eq!(err.code, FailureCode::VideoTooLong, "{err}");
    let hd = VideoLimits {
        max_pixels: 1920 * 1080,
        ..VideoLimits::default()
    };
    let err = tools.probe(&fixture("uhd.mp4"), &hd).await.unwrap_err();
    assert_eq!(err.code, FailureCode::ImageTooLarge, "{err}");
}

#[tokio::test]
async fn rotated_poster_is_upright_and_not_black() {
    let image = poster("hevc-rotated.mov").await;
    assert_eq!((image.width(), image.height()), (720, 1280));
    assert!(luma_variance(&image) > NOT_BLACK);
}

#[tokio::test]
async fn poster_skips_a_black_start() {
    let image = poster("black-start.mp4").await;
    assert_eq!((image.width(), image.height()), (640, 360));
    let variance = luma_variance(&image);
    assert!(variance > NOT_BLACK, "variance {variance}");
}

#[tokio::test]
async fn uhd_poster_fits_the_long_edge() {
    let image = poster("uhd.mp4").await;
    assert_eq!((image.width(), image.height()), (1920, 1080));
}

#[tokio::test]
async fn conforming_h264_is_remuxed_without_metadata() {
    let input = fixture("h264.mp4");
    let info = probe("h264.mp4").await;
    let out = out_dir();
    let output = out.path().join("web.mp4");
    let mode = toolbox(Limits::default())
        .web(&input, &info, &output, 1920)
        .await
        .unwrap();
    assert_eq!(mode, WebMode::Remuxed);
    assert_faststart(&output);
    assert_no_location(&output);
    let web = probe_file(&output).await;
    assert_eq!(
        (web.video_codec.as_str(), web.width, web.height),
        ("h264", 1280, 720)
    );
    assert_eq!(web.audio_codec.as_deref(), Some("aac"));
}

#[tokio::test]
async fn rotated_hevc_is_transcoded_upright() {
    let input = fixture("hevc-rotated.mov");
    let info = probe("hevc-rotated.mov").await;
    let out = out_dir();
    let output = out.path().join("web.mp4");
    let mode = toolbox(Limits::default())
        .web(&input, &info, &output, 1920)
        .await
        .unwrap();
    assert_eq!(mode, WebMode::Transcoded);
    assert_faststart(&output);
    assert_no_location(&output);
    let web = probe_file(&output).await;
    assert_eq!(web.video_codec, "h264");
    assert_eq!(web.profile.as_deref(), Some("High"));
    assert_eq!(web.pix_fmt.as_deref(), Some("yuv420p"));
    assert_eq!(web.audio_codec.as_deref(), Some("aac"));
    assert_eq!(web.rotation, 0);
    assert_eq!((web.width, web.height), (720, 1280));
    let json = ffprobe_json(&output);
    assert!(
        json["streams"][0].get("side_data_list").is_none(),
        "a display matrix is left: {}",
        json["streams"][0]
    );
}

#[tokio::test]
async fn uhd_web_fits_the_long_edge() {
    let input = fixture("uhd.mp4");
    let info = probe("uhd.mp4").await;
    let out = out_dir();
    let output = out.path().join("web.mp4");
    let mode = toolbox(Limits::default())
        .web(&input, &info, &output, 1920)
        .await
        .unwrap();
    assert_eq!(mode, WebMode::Transcoded);
    let web = probe_file(&output).await;
    assert_eq!((web.width, web.height), (1920, 1080));
    assert!(!web.has_audio());
}

async fn probe_file(file: &Path) -> VideoInfo {
    toolbox(Limits::default())
        .probe(file, &VideoLimits::default())
        .await
        .unwrap()
}

/// `ffprobe -show_format -show_streams` of a file, as JSON, run directly (for checks the
/// crate's own `VideoInfo` does not expose: tags and side data).
fn ffprobe_json(file: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}
