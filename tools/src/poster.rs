//! The poster frame: the busiest of a few candidate frames, so a clip that fades in from
//! black still gets a picture.

use std::path::Path;

use aggregates::FailureCode;

use crate::args::{self, os};
use crate::fit::fit;
use crate::sandbox::{self, Limits};
use crate::{Failure, VideoInfo, failure};

/// The width of the gray thumbnails candidates are compared on: enough to tell black from a
/// picture, a few kilobytes to decode into.
const SAMPLE_WIDTH: u32 = 64;

/// Candidate times in seconds: the first second (or 10 % of a shorter clip), then a quarter,
/// half and three quarters in, distinct and before the end.
fn candidates(duration: f64) -> Vec<f64> {
    let mut times = Vec::new();
    for t in [
        (0.1 * duration).min(1.0),
        0.25 * duration,
        0.5 * duration,
        0.75 * duration,
    ] {
        if (t < duration || times.is_empty()) && times.iter().all(|&s: &f64| (t - s).abs() > 0.01) {
            times.push(t);
        }
    }
    times
}

/// The luma variance of 8-bit gray pixels: near zero for a black or flat frame.
fn variance(pixels: &[u8]) -> f64 {
    let n = pixels.len() as f64;
    let (sum, squares) = pixels.iter().fold((0.0, 0.0), |(s, q), &p| {
        let p = f64::from(p);
        (s + p, q + p * p)
    });
    squares / n - (sum / n).powi(2)
}

/// PNG bytes of the poster frame, upright, fitted inside `long_edge`, never upscaled.
pub(crate) async fn poster(
    ffmpeg: &Path,
    input: &Path,
    info: &VideoInfo,
    long_edge: u32,
    limits: &Limits,
) -> Result<Vec<u8>, Failure> {
    let mut best: Option<(f64, f64)> = None;
    for time in candidates(info.duration.as_secs_f64()) {
        let filter = format!("scale={SAMPLE_WIDTH}:-2,format=gray");
        let gray = frame(ffmpeg, input, time, &filter, RAW, limits).await?;
        // Seeking into the last frame's duration can decode nothing.
        if gray.is_empty() {
            continue;
        }
        let v = variance(&gray);
        if best.is_none_or(|(_, top)| v > top) {
            best = Some((time, v));
        }
    }
    let (time, _) = best.ok_or_else(|| failure(FailureCode::DecodeFailed, "no frame decoded"))?;
    let (width, height) = fit(info.display_width, info.display_height, long_edge, false);
    let filter = format!("scale={width}:{height},format=rgb24");
    let png = frame(ffmpeg, input, time, &filter, PNG, limits).await?;
    if png.is_empty() {
        return Err(failure(
            FailureCode::DecodeFailed,
            "no poster frame decoded",
        ));
    }
    Ok(png)
}

/// Bare pixels, for the comparison.
const RAW: &[&str] = &["-f", "rawvideo"];
/// The poster itself.
const PNG: &[&str] = &["-c:v", "png", "-f", "image2pipe"];

/// One frame at `time`, upright (ffmpeg's autorotate runs before `filter`), written to
/// stdout as `output` says.
async fn frame(
    ffmpeg: &Path,
    input: &Path,
    time: f64,
    filter: &str,
    output: &[&str],
    limits: &Limits,
) -> Result<Vec<u8>, Failure> {
    let mut command = args::ffmpeg(limits.threads);
    command.extend(os(&["-ss", &format!("{time:.3}")]));
    command.extend(args::mov_input(input)?);
    command.extend(os(&["-map", "0:v:0", "-frames:v", "1", "-vf", filter]));
    command.extend(os(output));
    command.extend(os(&["pipe:1"]));
    Ok(sandbox::run("ffmpeg", ffmpeg, &command, limits).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_distinct_and_before_the_end() {
        assert_eq!(candidates(20.0), vec![1.0, 5.0, 10.0, 15.0]);
        assert_eq!(candidates(4.0), vec![0.4, 1.0, 2.0, 3.0]);
        assert_eq!(candidates(0.0), vec![0.0]);
    }

    #[test]
    fn variance_tells_flat_from_busy() {
        assert_eq!(variance(&[16; 100]), 0.0);
        assert!(variance(&[0, 255, 0, 255]) > 16_000.0);
    }
}
