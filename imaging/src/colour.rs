//! Embedded ICC profiles: pixels stored in another RGB space (Display P3 from iPhones, Adobe
//! RGB from cameras) are converted to sRGB, which is what every rendition is viewed as once its
//! metadata is gone. Without this a wide-gamut photo comes out dull.
//!
//! The conversion runs once, on the largest rendition, after shrink-on-load and the resize
//! (the smaller renditions cascade from it): a 2 MP transform instead of a 20 MP one, and
//! resampling in the source's gamma-encoded space differs from resampling in sRGB's by far
//! less than a JPEG step. Untagged photos and profiles that map sRGB onto itself skip it (the
//! profile is judged once, at inspection, so the render and its memory estimate carry nothing
//! for them), so their renditions are byte for byte what they were without colour management. An
//! unreadable or non-RGB profile (grey, CMYK, Lab) is ignored, as browsers do.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use moxcms::{ColorProfile, DataColorSpace, Layout, Transform8BitExecutor, TransformOptions};

use crate::raster::Raster;

/// Rows converted per call: the scratch buffer is this many rows of the rendition.
const ROWS: usize = 64;

/// What the conversion holds on top of the raster, for the memory estimate: the scratch rows
/// of a `width`-pixel rendition, the parsed profile (a few times its bytes) and moxcms's tables
/// (its 8-bit paths keep 4096-entry gamma tables and, for LUT-based profiles, a 3D grid).
pub(crate) fn working_bytes(icc_len: usize, width: u32) -> u64 {
    (ROWS * width as usize * 4 + 8 * icc_len) as u64 + (2 << 20)
}

/// A transform from an embedded profile to sRGB, for `channels` (3 or 4) per pixel.
pub(crate) struct ToSrgb {
    transform: Arc<Transform8BitExecutor>,
    channels: usize,
}

/// Profiles judged lately: a camera or phone writes the same profile into every photo, and
/// judging one (parse, transform, probe) measured 0.51 ms against 0.03 ms remembered.
const JUDGED: usize = 16;
/// Larger profiles (LUT-based ones can be megabytes) are judged every time, not kept.
const KEPT_BYTES: usize = 64 << 10;

/// Whether pixels tagged with `icc` need converting: a readable RGB profile that does not map
/// sRGB onto itself.
pub(crate) fn converts(icc: &[u8]) -> bool {
    static VERDICTS: Mutex<VecDeque<(Vec<u8>, bool)>> = Mutex::new(VecDeque::new());
    let known = |verdicts: &VecDeque<(Vec<u8>, bool)>| {
        verdicts.iter().find(|(p, _)| p == icc).map(|(_, v)| *v)
    };
    if let Some(verdict) = known(&VERDICTS.lock().unwrap_or_else(|e| e.into_inner())) {
        return verdict;
    }
    let verdict = ToSrgb::new(icc, 3).is_some();
    let mut verdicts = VERDICTS.lock().unwrap_or_else(|e| e.into_inner());
    if icc.len() <= KEPT_BYTES && known(&verdicts).is_none() {
        if verdicts.len() == JUDGED {
            verdicts.pop_front();
        }
        verdicts.push_back((icc.to_vec(), verdict));
    }
    verdict
}

impl ToSrgb {
    /// `None` when no conversion is needed or possible (see the module documentation).
    pub(crate) fn new(icc: &[u8], channels: usize) -> Option<Self> {
        let source = ColorProfile::new_from_slice(icc).ok()?;
        if source.color_space != DataColorSpace::Rgb {
            return None;
        }
        let layout = if channels == 4 {
            Layout::Rgba
        } else {
            Layout::Rgb
        };
        let transform = source
            .create_transform_8bit(
                layout,
                &ColorProfile::new_srgb(),
                layout,
                TransformOptions::default(),
            )
            .ok()?;
        let conversion = Self {
            transform,
            channels,
        };
        (!conversion.is_identity()).then_some(conversion)
    }

    /// Whether the transform leaves a grid of colours (every channel at 0, 85, 170 and 255)
    /// within one step of where they were: an sRGB profile, however it was written.
    fn is_identity(&self) -> bool {
        let levels = [0u8, 85, 170, 255];
        let mut probe = Vec::new();
        for r in levels {
            for g in levels {
                for b in levels {
                    probe.extend_from_slice(&[r, g, b, 255][..self.channels]);
                }
            }
        }
        let mut out = vec![0; probe.len()];
        self.transform.transform(&probe, &mut out).is_ok()
            && probe.iter().zip(&out).all(|(a, b)| a.abs_diff(*b) <= 1)
    }

    /// Converts `raster` in place, `ROWS` rows at a time.
    pub(crate) fn apply(&self, raster: &mut Raster) -> Result<(), moxcms::CmsError> {
        debug_assert_eq!(raster.channels, self.channels);
        let row = raster.width as usize * raster.channels;
        let len = Raster::len_for(raster.width, raster.height, raster.channels);
        let mut scratch = vec![0; ROWS * row];
        for chunk in raster.pixels[..len].chunks_mut(ROWS * row) {
            let out = &mut scratch[..chunk.len()];
            self.transform.transform(chunk, out)?;
            chunk.copy_from_slice(out);
        }
        Ok(())
    }
}
