//! The backend suite on SQLite: needs nothing but the toolchain.

mod common;

use common::suite;

const SQLITE: &str = "sqlite:";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_make_one_batch() {
    suite::concurrent_creates_make_one_batch(SQLITE, 32).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn workload_rows_equal_a_rebuild() {
    suite::workload_rows_equal_a_rebuild(SQLITE, 1, 600).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_writers_rows_equal_a_rebuild() {
    suite::two_writers_rows_equal_a_rebuild(SQLITE).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_batch_moves_listing_to_owner_approval() {
    suite::ready_batch_moves_listing_to_owner_approval(SQLITE).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_commands_change_nothing() {
    suite::refused_commands_change_nothing(SQLITE).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoints_catch_rewritten_history() {
    suite::checkpoints_catch_rewritten_history(SQLITE).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_names_every_difference() {
    suite::verify_names_every_difference(SQLITE).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tampering_is_detected() {
    suite::tampering_is_detected(SQLITE).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn old_event_versions_are_upcast() {
    suite::old_event_versions_are_upcast(SQLITE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuild_while_appending() {
    suite::rebuild_while_appending(SQLITE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lease_has_one_holder() {
    suite::a_lease_has_one_holder(SQLITE).await;
}
