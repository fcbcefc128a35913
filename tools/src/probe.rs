//! What a video is, from ffprobe's JSON, and whether the pipeline takes it.

use std::collections::HashMap;
use std::time::Duration;

use aggregates::FailureCode;
use serde::Deserialize;

use crate::{Failure, failure};

/// What the pipeline refuses to process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoLimits {
    /// Longer videos are refused (`VIDEO_TOO_LONG`).
    pub max_duration: Duration,
    /// Frames with more pixels are refused (`IMAGE_TOO_LARGE`).
    pub max_pixels: u64,
}

impl Default for VideoLimits {
    /// 10 minutes, and 4096×2160 (DCI 4K, so every 4K phone clip passes).
    fn default() -> Self {
        Self {
            max_duration: Duration::from_secs(10 * 60),
            max_pixels: 4096 * 2160,
        }
    }
}

/// A probed video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoInfo {
    /// ffprobe's demuxer names (`mov,mp4,m4a,3gp,3g2,mj2`, the only one allowed).
    pub format: String,
    /// `h264`, `hevc`, ...
    pub video_codec: String,
    /// `High`, `Main`, `Constrained Baseline`, ...
    pub profile: Option<String>,
    /// `yuv420p`, `yuv420p10le`, ...
    pub pix_fmt: Option<String>,
    /// The frame as stored, before rotation.
    pub width: u32,
    pub height: u32,
    /// The frame as shown, after rotation.
    pub display_width: u32,
    pub display_height: u32,
    /// Degrees (0, 90, 180 or 270) the player turns the stored frame counter-clockwise, as
    /// ffprobe reports a display matrix; ffmpeg applies it when decoding (autorotate).
    pub rotation: u16,
    pub duration: Duration,
    /// The first audio stream's codec, if there is one.
    pub audio_codec: Option<String>,
}

impl VideoInfo {
    pub fn has_audio(&self) -> bool {
        self.audio_codec.is_some()
    }

    /// From the output of `ffprobe -print_format json -show_format -show_streams`.
    pub(crate) fn parse(json: &[u8], limits: &VideoLimits) -> Result<Self, Failure> {
        let decode = |message: String| failure(FailureCode::DecodeFailed, message);
        let probe: Probe = serde_json::from_slice(json)
            .map_err(|e| decode(format!("unreadable ffprobe output: {e}")))?;
        let of_type = |kind: &str| {
            probe
                .streams
                .iter()
                .find(|s| s.codec_type.as_deref() == Some(kind) && s.disposition.attached_pic == 0)
        };
        let video = of_type("video").ok_or_else(|| decode("no video stream".into()))?;
        let video_codec = video
            .codec_name
            .clone()
            .ok_or_else(|| decode("video stream of an unknown codec".into()))?;
        let (width, height) = match (video.width, video.height) {
            (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
            _ => return Err(decode("video stream without dimensions".into())),
        };
        let pixels = u64::from(width) * u64::from(height);
        if pixels > limits.max_pixels {
            return Err(failure(
                FailureCode::ImageTooLarge,
                format!(
                    "{width}x{height} video is over the limit of {} pixels",
                    limits.max_pixels
                ),
            ));
        }
        let format = probe.format.unwrap_or_default();
        let duration = [format.duration.as_deref(), video.duration.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|d| d.parse::<f64>().ok())
            .and_then(|d| Duration::try_from_secs_f64(d).ok())
            .ok_or_else(|| decode("video without a duration".into()))?;
        if duration > limits.max_duration {
            return Err(failure(
                FailureCode::VideoTooLong,
                format!(
                    "{:.1} s video is over the limit of {} s",
                    duration.as_secs_f64(),
                    limits.max_duration.as_secs()
                ),
            ));
        }
        let rotation = video.rotation();
        let (display_width, display_height) = match rotation {
            90 | 270 => (height, width),
            _ => (width, height),
        };
        Ok(Self {
            format: format.format_name.unwrap_or_default(),
            video_codec,
            profile: video.profile.clone(),
            pix_fmt: video.pix_fmt.clone(),
            width,
            height,
            display_width,
            display_height,
            rotation,
            duration,
            audio_codec: of_type("audio").and_then(|a| a.codec_name.clone()),
        })
    }
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize, Default)]
struct Format {
    format_name: Option<String>,
    duration: Option<String>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    profile: Option<String>,
    pix_fmt: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    duration: Option<String>,
    #[serde(default)]
    disposition: Disposition,
    #[serde(default)]
    side_data_list: Vec<SideData>,
    #[serde(default)]
    tags: HashMap<String, String>,
}

/// Cover art is a "video" stream of one picture, not the video.
#[derive(Deserialize, Default)]
struct Disposition {
    #[serde(default)]
    attached_pic: u8,
}

#[derive(Deserialize)]
struct SideData {
    side_data_type: Option<String>,
    rotation: Option<f64>,
}

impl Stream {
    /// The display matrix's rotation (counter-clockwise), else the legacy `rotate` tag
    /// (clockwise), as a quarter turn.
    fn rotation(&self) -> u16 {
        let matrix = self
            .side_data_list
            .iter()
            .filter(|s| s.side_data_type.as_deref() == Some("Display Matrix"))
            .find_map(|s| s.rotation);
        let legacy = || {
            self.tags
                .get("rotate")
                .and_then(|r| r.parse::<f64>().ok())
                .map(|r| -r)
        };
        let degrees = matrix.or_else(legacy).unwrap_or(0.0);
        // A quarter turn of 0..=3; the cast cannot truncate.
        let quarters = ((degrees / 90.0).round() as i64).rem_euclid(4) as u16;
        quarters * 90
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(streams: &str, duration: &str) -> Vec<u8> {
        format!(
            r#"{{"streams":[{streams}],"format":{{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"{duration}"}}}}"#
        )
        .into_bytes()
    }

    const VIDEO: &str = r#"{"codec_type":"video","codec_name":"hevc","width":1920,"height":1080,
        "side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]}"#;

    #[test]
    fn reads_rotation_and_display_size() {
        let info = VideoInfo::parse(&json(VIDEO, "12.5"), &VideoLimits::default()).unwrap();
        assert_eq!(info.rotation, 270);
        assert_eq!((info.display_width, info.display_height), (1080, 1920));
        assert_eq!(info.duration, Duration::from_millis(12_500));
        assert!(!info.has_audio());
    }

    #[test]
    fn reads_the_legacy_rotate_tag_clockwise() {
        let stream = r#"{"codec_type":"video","codec_name":"h264","width":640,"height":480,
            "tags":{"rotate":"90"}}"#;
        let info = VideoInfo::parse(&json(stream, "1"), &VideoLimits::default()).unwrap();
        assert_eq!(info.rotation, 270);
    }

    #[test]
    fn refuses_cover_art_alone_and_over_limits() {
        let cover = r#"{"codec_type":"video","codec_name":"png","width":600,"height":600,
            "disposition":{"attached_pic":1}}"#;
        let err = VideoInfo::parse(&json(cover, "1"), &VideoLimits::default()).unwrap_err();
        assert_eq!(err.code, FailureCode::DecodeFailed);
        let err = VideoInfo::parse(&json(VIDEO, "601"), &VideoLimits::default()).unwrap_err();
        assert_eq!(err.code, FailureCode::VideoTooLong);
        let small = VideoLimits {
            max_pixels: 1920 * 1080 - 1,
            ..VideoLimits::default()
        };
        let err = VideoInfo::parse(&json(VIDEO, "1"), &small).unwrap_err();
        assert_eq!(err.code, FailureCode::ImageTooLarge);
    }
}
