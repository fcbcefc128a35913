//! Embedded ICC profiles are converted to sRGB: a Display P3 and an Adobe RGB photo (JPEG, and
//! the P3 one as PNG too) render within a mean ΔE2000 of 1.5 of Little CMS's own conversion
//! (`jpgicc`, the reference), while showing them unconverted is far off; sRGB-tagged photos
//! render byte for byte as their untagged twins.
//!
//! The photos are made here from a saturated hue sweep: `jpgicc` converts it into each space
//! and embeds the profile, as a camera or phone would. Display P3's profile is written by
//! moxcms (no Debian package ships one), Adobe RGB's is colord's `AdobeRGB1998.icc`, the
//! sRGB ones colord's `sRGB.icc` and moxcms's; `scripts/setup` installs `liblcms2-utils` and
//! `colord-data`.

#[path = "common/delta_e.rs"]
mod delta_e;

use std::path::{Path, PathBuf};
use std::process::Command;

use delta_e::mean_delta_e;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbImage};
use toq_imaging::{ImageOptions, Processed};

const ADOBE_RGB: &str = "/usr/share/color/icc/colord/AdobeRGB1998.icc";
const COLORD_SRGB: &str = "/usr/share/color/icc/colord/sRGB.icc";
/// The bar for a wide-gamut photo's renditions against the reference.
const MAX_MEAN_DELTA_E: f64 = 1.5;

/// A 640×360 sweep: hue across, saturation from full down to 60 % — sRGB's gamut edge and
/// near it, where the spaces differ most.
fn sweep() -> RgbImage {
    RgbImage::from_fn(640, 360, |x, y| {
        let h = f64::from(x) / 640.0 * 6.0;
        let s = 1.0 - 0.4 * f64::from(y) / 360.0;
        let v = 0.95;
        let c = v * s;
        let k = c * (1.0 - (h % 2.0 - 1.0).abs());
        let (r, g, b) = match h as u32 {
            0 => (c, k, 0.0),
            1 => (k, c, 0.0),
            2 => (0.0, c, k),
            3 => (0.0, k, c),
            4 => (k, 0.0, c),
            _ => (c, 0.0, k),
        };
        let m = v - c;
        let byte = |u: f64| ((u + m) * 255.0).round() as u8;
        image::Rgb([byte(r), byte(g), byte(b)])
    })
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(95).unwrap();
    compressor.set_subsamp(turbojpeg::Subsamp::None).unwrap();
    compressor
        .compress_to_vec(turbojpeg::Image {
            pixels: image.as_raw().as_slice(),
            width: image.width() as usize,
            pitch: image.width() as usize * 3,
            height: image.height() as usize,
            format: turbojpeg::PixelFormat::RGB,
        })
        .unwrap()
}

/// Runs Little CMS's `jpgicc` (`args` then input and output files) on `input`.
fn jpgicc(dir: &Path, args: &[&str], input: &[u8], name: &str) -> Vec<u8> {
    let (from, to) = (
        dir.join(format!("{name}.in.jpg")),
        dir.join(format!("{name}.jpg")),
    );
    std::fs::write(&from, input).unwrap();
    let status = Command::new("jpgicc")
        .args(args)
        .arg(&from)
        .arg(&to)
        .status()
        .expect("jpgicc (liblcms2-utils, installed by scripts/setup) must be on PATH");
    assert!(status.success(), "jpgicc {args:?}");
    std::fs::read(&to).unwrap()
}

fn profile(path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup",
        path.display()
    );
    path
}

fn decode(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes).unwrap().into_rgb8()
}

fn options() -> ImageOptions {
    ImageOptions {
        quality: 90,
        ..ImageOptions::default()
    }
}

fn render(bytes: &[u8], content_type: &str) -> Processed {
    toq_imaging::render(bytes, content_type, &options()).unwrap()
}

/// The largest rendition (the photo's own size: none is upscaled), decoded.
fn large(processed: &Processed) -> RgbImage {
    let large = processed
        .renditions
        .iter()
        .find(|r| r.name == "large")
        .unwrap();
    decode(&large.bytes)
}

/// A JPEG in the colour space of `icc` (embedded) and lcms's sRGB conversion of it.
fn tagged(dir: &Path, icc: &Path, name: &str) -> (Vec<u8>, RgbImage) {
    let out = format!("-o{}", icc.display());
    let photo = jpgicc(dir, &[&out, "-e", "-q95"], &jpeg(&sweep()), name);
    let reference = jpgicc(dir, &["-q100"], &photo, &format!("{name}-srgb"));
    (photo, decode(&reference))
}

fn assert_converted(processed: &Processed, unconverted: &RgbImage, reference: &RgbImage) {
    let ours = mean_delta_e(&large(processed), reference);
    let naive = mean_delta_e(unconverted, reference);
    assert!(
        ours <= MAX_MEAN_DELTA_E,
        "mean ΔE2000 {ours:.2} against lcms (unconverted: {naive:.2})"
    );
    assert!(
        naive > 2.0 * MAX_MEAN_DELTA_E,
        "unconverted pixels only {naive:.2} off (converted: {ours:.2}): the photo does not tell"
    );
}

fn display_p3(dir: &Path) -> PathBuf {
    let path = dir.join("display-p3.icc");
    std::fs::write(
        &path,
        moxcms::ColorProfile::new_display_p3().encode().unwrap(),
    )
    .unwrap();
    path
}

#[test]
fn display_p3_jpeg_is_converted_to_srgb() {
    let dir = tempfile::tempdir().unwrap();
    let (photo, reference) = tagged(dir.path(), &display_p3(dir.path()), "p3");
    assert_converted(&render(&photo, "image/jpeg"), &decode(&photo), &reference);
}

#[test]
fn adobe_rgb_jpeg_is_converted_to_srgb() {
    let dir = tempfile::tempdir().unwrap();
    let (photo, reference) = tagged(dir.path(), &profile(ADOBE_RGB), "adobe");
    assert_converted(&render(&photo, "image/jpeg"), &decode(&photo), &reference);
}

#[test]
fn display_p3_png_is_converted_to_srgb() {
    let dir = tempfile::tempdir().unwrap();
    let icc = display_p3(dir.path());
    let (photo, reference) = tagged(dir.path(), &icc, "p3");
    let pixels = decode(&photo);
    let mut png = Vec::new();
    let mut encoder = PngEncoder::new(&mut png);
    encoder
        .set_icc_profile(std::fs::read(&icc).unwrap())
        .unwrap();
    encoder
        .write_image(
            pixels.as_raw(),
            pixels.width(),
            pixels.height(),
            ExtendedColorType::Rgb8,
        )
        .unwrap();
    assert_converted(&render(&png, "image/png"), &pixels, &reference);
}

/// The JPEG without its APP2 `ICC_PROFILE` segments (everything else byte for byte).
fn without_icc(jpeg: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    let mut pos = 2;
    while jpeg[pos] == 0xFF && jpeg[pos + 1] != 0xDA {
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        let segment = &jpeg[pos..pos + 2 + len];
        if !(jpeg[pos + 1] == 0xE2 && segment[4..].starts_with(b"ICC_PROFILE\0")) {
            out.extend_from_slice(segment);
        }
        pos += 2 + len;
    }
    out.extend_from_slice(&jpeg[pos..]);
    out
}

#[test]
fn srgb_tagged_photos_render_as_untagged_ones() {
    let dir = tempfile::tempdir().unwrap();
    let moxcms = dir.path().join("moxcms-srgb.icc");
    std::fs::write(&moxcms, moxcms::ColorProfile::new_srgb().encode().unwrap()).unwrap();
    for (name, icc) in [
        ("colord-srgb", profile(COLORD_SRGB)),
        ("moxcms-srgb", moxcms),
    ] {
        let out = format!("-o{}", icc.display());
        let tagged = jpgicc(dir.path(), &[&out, "-e", "-q95"], &jpeg(&sweep()), name);
        let untagged = without_icc(&tagged);
        assert!(
            untagged.len() + 300 < tagged.len(),
            "{name}: no profile was embedded"
        );
        assert_eq!(
            render(&tagged, "image/jpeg"),
            render(&untagged, "image/jpeg"),
            "{name}: an sRGB profile changed the renditions"
        );
    }
}
