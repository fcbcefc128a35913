//! The worker's rendition pipeline over a folder of photos, for `scripts/bench images`, which runs
//! it next to sharp in the same script and prints the ratio. Modes:
//!   --select DIR MIN_MP MAX_MP   copy the JPEGs of MIN..MAX megapixels into DIR/selected
//!   --pipeline DIR WORKERS ROUNDS   render every photo ROUNDS times on WORKERS threads
//!   --decode DIR WORKERS ROUNDS     the floor: only the scaled JPEG decode the pipeline does
//!   --quality DIR SHARP_DIR   per size, the mean SSIM of the worker's renditions and of sharp's
//!       (written by `sharp.mjs ... cascade SHARP_DIR`) against a reference made from the full
//!       decode with the `image` crate's float Lanczos3 at each output's own size, and their
//!       mean bytes; photos with an EXIF orientation are left out (the reference is not turned)

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use toq_imaging::{ImageOptions, render};

mod common;
#[path = "common/ssim.rs"]
mod ssim;
use common::jpegs;

fn megapixels(bytes: &[u8]) -> f64 {
    let h = turbojpeg::read_header(bytes).expect("a JPEG header");
    (h.width * h.height) as f64 / 1e6
}

/// Peak resident memory of this process, in MB (Linux `VmHWM`).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The decode the pipeline does: the smallest DCT scale that still covers a 1920 px long edge.
fn decode_scaled(bytes: &[u8]) {
    let header = turbojpeg::read_header(bytes).expect("a JPEG header");
    let long = header.width.max(header.height);
    let scale = [8, 4, 2, 1]
        .into_iter()
        .map(|d| turbojpeg::ScalingFactor::new(1, d))
        .find(|s| s.scale(long) >= 1920)
        .unwrap_or(turbojpeg::ScalingFactor::ONE);
    let mut d = turbojpeg::Decompressor::new().expect("a decompressor");
    d.set_scaling_factor(scale).expect("a supported scale");
    let scaled = header.scaled(scale);
    let mut image = turbojpeg::Image {
        pixels: vec![0u8; scaled.width * scaled.height * 3],
        width: scaled.width,
        pitch: scaled.width * 3,
        height: scaled.height,
        format: turbojpeg::PixelFormat::RGB,
    };
    d.decompress(bytes, image.as_deref_mut()).expect("decodes");
}

fn run(dir: &Path, workers: usize, rounds: usize, mode: &str) {
    let files = jpegs(dir);
    let options = ImageOptions::default();
    let work = |bytes: &[u8]| {
        if mode == "pipeline" {
            render(bytes, "image/jpeg", &options).expect("renders");
        } else {
            decode_scaled(bytes);
        }
    };
    work(&files[0]); // warm up
    let total = files.len() * rounds;
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    work(&files[i % files.len()]);
                }
            });
        }
    });
    let seconds = start.elapsed().as_secs_f64();
    let mp: f64 = files.iter().map(|f| megapixels(f)).sum::<f64>() * rounds as f64;
    println!(
        "{{\"tool\":\"toq-{mode}\",\"workers\":{workers},\"photos\":{total},\"seconds\":{seconds:.3},\"photos_per_s\":{:.3},\"ms_per_mp\":{:.3},\"peak_rss_mb\":{:.1}}}",
        total as f64 / seconds,
        seconds * 1000.0 / mp,
        peak_rss_mb()
    );
}

fn select(dir: &Path, min: f64, max: f64) {
    let out = dir.join("selected");
    std::fs::create_dir_all(&out).expect("a folder for the selection");
    let mut kept = 0;
    for entry in std::fs::read_dir(dir)
        .expect("the photo folder exists")
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "jpg") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("readable");
        let Ok(header) = turbojpeg::read_header(&bytes) else {
            continue;
        };
        let mp = (header.width * header.height) as f64 / 1e6;
        if (min..=max).contains(&mp) {
            std::fs::write(out.join(path.file_name().expect("a name")), &bytes).expect("writable");
            kept += 1;
        }
    }
    eprintln!("{kept} photos of {min}-{max} MP in {}", out.display());
}

/// The full-size decode of a JPEG, as stored.
fn decode_full(bytes: &[u8]) -> image::RgbImage {
    let image: turbojpeg::Image<Vec<u8>> =
        turbojpeg::decompress(bytes, turbojpeg::PixelFormat::RGB).expect("decodes");
    image::RgbImage::from_raw(image.width as u32, image.height as u32, image.pixels)
        .expect("packed RGB")
}

/// The references of one photo: its full decode resized with float Lanczos3 to each size an
/// output has, made once per size (the two sides' renditions usually share it).
struct References {
    full: image::RgbImage,
    resized: Vec<image::RgbImage>,
}

impl References {
    /// SSIM of an encoded rendition against the reference of its size.
    fn score(&mut self, rendition: &[u8]) -> f64 {
        let out = image::load_from_memory(rendition)
            .expect("a rendition")
            .into_rgb8();
        let (w, h) = out.dimensions();
        let at = match self.resized.iter().position(|r| r.dimensions() == (w, h)) {
            Some(at) => at,
            None => {
                let filter = image::imageops::FilterType::Lanczos3;
                self.resized
                    .push(image::imageops::resize(&self.full, w, h, filter));
                self.resized.len() - 1
            }
        };
        ssim::ssim(&self.resized[at], &out)
    }
}

fn quality(dir: &Path, sharp: &Path) {
    let options = ImageOptions::default();
    let edges: Vec<u32> = options.sizes.iter().map(|(_, e)| *e).collect();
    // per size: (worker SSIM, sharp SSIM, worker bytes, sharp bytes)
    let mut sums = vec![(0.0, 0.0, 0u64, 0u64); edges.len()];
    let mut photos = 0;
    for (i, bytes) in jpegs(dir).iter().enumerate() {
        let processed = render(bytes, "image/jpeg", &options).expect("renders");
        let full = decode_full(bytes);
        if (processed.width, processed.height) != full.dimensions() {
            eprintln!("  photo {i}: EXIF-oriented, left out");
            continue;
        }
        photos += 1;
        let mut references = References {
            full,
            resized: Vec::new(),
        };
        for (k, edge) in edges.iter().enumerate() {
            let ours = &processed.renditions[k].bytes;
            let theirs =
                std::fs::read(sharp.join(format!("{i}-{edge}.jpg"))).expect("sharp's output");
            sums[k].0 += references.score(ours);
            sums[k].1 += references.score(&theirs);
            sums[k].2 += ours.len() as u64;
            sums[k].3 += theirs.len() as u64;
        }
        eprintln!("  photo {i} scored");
    }
    assert!(photos > 0, "no photo to score");
    let n = f64::from(photos);
    for (edge, (ours, theirs, our_bytes, their_bytes)) in edges.iter().zip(sums) {
        println!(
            "{{\"edge\":{edge},\"photos\":{photos},\"worker_ssim\":{:.4},\"sharp_ssim\":{:.4},\"worker_kb\":{:.1},\"sharp_kb\":{:.1},\"bytes_ratio\":{:.3}}}",
            ours / n,
            theirs / n,
            our_bytes as f64 / n / 1024.0,
            their_bytes as f64 / n / 1024.0,
            our_bytes as f64 / their_bytes as f64
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let number = |i: usize| {
        args.get(i)
            .and_then(|a| a.parse::<f64>().ok())
            .expect("a number argument")
    };
    match args.first().map(String::as_str) {
        Some("--select") => select(Path::new(&args[1]), number(2), number(3)),
        Some("--pipeline") => run(
            Path::new(&args[1]),
            number(2) as usize,
            number(3) as usize,
            "pipeline",
        ),
        Some("--decode") => run(
            Path::new(&args[1]),
            number(2) as usize,
            number(3) as usize,
            "decode",
        ),
        Some("--quality") => quality(Path::new(&args[1]), Path::new(&args[2])),
        _ => {
            eprintln!("see the module documentation: --select | --pipeline | --decode | --quality")
        }
    }
}
