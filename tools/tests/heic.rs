//! HEIC photos through heif-convert and the photo pipeline: one image, a tile grid as iPhones
//! write it, an `irot` rotation (alone and beside an EXIF orientation, which must not turn
//! it twice), Display P3 converted to sRGB within ΔE2000 1.5 of Little CMS, and an AVIF. The pixels
//! are ffmpeg's test pattern, which no turn or flip maps onto itself.

#[path = "../../imaging/tests/common/delta_e.rs"]
mod delta_e;
#[path = "common/heif.rs"]
mod heif;

use std::path::{Path, PathBuf};
use std::process::Command;

use aggregates::FailureCode;
use image::RgbImage;
use image::imageops::{self, FilterType};
use toq_imaging::{ImageOptions, Processed};
use toq_tools::{Limits, Toolbox};

use heif::{Coded, Layout};

fn toolbox() -> Toolbox {
    let toolbox = Toolbox::discover(Limits::default());
    assert!(
        toolbox.has_heif(),
        "heif-convert must be on PATH (run scripts/setup)"
    );
    toolbox
}

/// ffmpeg's `testsrc2` pattern at `width`×`height`, as a PNG in `dir`, and its pixels.
fn pattern(dir: &Path, name: &str, width: u32, height: u32) -> (PathBuf, RgbImage) {
    let path = dir.join(format!("{name}.png"));
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={width}x{height}"))
        .args(["-frames:v", "1"])
        .arg(&path)
        .status()
        .expect("ffmpeg must be on PATH");
    assert!(status.success());
    let pixels = image::open(&path).unwrap().into_rgb8();
    (path, pixels)
}

fn save(dir: &Path, name: &str, image: &RgbImage) -> PathBuf {
    let path = dir.join(format!("{name}.png"));
    image.save(&path).unwrap();
    path
}

/// heif-convert's JPEG of `file`, rendered by the photo pipeline.
async fn render(dir: &Path, file: &[u8]) -> Result<Processed, toq_imaging::Failure> {
    let input = dir.join("upload.heic");
    std::fs::write(&input, file).unwrap();
    let jpeg = toolbox().heif(&input, &dir.join("decoded.jpg")).await?;
    toq_imaging::render(&jpeg, "image/jpeg", &ImageOptions::default())
}

fn rendition(processed: &Processed, name: &str) -> RgbImage {
    let r = processed
        .renditions
        .iter()
        .find(|r| r.name == name)
        .unwrap();
    image::load_from_memory(&r.bytes).unwrap().into_rgb8()
}

/// Mean absolute difference per channel of `image` and `expected` resized to its size.
fn difference(image: &RgbImage, expected: &RgbImage) -> f64 {
    let expected = imageops::resize(
        expected,
        image.width(),
        image.height(),
        FilterType::Triangle,
    );
    let sum: u64 = image
        .as_raw()
        .iter()
        .zip(expected.as_raw())
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    sum as f64 / image.as_raw().len() as f64
}

/// `image` shows `expected` (HEVC and two JPEG generations stay well under 8), and none of
/// the wrong turns is as close.
fn assert_shows(image: &RgbImage, expected: &RgbImage, wrong: &[RgbImage]) {
    let right = difference(image, expected);
    assert!(
        right < 8.0,
        "mean difference {right:.1} from the expected image"
    );
    for other in wrong
        .iter()
        .filter(|w| w.dimensions() == image.dimensions())
    {
        let off = difference(image, other);
        assert!(
            off > 3.0 * right,
            "a wrong turn is as close: {off:.1} vs {right:.1}"
        );
    }
}

fn single(coded: Coded) -> Layout {
    Layout {
        tiles: vec![coded],
        columns: 1,
        width: 0,
        height: 0,
        quarter_turns: None,
        exif_orientation: None,
    }
}

#[tokio::test]
async fn one_heic_renders_at_every_size() {
    let dir = tempfile::tempdir().unwrap();
    let (png, source) = pattern(dir.path(), "source", 1600, 1000);
    let file = heif::assemble(&single(heif::encode(dir.path(), &png, 70)));
    let processed = render(dir.path(), &file).await.unwrap();
    assert_eq!((processed.width, processed.height), (1600, 1000));
    let sizes: Vec<_> = processed
        .renditions
        .iter()
        .map(|r| (r.name.as_str(), r.width, r.height, r.content_type))
        .collect();
    assert_eq!(
        sizes,
        [
            ("thumbnail", 320, 200, "image/jpeg"),
            ("small", 640, 400, "image/jpeg"),
            ("medium", 1280, 800, "image/jpeg"),
            ("large", 1600, 1000, "image/jpeg"),
        ]
    );
    let flipped = imageops::flip_vertical(&source);
    assert_shows(&rendition(&processed, "large"), &source, &[flipped]);
}

#[tokio::test]
async fn a_tile_grid_is_stitched_in_order_and_cropped_to_its_size() {
    let dir = tempfile::tempdir().unwrap();
    // 3×2 tiles of 256 px cover 768×512; the grid shows 700×500 of it, as an iPhone's
    // 4032×3024 photo is 8×6 tiles of 512 cropped.
    let (_, padded) = pattern(dir.path(), "padded", 768, 512);
    let tiles = (0..2)
        .flat_map(|row| (0..3).map(move |column| (row, column)))
        .map(|(row, column)| {
            let tile = imageops::crop_imm(&padded, column * 256, row * 256, 256, 256).to_image();
            let png = save(dir.path(), &format!("tile-{row}-{column}"), &tile);
            heif::encode(dir.path(), &png, 85)
        })
        .collect();
    let layout = Layout {
        tiles,
        columns: 3,
        width: 700,
        height: 500,
        quarter_turns: None,
        exif_orientation: None,
    };
    let processed = render(dir.path(), &heif::assemble(&layout)).await.unwrap();
    assert_eq!((processed.width, processed.height), (700, 500));
    let expected = imageops::crop_imm(&padded, 0, 0, 700, 500).to_image();
    let mirrored = imageops::flip_horizontal(&expected);
    assert_shows(&rendition(&processed, "large"), &expected, &[mirrored]);
}

#[tokio::test]
async fn irot_turns_the_photo_once_even_beside_an_exif_orientation() {
    let dir = tempfile::tempdir().unwrap();
    let (png, source) = pattern(dir.path(), "source", 640, 400);
    let coded = heif::encode(dir.path(), &png, 85);
    // irot counts anti-clockwise quarter turns
    let upright = imageops::rotate270(&source);
    let twice = imageops::rotate180(&upright);
    for exif_orientation in [None, Some(6)] {
        let layout = Layout {
            quarter_turns: Some(1),
            exif_orientation,
            ..single(coded.clone())
        };
        let processed = render(dir.path(), &heif::assemble(&layout)).await.unwrap();
        assert_eq!(
            (processed.width, processed.height),
            (400, 640),
            "EXIF {exif_orientation:?}"
        );
        let large = rendition(&processed, "large");
        assert_shows(
            &large,
            &upright,
            &[twice.clone(), imageops::rotate90(&source)],
        );
    }
}

#[tokio::test]
async fn display_p3_heic_is_converted_to_srgb() {
    let dir = tempfile::tempdir().unwrap();
    let (png, _) = pattern(dir.path(), "source", 640, 400);
    let icc = dir.path().join("display-p3.icc");
    std::fs::write(
        &icc,
        moxcms::ColorProfile::new_display_p3().encode().unwrap(),
    )
    .unwrap();
    // jpgicc converts the pattern into Display P3 and embeds the profile, as a phone does;
    // heif-enc keeps it as the HEIC's `colr` profile; jpgicc's sRGB of that is the reference
    let jpeg = dir.path().join("source.jpg");
    run(
        "ffmpeg",
        &[
            "-loglevel",
            "error",
            "-y",
            "-i",
            s(&png),
            "-q:v",
            "1",
            s(&jpeg),
        ],
    );
    let p3 = dir.path().join("p3.jpg");
    let out = format!("-o{}", icc.display());
    run("jpgicc", &[&out, "-e", "-q98", s(&jpeg), s(&p3)]);
    let reference_path = dir.path().join("reference.jpg");
    run("jpgicc", &["-q100", s(&p3), s(&reference_path)]);
    let reference = image::open(&reference_path).unwrap().into_rgb8();
    let coded = heif::encode(dir.path(), &p3, 90);
    assert!(coded.colr.is_some(), "heif-enc dropped the profile");
    let processed = render(dir.path(), &heif::assemble(&single(coded)))
        .await
        .unwrap();
    let ours = delta_e::mean_delta_e(&rendition(&processed, "large"), &reference);
    let unconverted = image::open(&p3).unwrap().into_rgb8();
    let naive = delta_e::mean_delta_e(&unconverted, &reference);
    eprintln!("Display P3 HEIC: mean ΔE2000 {ours:.2} against lcms (unconverted {naive:.2})");
    assert!(
        ours <= 1.5,
        "mean ΔE2000 {ours:.2} against lcms (unconverted {naive:.2})"
    );
    assert!(
        naive > 3.0,
        "unconverted only {naive:.2} off: the pattern does not tell"
    );
}

/// AVIF is HEIF with AV1 inside: the same boxes, the same tool (libheif's dav1d/aom).
#[tokio::test]
async fn an_avif_takes_the_same_path() {
    let dir = tempfile::tempdir().unwrap();
    let (png, source) = pattern(dir.path(), "source", 640, 400);
    let avif = dir.path().join("photo.avif");
    run("heif-enc", &["-A", "-q", "70", "-o", s(&avif), s(&png)]);
    let file = std::fs::read(&avif).unwrap();
    assert_eq!(
        toq_imaging::heif::primary_size(&file, 100_000_000),
        Ok((640, 400))
    );
    let processed = render(dir.path(), &file).await.unwrap();
    assert_eq!((processed.width, processed.height), (640, 400));
    let flipped = imageops::flip_vertical(&source);
    assert_shows(&rendition(&processed, "large"), &source, &[flipped]);
}

#[tokio::test]
async fn a_broken_or_foreign_file_is_refused_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let (png, _) = pattern(dir.path(), "source", 320, 200);
    let coded = heif::encode(dir.path(), &png, 70);
    let file = heif::assemble(&single(coded.clone()));
    // the coded data cut in half: the boxes are whole, the HEVC stream is not
    let mut broken = single(coded);
    let half = broken.tiles[0].data.len() / 2;
    broken.tiles[0].data.truncate(half);
    let cut = render(dir.path(), &heif::assemble(&broken))
        .await
        .unwrap_err();
    assert_eq!(cut.code, FailureCode::DecodeFailed, "{cut}");
    assert!(!cut.message.is_empty());
    // a PNG handed to the HEIF tool never reaches it
    let foreign = render(dir.path(), &std::fs::read(&png).unwrap())
        .await
        .unwrap_err();
    assert_eq!(foreign.code, FailureCode::UnsupportedMedia, "{foreign}");
    // and the whole file decodes, so the failures above are the damage's
    render(dir.path(), &file).await.unwrap();
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        // jpgicc prints its banner whatever it does
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{program} (installed by scripts/setup): {e}"));
    assert!(status.success(), "{program} {args:?}");
}
