//! The PostgreSQL store, for providers that outgrow one machine. Several
//! server replicas may share one database.
//!
//! Migrations run as the connecting (owner) role; the server's own pool then
//! switches to `leitstand_app`, a role that owns no table, so the row-level
//! security policies of migration 0002 always apply.

pub mod testing;

use leitstand_store::{Result, StoreError};
use leitstand_store_sql::{install_drivers, run_migrations, Dialect, Migration, SqlStore};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, Connection, Executor};
use std::time::Duration;

/// The role the server acts as; created by migration 0002.
pub const APP_ROLE: &str = "leitstand_app";

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

fn unreachable(url: &str, e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot connect to PostgreSQL at {}: {e}", redact(url)))
}

/// The URL with any password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***@{}", &url[..s], &url[at + 1..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Runs the migrations as the URL's role.
pub async fn migrate(url: &str) -> Result<usize> {
    install_drivers();
    // One direct connection, so a refusal is reported as what it is.
    let mut conn = tokio::time::timeout(Duration::from_secs(10), AnyConnection::connect(url))
        .await
        .map_err(|_| StoreError::Unavailable(format!("cannot connect to PostgreSQL at {}: timed out", redact(url))))?
        .map_err(|e| unreachable(url, e))?;
    let ran = run_migrations(&mut conn, Dialect::Postgres, MIGRATIONS).await;
    let _ = conn.close().await;
    ran
}

/// Migrates, then opens the server's pool acting as [`APP_ROLE`].
pub async fn open(url: &str) -> Result<SqlStore> {
    migrate(url).await?;
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(3))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(format!("SET ROLE {APP_ROLE}").as_str()).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|e| unreachable(url, e))?;
    Ok(SqlStore::new(pool, Dialect::Postgres))
}
