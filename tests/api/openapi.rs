//! The OpenAPI document describes every route of API.md, and Swagger UI serves it.

use serde_json::Value;

use crate::helpers::*;

const PATHS: [&str; 13] = [
    "/api/v2/listings/media/uploads",
    "/api/v2/listings/media/uploads/complete",
    "/api/v2/listings/media/uploads/retry",
    "/api/v2/listings/media/uploads/replace",
    "/api/v2/listings/media/status",
    "/api/v2/listings/media/downloads",
    "/api/v2/listings/media/callback",
    "/api/v2/listings/media/batches/delete",
    "/api/v2/listings/media/batches/{batch_id}/events",
    "/api/v2/internal/listings/{listing_id}",
    "/api/v2/internal/cleanup/candidates",
    "/healthz",
    "/readyz",
];

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let app = spawn_app().await;
    let res = app.get("/openapi.json", None).await;
    assert_eq!(res.status, 200);
    let doc: &Value = &res.body;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    assert_eq!(doc["info"]["title"], "toq-media");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = doc["paths"].as_object().expect("paths");
    for path in PATHS {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["jwt"]["bearerFormat"],
        "JWT"
    );
    // Error bodies and examples are part of the contract clients generate code from.
    let create = &paths["/api/v2/listings/media/uploads"]["post"];
    assert_eq!(
        create["responses"]["409"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    assert!(doc["components"]["schemas"]["CreateBatchRequest"]["example"].is_object());
}

#[tokio::test]
async fn swagger_ui_is_served_at_docs() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/docs/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(res.text().await.unwrap().contains("swagger-ui"));

    // `/docs` without the slash leads there too (reqwest follows the redirect).
    let res = app
        .client
        .get(format!("{}/docs", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.url().path(), "/docs/");
}

/// The rules a client generator needs are in the schema, so it sends nothing the server refuses
/// (scripts/schemathesis checks this over every operation).
#[tokio::test]
async fn the_document_states_the_rules_the_server_enforces() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json", None).await.body;
    let schemas = &doc["components"]["schemas"];
    let retry = &schemas["RetryRequest"];
    let required: Vec<&str> = retry["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for field in ["listingIdentityId", "batchId", "reason"] {
        assert!(required.contains(&field), "{field} is required: {retry}");
    }
    assert_eq!(retry["properties"]["batchId"]["type"], "string", "{retry}");
    assert_eq!(retry["properties"]["batchId"]["format"], "uuid");
    assert_eq!(retry["properties"]["reason"]["type"], "string");
    assert_eq!(retry["properties"]["listingIdentityId"]["minimum"], 1);
    assert_eq!(
        retry["properties"]["scope"]["enum"],
        serde_json::json!(["FAILED_ONLY", "ALL", null])
    );
    let manifest = &schemas["RawManifest"]["properties"];
    assert_eq!(manifest["files"]["minItems"], 1);
    assert_eq!(manifest["files"]["maxItems"], 60);
    assert!(manifest["batchReference"]["pattern"].is_string());
    // Per asset type, the content types it accepts.
    let kinds = &schemas["RawFile"]["allOf"][1]["anyOf"];
    assert_eq!(
        kinds.as_array().map(Vec::len),
        Some(6),
        "{}",
        schemas["RawFile"]
    );
}
