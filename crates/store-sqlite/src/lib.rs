//! The embedded default store: one SQLite file in the data directory, WAL
//! journal, `synchronous=FULL` so a commit survives a crash or power cut.

use leitstand_store::{Result, StoreError};
use leitstand_store_sql::{install_drivers, map_err, run_migrations, Dialect, Migration, SqlStore};
use sqlx::any::AnyPoolOptions;
use sqlx::Executor;
use std::path::Path;
use std::time::Duration;

/// The migrations, same versions and names as PostgreSQL's.
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "foundation", sql: include_str!("../migrations/0001_foundation.sql") },
    Migration {
        version: 2,
        name: "row_level_security",
        sql: include_str!("../migrations/0002_row_level_security.sql"),
    },
    Migration { version: 3, name: "hosts", sql: include_str!("../migrations/0003_hosts.sql") },
    Migration { version: 4, name: "host_events", sql: include_str!("../migrations/0004_host_events.sql") },
    Migration { version: 5, name: "monitoring", sql: include_str!("../migrations/0005_monitoring.sql") },
    Migration { version: 6, name: "agent_build", sql: include_str!("../migrations/0006_agent_build.sql") },
    Migration { version: 7, name: "inventory", sql: include_str!("../migrations/0007_inventory.sql") },
    Migration { version: 8, name: "alerts", sql: include_str!("../migrations/0008_alerts.sql") },
    Migration { version: 9, name: "notify", sql: include_str!("../migrations/0009_notify.sql") },
    Migration { version: 10, name: "soc", sql: include_str!("../migrations/0010_soc.sql") },
    Migration { version: 11, name: "vuln", sql: include_str!("../migrations/0011_vuln.sql") },
    Migration { version: 12, name: "patch", sql: include_str!("../migrations/0012_patch.sql") },
];

/// Opens (creating it if needed) `leitstand.db` in `dir`.
pub async fn open_dir(dir: &Path) -> Result<SqlStore> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StoreError::Unavailable(format!("cannot create data directory {}: {e}", dir.display())))?;
    let file = dir.join("leitstand.db");
    open_url(&format!("sqlite://{}?mode=rwc", file.display())).await
}

/// Opens a `sqlite://` URL and brings its schema up to date.
pub async fn open_url(url: &str) -> Result<SqlStore> {
    install_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // busy_timeout first: the other settings may need a lock.
                conn.execute("PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
                    .await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|e| StoreError::Unavailable(format!("cannot open SQLite database {url}: {e}")))?;
    let mut conn = pool.acquire().await.map_err(map_err)?;
    // WAL is a property of the file: set once, not on every connection.
    conn.execute("PRAGMA journal_mode = WAL").await.map_err(map_err)?;
    run_migrations(&mut conn, Dialect::Sqlite, MIGRATIONS).await?;
    drop(conn);
    Ok(SqlStore::new(pool, Dialect::Sqlite))
}

/// Reads one PRAGMA, for tests and diagnostics.
pub async fn pragma(store: &SqlStore, name: &str) -> Result<String> {
    let v: (String,) = sqlx::query_as(&format!("SELECT CAST({name} AS TEXT) FROM pragma_{name}"))
        .fetch_one(store.pool())
        .await
        .map_err(map_err)?;
    Ok(v.0)
}
