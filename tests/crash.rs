//! Crash safety: the binary runs a workload and is SIGKILLed at random moments, again and again;
//! afterwards the read tables equal a rebuild, every hash chain holds, every committed job has
//! exactly one outbox row, and nothing is duplicated.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::suite::count;

const KILLS: u32 = 20;

fn binary(url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_toq-media"));
    cmd.args(args)
        .env("TOQ_MEDIA_DATABASE_URL", url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn check(url: &str, args: &[&str]) -> String {
    let out = binary(url, args).output().expect("the binary runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let (store, url) = common::fresh_store("sqlite:").await;
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut killed_while_running = 0;
    let mut events_seen = Vec::new();
    for round in 0..KILLS {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut child = binary(
            &url,
            &[
                "workload",
                "--steps",
                "1000000",
                "--seed",
                &round.to_string(),
                "--listings",
                "12",
            ],
        )
        .spawn()
        .expect("the binary starts");
        std::thread::sleep(Duration::from_millis(150 + (seed >> 33) % 450));
        if child.try_wait().unwrap().is_none() {
            killed_while_running += 1;
        }
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        events_seen.push(count(&store, "SELECT COUNT(*) FROM events").await);
    }
    assert_eq!(
        killed_while_running, KILLS,
        "every kill landed mid-workload"
    );
    assert!(
        events_seen.windows(2).filter(|w| w[1] > w[0]).count() >= (KILLS / 2) as usize,
        "the workload made progress between kills: {events_seen:?}"
    );

    // Restart once more: it settles what the last kill left, then stops by itself.
    check(&url, &["workload", "--steps", "0"]);
    let verified = check(&url, &["projections", "verify"]);
    assert!(verified.contains("projections verified"), "{verified}");
    let audited = check(&url, &["audit", "verify"]);
    assert!(audited.contains("audit verified"), "{audited}");

    let jobs = count(&store, "SELECT COUNT(*) FROM media_jobs").await;
    let job_messages = count(
        &store,
        "SELECT COUNT(*) FROM outbox WHERE topic = 'processing.job'",
    )
    .await;
    assert!(jobs > 0, "the workload created jobs");
    assert_eq!(jobs, job_messages, "every committed job has its outbox row");
    let distinct = count(&store, "SELECT COUNT(*) FROM (SELECT DISTINCT aggregate_id, sequence FROM outbox WHERE topic = 'processing.job') d").await;
    assert_eq!(distinct, job_messages, "no job message twice");
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM outbox WHERE topic = 'listing.media_ready'"
        )
        .await,
        0
    );
    let moved = count(
        &store,
        "SELECT COUNT(*) FROM outbox WHERE topic = 'listing.status_changed'",
    )
    .await;
    let approvals = count(
        &store,
        "SELECT COUNT(*) FROM events WHERE event_type = 'AwaitingOwnerApproval'",
    )
    .await;
    assert_eq!(moved, approvals, "every listing move published once");
}
