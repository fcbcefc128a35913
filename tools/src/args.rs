//! The arguments every ffmpeg and ffprobe run starts with.

use std::ffi::OsString;
use std::path::Path;

use aggregates::FailureCode;

use crate::{Failure, failure};

/// Reads `input` through the allow-listed demuxer only: `mov` forced (ffmpeg never guesses a
/// format, so an HLS playlist or a concat script is never parsed as one), external data
/// references off, and only the `file` protocol, so nothing reaches the network or another
/// file. The `file:` prefix keeps a `:` in the name from selecting a protocol.
pub(crate) fn mov_input(input: &Path) -> Result<Vec<OsString>, Failure> {
    let mut args = os(&[
        "-protocol_whitelist",
        "file",
        "-f",
        "mov",
        "-enable_drefs",
        "0",
        "-i",
    ]);
    args.push(file_url(input)?);
    Ok(args)
}

/// The start of an ffmpeg command line: quiet, never interactive, `threads` for decoding.
pub(crate) fn ffmpeg(threads: u32) -> Vec<OsString> {
    let mut args = os(&[
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-threads",
    ]);
    args.push(threads.to_string().into());
    args
}

/// A path as an ffmpeg `file:` URL.
pub(crate) fn file_url(path: &Path) -> Result<OsString, Failure> {
    let mut url = OsString::from("file:");
    url.push(absolute(path)?);
    Ok(url)
}

/// An absolute path, which can never be mistaken for an option.
pub(crate) fn absolute(path: &Path) -> Result<std::path::PathBuf, Failure> {
    std::path::absolute(path)
        .map_err(|e| failure(FailureCode::DecodeFailed, format!("bad path {path:?}: {e}")))
}

/// Literal arguments.
pub(crate) fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}
