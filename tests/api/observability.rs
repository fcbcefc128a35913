//! What operators see: the W3C `traceparent` of a request travels into the events it causes
//! and onto the job message; `/metrics` carries the names of DESIGN.md.

use std::time::Duration;

use serde_json::{Value, json};
use toq_media::auth::Role;

use crate::helpers::*;

const TRACE: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// The job message's attributes, once the relay has moved it.
async fn job_attributes(app: &TestApp) -> Value {
    for _ in 0..100 {
        let sql = "SELECT attributes FROM job_queue WHERE queue = 'jobs' ORDER BY id DESC LIMIT 1";
        let found: Option<String> = sqlx::query_scalar(sql)
            .fetch_optional(app.store.pool())
            .await
            .unwrap();
        if let Some(attributes) = found {
            return serde_json::from_str(&attributes).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the job reached the queue");
}

async fn complete_with(app: &TestApp, token: &str, listing: u64, traceparent: &str) -> Batch {
    let batch = app.new_batch(token, listing).await;
    app.upload_all(&batch).await;
    let body = batch.body(json!({"files": batch.confirmations()}));
    let req = Req::post(COMPLETE, Some(token), &body).header("traceparent", traceparent);
    let res = app.call(req).await;
    assert_eq!(res.status, 202, "{}", res.body);
    batch
}

#[tokio::test]
async fn a_requests_trace_travels_into_its_events_and_onto_its_job() {
    let app = spawn_app().await;
    app.awaiting_media(41).await;
    let token = app.token(PHOTOGRAPHER, Role::Photographer);
    let batch = complete_with(&app, &token, 41, TRACE).await;

    assert_eq!(job_attributes(&app).await["Traceparent"], TRACE);
    let sql = "SELECT metadata FROM events WHERE aggregate_id = ? AND event_type = 'Received'";
    let metadata: String = sqlx::query_scalar(sql)
        .bind(&batch.id)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    let metadata: Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["traceparent"], TRACE);
}

#[tokio::test]
async fn a_malformed_traceparent_is_replaced_by_a_new_trace() {
    let app = spawn_app().await;
    app.awaiting_media(42).await;
    let token = app.token(PHOTOGRAPHER, Role::Photographer);
    complete_with(
        &app,
        &token,
        42,
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
    )
    .await;
    let trace = job_attributes(&app).await["Traceparent"]
        .as_str()
        .expect("a trace all the same")
        .to_owned();
    let parts: Vec<&str> = trace.split('-').collect();
    assert_eq!(parts.len(), 4, "{trace}");
    assert_eq!(
        (parts[0], parts[1].len(), parts[2].len()),
        ("00", 32, 16),
        "{trace}"
    );
    assert_ne!(parts[1], "0".repeat(32));
}

#[tokio::test]
async fn metrics_carry_the_design_names() {
    let app = spawn_app().await;
    app.awaiting_media(43).await;
    let token = app.token(PHOTOGRAPHER, Role::Photographer);
    app.ready_batch(&token, 43).await;
    // Let the relay run a round (outbox depth, lease).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = app.metrics().await;
    for name in [
        "media_batches_created_total",
        "media_processing_duration_seconds",
        "media_outbox_depth",
        "media_outbox_oldest_seconds",
        "media_lease_held",
        "media_queue_depth",
        "http_request_duration_seconds",
        "media_event_append_seconds",
    ] {
        assert!(text.contains(name), "{name} in /metrics:\n{text}");
    }
}

#[tokio::test]
async fn refused_callbacks_are_counted_by_reason() {
    let app = spawn_app().await;
    let series = |reason| format!("media_processing_callback_errors_total{{reason=\"{reason}\"}}");
    let before = [
        app.metric(&series("signature")).await,
        app.metric(&series("malformed")).await,
    ];
    let forged = Req::post(CALLBACK, None, &json!({"jobId": "x"}))
        .header(
            "X-Toq-Timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header("X-Toq-Signature", format!("v1={}", "0".repeat(64)));
    assert_eq!(app.call(forged).await.status, 401);
    let malformed = app.callback(&json!({"jobId": "x", "batchId": "y"})).await;
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    // Tests of this binary share one recorder: others may count too, never less.
    for (reason, before) in ["signature", "malformed"].into_iter().zip(before) {
        let now = app.metric(&series(reason)).await;
        assert!(now >= before + 1.0, "{reason}: {before} then {now}");
    }
}
