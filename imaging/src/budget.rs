//! The memory one render holds at its peak, estimated from the header before any pixel buffer
//! exists, so that the worker can refuse what its budget can never fit and wait for room for the
//! rest: pixels, not upload bytes, are what a decode costs (a 1 MB deflate bomb can decode to
//! 800 MB).
//!
//! Each figure is an upper bound of what the code in this crate and its decoders allocate, read
//! from their sources: the decoder's output buffer, a conversion to 8-bit, libjpeg's
//! whole-image coefficients when it needs them, the largest rendition, fast_image_resize's
//! buffers, the encoders' output and state, and the raw bytes held throughout. Phases that do
//! not overlap (decoding, converting, producing renditions) count as their maximum, not their
//! sum.

use crate::Failure;
use crate::orient::Orientation;
use crate::plan::Target;

const MIB: u64 = 1 << 20;

/// Headers, metadata (an EXIF copy and its parse), codec tables and state, allocator slack.
const FIXED: u64 = 2 * MIB;

/// The estimate of one render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// The upload's own bytes, in memory from before the render to after it.
    pub raw: u64,
    /// Everything the render allocates on top, at its peak.
    pub working: u64,
}

impl Estimate {
    pub fn total(self) -> u64 {
        self.raw.saturating_add(self.working)
    }

    /// The total in whole MiB, rounded up: the unit of the worker's budget.
    pub fn mebibytes(self) -> u32 {
        u32::try_from(self.total().div_ceil(MIB)).unwrap_or(u32::MAX)
    }

    /// Refuses a render that would not fit in a budget of `budget_mib` MiB even alone
    /// (`IMAGE_TOO_LARGE`); anything else fits once other renders have given memory back.
    pub fn check(self, budget_mib: u32) -> Result<(), Failure> {
        if self.mebibytes() <= budget_mib {
            return Ok(());
        }
        Err(Failure::too_large(format!(
            "decoding it needs an estimated {} MiB, over the worker's memory budget of \
             {budget_mib} MiB",
            self.mebibytes()
        )))
    }
}

/// The decoder's output buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decode {
    pub(crate) width: u64,
    pub(crate) height: u64,
    pub(crate) bytes_per_pixel: u64,
}

impl Decode {
    fn pixels(&self) -> u64 {
        self.width * self.height
    }

    fn bytes(&self) -> u64 {
        self.pixels() * self.bytes_per_pixel
    }
}

/// A JPEG through turbojpeg: `decode` is the scaled output (3 or 4 bytes per pixel);
/// `coefficients` libjpeg's whole-image coefficient arrays when it keeps them.
pub(crate) fn jpeg(
    raw: usize,
    decode: Decode,
    full_width: u64,
    coefficients: Option<u64>,
    targets: &[Target],
    orientation: Orientation,
) -> Estimate {
    let raw = raw as u64;
    // libjpeg's row buffers (up to 4 components, context rows for upsampling) at the frame's
    // width, and the markers it saves (never more than the file).
    let libjpeg = full_width * 4 * 128 + raw;
    let decoding = coefficients.unwrap_or(0) + libjpeg;
    let producing = produce(decode.width, decode.height, false, targets, orientation);
    Estimate {
        raw,
        working: FIXED + decode.bytes() + decoding.max(producing),
    }
}

/// A PNG or WebP through the `image` crate: `decode` is the decoder's own output (16-bit,
/// grey, ... as the file is); `alpha` whether it has an alpha channel, `converts` whether it
/// needs converting into a second, 8-bit RGB(A) buffer.
pub(crate) fn generic(
    raw: usize,
    decode: Decode,
    webp: bool,
    alpha: bool,
    converts: bool,
    targets: &[Target],
    orientation: Orientation,
) -> Estimate {
    let channels = if alpha { 4 } else { 3 };
    let converted = if converts {
        decode.pixels() * channels
    } else {
        0
    };
    let decoder = if webp {
        // image-webp: YUV planes padded to 16-pixel macroblocks, an RGBA frame, an alpha plane
        // with its lossless temporary, and the canvas of an animation
        let padded = decode.width.next_multiple_of(16) * decode.height.next_multiple_of(16);
        2 * padded + 14 * decode.pixels()
    } else {
        // the png crate: a few unfiltered rows at up to 8 bytes per pixel
        16 * (decode.width * 8 + 1)
    };
    // metadata chunks (EXIF, ICC, text) copied out of the file: never more than the file
    let raw = raw as u64;
    let raster = if converts { converted } else { decode.bytes() };
    let producing = raster + produce(decode.width, decode.height, alpha, targets, orientation);
    let decoding = decode.bytes() + raw + decoder.max(converted);
    Estimate {
        raw,
        working: FIXED + decoding.max(producing),
    }
}

/// The back half on top of a `src_w`×`src_h` 8-bit raster: the largest rendition, the
/// resizer's buffers and the encoders' (all renditions' bytes held until they are returned).
fn produce(
    src_w: u64,
    src_h: u64,
    alpha: bool,
    targets: &[Target],
    orientation: Orientation,
) -> u64 {
    let Some(largest) = targets.first() else {
        return 0;
    };
    let channels = if alpha { 4 } else { 3 };
    let (_, stored_h) = orientation.apply_to_size(largest.width, largest.height);
    let (dst_w, dst_h) = (u64::from(largest.width), u64::from(largest.height));
    let rendition = largest.pixels() * channels;
    // fast_image_resize: for 8-bit pixels the vertical pass first, into a source-wide buffer
    // of the destination's height; an alpha-premultiplied copy of the source; the kernel
    // coefficients (a CatmullRom window per destination pixel, as f64 and as i16).
    let convolution = src_w * u64::from(stored_h) * channels + channels;
    let premultiplied = if alpha { src_w * src_h * 4 } else { 0 };
    let coefficients = 64 * (src_w + src_h + dst_w + dst_h);
    let encode = if alpha {
        encoding(targets, Codec::Png).max(encoding(targets, Codec::Jpeg))
    } else {
        encoding(targets, Codec::Jpeg)
    };
    rendition + convolution + premultiplied + coefficients + encode
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Jpeg,
    Png,
}

/// Every rendition's encoded bytes, held until the render returns, plus the encoder's working
/// memory for the largest (the costliest) one.
fn encoding(targets: &[Target], codec: Codec) -> u64 {
    let held: u64 = targets.iter().map(|t| output(t, codec).1).sum();
    held + targets.first().map_or(0, |t| output(t, codec).0)
}

/// (working, held) bytes of encoding one rendition.
fn output(target: &Target, codec: Codec) -> (u64, u64) {
    let (w, h) = (u64::from(target.width), u64::from(target.height));
    match codec {
        Codec::Jpeg => {
            // tj3JPEGBufSize's bound for 4:2:0 over whole MCUs; libjpeg grows its buffer by
            // doubling, and optimized Huffman coding keeps all coefficients (1.5 samples per
            // pixel at 2 bytes); the Vec copy is what is held
            let padded = w.next_multiple_of(16) * h.next_multiple_of(16);
            let bound = 3 * padded + 2048;
            (3 * padded + 2 * bound + 96 * w + 256 * 1024, bound)
        }
        Codec::Png => {
            // stored deflate blocks at worst (5 bytes per 64 KiB) in a Vec grown by doubling;
            // adaptive filtering tries every filter on a row; the deflate state
            let raw = (4 * w + 1) * h;
            let bound = raw + raw / 1000 + 4096;
            (8 * (4 * w + 1) + MIB, 2 * bound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ImageOptions;
    use crate::plan::plan;

    fn targets(w: u32, h: u32) -> Vec<Target> {
        plan(w, h, &ImageOptions::default().sizes)
    }

    #[test]
    fn a_16_bit_rgba_png_counts_its_decode_and_its_conversion() {
        let (w, h) = (9900u64, 9999u64);
        let decode = Decode {
            width: w,
            height: h,
            bytes_per_pixel: 8,
        };
        let e = generic(
            1 << 20,
            decode,
            false,
            true,
            true,
            &targets(9900, 9999),
            Orientation::UPRIGHT,
        );
        assert_eq!(e.raw, 1 << 20);
        // the 16-bit decode and its 8-bit RGBA conversion exist together
        assert!(e.working >= w * h * (8 + 4), "{e:?}");
        assert!(e.check(512).is_err());
        let message = e.check(512).unwrap_err().to_string();
        assert!(message.starts_with("IMAGE_TOO_LARGE: "), "{message}");
        assert!(message.contains("budget of 512 MiB"), "{message}");
    }

    #[test]
    fn a_16_bit_decode_counts_its_8_bit_copy_and_an_8_bit_one_does_not() {
        let decode = |bytes_per_pixel| Decode {
            width: 4000,
            height: 3000,
            bytes_per_pixel,
        };
        let t = targets(4000, 3000);
        let rgb8 = generic(0, decode(3), false, false, false, &t, Orientation::UPRIGHT);
        let rgb16 = generic(0, decode(6), false, false, true, &t, Orientation::UPRIGHT);
        let pixels = 4000 * 3000;
        assert!(rgb16.working >= pixels * (6 + 3), "{rgb16:?}");
        assert!(
            rgb8.working < pixels * (3 + 3) + produce(4000, 3000, false, &t, Orientation::UPRIGHT),
            "{rgb8:?}"
        );
        assert!(
            rgb8.working >= pixels * 3 + produce(4000, 3000, false, &t, Orientation::UPRIGHT),
            "{rgb8:?}"
        );
    }

    #[test]
    fn whole_image_coefficients_are_added_to_a_jpeg() {
        let t = targets(8000, 6000);
        let scaled = Decode {
            width: 2000,
            height: 1500,
            bytes_per_pixel: 3,
        };
        let coefficients = 8000 * 6000 * 3 / 2 * 2;
        let sequential = jpeg(1 << 20, scaled, 8000, None, &t, Orientation::UPRIGHT);
        let progressive = jpeg(
            1 << 20,
            scaled,
            8000,
            Some(coefficients),
            &t,
            Orientation::UPRIGHT,
        );
        assert!(progressive.working >= sequential.working - FIXED + coefficients / 2);
        assert!(progressive.working >= coefficients + scaled.bytes());
    }

    #[test]
    fn the_budget_is_inclusive_and_counts_whole_mebibytes() {
        let e = Estimate {
            raw: MIB,
            working: 9 * MIB,
        };
        assert_eq!(e.mebibytes(), 10);
        assert!(e.check(10).is_ok());
        assert!(e.check(9).is_err());
        let over = Estimate {
            raw: 0,
            working: 10 * MIB + 1,
        };
        assert_eq!(over.mebibytes(), 11);
    }
}
