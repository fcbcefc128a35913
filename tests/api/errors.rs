//! Every error code of API.md over real HTTP: status, `error`, the body shape, `X-Request-Id`
//! echoed, and — for each refusal — nothing written anywhere (`footprint` before == after).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::Method;
use serde_json::{Value, json};
use toq_media::auth::{Caller, Role, jwt};

use crate::helpers::*;

const LISTING: u64 = 123;

/// An app with listing 123 awaiting media and the assigned photographer's token.
async fn app_with_listing() -> (TestApp, String) {
    let app = spawn_app().await;
    let registered = app
        .register_listing(LISTING, "PENDING_PHOTO_PROCESSING", false)
        .await;
    assert_eq!(registered.status, 200, "{}", registered.body);
    let token = app.token(PHOTOGRAPHER, Role::Photographer);
    (app, token)
}

/// A create request for the fixture photos that only the listing's state can refuse.
fn create_body(listing: u64) -> Value {
    let entries: Vec<Value> = photo_entries().into_iter().map(|(e, _)| e).collect();
    json!({"listingIdentityId": listing, "batchReference": "session-1", "files": entries})
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_400_invalid_json() {
    let (app, token) = app_with_listing().await;
    let mut wrong_types = Vec::new();
    for (field, value) in [
        ("files", json!("x")),
        ("listingIdentityId", json!("123")),
        ("listingIdentityId", json!(-1)),
        ("batchReference", json!(42)),
    ] {
        let mut body = create_body(LISTING);
        body[field] = value;
        wrong_types.push(serde_json::to_vec(&body).unwrap());
    }
    let malformed = [
        br#"{"listingIdentityId": 123, "files": ["#.to_vec(),
        b"not json at all".to_vec(),
        Vec::new(),
    ];
    for body in malformed.into_iter().chain(wrong_types) {
        let req = Req::new(Method::POST, UPLOADS, Some(&token)).bytes(body);
        app.refused(req, 400, "INVALID_JSON").await;
    }
    // Without a request id of the client's, the server makes one up.
    let before = app.quiet_footprint().await;
    let res = app.post_raw(UPLOADS, Some(&token), b"[1, 2".to_vec()).await;
    assert_error(&res, 400, "INVALID_JSON");
    assert_eq!(app.quiet_footprint().await, before);
}

#[tokio::test]
async fn every_broken_field_is_reported_at_once_as_422() {
    let (app, token) = app_with_listing().await;
    let mut body = create_body(LISTING);
    body["batchReference"] = json!("   ");
    body["files"][0]["checksum"] = json!("not-a-sha256");
    body["files"][1]["sequence"] = json!(0);
    let res = app
        .refused(
            Req::post(UPLOADS, Some(&token), &body),
            422,
            "VALIDATION_FAILED",
        )
        .await;
    assert_eq!(
        error_fields(&res),
        ["batchReference", "files[0].checksum", "files[1].sequence"]
    );
    for e in res.body["details"]["errors"].as_array().unwrap() {
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    }
}

#[tokio::test]
async fn a_body_over_one_mib_is_413() {
    let (app, token) = app_with_listing().await;
    let mut body = create_body(LISTING);
    body["padding"] = json!("x".repeat(1024 * 1024));
    app.refused(
        Req::post(UPLOADS, Some(&token), &body),
        413,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
}

#[tokio::test]
async fn missing_garbage_expired_foreign_and_unsigned_tokens_are_401() {
    let (app, _) = app_with_listing().await;
    let now = chrono::Utc::now().timestamp();
    let me = Caller {
        user_id: PHOTOGRAPHER,
        role: Role::Photographer,
    };
    let claims = json!({"sub": PHOTOGRAPHER.to_string(), "role": "admin", "exp": now + 3600});
    let alg_none = format!(
        "{}.{}.",
        B64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        B64.encode(claims.to_string())
    );
    let tokens = [
        None,
        Some("garbage".to_owned()),
        Some("a.b.c".to_owned()),
        // Expired past the 30 s leeway, and one that would live longer than the maximum.
        Some(jwt::sign(me, now - 31, &app.secrets.jwt)),
        Some(jwt::sign(me, now + 2 * 86_400, &app.secrets.jwt)),
        Some(jwt::sign(me, now + 3600, b"another-secret")),
        Some(alg_none),
    ];
    let body = create_body(LISTING);
    for token in &tokens {
        let req = Req::post(UPLOADS, token.as_deref(), &body);
        app.refused(req, 401, "UNAUTHORIZED").await;
    }
    // A well-formed header with another scheme is no bearer token either.
    let basic = Req::post(UPLOADS, None, &body).header("Authorization", "Basic dXNlcjpwYXNz");
    app.refused(basic, 401, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn an_auditor_may_not_create_403() {
    let (app, _) = app_with_listing().await;
    let auditor = app.token(2, Role::Auditor);
    let req = Req::post(UPLOADS, Some(&auditor), &create_body(LISTING));
    app.refused(req, 403, "FORBIDDEN").await;
}

#[tokio::test]
async fn an_unknown_listing_is_404_listing_not_found() {
    let (app, token) = app_with_listing().await;
    let req = Req::post(UPLOADS, Some(&token), &create_body(999));
    app.refused(req, 404, "LISTING_NOT_FOUND").await;
}

#[tokio::test]
async fn a_draft_listing_is_409_listing_not_awaiting_media() {
    let (app, token) = app_with_listing().await;
    assert_eq!(app.register_listing(5, "DRAFT", false).await.status, 200);
    let req = Req::post(UPLOADS, Some(&token), &create_body(5));
    app.refused(req, 409, "LISTING_NOT_AWAITING_MEDIA").await;
}

#[tokio::test]
async fn a_second_create_is_409_open_batch_exists_naming_the_first() {
    let (app, token) = app_with_listing().await;
    let first = app.new_batch(&token, LISTING).await;
    let req = Req::post(UPLOADS, Some(&token), &create_body(LISTING));
    let res = app.refused(req, 409, "OPEN_BATCH_EXISTS").await;
    assert_eq!(res.body["details"]["batchId"], first.id.as_str());
}

#[tokio::test]
async fn complete_with_a_file_never_uploaded_is_409_upload_mismatch_and_can_be_fixed() {
    let (app, token) = app_with_listing().await;
    let batch = app.new_batch(&token, LISTING).await;
    let (ticket, bytes) = &batch.files[0];
    assert_eq!(app.upload(ticket, bytes.clone()).await, 201);

    let confirm = batch.body(json!({"files": batch.confirmations()}));
    let res = app
        .refused(
            Req::post(COMPLETE, Some(&token), &confirm),
            409,
            "UPLOAD_MISMATCH",
        )
        .await;
    let missing = &batch.files[1];
    assert_eq!(
        res.body["details"]["files"],
        json!([{"clientId": missing.0["clientId"], "problem": "MISSING",
                "expectedBytes": missing.1.len(), "actualBytes": null}])
    );
    let status = app.status_of(&token, &batch).await;
    assert_eq!(status.body["status"], "PENDING_UPLOAD", "{}", status.body);

    assert_eq!(app.upload(&missing.0, missing.1.clone()).await, 201);
    let completed = app.complete(&token, &batch).await;
    assert_eq!(completed.status, 202, "{}", completed.body);
    assert_eq!(completed.body["status"], "RECEIVED");
}

#[tokio::test]
async fn complete_with_a_duplicate_or_unknown_client_id_is_422() {
    let (app, token) = app_with_listing().await;
    let batch = app.new_batch(&token, LISTING).await;
    app.upload_all(&batch).await;
    let all = batch.confirmations();
    let cases = [
        (
            vec![all[0].clone(), all[0].clone(), all[1].clone()],
            "files[1].clientId",
        ),
        (
            vec![
                all[0].clone(),
                all[1].clone(),
                json!({"clientId": "photo-9"}),
            ],
            "files[2].clientId",
        ),
    ];
    for (files, field) in cases {
        let req = Req::post(COMPLETE, Some(&token), &batch.body(json!({"files": files})));
        let res = app.refused(req, 422, "VALIDATION_FAILED").await;
        assert_eq!(error_fields(&res), [field]);
    }
    // Nothing was lost: the exact set still completes.
    assert_eq!(app.complete(&token, &batch).await.status, 202);
}

#[tokio::test]
async fn completing_twice_is_409_batch_not_pending_upload() {
    let (app, token) = app_with_listing().await;
    let (batch, _) = app.received_batch(&token, LISTING).await;
    let confirm = batch.body(json!({"files": batch.confirmations()}));
    app.refused(
        Req::post(COMPLETE, Some(&token), &confirm),
        409,
        "BATCH_NOT_PENDING_UPLOAD",
    )
    .await;
}

#[tokio::test]
async fn retrying_a_received_batch_is_409_batch_not_terminal() {
    let (app, token) = app_with_listing().await;
    let (batch, _) = app.received_batch(&token, LISTING).await;
    let body = batch.body(json!({"reason": "again", "scope": "ALL"}));
    app.refused(
        Req::post(RETRY, Some(&token), &body),
        409,
        "BATCH_NOT_TERMINAL",
    )
    .await;
}

#[tokio::test]
async fn retrying_failed_only_on_a_fully_ready_batch_is_409_nothing_to_retry() {
    let (app, token) = app_with_listing().await;
    let (batch, _) = app.ready_batch(&token, LISTING).await;
    let body = batch.body(json!({"reason": "again", "scope": "FAILED_ONLY"}));
    app.refused(
        Req::post(RETRY, Some(&token), &body),
        409,
        "NOTHING_TO_RETRY",
    )
    .await;
}

#[tokio::test]
async fn a_sixth_attempt_is_409_retry_limit_reached() {
    let (app, token) = app_with_listing().await;
    let (batch, _) = app.ready_batch(&token, LISTING).await;
    for attempt in 2..=5 {
        let retried = app.retry(&token, &batch, "ALL").await;
        assert_eq!(retried.status, 202, "{}", retried.body);
        assert_eq!(retried.body["attempt"], attempt);
        let job = retried.body["jobId"].as_str().unwrap();
        let done = app.callback(&batch.result(job, attempt, "SUCCEEDED")).await;
        assert_eq!(done.status, 200, "{}", done.body);
    }
    assert_eq!(app.status_of(&token, &batch).await.body["status"], "READY");
    let body = batch.body(json!({"reason": "again", "scope": "ALL"}));
    app.refused(
        Req::post(RETRY, Some(&token), &body),
        409,
        "RETRY_LIMIT_REACHED",
    )
    .await;
}

#[tokio::test]
async fn deleting_a_processing_batch_is_409_batch_processing() {
    let (app, token) = app_with_listing().await;
    let (batch, job) = app.received_batch(&token, LISTING).await;
    let running = json!({"jobId": job, "batchId": batch.id, "attempt": 1, "status": "RUNNING"});
    assert_eq!(app.callback(&running).await.status, 200);
    assert_eq!(
        app.status_of(&token, &batch).await.body["status"],
        "PROCESSING"
    );
    let body = batch.body(json!({"reason": "wrong photos"}));
    app.refused(
        Req::post(DELETE, Some(&token), &body),
        409,
        "BATCH_PROCESSING",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_batch_or_another_listings_batch_is_404_batch_not_found() {
    let (app, token) = app_with_listing().await;
    let random = json!({"listingIdentityId": LISTING, "batchId": uuid::Uuid::now_v7().to_string()});
    app.refused(
        Req::post(STATUS, Some(&token), &random),
        404,
        "BATCH_NOT_FOUND",
    )
    .await;

    // The same photographer's batch on listing 124, named with listing 123's id.
    app.awaiting_media(124).await;
    let (elsewhere, _) = app.ready_batch(&token, 124).await;
    let crossed = |extra: Value| {
        let mut body = elsewhere.body(extra);
        body["listingIdentityId"] = json!(LISTING);
        body
    };
    for (path, body) in [
        (STATUS, crossed(json!({}))),
        (DOWNLOADS, crossed(json!({}))),
        (
            COMPLETE,
            crossed(json!({"files": elsewhere.confirmations()})),
        ),
        (RETRY, crossed(json!({"reason": "again", "scope": "ALL"}))),
        (DELETE, crossed(json!({"reason": "gone"}))),
    ] {
        let req = Req::post(path, Some(&token), &body);
        app.refused(req, 404, "BATCH_NOT_FOUND").await;
    }
}

#[tokio::test]
async fn downloads_without_a_ready_batch_are_204_and_of_a_pending_batch_409() {
    let (app, token) = app_with_listing().await;
    let batch = app.new_batch(&token, LISTING).await;
    let before = app.quiet_footprint().await;
    let newest = json!({"listingIdentityId": LISTING});
    let none = app.post(DOWNLOADS, Some(&token), &newest).await;
    assert_eq!(none.status, 204, "{}", none.body);
    assert_eq!(none.body, Value::Null, "204 has no body");
    assert!(none.request_id.is_some());
    assert_eq!(app.quiet_footprint().await, before);

    let req = Req::post(DOWNLOADS, Some(&token), &batch.body(json!({})));
    app.refused(req, 409, "BATCH_NOT_READY").await;
}

#[tokio::test]
async fn the_store_refuses_other_bytes_on_a_signed_url_and_keeps_nothing() {
    let (app, token) = app_with_listing().await;
    let batch = app.new_batch(&token, LISTING).await;
    let (ticket, bytes) = &batch.files[0];
    let mut same_length = bytes.clone();
    same_length[bytes.len() / 2] ^= 0xff;
    let other_photo = fixture("kitchen-portrait.jpg");
    for other in [same_length, other_photo, Vec::new()] {
        let before = app.quiet_footprint().await;
        let status = app.upload(ticket, other).await;
        assert!(status.is_client_error(), "refused: {status}");
        assert_eq!(app.quiet_footprint().await, before, "no object is left");
    }
    // The right bytes still go through.
    assert_eq!(app.upload(ticket, bytes.clone()).await, 201);
}

#[tokio::test]
async fn an_unknown_route_is_a_404_json_error() {
    let (app, token) = app_with_listing().await;
    for req in [
        Req::new(Method::GET, "/api/v2/listings/media/nope", Some(&token)),
        Req::post("/api/v2/listings/media/uploadz", Some(&token), &json!({})),
        Req::new(Method::GET, "/", None),
    ] {
        app.refused(req, 404, "NOT_FOUND").await;
    }
}
