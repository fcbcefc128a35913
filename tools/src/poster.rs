//! The poster frame: the frame at the first candidate time unless it is flat (black, or a
//! fade-in), else the busiest of a few candidates, so a clip that starts dark still gets a
//! picture.

use std::path::Path;

use aggregates::FailureCode;

use crate::args::{self, os};
use crate::fit::fit;
use crate::sandbox::{self, Limits};
use crate::{Failure, VideoInfo, failure};

/// Under this luma variance a frame counts as flat: a black frame's compression noise
/// measures below 5, a fade at a tenth of its brightness about 100, a scene in the thousands.
const FLAT: f64 = 64.0;

/// A decoded frame: packed 8-bit RGB, upright, `width`×`height`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub pixels: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

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

/// The variance of the BT.601 luma of packed RGB pixels: near zero for a black or flat frame.
fn luma_variance(rgb: &[u8]) -> f64 {
    let (sum, squares, n) = rgb
        .chunks_exact(3)
        .fold((0u64, 0u64, 0u64), |(s, q, n), p| {
            let y = (77 * u64::from(p[0]) + 150 * u64::from(p[1]) + 29 * u64::from(p[2])) >> 8;
            (s + y, q + y * y, n + 1)
        });
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    squares as f64 / n - (sum as f64 / n).powi(2)
}

/// The poster frame, upright, fitted inside `long_edge`, never upscaled.
///
/// Each candidate costs one seek and a decode from the keyframe before it, so they are tried
/// in order and the first that is not flat is taken: a clip that opens on a picture costs
/// one decode, as a bare `ffmpeg -ss` would.
pub(crate) async fn poster(
    ffmpeg: &Path,
    input: &Path,
    info: &VideoInfo,
    long_edge: u32,
    limits: &Limits,
) -> Result<Frame, Failure> {
    let (width, height) = fit(info.display_width, info.display_height, long_edge, false);
    let mut best: Option<(Frame, f64)> = None;
    for time in candidates(info.duration.as_secs_f64()) {
        let pixels = frame(ffmpeg, input, time, width, height, limits).await?;
        // Seeking into the last frame's duration can decode nothing.
        if pixels.is_empty() {
            continue;
        }
        if pixels.len() != width as usize * height as usize * 3 {
            return Err(failure(
                FailureCode::DecodeFailed,
                format!(
                    "ffmpeg wrote {} bytes for a {width}×{height} frame",
                    pixels.len()
                ),
            ));
        }
        let variance = luma_variance(&pixels);
        let frame = Frame {
            pixels,
            width,
            height,
        };
        if variance >= FLAT {
            return Ok(frame);
        }
        if best.as_ref().is_none_or(|(_, top)| variance > *top) {
            best = Some((frame, variance));
        }
    }
    best.map(|(frame, _)| frame)
        .ok_or_else(|| failure(FailureCode::DecodeFailed, "no poster frame decoded"))
}

/// The raw RGB frame at `time`, upright (ffmpeg's autorotate runs before the scale), at
/// `width`×`height`: no image encoding on either side of the pipe.
async fn frame(
    ffmpeg: &Path,
    input: &Path,
    time: f64,
    width: u32,
    height: u32,
    limits: &Limits,
) -> Result<Vec<u8>, Failure> {
    let mut command = args::ffmpeg(limits.threads);
    command.extend(os(&["-ss", &format!("{time:.3}")]));
    command.extend(args::mov_input(input)?);
    command.extend(os(&[
        "-map",
        "0:v:0",
        "-frames:v",
        "1",
        "-vf",
        &format!("scale={width}:{height},format=rgb24"),
        "-f",
        "rawvideo",
        "pipe:1",
    ]));
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
        assert_eq!(luma_variance(&[16; 300]), 0.0);
        assert_eq!(luma_variance(&[]), 0.0);
        let stripes: Vec<u8> = (0..300)
            .map(|i| if i / 3 % 2 == 0 { 0 } else { 255 })
            .collect();
        assert!(luma_variance(&stripes) > 16_000.0);
    }
}
