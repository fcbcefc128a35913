//! A wrong method on a known path is 405 `METHOD_NOT_ALLOWED` with `Allow` naming the methods
//! the path takes (RFC 9110), in the API's error body; an unknown path stays 404.

use reqwest::Method;

use crate::helpers::*;

/// One request without a token: the method is refused before authentication.
async fn answer(app: &TestApp, method: Method, path: &str) -> (u16, Option<String>, Response) {
    let res = app
        .client
        .request(method.clone(), format!("{}{path}", app.address))
        .send()
        .await
        .expect("the server answers");
    let status = res.status().as_u16();
    let allow = res
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let request_id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = res.json().await.unwrap_or_default();
    let response = Response {
        status: reqwest::StatusCode::from_u16(status).unwrap(),
        body,
        request_id,
    };
    (status, allow, response)
}

#[tokio::test]
async fn a_wrong_method_on_a_known_path_is_405_with_allow() {
    let app = spawn_app().await;
    let batch = uuid::Uuid::now_v7();
    let events = format!("/api/v2/listings/media/batches/{batch}/events");
    let cases = [
        (Method::GET, "/api/v2/listings/media/uploads", "POST"),
        (
            Method::DELETE,
            "/api/v2/listings/media/uploads/complete",
            "POST",
        ),
        (Method::PUT, "/api/v2/listings/media/status", "POST"),
        (Method::GET, "/api/v2/listings/media/callback", "POST"),
        (Method::POST, events.as_str(), "GET"),
        (Method::DELETE, "/api/v2/internal/listings/123", "GET, PUT"),
        (Method::POST, "/api/v2/internal/cleanup/candidates", "GET"),
        (Method::TRACE, "/healthz", "GET"),
        (Method::PATCH, "/storage/123/raw/x.jpg", "GET, PUT"),
    ];
    for (method, path, allow) in cases {
        let (status, got, res) = answer(&app, method.clone(), path).await;
        assert_eq!(status, 405, "{method} {path}: {}", res.body);
        assert_eq!(got.as_deref(), Some(allow), "{method} {path}");
        assert_error(&res, 405, "METHOD_NOT_ALLOWED");
    }
}

#[tokio::test]
async fn an_unknown_path_is_still_404() {
    let app = spawn_app().await;
    let (status, allow, res) = answer(&app, Method::GET, "/api/v2/listings/media/nope").await;
    assert_eq!(status, 404);
    assert_eq!(allow, None);
    assert_error(&res, 404, "NOT_FOUND");
}
