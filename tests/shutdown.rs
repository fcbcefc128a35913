//! Stopping: SIGTERM lets `serve` finish what it is doing and exit 0, giving its leases back so
//! another process takes over at once. Its logs are JSON lines when stderr is not a terminal,
//! each request's carrying its `request_id` and W3C `traceparent`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_cleanly_gives_leases_back_and_logs_json() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_toq-media"))
        .arg("serve")
        .env("TOQ_MEDIA_DATA_DIR", dir.path())
        .env("TOQ_MEDIA_BIND", format!("127.0.0.1:{port}"))
        .env("TOQ_MEDIA_LOG", "warn,toq_media=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/readyz")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "serve answers");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let res = client
        .get(format!("{base}/healthz"))
        .header("x-request-id", "req-shutdown")
        .header("traceparent", TRACE)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let url = format!("sqlite://{}/toq-media.db", dir.path().display());
    let store = toq_media::store::Store::connect(&url, 1).await.unwrap();
    let held = "SELECT COUNT(*) FROM leases WHERE expires_at > '2000'";
    while count(&store, held).await < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "relay and reconciler take their leases"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let term = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(20),
            "serve stops within its grace"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "a clean stop exits 0: {status}");
    assert_eq!(count(&store, held).await, 0, "every lease given back");

    let mut logs = String::new();
    serve
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let lines: Vec<Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "toq-media listening"),
        "{logs}"
    );
    let request = lines
        .iter()
        .find(|l| l["fields"]["message"] == "request" && l["span"]["request_id"] == "req-shutdown")
        .unwrap_or_else(|| panic!("the request's log line: {logs}"));
    assert_eq!(request["span"]["traceparent"], TRACE);
    assert_eq!(request["fields"]["route"], "/healthz");
}

async fn count(store: &toq_media::store::Store, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}
