//! The whole flow over real HTTP with real image files: create → PUT each file to its signed URL
//! → complete → job on the queue → signed callback → READY → downloads → listing awaits approval.

use serde_json::{Value, json};
use toq_media::auth::Role;

use crate::helpers::*;

#[tokio::test]
async fn upload_verify_process_ready_download() {
    let app = spawn_app().await;
    app.awaiting_media(123).await;
    let token = app.token(PHOTOGRAPHER, Role::Photographer);
    let photos = [
        ("living-room.jpg", fixture("living-room.jpg")),
        ("floorplan-alpha.png", fixture("floorplan-alpha.png")),
    ];
    let entries = photos
        .iter()
        .enumerate()
        .map(|(i, (name, bytes))| {
            file_entry(&format!("photo-{}", i + 1), i as u32 + 1, name, bytes)
        })
        .collect();

    let created = app.create_batch(&token, 123, entries).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(
        created.request_id.is_some(),
        "every response carries X-Request-Id"
    );
    let batch_id = created.body["batchId"].as_str().unwrap().to_owned();
    let files = created.body["files"].as_array().unwrap().clone();
    assert_eq!(
        files[0]["objectKey"],
        format!("123/raw/photo/horizontal/{batch_id}/01-photo-1-living-room.jpg")
    );
    for (ticket, (_, bytes)) in files.iter().zip(&photos) {
        assert_eq!(app.upload(ticket, bytes.clone()).await, 201);
    }

    let confirm: Vec<Value> = files
        .iter()
        .map(|f| json!({"clientId": f["clientId"], "objectKey": f["objectKey"]}))
        .collect();
    let completed = app
        .post(
            "/api/v2/listings/media/uploads/complete",
            Some(&token),
            &json!({"listingIdentityId": 123, "batchId": batch_id, "files": confirm}),
        )
        .await;
    assert_eq!(completed.status, 202, "{}", completed.body);
    assert_eq!(completed.body["status"], "RECEIVED");
    let job_id = completed.body["jobId"].as_str().unwrap().to_owned();

    // The relay moves the job from the outbox to the queue.
    let mut queued = 0;
    for _ in 0..50 {
        queued = app
            .count("SELECT COUNT(*) FROM job_queue WHERE queue = 'jobs'")
            .await;
        if queued == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(queued, 1, "the job reached the queue");

    let outputs: Vec<Value> = files
        .iter()
        .map(|f| {
            let client = f["clientId"].as_str().unwrap();
            let renditions: serde_json::Map<String, Value> = ["thumbnail", "small", "medium", "large"]
                .iter()
                .map(|size| (size.to_string(), Value::String(format!("123/processed/photo/{batch_id}/1/{size}/{client}.jpg"))))
                .collect();
            json!({"clientId": client, "rawKey": f["objectKey"], "renditions": renditions, "width": 640, "height": 427})
        })
        .collect();
    let result = json!({"jobId": job_id, "batchId": batch_id, "attempt": 1, "status": "SUCCEEDED", "outputs": outputs});
    let accepted = app.callback(&result).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.body["status"], "accepted");

    let status = app
        .post(
            "/api/v2/listings/media/status",
            Some(&token),
            &json!({"listingIdentityId": 123, "batchId": batch_id}),
        )
        .await;
    assert_eq!(status.status, 200);
    assert_eq!(status.body["status"], "READY");
    assert_eq!(
        status.body["progress"],
        json!({"total": 2, "processed": 2, "failed": 0})
    );
    assert_eq!(status.body["job"]["status"], "SUCCEEDED");
    assert_eq!(status.body["assets"][0]["metadata"]["room"], "living");

    let downloads = app
        .post(
            "/api/v2/listings/media/downloads",
            Some(&token),
            &json!({"listingIdentityId": 123, "resolution": "original"}),
        )
        .await;
    assert_eq!(downloads.status, 200, "{}", downloads.body);
    assert_eq!(downloads.body["batchId"], batch_id.as_str());
    for (d, (_, bytes)) in downloads.body["downloads"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&photos)
    {
        let got = app
            .client
            .get(d["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(
            &got.bytes().await.unwrap()[..],
            &bytes[..],
            "the signed GET returns the uploaded bytes"
        );
    }

    let listing = app
        .get(
            "/api/v2/internal/listings/123",
            Some(&app.secrets.internal_token),
        )
        .await;
    assert_eq!(listing.body["status"], "PENDING_OWNER_APPROVAL");
    assert_eq!(listing.body["openBatchId"], Value::Null);

    // The same callback again changes nothing.
    let events = app.count("SELECT COUNT(*) FROM events").await;
    assert_eq!(app.callback(&result).await.status, 200);
    assert_eq!(app.count("SELECT COUNT(*) FROM events").await, events);

    let history = app
        .get(
            &format!("/api/v2/listings/media/batches/{batch_id}/events"),
            Some(&app.token(1, Role::Auditor)),
        )
        .await;
    assert_eq!(history.status, 200);
    let types: Vec<&str> = history.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "Requested",
            "Received",
            "Processing",
            "AssetProcessed",
            "AssetProcessed",
            "Ready"
        ]
    );
    assert_eq!(history.body["events"][0]["actor"]["userId"], "7");

    // Metrics name routes by pattern, never by the ids in the path.
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"route="/api/v2/listings/media/batches/{batch_id}/events""#),
        "{metrics}"
    );
    assert!(!metrics.contains(&batch_id), "no batch id in any label");
    assert!(
        metrics.contains(r#"media_event_append_seconds_count{backend="sqlite",status="ok"}"#),
        "{metrics}"
    );
}
