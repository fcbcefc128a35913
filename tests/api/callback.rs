//! The signed pipeline callback (API.md §6): the signature is checked before anything else, and a
//! result that is stale, repeated or for an older attempt is acknowledged and changes nothing.

use reqwest::Method;
use serde_json::{Value, json};
use toq_media::auth::{Role, signature};

use crate::helpers::*;

const LISTING: u64 = 123;

/// A RECEIVED batch of listing 123, its job id, and the photographer's token.
async fn received() -> (TestApp, Batch, String, String) {
    let app = spawn_app().await;
    app.awaiting_media(LISTING).await;
    let token = app.token(PHOTOGRAPHER, Role::Photographer);
    let (batch, job) = app.received_batch(&token, LISTING).await;
    (app, batch, job, token)
}

/// A callback request for `raw` with the given signature headers (each left out when `None`).
fn callback_req(raw: &[u8], timestamp: Option<String>, sig: Option<String>) -> Req {
    let mut req = Req::new(Method::POST, CALLBACK, None).bytes(raw.to_vec());
    if let Some(ts) = timestamp {
        req = req.header("X-Toq-Timestamp", ts);
    }
    if let Some(sig) = sig {
        req = req.header("X-Toq-Signature", sig);
    }
    req
}

/// `raw` signed with `secret` at `offset` seconds from now.
fn signed(raw: &[u8], secret: &[u8], offset: i64) -> Req {
    let ts = (chrono::Utc::now().timestamp() + offset).to_string();
    let sig = signature::sign(secret, &ts, raw);
    callback_req(raw, Some(ts), Some(sig))
}

#[tokio::test]
async fn unsigned_forged_stale_or_altered_callbacks_are_401_and_change_nothing() {
    let (app, batch, job, _) = received().await;
    let raw = serde_json::to_vec(&batch.result(&job, 1, "SUCCEEDED")).unwrap();
    let secret = app.secrets.callback.clone();
    let now = chrono::Utc::now().timestamp().to_string();
    let good_sig = signature::sign(&secret, &now, &raw);

    let mut altered = batch.result(&job, 1, "SUCCEEDED");
    altered["status"] = json!("FAILED");
    let altered = serde_json::to_vec(&altered).unwrap();

    let refusals = [
        callback_req(&raw, None, None),
        callback_req(&raw, Some(now.clone()), None),
        callback_req(&raw, None, Some(good_sig.clone())),
        callback_req(&raw, Some(now.clone()), Some("v1=deadbeef".into())),
        callback_req(&raw, Some(now.clone()), Some("garbage".into())),
        signed(&raw, b"another-secret", 0),
        signed(&raw, &secret, -301),
        // A second may pass before the server reads its clock: stay clear of the edge.
        signed(&raw, &secret, 305),
        signed(&raw, &secret, -3600),
        // Signed, then the body changed on the way.
        callback_req(&altered, Some(now.clone()), Some(good_sig.clone())),
        // The signature binds the timestamp too.
        callback_req(
            &raw,
            Some((now.parse::<i64>().unwrap() - 1).to_string()),
            Some(good_sig),
        ),
    ];
    for req in refusals {
        app.refused(req, 401, "UNAUTHORIZED").await;
    }
    // Within the window, the genuine result goes through.
    let accepted = app.call(signed(&raw, &secret, -290)).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.body["status"], "accepted");
}

#[tokio::test]
async fn the_same_result_twice_changes_nothing_the_second_time() {
    let (app, batch, job, token) = received().await;
    let result = batch.result(&job, 1, "SUCCEEDED");
    assert_eq!(app.callback(&result).await.status, 200);
    let events = app.count("SELECT COUNT(*) FROM events").await;
    let before = app.quiet_footprint().await;
    let again = app.callback(&result).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["status"], "accepted");
    assert_eq!(app.count("SELECT COUNT(*) FROM events").await, events);
    assert_eq!(app.quiet_footprint().await, before);
    assert_eq!(app.status_of(&token, &batch).await.body["status"], "READY");
}

#[tokio::test]
async fn a_result_for_an_older_attempt_is_accepted_and_changes_nothing() {
    let (app, batch, first_job, token) = received().await;
    assert_eq!(
        app.callback(&batch.result(&first_job, 1, "SUCCEEDED"))
            .await
            .status,
        200
    );
    let retried = app.retry(&token, &batch, "ALL").await;
    assert_eq!(retried.status, 202, "{}", retried.body);
    assert_eq!(retried.body["attempt"], 2);
    let second_job = retried.body["jobId"].as_str().unwrap().to_owned();

    let before = app.quiet_footprint().await;
    for status in ["FAILED", "SUCCEEDED", "RUNNING"] {
        let late = app.callback(&batch.result(&first_job, 1, status)).await;
        assert_eq!(late.status, 200, "{}", late.body);
        assert_eq!(late.body["status"], "accepted");
    }
    assert_eq!(
        app.quiet_footprint().await,
        before,
        "an old attempt changes nothing"
    );
    let status = app.status_of(&token, &batch).await;
    assert_eq!(status.body["status"], "RECEIVED", "{}", status.body);
    assert_eq!(status.body["attempt"], 2);

    let done = app
        .callback(&batch.result(&second_job, 2, "SUCCEEDED"))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(app.status_of(&token, &batch).await.body["status"], "READY");
}

#[tokio::test]
async fn a_job_that_is_not_the_batchs_is_404_job_not_found() {
    let (app, batch, job, _) = received().await;
    let secret = app.secrets.callback.clone();
    let stranger = uuid::Uuid::now_v7().to_string();
    for result in [
        batch.result(&stranger, 1, "SUCCEEDED"),
        // The batch's job, claimed for an attempt it never was.
        batch.result(&job, 2, "SUCCEEDED"),
    ] {
        let raw = serde_json::to_vec(&result).unwrap();
        app.refused(signed(&raw, &secret, 0), 404, "JOB_NOT_FOUND")
            .await;
    }
}

#[tokio::test]
async fn an_invalid_status_is_422() {
    let (app, batch, job, _) = received().await;
    let secret = app.secrets.callback.clone();
    let mut result: Value = batch.result(&job, 1, "SUCCEEDED");
    result["status"] = json!("DONE");
    let raw = serde_json::to_vec(&result).unwrap();
    let res = app
        .refused(signed(&raw, &secret, 0), 422, "VALIDATION_FAILED")
        .await;
    assert_eq!(error_fields(&res), ["status"]);
}

#[tokio::test]
async fn a_result_for_an_unknown_batch_is_404_batch_not_found() {
    let (app, batch, job, _) = received().await;
    let secret = app.secrets.callback.clone();
    let mut result = batch.result(&job, 1, "SUCCEEDED");
    result["batchId"] = json!(uuid::Uuid::now_v7().to_string());
    let raw = serde_json::to_vec(&result).unwrap();
    app.refused(signed(&raw, &secret, 0), 404, "BATCH_NOT_FOUND")
        .await;
}

/// This process's CPU time (user + system) from `/proc/self/stat`, in clock ticks of 10 ms.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// The callback is open to anyone, so what it costs must not grow with what a stranger sends:
/// 30,000 empty `v1=` candidates over a 1 MiB body once cost 17 s of CPU (an HMAC each), and
/// eight of them stalled every worker. Now they are refused by their shape, unhashed.
#[tokio::test]
async fn thirty_thousand_candidates_on_a_mebibyte_cost_no_cpu_and_stall_nothing() {
    let app = spawn_app().await;
    let body = vec![b' '; 1 << 20];
    let header = format!("v1={}", ",v1=".repeat(30_000));
    let flood = || async {
        let req = callback_req(
            &body,
            Some(chrono::Utc::now().timestamp().to_string()),
            Some(header.clone()),
        );
        let res = app.call(req).await;
        assert_eq!(res.status, 401, "{}", res.body);
        assert_eq!(res.body["error"], "UNAUTHORIZED");
    };
    flood().await; // warm: connections, buffers
    let before = cpu_ticks();
    const REQUESTS: u64 = 8;
    let in_flight = futures_util::future::join_all((0..REQUESTS).map(|_| flood()));
    let health = async {
        let mut slowest = std::time::Duration::ZERO;
        for _ in 0..5 {
            let started = std::time::Instant::now();
            assert_eq!(app.get("/healthz", None).await.status, 200);
            slowest = slowest.max(started.elapsed());
        }
        slowest
    };
    let ((), slowest_health) = tokio::join!(async { drop(in_flight.await) }, health);
    let spent_ms = (cpu_ticks() - before) * 10;
    // Client and server share this process: the 8 MiB sent are counted too, and still the
    // whole is far under 50 ms a request (it was 17 s a request).
    assert!(
        spent_ms < REQUESTS * 50,
        "{REQUESTS} refused callbacks cost {spent_ms} ms of CPU"
    );
    assert!(
        slowest_health < std::time::Duration::from_millis(100),
        "/healthz took {slowest_health:?} while they were in flight"
    );
}

/// A result naming renditions under another listing's prefix, another batch's of the same
/// listing, or another attempt's, is refused whole: nothing recorded, downloads unchanged, and
/// the refusal counted as `foreign_key`.
#[tokio::test]
async fn renditions_under_other_listings_or_batches_are_refused_and_counted() {
    let (app, batch, job, token) = received().await;
    // Listing 124's batch is READY with renditions of its own: the keys an attacker would aim at.
    app.awaiting_media(124).await;
    let (victim, victim_job) = app.received_batch(&token, 124).await;
    assert_eq!(
        app.callback(&victim.result(&victim_job, 1, "SUCCEEDED"))
            .await
            .status,
        200
    );
    // What each listing's downloads point at: the signed URLs without their signatures.
    let downloads = |listing: u64| {
        let body = json!({"listingIdentityId": listing, "resolution": "large"});
        let app = &app;
        let token = token.clone();
        async move {
            let res = app.post(DOWNLOADS, Some(&token), &body).await;
            let urls: Vec<String> = res.body["downloads"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .map(|d| {
                            d["url"]
                                .as_str()
                                .unwrap()
                                .split('?')
                                .next()
                                .unwrap()
                                .to_owned()
                        })
                        .collect()
                })
                .unwrap_or_default();
            (res.status, urls)
        }
    };
    let victims_before = downloads(124).await;
    assert_eq!(victims_before.0, 200);
    assert_eq!(victims_before.1.len(), victim.files.len());

    let secret = app.secrets.callback.clone();
    let (ticket, _) = &batch.files[0];
    let other_batch = uuid::Uuid::now_v7();
    let foreign = [
        victim.rendition_key(&victim.files[0].0, 1, "large"),
        format!("{LISTING}/processed/photo/{other_batch}/1/large/x.jpg"),
        batch.rendition_key(ticket, 2, "large"),
    ];
    let counted = "media_processing_callback_errors_total{reason=\"foreign_key\"}";
    for key in foreign {
        let mut result = batch.result(&job, 1, "SUCCEEDED");
        result["outputs"][0]["renditions"]["large"] = json!(key);
        let raw = serde_json::to_vec(&result).unwrap();
        let before = app.metric(counted).await;
        let res = app
            .refused(signed(&raw, &secret, 0), 422, "VALIDATION_FAILED")
            .await;
        assert_eq!(error_fields(&res), ["outputs[0].renditions.large"], "{key}");
        assert_eq!(app.metric(counted).await, before + 1.0, "{key}");
    }
    let status = app.status_of(&token, &batch).await;
    assert_eq!(status.body["status"], "RECEIVED", "{}", status.body);
    assert_eq!(downloads(124).await, victims_before);
    assert_eq!(
        downloads(LISTING).await.0,
        204,
        "no READY batch on listing {LISTING}"
    );
}
