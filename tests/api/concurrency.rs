//! One open batch per listing, under a race over real HTTP (API.md §1: "Two concurrent requests
//! for one listing: one 201, one 409, never two batches").

use futures_util::future::join_all;
use serde_json::Value;
use toq_media::auth::Role;

use crate::helpers::*;

const RACERS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_creates_make_one_batch() {
    let app = spawn_app().await;
    app.awaiting_media(123).await;
    let token = app.token(PHOTOGRAPHER, Role::Photographer);
    let entries: Vec<Value> = photo_entries().into_iter().map(|(e, _)| e).collect();
    let answers =
        join_all((0..RACERS).map(|_| app.create_batch(&token, 123, entries.clone()))).await;

    let created: Vec<&Response> = answers.iter().filter(|r| r.status == 201).collect();
    let statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(created.len(), 1, "exactly one 201: {statuses:?}");
    let winner = created[0].body["batchId"].as_str().unwrap();
    for refused in answers.iter().filter(|r| r.status != 201) {
        assert_error(refused, 409, "OPEN_BATCH_EXISTS");
        assert_eq!(refused.body["details"]["batchId"], winner);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM media_batches").await, 1);
    let batch_events = "SELECT COUNT(*) FROM events WHERE aggregate_type = 'MediaBatch'";
    assert_eq!(app.count(batch_events).await, 1, "one Requested event");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM media_assets").await,
        PHOTOS.len() as i64
    );
}
