//! The SQL that the SQLite and PostgreSQL stores share, written once over
//! sqlx's `Any` driver with `$n` placeholders (which both dialects accept).
//!
//! The backend crates open the pool, run their own migrations and hand the
//! pool here with their [`Dialect`]; the few places where the dialects differ
//! (row locks, the PostgreSQL scope setting for row-level security, SQLite's
//! single writer) are decided here by that value.

mod alerts;
mod audit;
mod hosts;
mod inventory;
mod migrate;
mod notify;
mod patch;
mod rows;
mod soc;
mod tenants;
mod tokens;
mod tx;
mod users;
mod vuln;

pub use migrate::{run_migrations, Migration};

use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_store::{AuditDraft, SettingsStore, Store, StoreError, ThrottleStore};
use sqlx::AnyPool;
use std::sync::Arc;

/// Which SQL dialect a pool speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A store over an `Any` pool; implements every store trait.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// SQLite has one writer; taking this in-process lock before a write
    /// transaction avoids busy errors between our own connections.
    write_lock: Arc<tokio::sync::Mutex<()>>,
    /// Series ids by (host, name, labels). Ids never change, so the cache
    /// cannot go stale; it only holds ids of committed series.
    series_cache: Arc<std::sync::Mutex<hosts::SeriesCache>>,
    /// When old request nonces were last deleted (Unix milliseconds).
    nonces_forgotten_at: Arc<std::sync::atomic::AtomicI64>,
}

impl SqlStore {
    pub fn new(pool: AnyPool, dialect: Dialect) -> Self {
        Self {
            pool,
            dialect,
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
            series_cache: Arc::new(std::sync::Mutex::new(hosts::SeriesCache::default())),
            nonces_forgotten_at: Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN / 2)),
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Installs the `Any` drivers once per process.
pub fn install_drivers() {
    sqlx::any::install_default_drivers();
}

/// Maps a sqlx error onto the backend-neutral kinds.
pub fn map_err(e: sqlx::Error) -> StoreError {
    map_err_as(e, "value")
}

pub(crate) fn map_err_as(e: sqlx::Error, what: &'static str) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        other => StoreError::Backend(other.to_string()),
    }
}

pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub(crate) fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    async fn ping(&self) -> leitstand_store::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    fn pool_stats(&self) -> (u32, u32) {
        (self.pool.size(), self.pool.num_idle() as u32)
    }

    async fn integrity_check(&self) -> leitstand_store::Result<()> {
        if self.dialect != Dialect::Sqlite {
            return Ok(());
        }
        let rows: Vec<(String,)> =
            sqlx::query_as("PRAGMA integrity_check").fetch_all(&self.pool).await.map_err(map_err)?;
        match rows.as_slice() {
            [(ok,)] if ok == "ok" => Ok(()),
            _ => Err(StoreError::Backend(format!(
                "integrity_check: {}",
                rows.into_iter().map(|r| r.0).collect::<Vec<_>>().join("; ")
            ))),
        }
    }
}

#[async_trait]
impl ThrottleStore for SqlStore {
    async fn record_failure(&self, key: &str, at: Timestamp) -> leitstand_store::Result<()> {
        let _w = self.write_guard().await;
        sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(ms(at))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        // Keep the table small: a day of history is plenty for throttling.
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(ms(at) - 86_400_000)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn failures_since(&self, key: &str, since: Timestamp) -> leitstand_store::Result<u32> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at >= $2")
            .bind(key)
            .bind(ms(since))
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(n as u32)
    }

    async fn clear_failures(&self, key: &str) -> leitstand_store::Result<()> {
        let _w = self.write_guard().await;
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl SettingsStore for SqlStore {
    async fn setting(&self, key: &str) -> leitstand_store::Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(row.map(|r| r.0))
    }

    async fn set_setting(&self, key: &str, value: &str, audit: &AuditDraft) -> leitstand_store::Result<()> {
        let mut tx = self.write(&leitstand_store::TenantScope::All).await?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.commit(audit).await
    }
}
