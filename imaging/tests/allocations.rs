//! The estimate is an upper bound of what a render allocates: small real images of every
//! decoded kind (PNG of each colour type and depth, lossless WebP, baseline and progressive
//! JPEG at each subsampling, raw RGB frames, a Display P3 JPEG) are rendered under a counting
//! allocator, whose peak above the start must not exceed the estimate's working bytes. The
//! Rust heap only: libjpeg's C allocations are bounded by the peak-RSS tests of the service.
//!
//! One test in this binary, so no other test allocates while it measures.

use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder};
use proptest::prelude::*;
use toq_imaging::ImageOptions;
use toq_imaging::measure::Counting;

#[global_allocator]
static HEAP: Counting = Counting::new();

#[derive(Debug, Clone, Copy)]
enum Kind {
    Png(ExtendedColorType),
    WebP {
        alpha: bool,
    },
    Jpeg {
        progressive: bool,
        subsamp: turbojpeg::Subsamp,
    },
    /// Raw RGB, as a video's poster frame arrives from ffmpeg.
    Rgb,
    /// A JPEG with a Display P3 profile, converted to sRGB as it renders.
    DisplayP3,
}

fn kind() -> impl Strategy<Value = Kind> {
    use ExtendedColorType::*;
    use turbojpeg::Subsamp::*;
    prop_oneof![
        prop::sample::select(vec![L8, La8, Rgb8, Rgba8, L16, La16, Rgb16, Rgba16])
            .prop_map(Kind::Png),
        any::<bool>().prop_map(|alpha| Kind::WebP { alpha }),
        (
            any::<bool>(),
            prop::sample::select(vec![None, Sub2x1, Sub2x2, Sub1x2])
        )
            .prop_map(|(progressive, subsamp)| Kind::Jpeg {
                progressive,
                subsamp
            }),
        Just(Kind::Rgb),
        Just(Kind::DisplayP3),
    ]
}

/// Pixels with some structure and some noise (`seed`), `channels` × `depth` bytes each.
fn pixels(width: u32, height: u32, bytes_per_pixel: usize, seed: u8, transparent: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(width as usize * height as usize * bytes_per_pixel);
    for y in 0..height {
        for x in 0..width {
            for c in 0..bytes_per_pixel {
                let v = (x * 7 + y * 3 + c as u32 * 50) as u8 ^ seed.wrapping_mul(x as u8 | 1);
                out.push(v);
            }
            if transparent && bytes_per_pixel == 4 {
                *out.last_mut().unwrap() = (x % 256) as u8; // a used alpha channel
            }
        }
    }
    out
}

fn encode(kind: Kind, width: u32, height: u32, seed: u8) -> Vec<u8> {
    let mut out = Vec::new();
    match kind {
        Kind::Png(color) => {
            let data = pixels(
                width,
                height,
                color.bits_per_pixel() as usize / 8,
                seed,
                false,
            );
            PngEncoder::new(&mut out)
                .write_image(&data, width, height, color)
                .unwrap();
        }
        Kind::WebP { alpha } => {
            let (channels, color) = if alpha {
                (4, ExtendedColorType::Rgba8)
            } else {
                (3, ExtendedColorType::Rgb8)
            };
            let data = pixels(width, height, channels, seed, alpha);
            WebPEncoder::new_lossless(&mut out)
                .write_image(&data, width, height, color)
                .unwrap();
        }
        Kind::Jpeg {
            progressive,
            subsamp,
        } => {
            let data = pixels(width, height, 3, seed, false);
            let mut compressor = turbojpeg::Compressor::new().unwrap();
            compressor.set_subsamp(subsamp).unwrap();
            compressor.set_progressive(progressive).unwrap();
            let image = turbojpeg::Image {
                pixels: data.as_slice(),
                width: width as usize,
                pitch: width as usize * 3,
                height: height as usize,
                format: turbojpeg::PixelFormat::RGB,
            };
            out = compressor.compress_to_vec(image).unwrap();
        }
        Kind::Rgb => out = pixels(width, height, 3, seed, false),
        Kind::DisplayP3 => {
            let jpeg = encode(
                Kind::Jpeg {
                    progressive: false,
                    subsamp: turbojpeg::Subsamp::Sub2x2,
                },
                width,
                height,
                seed,
            );
            let icc = moxcms::ColorProfile::new_display_p3().encode().unwrap();
            let len = u16::try_from(2 + 14 + icc.len()).unwrap();
            out.extend_from_slice(&jpeg[..2]);
            out.extend_from_slice(&[0xFF, 0xE2]);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(b"ICC_PROFILE\0\x01\x01");
            out.extend_from_slice(&icc);
            out.extend_from_slice(&jpeg[2..]);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn a_render_allocates_no_more_than_its_estimate(
        kind in kind(),
        width in 1u32..700,
        height in 1u32..700,
        seed in any::<u8>(),
    ) {
        let opts = ImageOptions {
            sizes: [("small", 48), ("medium", 160), ("large", 400)]
                .map(|(name, edge)| (name.to_owned(), edge))
                .to_vec(),
            ..ImageOptions::default()
        };
        let bytes = encode(kind, width, height, seed);
        let start = HEAP.reset();
        let inspection = match kind {
            Kind::Rgb => toq_imaging::inspect_rgb(&bytes, width, height, &opts),
            _ => toq_imaging::inspect(&bytes, "image/png", &opts),
        }
            .unwrap_or_else(|f| panic!("{kind:?} {width}x{height}: {f}"));
        let processed = inspection.render(&bytes, &opts)
            .unwrap_or_else(|f| panic!("{kind:?} {width}x{height}: {f}"));
        let peak = HEAP.peak_above(start) as u64;
        let estimate = inspection.estimate();
        drop(processed);
        prop_assert!(
            peak <= estimate.working,
            "{kind:?} {width}x{height}: allocated {peak} at the peak, estimated {estimate:?}"
        );
    }
}
