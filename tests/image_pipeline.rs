//! The photo rendition pipeline (`toq_imaging::render`) on the real fixtures and on inputs
//! derived from them in place: EXIF orientations spliced in, truncated files, forged headers.
//!
//! Outputs are checked with an independent decoder (the `image` crate), and orientation by
//! comparing mean colours of the four quadrants against `image`'s own `apply_orientation`.

use std::path::Path;

use aggregates::FailureCode;
use image::{DynamicImage, GenericImageView, ImageFormat, RgbImage, imageops::FilterType};
use toq_imaging::{Failure, ImageOptions, Processed, Rendition, render};

#[path = "support/png.rs"]
mod png;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn render_ok(bytes: &[u8], content_type: &str) -> Processed {
    render(bytes, content_type, &ImageOptions::default())
        .unwrap_or_else(|f| panic!("render failed: {f}"))
}

fn render_err(bytes: &[u8], content_type: &str) -> Failure {
    match render(bytes, content_type, &ImageOptions::default()) {
        Ok(p) => panic!(
            "expected a failure, got {}x{} with {} renditions",
            p.width,
            p.height,
            p.renditions.len()
        ),
        Err(f) => f,
    }
}

fn rendition<'a>(processed: &'a Processed, name: &str) -> &'a Rendition {
    processed
        .renditions
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no {name} rendition"))
}

// ---------------------------------------------------------------------------------------------
// JPEG structure helpers

/// The marker segments of a JPEG up to (not including) its first scan: (marker, offset, length).
fn segments(jpeg: &[u8]) -> Vec<(u8, usize, usize)> {
    assert_eq!(&jpeg[..2], [0xFF, 0xD8], "not a JPEG");
    let mut pos = 2;
    let mut out = Vec::new();
    while jpeg[pos] == 0xFF && jpeg[pos + 1] != 0xDA {
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        out.push((jpeg[pos + 1], pos, len));
        pos += 2 + len;
    }
    out
}

/// An APP1 `Exif` segment holding only an Orientation tag (big-endian TIFF, one IFD entry).
fn exif_app1(orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend(1u16.to_be_bytes()); // entries
    tiff.extend(0x0112u16.to_be_bytes()); // Orientation
    tiff.extend(3u16.to_be_bytes()); // SHORT
    tiff.extend(1u32.to_be_bytes()); // count
    tiff.extend(orientation.to_be_bytes());
    tiff.extend([0, 0]); // value padding
    tiff.extend(0u32.to_be_bytes()); // no next IFD
    let payload = [b"Exif\0\0".as_slice(), &tiff].concat();
    let mut segment = vec![0xFF, 0xE1];
    segment.extend(u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    segment.extend(payload);
    segment
}

/// A copy of `jpeg` (which has no EXIF) with an Orientation spliced in after its JFIF APP0.
fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let at = match segments(jpeg).first() {
        Some(&(0xE0, pos, len)) => pos + 2 + len,
        _ => 2,
    };
    [&jpeg[..at], &exif_app1(orientation), &jpeg[at..]].concat()
}

/// A copy of `jpeg` whose SOF0 header announces `width`×`height`.
fn with_sof_dimensions(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let &(_, pos, _) = segments(jpeg)
        .iter()
        .find(|s| s.0 == 0xC0)
        .expect("a baseline SOF0");
    let mut out = jpeg.to_vec();
    out[pos + 5..pos + 7].copy_from_slice(&height.to_be_bytes());
    out[pos + 7..pos + 9].copy_from_slice(&width.to_be_bytes());
    out
}

/// Every JPEG rendition: SOI first, no APP1 (so no EXIF, no GPS), decodes to its stated size.
fn assert_clean_jpeg(r: &Rendition) -> RgbImage {
    assert_eq!(
        (r.content_type, r.extension),
        ("image/jpeg", "jpg"),
        "{}",
        r.name
    );
    assert_eq!(
        &r.bytes[..2],
        [0xFF, 0xD8],
        "{} does not start with SOI",
        r.name
    );
    assert!(
        segments(&r.bytes).iter().all(|s| s.0 != 0xE1),
        "{} carries an APP1 segment",
        r.name
    );
    assert!(
        !r.bytes.windows(6).any(|w| w == b"Exif\0\0"),
        "{} carries EXIF",
        r.name
    );
    let decoded =
        image::load_from_memory_with_format(&r.bytes, ImageFormat::Jpeg).expect("decodes");
    assert_eq!(
        decoded.dimensions(),
        (r.width, r.height),
        "{} decodes to another size",
        r.name
    );
    decoded.into_rgb8()
}

/// Asserts the long edge exactly and the short edge within 1 px of the exact aspect.
fn assert_fits(r: &Rendition, original: (u32, u32), edge: u32) {
    let (w, h) = original;
    let long = w.max(h);
    let expected_long = long.min(edge);
    assert_eq!(
        r.width.max(r.height),
        expected_long,
        "{}: long edge",
        r.name
    );
    assert_eq!(
        r.width >= r.height,
        w >= h,
        "{}: orientation of the box",
        r.name
    );
    let exact_short = f64::from(w.min(h)) * f64::from(expected_long) / f64::from(long);
    let short = f64::from(r.width.min(r.height));
    assert!(
        (short - exact_short).abs() <= 1.0,
        "{}: short edge {short} vs {exact_short}",
        r.name
    );
}

fn assert_default_boxes(processed: &Processed, original: (u32, u32)) {
    let names: Vec<&str> = processed
        .renditions
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["thumbnail", "small", "medium", "large"]);
    for (name, edge) in ImageOptions::default().sizes {
        let r = rendition(processed, &name);
        assert_fits(r, original, edge);
        assert_clean_jpeg(r);
    }
}

// ---------------------------------------------------------------------------------------------
// Colour checks

/// Mean RGB of each quadrant (TL, TR, BL, BR), leaving out a band around the centre lines and
/// the borders so that resampling differences at the edges do not matter.
fn quadrant_means(img: &RgbImage) -> [[f64; 3]; 4] {
    let (w, h) = img.dimensions();
    let (mx, my) = (w / 10, h / 10);
    let ranges = |size: u32, margin: u32| {
        [
            (margin, size / 2 - margin),
            (size / 2 + margin, size - margin),
        ]
    };
    let mut out = [[0.0; 3]; 4];
    for (qy, &(y0, y1)) in ranges(h, my).iter().enumerate() {
        for (qx, &(x0, x1)) in ranges(w, mx).iter().enumerate() {
            let mut sum = [0.0; 3];
            for y in y0..y1 {
                for x in x0..x1 {
                    let p = img.get_pixel(x, y).0;
                    (0..3).for_each(|c| sum[c] += f64::from(p[c]));
                }
            }
            let n = f64::from((x1 - x0) * (y1 - y0));
            out[qy * 2 + qx] = sum.map(|s| s / n);
        }
    }
    out
}

fn colour_distance(a: &[[f64; 3]; 4], b: &[[f64; 3]; 4]) -> f64 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// `original` shown with EXIF orientation `n`, by the `image` crate, at `width`×`height`.
fn reference(original: &DynamicImage, n: u8, width: u32, height: u32) -> RgbImage {
    let mut oriented = original.clone();
    oriented.apply_orientation(image::metadata::Orientation::from_exif(n).unwrap());
    assert_eq!(
        oriented.dimensions().0 > oriented.dimensions().1,
        width > height,
        "reference orientation {n}"
    );
    oriented
        .resize_exact(width, height, FilterType::Triangle)
        .into_rgb8()
}

const SAME_PICTURE: f64 = 10.0;
const OTHER_PICTURE: f64 = 30.0;

// ---------------------------------------------------------------------------------------------
// Sizes

#[test]
fn landscape_jpeg_fits_every_box_and_is_never_upscaled() {
    let processed = render_ok(&fixture("living-room.jpg"), "image/jpeg");
    assert_eq!((processed.width, processed.height), (640, 427));
    assert_default_boxes(&processed, (640, 427));
    assert_eq!(rendition(&processed, "thumbnail").width, 320);
    for name in ["small", "medium", "large"] {
        let r = rendition(&processed, name);
        assert_eq!(
            (r.width, r.height),
            (640, 427),
            "{name} is the original size"
        );
    }
}

#[test]
fn portrait_jpeg_fits_every_box_and_is_never_upscaled() {
    let processed = render_ok(&fixture("kitchen-portrait.jpg"), "image/jpeg");
    assert_eq!((processed.width, processed.height), (480, 640));
    assert_default_boxes(&processed, (480, 640));
    let thumbnail = rendition(&processed, "thumbnail");
    assert_eq!((thumbnail.width, thumbnail.height), (240, 320));
    let small = rendition(&processed, "small");
    assert_eq!((small.width, small.height), (480, 640));
}

/// Every rendition is a clean JPEG whose quadrant colours match a reference resize of
/// `original` (orientation 1).
fn assert_same_picture(original: &DynamicImage, processed: &Processed) {
    for r in &processed.renditions {
        let ours = assert_clean_jpeg(r);
        let theirs = reference(original, 1, r.width, r.height);
        let distance = colour_distance(&quadrant_means(&ours), &quadrant_means(&theirs));
        assert!(
            distance < SAME_PICTURE,
            "{}: quadrant colours differ by {distance:.1}",
            r.name
        );
    }
}

#[test]
fn renditions_look_like_the_original() {
    let bytes = fixture("living-room.jpg");
    let original = image::load_from_memory(&bytes).unwrap();
    let processed = render_ok(&bytes, "image/jpeg");
    assert_same_picture(&original, &processed);
}

/// A print shop's CMYK JPEG (Adobe APP14, inverted, as Photoshop and Pillow write it)
/// renders as RGB renditions of the same picture: each pixel within a few levels of the RGB
/// scene it was made from, not inverted or channel-swapped.
#[test]
fn cmyk_jpeg_renders_as_its_rgb_picture() {
    let processed = render_ok(&fixture("print-cmyk.jpg"), "image/jpeg");
    assert_eq!((processed.width, processed.height), (480, 320));
    let scene = image::load_from_memory(&fixture("print-rgb.png"))
        .unwrap()
        .into_rgb8();
    let large = assert_clean_jpeg(rendition(&processed, "large"));
    assert_eq!(large.dimensions(), scene.dimensions());
    let diff = |a: &RgbImage, b: &RgbImage| {
        let sum: u64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        sum as f64 / a.as_raw().len() as f64
    };
    let ours = diff(&large, &scene);
    let mut inverted = scene.clone();
    image::imageops::invert(&mut inverted);
    assert!(ours < 4.0, "mean difference {ours:.2} from the RGB scene");
    assert!(
        diff(&large, &inverted) > 20.0 * ours,
        "an inverted picture is as close"
    );
    assert_same_picture(&DynamicImage::ImageRgb8(scene), &processed);
}

#[test]
fn renditions_follow_the_configured_order_whatever_their_sizes() {
    let opts = ImageOptions {
        sizes: vec![
            ("big".into(), 1920),
            ("tiny".into(), 100),
            ("mid".into(), 300),
            ("tiny-again".into(), 100),
        ],
        ..ImageOptions::default()
    };
    let processed = render(&fixture("living-room.jpg"), "image/jpeg", &opts).unwrap();
    let got: Vec<(&str, u32, u32)> = processed
        .renditions
        .iter()
        .map(|r| (r.name.as_str(), r.width, r.height))
        .collect();
    assert_eq!(
        got,
        [
            ("big", 640, 427),
            ("tiny", 100, 67),
            ("mid", 300, 200),
            ("tiny-again", 100, 67)
        ]
    );
    processed
        .renditions
        .iter()
        .for_each(|r| drop(assert_clean_jpeg(r)));
}

#[test]
fn dct_scaled_decode_of_a_large_photo_gives_exact_sizes_and_the_same_picture() {
    // a 4000x3000 photo-like JPEG made from the fixture, so shrink-on-load (1/2 for 1920) is used
    let original = image::load_from_memory(&fixture("living-room.jpg")).unwrap();
    let big = original
        .resize_exact(4000, 3000, FilterType::Nearest)
        .into_rgb8();
    let image = turbojpeg::Image {
        pixels: big.as_raw().as_slice(),
        width: 4000,
        pitch: 4000 * 3,
        height: 3000,
        format: turbojpeg::PixelFormat::RGB,
    };
    let jpeg = turbojpeg::compress(image, 90, turbojpeg::Subsamp::Sub2x2)
        .unwrap()
        .to_vec();
    let processed = render_ok(&jpeg, "image/jpeg");
    assert_eq!((processed.width, processed.height), (4000, 3000));
    let sizes: Vec<(u32, u32)> = processed
        .renditions
        .iter()
        .map(|r| (r.width, r.height))
        .collect();
    assert_eq!(sizes, [(320, 240), (640, 480), (1280, 960), (1920, 1440)]);
    assert_same_picture(&original, &processed);
}

// ---------------------------------------------------------------------------------------------
// Orientation and metadata

#[test]
fn orientation_6_photo_comes_out_upright_without_exif_or_gps() {
    let bytes = fixture("balcony-exif-orientation-6.jpg");
    assert!(
        bytes.windows(6).any(|w| w == b"Exif\0\0"),
        "the fixture carries EXIF"
    );
    let processed = render_ok(&bytes, "image/jpeg");
    assert_eq!(
        (processed.width, processed.height),
        (400, 600),
        "upright size"
    );
    assert_default_boxes(&processed, (400, 600));

    // `image` does not apply EXIF by itself: this is the stored 600x400 picture
    let stored = image::load_from_memory(&bytes).unwrap();
    assert_eq!(stored.dimensions(), (600, 400));
    for r in &processed.renditions {
        let ours = quadrant_means(&assert_clean_jpeg(r));
        let rotated = stored
            .rotate90()
            .resize_exact(r.width, r.height, FilterType::Triangle)
            .into_rgb8();
        let distance = colour_distance(&ours, &quadrant_means(&rotated));
        assert!(
            distance < SAME_PICTURE,
            "{}: differs from rotate90 by {distance:.1}",
            r.name
        );
        let wrong = stored
            .rotate270()
            .resize_exact(r.width, r.height, FilterType::Triangle)
            .into_rgb8();
        let distance = colour_distance(&ours, &quadrant_means(&wrong));
        assert!(
            distance > OTHER_PICTURE,
            "{}: also matches rotate270 ({distance:.1})",
            r.name
        );
    }
}

#[test]
fn all_eight_exif_orientations_are_applied() {
    let plain = fixture("living-room.jpg");
    let original = image::load_from_memory(&plain).unwrap();
    let thumbnails: Vec<RgbImage> = (1..=8u8)
        .map(|n| {
            let processed = render_ok(&with_orientation(&plain, u16::from(n)), "image/jpeg");
            let upright = if n >= 5 { (427, 640) } else { (640, 427) };
            assert_eq!(
                (processed.width, processed.height),
                upright,
                "orientation {n}"
            );
            assert_default_boxes(&processed, upright);
            assert_clean_jpeg(rendition(&processed, "thumbnail"))
        })
        .collect();
    for (i, ours) in thumbnails.iter().enumerate() {
        let (n, means) = (i as u8 + 1, quadrant_means(ours));
        for m in 1..=8u8 {
            if (m >= 5) != (n >= 5) {
                continue; // other dimensions: not comparable, and already told apart by size
            }
            let distance = colour_distance(
                &means,
                &quadrant_means(&reference(&original, m, ours.width(), ours.height())),
            );
            if m == n {
                assert!(
                    distance < SAME_PICTURE,
                    "orientation {n}: differs from the reference by {distance:.1}"
                );
            } else {
                assert!(
                    distance > OTHER_PICTURE,
                    "orientation {n}: also matches orientation {m} ({distance:.1})"
                );
            }
        }
    }
}

#[test]
fn out_of_range_or_broken_exif_orientation_means_as_stored() {
    let plain = fixture("living-room.jpg");
    for bytes in [with_orientation(&plain, 0), with_orientation(&plain, 9), {
        let mut broken = with_orientation(&plain, 6);
        let at = broken.windows(4).position(|w| w == b"MM\0\x2a").unwrap();
        broken[at..at + 4].copy_from_slice(b"XXXX"); // not a TIFF header any more
        broken
    }] {
        let processed = render_ok(&bytes, "image/jpeg");
        assert_eq!((processed.width, processed.height), (640, 427));
    }
}

// ---------------------------------------------------------------------------------------------
// PNG and WebP

#[test]
fn png_with_transparency_gives_png_renditions_keeping_alpha() {
    let bytes = fixture("floorplan-alpha.png");
    let processed = render_ok(&bytes, "image/png");
    assert_eq!((processed.width, processed.height), (320, 240));
    for r in &processed.renditions {
        assert_eq!(
            (r.content_type, r.extension),
            ("image/png", "png"),
            "{}",
            r.name
        );
        assert_eq!((r.width, r.height), (320, 240), "{}: no upscaling", r.name);
        let decoded = image::load_from_memory_with_format(&r.bytes, ImageFormat::Png).unwrap();
        assert!(decoded.color().has_alpha(), "{}", r.name);
        let rgba = decoded.into_rgba8();
        assert_eq!(
            rgba.get_pixel(120, 120).0[3],
            0,
            "{}: the hole stays transparent",
            r.name
        );
        assert_eq!(
            rgba.get_pixel(5, 5).0[3],
            255,
            "{}: the rest stays opaque",
            r.name
        );
    }

    // and through an actual resize (premultiplied, so no dark fringes)
    let opts = ImageOptions {
        sizes: vec![("tiny".into(), 100)],
        ..ImageOptions::default()
    };
    let tiny = &render(&bytes, "image/png", &opts).unwrap().renditions[0];
    assert_eq!(
        (tiny.width, tiny.height, tiny.content_type),
        (100, 75, "image/png")
    );
    let rgba = image::load_from_memory(&tiny.bytes).unwrap().into_rgba8();
    assert_eq!(rgba.dimensions(), (100, 75));
    assert_eq!(rgba.get_pixel(37, 37).0[3], 0, "the hole stays transparent");
    assert_eq!(rgba.get_pixel(2, 2).0[3], 255);
    assert_eq!(rgba.get_pixel(90, 70).0[3], 255);
}

fn encoded(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

#[test]
fn opaque_png_and_webp_give_jpeg_renditions() {
    let original = image::load_from_memory(&fixture("kitchen-portrait.jpg")).unwrap();
    let with_unused_alpha = DynamicImage::ImageRgba8(original.to_rgba8());
    let inputs = [
        ("rgb png", encoded(&original, ImageFormat::Png), "image/png"),
        (
            "opaque rgba png",
            encoded(&with_unused_alpha, ImageFormat::Png),
            "image/png",
        ),
        (
            "lossless webp",
            encoded(&original, ImageFormat::WebP),
            "image/webp",
        ),
        (
            "rgba webp",
            encoded(&with_unused_alpha, ImageFormat::WebP),
            "image/webp",
        ),
    ];
    for (what, bytes, content_type) in inputs {
        let processed = render_ok(&bytes, content_type);
        assert_eq!((processed.width, processed.height), (480, 640), "{what}");
        assert_default_boxes(&processed, (480, 640));
        let thumbnail = assert_clean_jpeg(rendition(&processed, "thumbnail"));
        let distance = colour_distance(
            &quadrant_means(&thumbnail),
            &quadrant_means(&reference(&original, 1, 240, 320)),
        );
        assert!(distance < SAME_PICTURE, "{what}: differs by {distance:.1}");
    }
}

#[test]
fn webp_with_transparency_gives_png_renditions() {
    let png = image::load_from_memory(&fixture("floorplan-alpha.png")).unwrap();
    let processed = render_ok(&encoded(&png, ImageFormat::WebP), "image/webp");
    let thumbnail = rendition(&processed, "thumbnail");
    assert_eq!(
        (thumbnail.width, thumbnail.height, thumbnail.content_type),
        (320, 240, "image/png")
    );
    let rgba = image::load_from_memory(&thumbnail.bytes)
        .unwrap()
        .into_rgba8();
    assert_eq!(rgba.get_pixel(120, 120).0[3], 0);
}

#[test]
fn cmyk_jpeg_decodes_to_rgb() {
    // Adobe-style inverted CMYK: pure red is C=0 M=Y=100% K=0, stored as 255, 0, 0, 255
    let (w, h) = (64usize, 48usize);
    let pixels: Vec<u8> = [255u8, 0, 0, 255].repeat(w * h);
    let image = turbojpeg::Image {
        pixels: pixels.as_slice(),
        width: w,
        pitch: w * 4,
        height: h,
        format: turbojpeg::PixelFormat::CMYK,
    };
    let jpeg = turbojpeg::compress(image, 95, turbojpeg::Subsamp::None)
        .unwrap()
        .to_vec();
    let processed = render_ok(&jpeg, "image/jpeg");
    let thumbnail = assert_clean_jpeg(rendition(&processed, "thumbnail"));
    let [r, g, b] = thumbnail.get_pixel(32, 24).0;
    assert!(r > 230 && g < 30 && b < 30, "expected red, got {r},{g},{b}");
}

#[test]
fn grayscale_and_progressive_jpegs_decode() {
    let original = image::load_from_memory(&fixture("living-room.jpg")).unwrap();
    let gray = original.to_luma8();
    let gray_jpeg = turbojpeg::compress(
        turbojpeg::Image {
            pixels: gray.as_raw().as_slice(),
            width: 640,
            pitch: 640,
            height: 427,
            format: turbojpeg::PixelFormat::GRAY,
        },
        90,
        turbojpeg::Subsamp::Gray,
    )
    .unwrap()
    .to_vec();
    let rgb = original.to_rgb8();
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_progressive(true).unwrap();
    compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
    let progressive = compressor
        .compress_to_vec(turbojpeg::Image {
            pixels: rgb.as_raw().as_slice(),
            width: 640,
            pitch: 640 * 3,
            height: 427,
            format: turbojpeg::PixelFormat::RGB,
        })
        .unwrap();
    for (what, bytes) in [("grayscale", gray_jpeg), ("progressive", progressive)] {
        let processed = render_ok(&bytes, "image/jpeg");
        assert_eq!((processed.width, processed.height), (640, 427), "{what}");
        assert_default_boxes(&processed, (640, 427));
    }
}

// ---------------------------------------------------------------------------------------------
// Failures

#[test]
fn truncated_jpeg_is_decode_failed() {
    let bytes = fixture("living-room.jpg");
    let failure = render_err(&bytes[..bytes.len() / 2], "image/jpeg");
    assert_eq!(failure.code, FailureCode::DecodeFailed, "{failure}");
}

#[test]
fn jpeg_cut_inside_its_header_is_decode_failed() {
    let failure = render_err(&fixture("living-room.jpg")[..100], "image/jpeg");
    assert_eq!(failure.code, FailureCode::DecodeFailed, "{failure}");
}

#[test]
fn zero_bytes_are_decode_failed() {
    let failure = render_err(&[], "image/jpeg");
    assert_eq!(failure.code, FailureCode::DecodeFailed);
    assert!(failure.message.contains("empty"), "{failure}");
}

#[test]
fn pdf_posing_as_jpeg_is_unsupported_media() {
    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n";
    let failure = render_err(pdf, "image/jpeg");
    assert_eq!(failure.code, FailureCode::UnsupportedMedia);
    assert!(
        failure.message.contains("PDF") && failure.message.contains("image/jpeg"),
        "{failure}"
    );
}

#[test]
fn other_bytes_are_unsupported_media() {
    for bytes in [
        &b"GIF89a\x01\x00\x01\x00"[..],
        b"hello, this is not an image",
        b"II*\0\x08\0\0\0",
    ] {
        let failure = render_err(bytes, "image/jpeg");
        assert_eq!(failure.code, FailureCode::UnsupportedMedia, "{failure}");
    }
}

#[test]
fn heic_is_unsupported_media_with_a_clear_message() {
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\x08meta";
    let mif1 = b"\0\0\0\x14ftypmif1\0\0\0\0heic\0\0\0\x08meta";
    for bytes in [&heic[..], &mif1[..]] {
        let failure = render_err(bytes, "image/heic");
        assert_eq!(failure.code, FailureCode::UnsupportedMedia);
        assert!(failure.message.contains("HEIC"), "{failure}");
    }
}

/// A well-formed PNG that claims `width`×`height` RGBA but carries a tiny (empty) IDAT.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let empty_zlib = [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01];
    png::png(width, height, 8, 6, &empty_zlib)
}

#[test]
fn huge_png_header_is_image_too_large() {
    let failure = render_err(&png_header_only(20_000, 20_000), "image/png");
    assert_eq!(failure.code, FailureCode::ImageTooLarge, "{failure}");
    assert!(failure.message.contains("20000x20000"), "{failure}");
    // the same forged file within the limit is an honest decode failure (its IDAT is empty)
    let failure = render_err(&png_header_only(200, 200), "image/png");
    assert_eq!(failure.code, FailureCode::DecodeFailed, "{failure}");
}

#[test]
fn huge_jpeg_sof_is_image_too_large() {
    let forged = with_sof_dimensions(&fixture("living-room.jpg"), 20_000, 20_000);
    let failure = render_err(&forged, "image/jpeg");
    assert_eq!(failure.code, FailureCode::ImageTooLarge, "{failure}");
    assert!(failure.message.contains("20000x20000"), "{failure}");
}

/// A 20000×20000 header is refused before any pixel buffer exists: the whole process (the
/// `toq-media render` diagnostics command) stays far below the 1.2 GB such an image would need.
#[test]
fn huge_headers_are_refused_with_little_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.jpg");
    std::fs::write(
        &path,
        with_sof_dimensions(&fixture("living-room.jpg"), 20_000, 20_000),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_toq-media"))
        .arg("render")
        .arg(&path)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["outcome"]["errorCode"],
        FailureCode::ImageTooLarge.as_str(),
        "{report}"
    );
    let peak_kb = report["peakRssKb"].as_u64().expect("peak RSS is reported");
    assert!(
        peak_kb < 100 * 1024,
        "peak RSS {peak_kb} kB is not under 100 MB"
    );
}

#[test]
fn max_pixels_is_configurable_and_inclusive() {
    let bytes = fixture("living-room.jpg");
    let exact = ImageOptions {
        max_pixels: 640 * 427,
        ..ImageOptions::default()
    };
    assert!(render(&bytes, "image/jpeg", &exact).is_ok());
    let below = ImageOptions {
        max_pixels: 640 * 427 - 1,
        ..ImageOptions::default()
    };
    assert_eq!(
        render(&bytes, "image/jpeg", &below).unwrap_err().code,
        FailureCode::ImageTooLarge
    );
    let png = fixture("floorplan-alpha.png");
    let small = ImageOptions {
        max_pixels: 1000,
        ..ImageOptions::default()
    };
    assert_eq!(
        render(&png, "image/png", &small).unwrap_err().code,
        FailureCode::ImageTooLarge
    );
}

#[test]
fn failures_display_their_code() {
    let failure = render_err(b"%PDF-1.4", "image/jpeg");
    assert!(
        failure.to_string().starts_with("UNSUPPORTED_MEDIA: "),
        "{failure}"
    );
}

#[test]
fn the_png_bomb_is_a_valid_png_of_zeros() {
    for (w, h) in [(1, 1), (3, 2), (40, 33), (100, 7)] {
        let img =
            ::image::load_from_memory(&png::bomb(w, h)).unwrap_or_else(|e| panic!("{w}x{h}: {e}"));
        assert_eq!(img.color(), ::image::ColorType::Rgba16);
        assert_eq!(img.dimensions(), (w, h));
        assert!(img.into_rgba16().into_raw().iter().all(|&v| v == 0));
    }
    assert!(png::bomb(9900, 9999).len() < 1 << 20, "a bomb under 1 MiB");
}

/// A 16-bit RGBA bomb just under the pixel cap is within `max_pixels` but needs ≈ 1.2 GB
/// (its 792 MB decode and a 396 MB 8-bit copy): its estimate says so from the header.
#[test]
fn a_png_bomb_is_estimated_at_its_decode_and_conversion() {
    let bomb = png::bomb(9900, 9999);
    let inspection = toq_imaging::inspect(&bomb, "image/png", &ImageOptions::default()).unwrap();
    let estimate = inspection.estimate();
    assert_eq!(estimate.raw, bomb.len() as u64);
    assert!(estimate.working >= 9900 * 9999 * (8 + 4), "{estimate:?}");
    let refused = estimate.check(512).unwrap_err();
    assert_eq!(refused.code, FailureCode::ImageTooLarge);
}
