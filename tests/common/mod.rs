//! The backend suite, run against SQLite (always), MySQL and PostgreSQL (from `.ci/run`).
#![allow(dead_code)] // each test binary uses its own part

pub mod suite;

use toq_media::engine::Engine;
use toq_media::store::Store;

/// A migrated store on a fresh, empty database of the backend `server` points at.
///
/// `server` is a SQLite directory (`sqlite:`), or a MySQL / PostgreSQL server URL without a
/// database; each call makes a database of its own, so tests never see each other's rows.
pub async fn fresh_store(server: &str) -> (Store, String) {
    let url = fresh_database(server).await;
    let store = Store::connect(&url, 16)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    store.migrate().await.expect("migrations apply");
    (store, url)
}

pub async fn fresh_engine(server: &str) -> Engine {
    Engine::new(fresh_store(server).await.0)
}

static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "toq_test_{}_{}_{n}",
        std::process::id(),
        uuid::Uuid::now_v7().simple().to_string()[20..].to_owned()
    )
}

async fn fresh_database(server: &str) -> String {
    if server == "sqlite:" {
        let dir = tempfile::tempdir().expect("a temporary directory").keep();
        return format!("sqlite://{}/{}.db?mode=rwc", dir.display(), unique_name());
    }
    sqlx::any::install_default_drivers();
    let name = unique_name();
    let admin = if server.starts_with("postgres") {
        format!("{server}/postgres")
    } else {
        server.to_owned()
    };
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("the database server at {server} is not reachable: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("CREATE DATABASE");
    format!("{server}/{name}")
}

/// The server URL for a backend suite: set by `.ci/run`; a missing one fails the run loudly.
pub fn server_url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the backend suites through .ci/run, or set it to the server URL (e.g. mysql://root@127.0.0.1:3306)")
    })
}
