//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` attributes and the types
//! of `dto.rs`, served at `/openapi.json` with Swagger UI at `/docs/`.

use actix_web::web;
use aggregates::{FieldError, Limits, RawConfirmedFile, RawFile, RawManifest};
use utoipa::openapi::schema::{AllOfBuilder, Schema};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::dto::*;
use super::routes;
use crate::ops::history::{Actor, Entry};
use crate::store::ListingView;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "toq-media",
        version = env!("CARGO_PKG_VERSION"),
        description = "Media batches for TOQ listings, event-sourced.\n\n\
            1. The platform registers each listing (`PUT /api/v2/internal/listings/{listing_id}`).\n\
            2. A photographer creates a batch with the manifest of its files (`POST .../uploads`) and \
            PUTs each file to its signed upload URL, which binds its size and SHA-256.\n\
            3. `POST .../uploads/complete` verifies every stored object against the manifest and \
            queues a processing job through the outbox.\n\
            4. The pipeline reports results on the results queue or by signed `POST .../callback`; \
            when every asset is processed the batch is `READY` and its listing moves to \
            `PENDING_OWNER_APPROVAL`.\n\
            5. Clients poll `POST .../status` and fetch signed URLs from `POST .../downloads`; \
            `POST .../uploads/retry` reprocesses a finished batch; `POST .../uploads/replace` takes \
            new uploads for the files of a FAILED batch that failed, keeping the others' renditions.\n\n\
            Every change is an event: auditors read a batch's history at \
            `GET .../batches/{batch_id}/events`. Errors are `ErrorBody`; a listing or batch the \
            caller may not see is a 404, never a 403 or 409. Every response carries `X-Request-Id`.",
    ),
    paths(
        routes::uploads::create,
        routes::complete::complete,
        routes::retry::retry,
        routes::replace::replace,
        routes::status::status,
        routes::downloads::downloads,
        routes::callback::callback,
        routes::delete::delete,
        routes::events::events,
        routes::audit_key::key,
        routes::listings::put,
        routes::listings::get,
        routes::cleanup::candidates,
        routes::health::healthz,
        routes::health::readyz,
        storage::put,
        storage::get,
    ),
    components(schemas(
        ErrorBody, FieldError, CreateBatchRequest, RawManifest, RawFile, BatchCreated, UploadTicket,
        CompleteRequest, RawConfirmedFile, UploadsReceived, RetryRequest, RetryAccepted,
        ReplaceRequest,
        StatusRequest, StatusReport, Progress, JobReport, AssetReport, DownloadsRequest, Downloads,
        Download, DeleteRequest, BatchDeleted, BatchEvents, BatchHistory, Entry, Actor, ListingRequest,
        ListingView, AuditKey, CleanupCandidates, CleanupCandidate, CallbackBody, AssetOutput,
        CallbackAccepted, Health, Readiness,
    )),
    modifiers(&SecuritySchemes, &FileRules),
    tags(
        (name = "batches", description = "Upload, process, poll, download and delete media batches"),
        (name = "pipeline", description = "Results from the processing pipeline"),
        (name = "audit", description = "Event history, for auditors and admins"),
        (name = "internal", description = "For the platform, with the internal service token"),
        (name = "storage", description = "The local object store behind the signed URLs"),
        (name = "health", description = "Liveness and readiness"),
    ),
)]
pub struct ApiDoc;

/// Security schemes are not expressible in the derive's attributes, hence a modifier.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut jwt = Http::new(HttpAuthScheme::Bearer);
        jwt.bearer_format = Some("JWT".into());
        jwt.description = Some(
            "HS256 JWT with claims `sub` (user id), `role` (photographer, owner, admin, auditor) \
             and `exp`"
                .into(),
        );
        components.add_security_scheme("jwt", SecurityScheme::Http(jwt));
        let mut internal = Http::new(HttpAuthScheme::Bearer);
        internal.description = Some("The platform's internal service token".into());
        components.add_security_scheme("internal_token", SecurityScheme::Http(internal));
    }
}

/// A file's rules across its fields (content type and orientation per asset type) are beyond
/// the derive: the `RawFile` component becomes all of its fields' rules and one asset type's.
struct FileRules;

impl Modify for FileRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        if let Some(fields) = components.schemas.remove("RawFile") {
            let kinds = aggregates::openapi::file_kinds(&Limits::default());
            let all = AllOfBuilder::new().item(fields).item(kinds).build();
            components
                .schemas
                .insert("RawFile".into(), Schema::AllOf(all).into());
        }
    }
}

/// The storage routes are `crate::storage::routes`; this module only describes them, so that the
/// document covers every URL a client is handed.
#[allow(dead_code)]
mod storage {
    use utoipa::ToSchema;

    use crate::http::dto::ErrorBody;

    /// A file's bytes.
    #[derive(ToSchema)]
    #[schema(value_type = String, format = Binary)]
    pub struct FileBytes(Vec<u8>);

    /// Upload one file to its signed URL
    ///
    /// Use the `uploadUrl` and `headers` of `POST /uploads` as given: the query string is the
    /// credential (no bearer token) and binds method, key, content type, length and SHA-256.
    #[utoipa::path(
        put,
        path = "/storage/{key}",
        operation_id = "putObject",
        tag = "storage",
        params(("key" = String, Path, description = "The object key, as in `objectKey`")),
        request_body(content = FileBytes, content_type = "application/octet-stream",
            description = "The file's bytes, sent with the signed `Content-Type`"),
        responses(
            (status = 201, description = "Stored; `ETag` is the quoted hex SHA-256",
                example = json!({"objectKey": "123/raw/photo/horizontal/0193a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/01-photo-1-IMG_2907.jpg",
                    "bytes": 5242880, "checksum": "4ee0c4b2e3f1a0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5"})),
            (status = 400, description = "`CONTENT_TYPE_MISMATCH`, `SIZE_MISMATCH`, `CHECKSUM_MISMATCH`, `BODY_UNREADABLE`, `INVALID_KEY`", body = ErrorBody),
            (status = 403, description = "`SIGNATURE_INVALID`, `SIGNATURE_EXPIRED`", body = ErrorBody),
            (status = 500, description = "`STORAGE_ERROR`", body = ErrorBody),
        ),
    )]
    pub fn put() {}

    /// Download one file from its signed URL
    ///
    /// Use the `url` or `previewUrl` of `POST /downloads` as given.
    #[utoipa::path(
        get,
        path = "/storage/{key}",
        operation_id = "getObject",
        tag = "storage",
        params(("key" = String, Path, description = "The object key")),
        responses(
            (status = 200, description = "The stored bytes, with their content type", body = FileBytes,
                content_type = "application/octet-stream"),
            (status = 400, description = "`INVALID_KEY`", body = ErrorBody),
            (status = 403, description = "`SIGNATURE_INVALID`, `SIGNATURE_EXPIRED`", body = ErrorBody),
            (status = 404, description = "`OBJECT_NOT_FOUND`", body = ErrorBody),
            (status = 500, description = "`STORAGE_ERROR`", body = ErrorBody),
        ),
    )]
    pub fn get() {}
}

/// Serves `/openapi.json` and Swagger UI at `/docs/` (`/docs` redirects there).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::redirect("/docs", "/docs/"))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi()));
}
