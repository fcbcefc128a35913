//! The backend suite on MySQL/MariaDB. Run by `.ci/run` with `--ignored` and
//! TOQ_MEDIA_TEST_MYSQL_URL set; without the server it fails loudly, never skips.

mod common;

use common::suite;

fn server() -> String {
    common::server_url("TOQ_MEDIA_TEST_MYSQL_URL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs MySQL: run by .ci/run"]
async fn concurrent_creates_make_one_batch() {
    suite::concurrent_creates_make_one_batch(&server(), 32).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MySQL: run by .ci/run"]
async fn two_writers_rows_equal_a_rebuild() {
    suite::two_writers_rows_equal_a_rebuild(&server()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MySQL: run by .ci/run"]
async fn workload_rows_equal_a_rebuild() {
    suite::workload_rows_equal_a_rebuild(&server(), 1, 600).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MySQL: run by .ci/run"]
async fn ready_batch_moves_listing_to_owner_approval() {
    suite::ready_batch_moves_listing_to_owner_approval(&server()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MySQL: run by .ci/run"]
async fn refused_commands_change_nothing() {
    suite::refused_commands_change_nothing(&server()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MySQL: run by .ci/run"]
async fn checkpoints_catch_rewritten_history() {
    suite::checkpoints_catch_rewritten_history(&server()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MySQL: run by .ci/run"]
async fn verify_names_every_difference() {
    suite::verify_names_every_difference(&server()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MySQL: run by .ci/run"]
async fn tampering_is_detected() {
    suite::tampering_is_detected(&server()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MySQL: run by .ci/run"]
async fn old_event_versions_are_upcast() {
    suite::old_event_versions_are_upcast(&server()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs MySQL: run by .ci/run"]
async fn rebuild_while_appending() {
    suite::rebuild_while_appending(&server()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs MySQL: run by .ci/run"]
async fn a_lease_has_one_holder() {
    suite::a_lease_has_one_holder(&server()).await;
}
