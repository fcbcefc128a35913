//! HEIC photos, for `scripts/bench heic`: `heic DIR ROUNDS` times, per `.heic` file of DIR and
//! alternately, ROUNDS times:
//! - the worker's whole path: `toq_tools`' sandboxed `heif-convert` to a JPEG, then the photo
//!   pipeline's four renditions from it (shrink-on-load, resize, ICC, encode), as the worker
//!   runs it (`media::heif`) minus the storage reads and writes;
//! - libheif's own tool run bare: `heif-convert` to Y4M, its cheapest output (the HEVC decode
//!   and a raw write: no colour conversion, no encode, no renditions).
//!
//! Prints one JSON line: ms per megapixel of each side and the ratio worker / bare.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use toq_imaging::ImageOptions;
use toq_tools::{Limits, Toolbox};

mod common;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (Some(dir), Some(rounds)) = (args.first(), args.get(1).and_then(|r| r.parse().ok())) else {
        eprintln!("usage: heic DIR ROUNDS");
        std::process::exit(2);
    };
    let files = common::files(Path::new(dir), "heic");
    assert!(!files.is_empty(), "no .heic files in {dir}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let toolbox = Toolbox::discover(Limits::default());
    assert!(toolbox.has_heif(), "heif-convert must be on PATH");
    let options = ImageOptions::default();
    let scratch = tempfile::tempdir().expect("a temp dir");
    let (mut worker, mut bare, mut megapixels) = (0.0, 0.0, 0.0);
    for _ in 0..rounds {
        for file in &files {
            let bytes = std::fs::read(file).expect("readable");
            let (w, h) =
                toq_imaging::heif::primary_size(&bytes, options.max_pixels).expect("a size");
            megapixels += f64::from(w) * f64::from(h) / 1e6;

            let started = Instant::now();
            let jpeg = runtime
                .block_on(toolbox.heif(file, &scratch.path().join("decoded.jpg")))
                .expect("heif-convert decodes");
            let processed = toq_imaging::render(&jpeg, "image/jpeg", &options).expect("renders");
            assert_eq!(processed.renditions.len(), options.sizes.len());
            worker += started.elapsed().as_secs_f64();

            let started = Instant::now();
            let y4m = scratch.path().join("decoded.y4m");
            let status = Command::new("heif-convert")
                .arg("--quiet")
                .arg(file)
                .arg(&y4m)
                .status()
                .expect("heif-convert runs");
            assert!(status.success());
            bare += started.elapsed().as_secs_f64();
            std::fs::remove_file(y4m).expect("written");
        }
    }
    let ms_per_mp = |seconds: f64| seconds * 1000.0 / megapixels;
    println!(
        "{{\"photos\":{},\"rounds\":{rounds},\"worker_ms_per_mp\":{:.1},\"heif_convert_y4m_ms_per_mp\":{:.1},\"ratio\":{:.2}}}",
        files.len(),
        ms_per_mp(worker),
        ms_per_mp(bare),
        worker / bare
    );
}
