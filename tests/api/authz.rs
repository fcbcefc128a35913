//! "Who may do what" (API.md): every role against its own and another's listing, for create,
//! status, downloads, events and delete. A listing the caller may not see answers exactly as a
//! listing that does not exist (404, never 403): no existence leak.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use toq_media::auth::Role;

use crate::helpers::*;

const OTHER_PHOTOGRAPHER: u64 = 8;
const OTHER_OWNER: u64 = 13;
const ADMIN: u64 = 1;
const AUDITOR: u64 = 2;
/// Listing 101 is 12's with 7 assigned; listing 102 is 13's with 8 assigned.
const OURS: u64 = 101;
const THEIRS: u64 = 102;
const NOWHERE: u64 = 999;

/// Who calls, relative to the listing under test.
#[derive(Debug, Clone, Copy)]
enum Who {
    Assigned,
    OtherPhotographer,
    Owner,
    OtherOwner,
    Admin,
    Auditor,
}

/// Expected answers: the status and, for refusals, the error code.
type Expect = (u16, Option<&'static str>);

const OK: Expect = (200, None);
const NO_CONTENT: Expect = (204, None);
const HIDDEN: Expect = (404, Some("LISTING_NOT_FOUND"));
const FORBIDDEN: Expect = (403, Some("FORBIDDEN"));
/// Allowed to create, refused only because the listing already has its batch.
const MAY_CREATE: Expect = (409, Some("OPEN_BATCH_EXISTS"));

struct Row {
    who: Who,
    create: Expect,
    status: Expect,
    downloads: Expect,
    events: Expect,
    /// `None`: allowed (exercised on its own, since it changes the batch).
    delete: Option<Expect>,
}

const MATRIX: [Row; 6] = [
    Row {
        who: Who::Assigned,
        create: MAY_CREATE,
        status: OK,
        downloads: NO_CONTENT,
        events: FORBIDDEN,
        delete: None,
    },
    Row {
        who: Who::OtherPhotographer,
        create: HIDDEN,
        status: HIDDEN,
        downloads: HIDDEN,
        events: FORBIDDEN,
        delete: Some(HIDDEN),
    },
    Row {
        who: Who::Owner,
        create: FORBIDDEN,
        status: OK,
        downloads: NO_CONTENT,
        events: FORBIDDEN,
        delete: Some(FORBIDDEN),
    },
    Row {
        who: Who::OtherOwner,
        create: HIDDEN,
        status: HIDDEN,
        downloads: HIDDEN,
        events: FORBIDDEN,
        delete: Some(HIDDEN),
    },
    Row {
        who: Who::Admin,
        create: MAY_CREATE,
        status: OK,
        downloads: NO_CONTENT,
        events: OK,
        delete: None,
    },
    Row {
        who: Who::Auditor,
        create: FORBIDDEN,
        status: OK,
        downloads: NO_CONTENT,
        events: OK,
        delete: Some(FORBIDDEN),
    },
];

/// The token of `who` relative to `listing` (101: owner 12, photographer 7; 102: 13 and 8).
fn token_for(app: &TestApp, who: Who, listing: u64) -> String {
    let (assigned, other_photographer, owner, other_owner) = if listing == OURS {
        (PHOTOGRAPHER, OTHER_PHOTOGRAPHER, OWNER, OTHER_OWNER)
    } else {
        (OTHER_PHOTOGRAPHER, PHOTOGRAPHER, OTHER_OWNER, OWNER)
    };
    match who {
        Who::Assigned => app.token(assigned, Role::Photographer),
        Who::OtherPhotographer => app.token(other_photographer, Role::Photographer),
        Who::Owner => app.token(owner, Role::Owner),
        Who::OtherOwner => app.token(other_owner, Role::Owner),
        Who::Admin => app.token(ADMIN, Role::Admin),
        Who::Auditor => app.token(AUDITOR, Role::Auditor),
    }
}

/// Listings 101 and 102, each with a batch created by its assigned photographer.
async fn two_listings() -> (TestApp, Batch, Batch) {
    let app = spawn_app().await;
    for (id, owner, photographer) in [
        (OURS, OWNER, PHOTOGRAPHER),
        (THEIRS, OTHER_OWNER, OTHER_PHOTOGRAPHER),
    ] {
        let registered = app
            .register_listing_as(id, owner, photographer, false)
            .await;
        assert_eq!(registered.status, 200, "{}", registered.body);
    }
    let ours = app
        .new_batch(&app.token(PHOTOGRAPHER, Role::Photographer), OURS)
        .await;
    let theirs = app
        .new_batch(&app.token(OTHER_PHOTOGRAPHER, Role::Photographer), THEIRS)
        .await;
    (app, ours, theirs)
}

/// Sends `req` and checks it against `expect`; refusals must change nothing.
async fn check(app: &TestApp, req: Req, expect: Expect, what: &str) -> Response {
    println!("checking {what}: expecting {expect:?}"); // shown when an assertion fails
    match expect {
        (status, Some(code)) => app.refused(req, status, code).await,
        (status, None) => {
            let res = app.call(req).await;
            assert_eq!(res.status, status, "{what}: {}", res.body);
            res
        }
    }
}

/// The same request about a listing that does not exist: a hidden listing must look the same.
async fn assert_looks_missing(
    app: &TestApp,
    hidden: &Response,
    path: &str,
    token: &str,
    body: &Value,
) {
    let mut body = body.clone();
    body["listingIdentityId"] = json!(NOWHERE);
    let missing = app.post(path, Some(token), &body).await;
    assert_eq!(
        (missing.status, &missing.body),
        (hidden.status, &hidden.body),
        "a hidden listing answers like a missing one"
    );
}

#[tokio::test]
async fn every_role_against_its_own_and_anothers_listing() {
    let (app, ours, theirs) = two_listings().await;
    let create_files: Vec<Value> = photo_entries().into_iter().map(|(e, _)| e).collect();
    for batch in [&ours, &theirs] {
        let create = json!({"listingIdentityId": batch.listing, "batchReference": "again",
                            "files": create_files});
        let read = batch.body(json!({}));
        let downloads = json!({"listingIdentityId": batch.listing});
        let delete = batch.body(json!({"reason": "not mine"}));
        let events = format!("/api/v2/listings/media/batches/{}/events", batch.id);
        for row in &MATRIX {
            let token = token_for(&app, row.who, batch.listing);
            let what =
                |action: &str| format!("{:?} {action} on listing {}", row.who, batch.listing);
            let mut posts = vec![
                (UPLOADS, &create, row.create, "create"),
                (STATUS, &read, row.status, "status"),
                (DOWNLOADS, &downloads, row.downloads, "downloads"),
            ];
            if let Some(expect) = row.delete {
                posts.push((DELETE, &delete, expect, "delete"));
            }
            for (path, body, expect, action) in posts {
                let req = Req::post(path, Some(&token), body);
                let res = check(&app, req, expect, &what(action)).await;
                if expect == HIDDEN {
                    assert_looks_missing(&app, &res, path, &token, body).await;
                }
            }
            let req = Req::new(Method::GET, &events, Some(&token));
            let res = check(&app, req, row.events, &what("events")).await;
            if row.events == OK {
                assert_eq!(res.body["events"][0]["type"], "Requested", "{}", res.body);
            }
        }
    }
    // The own batch is intact: the other photographer and the owner changed nothing.
    let assigned = app.token(PHOTOGRAPHER, Role::Photographer);
    assert_eq!(
        app.status_of(&assigned, &ours).await.body["status"],
        "PENDING_UPLOAD"
    );
}

#[tokio::test]
async fn events_are_refused_to_photographers_alike_for_any_batch() {
    let (app, ours, _) = two_listings().await;
    // 403 depends on the role only: the same for an own, a foreign and a missing batch.
    for (user, batch_id) in [
        (PHOTOGRAPHER, ours.id.clone()),
        (OTHER_PHOTOGRAPHER, ours.id.clone()),
        (PHOTOGRAPHER, uuid::Uuid::now_v7().to_string()),
    ] {
        let path = format!("/api/v2/listings/media/batches/{batch_id}/events");
        let token = app.token(user, Role::Photographer);
        let req = Req::new(Method::GET, &path, Some(&token));
        app.refused(req, 403, "FORBIDDEN").await;
    }
    let auditor = app.token(AUDITOR, Role::Auditor);
    let missing = format!(
        "/api/v2/listings/media/batches/{}/events",
        uuid::Uuid::now_v7()
    );
    let req = Req::new(Method::GET, &missing, Some(&auditor));
    app.refused(req, 404, "BATCH_NOT_FOUND").await;
}

#[tokio::test]
async fn the_assigned_photographer_and_an_admin_may_delete() {
    let (app, ours, theirs) = two_listings().await;
    let assigned = app.token(PHOTOGRAPHER, Role::Photographer);
    let admin = app.token(ADMIN, Role::Admin);
    for (token, batch) in [(&assigned, &ours), (&admin, &theirs)] {
        let deleted = app
            .post(
                DELETE,
                Some(token),
                &batch.body(json!({"reason": "reshoot"})),
            )
            .await;
        assert_eq!(deleted.status, 200, "{}", deleted.body);
        let req = Req::post(STATUS, Some(token), &batch.body(json!({})));
        app.refused(req, 404, "BATCH_NOT_FOUND").await;
    }
}

#[tokio::test]
async fn an_admin_may_do_everything() {
    let app = spawn_app().await;
    assert_eq!(
        app.register_listing_as(103, OTHER_OWNER, OTHER_PHOTOGRAPHER, false)
            .await
            .status,
        200
    );
    let admin = app.token(ADMIN, Role::Admin);
    let (batch, _) = app.ready_batch(&admin, 103).await;
    assert_eq!(app.status_of(&admin, &batch).await.body["status"], "READY");
    let downloads = app
        .post(DOWNLOADS, Some(&admin), &json!({"listingIdentityId": 103}))
        .await;
    assert_eq!(downloads.status, 200, "{}", downloads.body);
    assert_eq!(downloads.body["batchId"], batch.id.as_str());
    let events = format!("/api/v2/listings/media/batches/{}/events", batch.id);
    assert_eq!(app.get(&events, Some(&admin)).await.status, 200);
    let retried = app.retry(&admin, &batch, "ALL").await;
    assert_eq!(retried.status, 202, "{}", retried.body);
    let deleted = app
        .post(DELETE, Some(&admin), &batch.body(json!({"reason": "done"})))
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
}

/// A one-page PDF as a `PROJECT_DOC` manifest entry, with its bytes.
fn project_doc() -> (Value, Vec<u8>) {
    let bytes =
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
            .to_vec();
    let entry = json!({
        "clientId": "plan-1", "assetType": "PROJECT_DOC", "filename": "floor-plan.pdf",
        "contentType": "application/pdf", "bytes": bytes.len(),
        "checksum": hex::encode(Sha256::digest(&bytes)), "title": "Floor plan", "sequence": 1
    });
    (entry, bytes)
}

#[tokio::test]
async fn owners_upload_project_documents_only_where_the_listing_allows_it() {
    let app = spawn_app().await;
    let (project, plain, shared) = (104, 105, 106);
    for (id, project_media) in [(project, true), (plain, false), (shared, true)] {
        let registered = app
            .register_listing_as(id, OWNER, PHOTOGRAPHER, project_media)
            .await;
        assert_eq!(registered.status, 200, "{}", registered.body);
    }
    let owner = app.token(OWNER, Role::Owner);
    let doc = project_doc();
    let create = |listing: u64, entry: &Value| {
        let body = json!({"listingIdentityId": listing, "batchReference": "plans",
                          "files": [entry]});
        Req::post(UPLOADS, Some(&owner), &body)
    };

    // Photos are the photographer's, even on a project-media listing.
    let photo = photo_entries().remove(0).0;
    app.refused(create(project, &photo), 403, "FORBIDDEN").await;
    // A listing without project media takes no owner uploads at all.
    app.refused(create(plain, &doc.0), 403, "FORBIDDEN").await;
    // Another owner does not see the listing.
    let stranger = app.token(OTHER_OWNER, Role::Owner);
    let body = json!({"listingIdentityId": project, "batchReference": "plans", "files": [doc.0]});
    app.refused(
        Req::post(UPLOADS, Some(&stranger), &body),
        404,
        "LISTING_NOT_FOUND",
    )
    .await;

    // Nor may the owner act on the photographer's photo batch of a project-media listing.
    let photographer = app.token(PHOTOGRAPHER, Role::Photographer);
    let photos = app.new_batch(&photographer, shared).await;
    app.upload_all(&photos).await;
    for (path, extra) in [
        (COMPLETE, json!({"files": photos.confirmations()})),
        (RETRY, json!({"reason": "mine", "scope": "ALL"})),
        (DELETE, json!({"reason": "mine"})),
    ] {
        let req = Req::post(path, Some(&owner), &photos.body(extra));
        app.refused(req, 403, "FORBIDDEN").await;
    }

    let batch = app.create_with(&owner, project, vec![doc]).await;
    app.upload_all(&batch).await;
    let completed = app.complete(&owner, &batch).await;
    assert_eq!(completed.status, 202, "{}", completed.body);
    let status = app.status_of(&owner, &batch).await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["assets"][0]["assetType"], "PROJECT_DOC");
}

#[tokio::test]
async fn the_listing_registry_takes_only_the_internal_token() {
    let app = spawn_app().await;
    let body = json!({"status": "PENDING_PHOTO_PROCESSING", "ownerUserId": OWNER,
                      "photographerUserId": PHOTOGRAPHER, "projectMedia": false});
    let path = "/api/v2/internal/listings/77";
    let admin = app.token(ADMIN, Role::Admin);
    let photographer = app.token(PHOTOGRAPHER, Role::Photographer);
    for token in [
        None,
        Some("wrong-token"),
        Some(admin.as_str()),
        Some(photographer.as_str()),
    ] {
        let req = Req::new(Method::PUT, path, token).json(&body);
        app.refused(req, 401, "UNAUTHORIZED").await;
    }
    let req = Req::new(Method::GET, path, None);
    app.refused(req, 401, "UNAUTHORIZED").await;
    let registered = app
        .register_listing_as(77, OWNER, PHOTOGRAPHER, false)
        .await;
    assert_eq!(registered.status, 200, "{}", registered.body);
}
