//! Throw-away PostgreSQL databases for tests.
//!
//! Tests connect to `postgres://postgres@127.0.0.1:5432/test` unless
//! `LEITSTAND_TEST_PG` names another server, create a fresh database per use
//! and drop it afterwards. When `CI=true`, a server that cannot be reached
//! fails the test; elsewhere the test says it skipped and returns.

use sqlx::any::AnyPoolOptions;
use sqlx::Executor;
use std::time::Duration;

/// A fresh database that is dropped when this value is.
pub struct TestDb {
    pub url: String,
    admin_url: String,
    name: String,
}

fn admin_url() -> String {
    std::env::var("LEITSTAND_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

impl TestDb {
    /// Creates the database, or `None` (after saying why) when PostgreSQL is
    /// unreachable outside CI. Panics in CI.
    pub async fn create() -> Option<TestDb> {
        leitstand_store_sql::install_drivers();
        let admin_url = admin_url();
        let pool = match AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&admin_url)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                let msg = format!("PostgreSQL at {} unreachable: {e}", crate::redact(&admin_url));
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!("{msg} (CI=true: PostgreSQL tests are never skipped)");
                }
                eprintln!("SKIPPED: {msg}");
                return None;
            }
        };
        let name = format!("leitstand_test_{}_{}", std::process::id(), rand_suffix());
        pool.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
        pool.close().await;
        Some(TestDb { url: with_database(&admin_url, &name), admin_url, name })
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{nanos}_{}", N.fetch_add(1, Ordering::Relaxed))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee; use a small one of our own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                if let Ok(pool) = AnyPoolOptions::new().max_connections(1).connect(&admin_url).await {
                    let _ = pool.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}
