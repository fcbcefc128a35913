//! What the sandbox and the demuxer allow-list keep out: the network, runaway runs, memory
//! and disk.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{fixture, out_dir, toolbox};
use toq_tools::{FailureCode, Limits, VideoLimits};

/// The port the playlist fixture's first segment points at.
fn playlist_port() -> u16 {
    let playlist = std::fs::read_to_string(fixture("playlist.mp4")).unwrap();
    let rest = playlist
        .split("http://127.0.0.1:")
        .nth(1)
        .expect("an http segment");
    rest.split('/').next().unwrap().parse().unwrap()
}

/// Counts the connections made to `port` from now on (on a thread of its own, for the rest
/// of the test binary's life).
fn count_connections(port: u16) -> Arc<AtomicUsize> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("port {port} (the playlist's) is busy: {e}"));
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    count
}

#[tokio::test]
async fn playlists_never_reach_the_network() {
    let port = playlist_port();
    let connections = count_connections(port);
    // Only an http segment: Debian's ffmpeg already refuses a playlist naming file:///etc/passwd
    // before it fetches anything, which would make the control below prove nothing.
    let out = out_dir();
    let http_only = out.path().join("http-only.mp4");
    let segment = format!("http://127.0.0.1:{port}/segment0.ts");
    let playlist =
        format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n{segment}\n#EXT-X-ENDLIST\n");
    std::fs::write(&http_only, playlist).unwrap();

    let tools = toolbox(Limits::default());
    for file in [fixture("playlist.mp4"), http_only.clone()] {
        let err = tools
            .probe(&file, &VideoLimits::default())
            .await
            .unwrap_err();
        assert_eq!(err.code, FailureCode::UnsupportedMedia, "{err}");
        // Past the sniff, ffprobe itself with the forced demuxer.
        let err = tools
            .probe_unsniffed(&file, &VideoLimits::default())
            .await
            .unwrap_err();
        assert_eq!(err.code, FailureCode::DecodeFailed, "{err}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(connections.load(Ordering::SeqCst), 0);

    // The control: ffprobe left to guess the format, http allowed, does connect.
    let control = tokio::process::Command::new("ffprobe")
        .args(["-v", "quiet", "-protocol_whitelist", "file,http,tcp"])
        .arg(&http_only)
        .status()
        .await
        .unwrap();
    assert!(!control.success());
    assert!(
        connections.load(Ordering::SeqCst) > 0,
        "the listener saw no connection from an unprotected ffprobe: this test proves nothing"
    );
}

/// The processes whose command line mentions `marker`, and their process groups.
fn processes_mentioning(marker: &str) -> Vec<(u32, u32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(marker) {
            found.push((pid, process_group(pid).unwrap_or(0)));
        }
    }
    found
}

/// The process group of `pid` (`/proc/PID/stat` field 5, after the parenthesised name).
fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields = &stat[stat.rfind(')')? + 2..];
    fields.split(' ').nth(2)?.parse().ok()
}

/// Processes in process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|&pid| process_group(pid) == Some(pgid))
        .collect()
}

#[tokio::test]
async fn a_run_past_its_timeout_is_killed_with_its_group() {
    let input = fixture("uhd.mp4");
    let info = toolbox(Limits::default())
        .probe(&input, &VideoLimits::default())
        .await
        .unwrap();
    let out = out_dir();
    let output = out.path().join("timed-out-web.mp4");
    let marker = output.to_string_lossy().into_owned();
    let limits = Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let tools = toolbox(limits);
    let run = tokio::spawn({
        let output = output.clone();
        async move { tools.web(&input, &info, &output, 1920).await }
    });

    let mut seen = Vec::new();
    while !run.is_finished() {
        seen.extend(processes_mentioning(&marker));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = run.await.unwrap().unwrap_err();
    assert_eq!(err.code, FailureCode::ProcessingTimeout, "{err}");
    let &(pid, pgid) = seen.first().expect("ffmpeg was seen running");
    assert_eq!(pid, pgid, "ffmpeg leads its own process group");
    assert!(processes_mentioning(&marker).is_empty(), "ffmpeg is left");
    assert!(group_members(pgid).is_empty(), "its process group is left");
    assert!(!output.exists(), "a partial rendition is left");
}

#[tokio::test]
async fn the_memory_limit_holds() {
    // Enough for ffprobe, and for ffmpeg to load, not for a 4K decode and an encode.
    let limits = Limits {
        memory_bytes: 400 << 20,
        ..Limits::default()
    };
    let tools = toolbox(limits);
    let input = fixture("uhd.mp4");
    let info = tools.probe(&input, &VideoLimits::default()).await.unwrap();
    let out = out_dir();
    let err = tools
        .web(&input, &info, &out.path().join("web.mp4"), 1920)
        .await
        .unwrap_err();
    assert_eq!(err.code, FailureCode::DecodeFailed, "{err}");
}

#[tokio::test]
async fn the_output_size_limit_holds() {
    let limits = Limits {
        output_bytes: 64 << 10,
        ..Limits::default()
    };
    let tools = toolbox(limits);
    let input = fixture("h264.mp4");
    let info = tools.probe(&input, &VideoLimits::default()).await.unwrap();
    let out = out_dir();
    let output = out.path().join("web.mp4");
    let err = tools.web(&input, &info, &output, 1920).await.unwrap_err();
    assert_eq!(err.code, FailureCode::DecodeFailed, "{err}");
    assert!(!output.exists());
    assert!(Path::new(&input).exists());
}
