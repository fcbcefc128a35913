//! The worker's rendition pipeline over a folder of photos, for `scripts/bench images`, which runs
//! it next to sharp in the same script and prints the ratio. Modes:
//!   --select DIR MIN_MP MAX_MP   copy the JPEGs of MIN..MAX megapixels into DIR/selected
//!   --pipeline DIR WORKERS ROUNDS   render every photo ROUNDS times on WORKERS threads
//!   --decode DIR WORKERS ROUNDS     the floor: only the scaled JPEG decode the pipeline does

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use toq_imaging::{ImageOptions, render};

mod common;
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
        _ => eprintln!("see the module documentation: --select | --pipeline | --decode"),
    }
}
