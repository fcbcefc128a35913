//! The `web` rendition: an MP4 that every browser plays from its first bytes.

use std::path::Path;

use crate::args::{self, os};
use crate::fit::fit;
use crate::sandbox::{self, Limits};
use crate::{Failure, VideoInfo};

/// How the rendition was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebMode {
    /// The input already conformed: its streams were copied into a new file.
    Remuxed,
    /// The input was decoded and encoded again.
    Transcoded,
}

/// H.264 profiles every browser decodes.
const PROFILES: [&str; 3] = ["High", "Main", "Constrained Baseline"];

/// Whether `info` can be copied as it is: H.264 4:2:0 8-bit of a common profile, within the
/// long edge, needing no rotation, with AAC audio or none.
fn conforms(info: &VideoInfo, long_edge: u32) -> bool {
    info.video_codec == "h264"
        && info.pix_fmt.as_deref() == Some("yuv420p")
        && info
            .profile
            .as_deref()
            .is_some_and(|p| PROFILES.contains(&p))
        && info.width.max(info.height) <= long_edge
        && info.rotation == 0
        && info
            .audio_codec
            .as_deref()
            .is_none_or(|codec| codec == "aac")
}

/// Writes the rendition of `input` to `output` (replaced if present; removed on failure).
///
/// The first video and audio streams only, no metadata (phones write the GPS position in
/// it), no chapters, the moov atom first (`+faststart`). A transcode is upright (autorotate,
/// which also leaves no display matrix), fitted inside `long_edge`, H.264 High 4:2:0 with
/// libx264 `veryfast` at CRF 23 (about 2.5× faster than `medium` for a few percent more
/// bytes at the same quality, a fair trade on a shared worker) and AAC at 128 kb/s.
pub(crate) async fn web(
    ffmpeg: &Path,
    input: &Path,
    info: &VideoInfo,
    output: &Path,
    long_edge: u32,
    limits: &Limits,
) -> Result<WebMode, Failure> {
    let mode = if conforms(info, long_edge) {
        WebMode::Remuxed
    } else {
        WebMode::Transcoded
    };
    let mut command = args::ffmpeg(limits.threads);
    command.extend(args::mov_input(input)?);
    command.extend(os(&[
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
    ]));
    match mode {
        WebMode::Remuxed => command.extend(os(&["-c", "copy"])),
        WebMode::Transcoded => {
            let (width, height) = fit(info.display_width, info.display_height, long_edge, true);
            let threads = limits.threads.to_string();
            command.extend(os(&[
                "-vf",
                &format!("scale={width}:{height},setsar=1,format=yuv420p"),
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "23",
                "-profile:v",
                "high",
                "-threads",
                &threads,
                "-c:a",
                "aac",
                "-b:a",
                "128k",
            ]));
        }
    }
    command.extend(os(&["-movflags", "+faststart", "-f", "mp4", "-y"]));
    command.push(args::file_url(output)?);
    match sandbox::run("ffmpeg", ffmpeg, &command, limits).await {
        Ok(_) => Ok(mode),
        Err(error) => {
            let _ = tokio::fs::remove_file(output).await;
            Err(error.into())
        }
    }
}
