//! A finished child's peak resident memory, for the bounded-memory tests of long commands.

use std::process::{Child, Command, Stdio};

/// Runs `command` to its end; its peak resident memory in KiB (`wait4`'s `ru_maxrss`) and its
/// standard output. Panics, with the output, unless it exits with 0.
#[expect(
    clippy::zombie_processes,
    reason = "reaped by wait4, which also reports its peak memory"
)]
pub fn run(command: &mut Command) -> (i64, String) {
    let mut child: Child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut output = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut output).unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child, reaping it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed: {output}"
    );
    (usage.ru_maxrss, output)
}
