//! One tool run as a contained child process.
//!
//! The tools parse hostile files, so each run gets: an empty environment (only a minimal
//! `PATH` and a `HOME` in its own temp dir, so no proxy, locale or config variable leaks in),
//! no stdin, a fresh temp dir as working directory, its own process group, and rlimits on
//! address space, CPU time, file size and core dumps set between `fork` and `exec`. A
//! wall-clock timeout kills the whole group.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aggregates::FailureCode;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::{Failure, failure};

/// How much of a tool's stderr is kept for the failure message; the first lines say why.
const STDERR_KEPT: u64 = 2048;

/// What one tool run may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time; past it the process group is killed (`PROCESSING_TIMEOUT`).
    pub timeout: Duration,
    /// `RLIMIT_AS`: address space, which is larger than resident memory (thread stacks and
    /// malloc arenas are reserved, not touched).
    pub memory_bytes: u64,
    /// `RLIMIT_CPU`: CPU seconds summed over the tool's threads.
    pub cpu_seconds: u64,
    /// `RLIMIT_FSIZE` for files the tool writes, and the cap on what it writes to stdout.
    pub output_bytes: u64,
    /// Decoder and encoder threads (`-threads`).
    pub threads: u32,
    /// Scheduling niceness of the tool (0–19): a transcode yields the CPU to the worker's own
    /// photo renders, so a long video does not slow other batches' photos.
    pub nice: i32,
}

impl Default for Limits {
    /// 30 min wall clock, 2 GiB address space, 1 h of CPU, 2 GiB of output, 2 threads.
    ///
    /// The smallest `RLIMIT_AS` under which ffmpeg 5.1 (Debian 12) still transcodes to the
    /// 1920 px web rendition with libx264 `veryfast` was measured at 730 MiB for 1080p H.264
    /// and 857 MiB for 4K HEVC with 2 threads, 968 MiB and 1159 MiB with 4 threads (peak RSS
    /// 267–475 MiB); 2 GiB leaves room for 4 threads or heavier streams. A 10 min 1080p
    /// video transcodes in well under 30 min on 2 cores; the CPU limit allows both threads
    /// busy for that long.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30 * 60),
            memory_bytes: 2 << 30,
            cpu_seconds: 60 * 60,
            output_bytes: 2 << 30,
            threads: 2,
            nice: 10,
        }
    }
}

/// Why a run produced nothing usable.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ToolError {
    #[error("{tool} could not run: {source}")]
    Io {
        tool: &'static str,
        source: io::Error,
    },
    #[error("{tool} ran longer than {after:?} and was killed")]
    TimedOut { tool: &'static str, after: Duration },
    /// `RLIMIT_CPU` (or the kernel's OOM killer) sent SIGKILL.
    #[error("{tool} was killed: over its CPU limit of {cpu_seconds} s, or out of memory")]
    Killed {
        tool: &'static str,
        cpu_seconds: u64,
    },
    #[error("{tool} wrote more than {limit} bytes")]
    OutputTooLarge { tool: &'static str, limit: u64 },
    #[error("{tool} failed ({status}): {stderr}")]
    Exited {
        tool: &'static str,
        status: ExitStatus,
        stderr: String,
    },
}

impl ToolError {
    /// Runs that took too long, by the clock or by the CPU limit, count as timeouts.
    fn is_timeout(&self) -> bool {
        matches!(self, Self::TimedOut { .. } | Self::Killed { .. })
    }
}

impl From<ToolError> for Failure {
    /// A timeout is `PROCESSING_TIMEOUT`; anything else means the tool could not read the
    /// file (`DECODE_FAILED`), the tool's own words in the message.
    fn from(error: ToolError) -> Self {
        let code = if error.is_timeout() {
            FailureCode::ProcessingTimeout
        } else {
            FailureCode::DecodeFailed
        };
        failure(code, error.to_string())
    }
}

/// Runs `program` (`tool` names it in metrics and messages) and returns its stdout.
pub(crate) async fn run(
    tool: &'static str,
    program: &Path,
    args: &[OsString],
    limits: &Limits,
) -> Result<Vec<u8>, ToolError> {
    let started = Instant::now();
    let result = contained(tool, program, args, limits).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) if e.is_timeout() => "timeout",
        Err(_) => "failed",
    };
    metrics::counter!("media_tool_runs_total", "tool" => tool, "outcome" => outcome).increment(1);
    metrics::histogram!("media_tool_seconds", "tool" => tool)
        .record(started.elapsed().as_secs_f64());
    result
}

async fn contained(
    tool: &'static str,
    program: &Path,
    args: &[OsString],
    limits: &Limits,
) -> Result<Vec<u8>, ToolError> {
    let io_error = |source| ToolError::Io { tool, source };
    let dir = tempfile::tempdir().map_err(io_error)?;
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let rlimits = *limits;
    // SAFETY: the hook runs in the forked child before exec and only calls setrlimit, which
    // is async-signal-safe; it allocates nothing and touches no lock.
    unsafe {
        command.pre_exec(move || set_rlimits(&rlimits));
    }

    let mut child = command.spawn().map_err(io_error)?;
    let group = Group::of(child.id());
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let finished = tokio::time::timeout(limits.timeout, async {
        tokio::try_join!(
            child.wait(),
            read_capped(stdout, limits.output_bytes),
            read_capped(stderr, STDERR_KEPT),
        )
    })
    .await;

    let (status, (stdout, overflow), (stderr, _)) = match finished {
        Ok(Ok(done)) => done,
        Ok(Err(source)) => {
            drop(group);
            let _ = child.wait().await;
            return Err(io_error(source));
        }
        Err(_) => {
            tracing::warn!(tool, timeout = ?limits.timeout, "killing a tool past its timeout");
            drop(group);
            let _ = child.wait().await;
            return Err(ToolError::TimedOut {
                tool,
                after: limits.timeout,
            });
        }
    };
    group.reaped();

    if status.signal() == Some(libc::SIGKILL) {
        return Err(ToolError::Killed {
            tool,
            cpu_seconds: limits.cpu_seconds,
        });
    }
    if !status.success() {
        return Err(ToolError::Exited {
            tool,
            status,
            stderr: String::from_utf8_lossy(&stderr).trim().to_owned(),
        });
    }
    if overflow {
        return Err(ToolError::OutputTooLarge {
            tool,
            limit: limits.output_bytes,
        });
    }
    Ok(stdout)
}

/// Applied in the child between `fork` and `exec`.
fn set_rlimits(limits: &Limits) -> io::Result<()> {
    let set = |resource, value: u64| {
        let limit = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        // SAFETY: `limit` is a valid rlimit for the duration of the call.
        match unsafe { libc::setrlimit(resource, &limit) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    };
    set(libc::RLIMIT_AS, limits.memory_bytes)?;
    set(libc::RLIMIT_CPU, limits.cpu_seconds)?;
    set(libc::RLIMIT_FSIZE, limits.output_bytes)?;
    set(libc::RLIMIT_CORE, 0)?;
    // SAFETY: setpriority takes plain integers; it lowers only this (child) process.
    match unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, limits.nice) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Up to `cap` bytes of `reader`, and whether it had more; the rest is drained so that the
/// tool never blocks on a full pipe.
async fn read_capped(mut reader: impl AsyncRead + Unpin, cap: u64) -> io::Result<(Vec<u8>, bool)> {
    let mut kept = Vec::new();
    (&mut reader).take(cap).read_to_end(&mut kept).await?;
    let rest = tokio::io::copy(&mut reader, &mut tokio::io::sink()).await?;
    Ok((kept, rest > 0))
}

/// The child's process group, killed when dropped before the child was reaped: on timeout,
/// on an I/O error, and when the caller's future is cancelled (`kill_on_drop` alone would
/// reach only the child, not what it started).
struct Group(Option<libc::pid_t>);

impl Group {
    fn of(pid: Option<u32>) -> Self {
        Self(pid.and_then(|pid| libc::pid_t::try_from(pid).ok()))
    }

    /// The child exited and was reaped: its id may be reused, so nothing is killed.
    fn reaped(mut self) {
        self.0 = None;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // SAFETY: plain syscall; the group leader is not reaped yet, so `pgid` is ours.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}
