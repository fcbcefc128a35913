//! Starting `toq-media serve` as an operator would: it refuses to run on a missing or short
//! secret, naming it; it registers every counter at 0; it can serve `/metrics` apart from the
//! API; and it sweeps the partial files a killed process left.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_toq-media"));
    cmd.arg("serve")
        .env("TOQ_MEDIA_DATA_DIR", dir)
        .env("TOQ_MEDIA_BIND", format!("127.0.0.1:{}", free_port()))
        .env("TOQ_MEDIA_WORKER", "off")
        .env_remove("TOQ_MEDIA_METRICS_BIND");
    for name in [
        "JWT_SECRET",
        "INTERNAL_TOKEN",
        "CALLBACK_SECRET",
        "STORAGE_SECRET",
    ] {
        cmd.env_remove(format!("TOQ_MEDIA_{name}"));
    }
    cmd
}

/// Waits for a process that must stop by itself; kills it if it does not.
fn refused_start(mut cmd: Command) -> String {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("serve started although its secrets are unusable");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_missing_or_short_secret_stops_the_start_naming_it() {
    let good = "k".repeat(32);
    for (name, key) in [
        ("JWT_SECRET", "jwt"),
        ("INTERNAL_TOKEN", "internal_token"),
        ("CALLBACK_SECRET", "callback"),
        ("STORAGE_SECRET", "storage"),
    ] {
        // Missing: secrets.json lacks it and no variable sets it.
        let dir = tempfile::tempdir().unwrap();
        let mut stored = serde_json::Map::new();
        for other in ["jwt", "internal_token", "callback", "storage"] {
            if other != key {
                stored.insert(other.into(), json!(good));
            }
        }
        std::fs::write(dir.path().join("secrets.json"), json!(stored).to_string()).unwrap();
        let stderr = refused_start(serve(dir.path()));
        assert!(stderr.contains(&format!("TOQ_MEDIA_{name}")), "{stderr}");
        assert!(stderr.contains("not set"), "{stderr}");

        // Short: 31 bytes in the variable, though secrets.json would have a good one.
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = serve(dir.path());
        cmd.env(format!("TOQ_MEDIA_{name}"), "s".repeat(31));
        let stderr = refused_start(cmd);
        assert!(stderr.contains(&format!("TOQ_MEDIA_{name}")), "{stderr}");
        assert!(stderr.contains("31 bytes"), "{stderr}");
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(client: &reqwest::Client, url: &str) -> Option<(u16, String)> {
    let res = client.get(url).send().await.ok()?;
    Some((res.status().as_u16(), res.text().await.ok()?))
}

/// One process shows dashboards every counter from its start, with their label sets, on the
/// metrics address only; and a `.part` file a killed process left an hour ago is gone.
#[tokio::test(flavor = "multi_thread")]
async fn counters_start_at_zero_on_their_own_address_and_stale_parts_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("objects/.tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::create(tmp.join("killed.part"))
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    std::fs::File::create(tmp.join("in-flight.part")).unwrap();

    let (api, metrics) = (free_port(), free_port());
    let mut cmd = serve(dir.path());
    cmd.env("TOQ_MEDIA_BIND", format!("127.0.0.1:{api}"))
        .env("TOQ_MEDIA_METRICS_BIND", format!("127.0.0.1:{metrics}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _server = Server(cmd.spawn().unwrap());
    let client = reqwest::Client::new();
    let started = Instant::now();
    let text = loop {
        if let Some((200, text)) =
            get(&client, &format!("http://127.0.0.1:{metrics}/metrics")).await
        {
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "serve answers");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let series = [
        "media_batches_created_total",
        "media_reprocess_requests_total",
        "media_processing_dlq_messages_total",
        "media_reconciler_commands_total",
        r#"media_batches_failed_total{error_code="UPLOAD_EXPIRED"}"#,
        r#"media_batches_failed_total{error_code="JOB_TIMEOUT"}"#,
        r#"media_batches_failed_total{error_code="ASSETS_FAILED"}"#,
        r#"media_batches_failed_total{error_code="PIPELINE_FAILED"}"#,
        r#"media_processing_callback_errors_total{reason="signature"}"#,
        r#"media_processing_callback_errors_total{reason="malformed"}"#,
        r#"media_processing_callback_errors_total{reason="foreign_key"}"#,
        r#"media_processing_callback_errors_total{reason="unusable"}"#,
    ];
    for name in series {
        assert!(
            text.lines().any(|l| l == format!("{name} 0")),
            "{name} 0 in /metrics:\n{text}"
        );
    }
    let on_api = get(&client, &format!("http://127.0.0.1:{api}/metrics")).await;
    assert_eq!(on_api.map(|(status, _)| status), Some(404));
    let health = get(&client, &format!("http://127.0.0.1:{api}/healthz")).await;
    assert_eq!(health.map(|(status, _)| status), Some(200));

    assert!(!tmp.join("killed.part").exists(), "the stale part is swept");
    assert!(tmp.join("in-flight.part").exists(), "a live one is not");
}
