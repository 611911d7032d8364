//! A small embedded migration runner: each backend ships its own list of
//! migrations (same versions and names per dialect), applied in order, each in
//! its own transaction, recorded in `schema_migrations`.

use crate::{map_err, Dialect};
use leitstand_store::{Result, StoreError};
use sqlx::{Acquire, AnyConnection};

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Applies every migration not yet applied; returns how many ran. On
/// PostgreSQL an advisory lock keeps replicas that start together in line.
pub async fn run_migrations(conn: &mut AnyConnection, dialect: Dialect, migrations: &[Migration]) -> Result<usize> {
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_lock(7311001)").execute(&mut *conn).await.map_err(map_err)?;
    }
    let result = apply(conn, migrations).await;
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_unlock(7311001)").execute(&mut *conn).await.map_err(map_err)?;
    }
    result
}

async fn apply(conn: &mut AnyConnection, migrations: &[Migration]) -> Result<usize> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    let done: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM schema_migrations").fetch_all(&mut *conn).await.map_err(map_err)?;
    let known = migrations.iter().map(|m| m.version).max().unwrap_or(0);
    if let Some((newer,)) = done.iter().find(|(v,)| *v > known) {
        return Err(StoreError::Backend(format!(
            "the database has migration {newer}, newer than this build knows ({known}); run a newer leitstand"
        )));
    }
    let mut ran = 0;
    for m in migrations {
        if done.iter().any(|(v,)| *v == m.version) {
            continue;
        }
        let mut tx = conn.begin().await.map_err(map_err)?;
        sqlx::raw_sql(m.sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::Backend(format!("migration {} {}: {e}", m.version, m.name)))?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(jiff::Timestamp::now().to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        ran += 1;
    }
    Ok(ran)
}
