//! The worker's video work next to bare ffmpeg, for `scripts/bench video`. Modes:
//!   --video FILE ROUNDS
//!       Worker side: what `worker::media::video` does with a verified upload — sniff and
//!       ffprobe (`Toolbox::probe`), the poster (the raw RGB frame at the first candidate
//!       time, the next candidates only if it is flat: `Toolbox::poster`), the frame through
//!       the photo pipeline into the four JPEG renditions (`toq_imaging::inspect_rgb`), the
//!       web MP4 (`Toolbox::web`: remux when the input conforms, else libx264 veryfast CRF 23
//!       + AAC, `+faststart`), every tool in its sandbox at the worker's default limits (2
//!       threads, nice 10).
//!       Bare side: ffprobe and ffmpeg run directly, as their documentation suggests, at
//!       their default threads and priority, doing the same outputs with no sandbox: the
//!       same ffprobe call (a pipeline must know duration and size to refuse a video before
//!       decoding it), one ffmpeg command that extracts the frame at the worker's first
//!       candidate time and writes the four JPEG sizes at once (`split`), one command that
//!       writes the web MP4 with the codec settings the worker picked (the same stream copy
//!       for a conforming input). Rounds alternate the two sides; it prints seconds per
//!       minute of input for each side, the bare side also without its probe, and the ratio
//!       to the bare side with it (goal: worker ≤ 1.1× bare).
//!   --photos DIR WORKERS ROUNDS VIDEO
//!       Photos/s of the worker's rendition pipeline over the JPEGs in DIR on WORKERS threads,
//!       alone, then while the worker's web transcode of VIDEO runs over and over beside it
//!       (its video lane: one transcode at a time, at the worker's limits), and the ratio
//!       (goal: ≥ 0.8).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use toq_imaging::{ImageOptions, inspect_rgb, render};
use toq_tools::{Limits, Toolbox, VideoInfo, VideoLimits, WebMode};

mod common;
use common::jpegs;

fn toolbox() -> Toolbox {
    let tools = Toolbox::discover(Limits::default());
    assert!(tools.has_video(), "ffmpeg and ffprobe must be on PATH");
    tools
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Everything the worker does with one video; returns its probe and how `web` was made.
async fn worker_side(tools: &Toolbox, input: &Path, out: &Path) -> (VideoInfo, WebMode) {
    let options = ImageOptions::default();
    let info = tools
        .probe(input, &VideoLimits::default())
        .await
        .expect("probes");
    let edge = long_edge(&options);
    let poster = tools.poster(input, &info, edge).await.expect("a poster");
    inspect_rgb(&poster.pixels, poster.width, poster.height, &options)
        .and_then(|inspection| inspection.render(&poster.pixels, &options))
        .expect("renders the poster");
    let mode = tools
        .web(input, &info, &out.join("worker-web.mp4"), edge)
        .await
        .expect("a web rendition");
    (info, mode)
}

fn long_edge(options: &ImageOptions) -> u32 {
    options.sizes.iter().map(|(_, e)| *e).max().unwrap_or(1920)
}

fn ffmpeg(args: &[String]) {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {args:?}");
}

/// The probe a bare pipeline runs first; returns how long it took.
fn ffprobe(input: &Path) -> Duration {
    let started = Instant::now();
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(input)
        .output()
        .expect("ffprobe runs");
    assert!(output.status.success(), "ffprobe {}", input.display());
    assert!(output.stdout.starts_with(b"{"), "ffprobe prints JSON");
    started.elapsed()
}

/// The same outputs with bare ffmpeg commands (see the module documentation).
fn bare_side(input: &Path, info: &VideoInfo, mode: WebMode, out: &Path) {
    let options = ImageOptions::default();
    let s = |v: &str| v.to_owned();
    let input = input.display().to_string();
    let time = (0.1 * info.duration.as_secs_f64()).min(1.0);
    let mut poster = vec![s("-ss"), format!("{time:.3}"), s("-i"), input.clone()];
    let n = options.sizes.len();
    let mut graph = format!("[0:v]split={n}");
    for i in 0..n {
        graph.push_str(&format!("[s{i}]"));
    }
    for (i, (_, edge)) in options.sizes.iter().enumerate() {
        graph.push_str(&format!(
            ";[s{i}]scale={edge}:{edge}:force_original_aspect_ratio=decrease[o{i}]"
        ));
    }
    poster.extend([s("-filter_complex"), graph]);
    for i in 0..n {
        poster.extend([
            s("-map"),
            format!("[o{i}]"),
            s("-frames:v"),
            s("1"),
            s("-q:v"),
            s("3"),
            out.join(format!("bare-{i}.jpg")).display().to_string(),
        ]);
    }
    ffmpeg(&poster);
    let mut web = vec![
        s("-i"),
        input,
        s("-map"),
        s("0:v:0"),
        s("-map"),
        s("0:a:0?"),
    ];
    match mode {
        WebMode::Remuxed => web.extend([s("-c"), s("copy")]),
        WebMode::Transcoded => {
            let edge = long_edge(&options);
            web.extend(
                [
                    "-vf",
                    &format!("scale={edge}:{edge}:force_original_aspect_ratio=decrease:force_divisible_by=2"),
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-crf",
                    "23",
                    "-profile:v",
                    "high",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "128k",
                ]
                .map(s),
            );
        }
    }
    web.extend(["-movflags", "+faststart"].map(s));
    web.push(out.join("bare-web.mp4").display().to_string());
    ffmpeg(&web);
}

fn video(input: &Path, rounds: usize) {
    let tools = toolbox();
    let rt = runtime();
    let out = tempfile::tempdir().expect("a temp dir");
    let (mut worker, mut bare, mut probes) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut probed = None;
    for round in 0..rounds {
        let started = Instant::now();
        let (info, mode) = rt.block_on(worker_side(&tools, input, out.path()));
        worker += started.elapsed();
        let started = Instant::now();
        probes += ffprobe(input);
        bare_side(input, &info, mode, out.path());
        bare += started.elapsed();
        eprintln!("  {} round {}/{rounds}", input.display(), round + 1);
        probed = Some((info, mode));
    }
    let (info, mode) = probed.expect("at least one round");
    let minutes = info.duration.as_secs_f64() / 60.0 * rounds as f64;
    let (w, b) = (worker.as_secs_f64() / minutes, bare.as_secs_f64() / minutes);
    let unprobed = (bare - probes).as_secs_f64() / minutes;
    println!(
        "{{\"input\":\"{}\",\"codec\":\"{}\",\"size\":\"{}x{}\",\"web\":\"{mode:?}\",\"worker_s_per_min\":{w:.2},\"ffmpeg_s_per_min\":{b:.2},\"ffmpeg_without_probe_s_per_min\":{unprobed:.2},\"ratio\":{:.3}}}",
        input.file_name().unwrap_or_default().display(),
        info.video_codec,
        info.width,
        info.height,
        w / b
    );
}

/// Photos/s rendering `rounds` passes over `files` on `workers` threads.
fn photos_per_s(files: &[Vec<u8>], workers: usize, rounds: usize) -> f64 {
    let options = ImageOptions::default();
    let total = files.len() * rounds;
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    render(&files[i % files.len()], "image/jpeg", &options).expect("renders");
                }
            });
        }
    });
    total as f64 / started.elapsed().as_secs_f64()
}

fn photos(dir: &Path, workers: usize, rounds: usize, video: &Path) {
    let files = jpegs(dir);
    assert!(!files.is_empty(), "no JPEGs in {}", dir.display());
    photos_per_s(&files[..1], 1, 1); // warm up
    let alone = photos_per_s(&files, workers, rounds);
    let tools = toolbox();
    let out = tempfile::tempdir().expect("a temp dir");
    let stop = AtomicBool::new(false);
    let (beside, transcodes) = std::thread::scope(|s| {
        let lane = s.spawn(|| {
            let rt = runtime();
            let info = rt
                .block_on(tools.probe(video, &VideoLimits::default()))
                .expect("probes");
            let mut runs = 0;
            while !stop.load(Ordering::Relaxed) {
                let mode = rt
                    .block_on(tools.web(video, &info, &out.path().join("web.mp4"), 1920))
                    .expect("a web rendition");
                assert_eq!(mode, WebMode::Transcoded, "the lane must transcode");
                runs += 1;
            }
            runs
        });
        // Let the transcode get going before the photos start.
        std::thread::sleep(Duration::from_secs(1));
        let beside = photos_per_s(&files, workers, rounds);
        stop.store(true, Ordering::Relaxed);
        (beside, lane.join().expect("the video lane"))
    });
    println!(
        "{{\"photos\":{},\"workers\":{workers},\"photos_per_s_alone\":{alone:.2},\"photos_per_s_beside_a_transcode\":{beside:.2},\"ratio\":{:.3},\"transcodes\":{transcodes}}}",
        files.len() * rounds,
        beside / alone
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let number = |i: usize| {
        args.get(i)
            .and_then(|a| a.parse::<usize>().ok())
            .expect("a number argument")
    };
    match args.first().map(String::as_str) {
        Some("--video") => video(Path::new(&args[1]), number(2)),
        Some("--photos") => photos(
            Path::new(&args[1]),
            number(2),
            number(3),
            Path::new(&args[4]),
        ),
        _ => eprintln!("see the module documentation: --video | --photos"),
    }
}
