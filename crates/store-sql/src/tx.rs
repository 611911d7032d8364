//! Transactions with scope: every call runs in one, with the tenant scope set
//! for PostgreSQL's row-level security and, for writes, the audit entry
//! appended before commit.

use crate::{audit, map_err, Dialect, SqlStore};
use leitstand_store::{AuditDraft, AuditEntry, Result, TenantScope};
use sqlx::{Any, Transaction};
use tokio::sync::MutexGuard;

pub(crate) struct Tx<'a> {
    pub conn: Transaction<'static, Any>,
    dialect: Dialect,
    _guard: Option<MutexGuard<'a, ()>>,
}

impl SqlStore {
    pub(crate) async fn write_guard(&self) -> Option<MutexGuard<'_, ()>> {
        match self.dialect {
            Dialect::Sqlite => Some(self.write_lock.lock().await),
            Dialect::Postgres => None,
        }
    }

    async fn begin<'a>(&'a self, scope: &TenantScope, guard: Option<MutexGuard<'a, ()>>) -> Result<Tx<'a>> {
        // SQLite writers take the write lock at BEGIN, waiting (busy_timeout)
        // while another connection still holds it: a transaction dropped on
        // an error path is rolled back by its connection a moment after our
        // writer lock is released. A deferred BEGIN that had read first would
        // get "database is locked" at once instead of waiting.
        let mut conn =
            if guard.is_some() { self.pool.begin_with("BEGIN IMMEDIATE").await } else { self.pool.begin().await }
                .map_err(map_err)?;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT set_config('leitstand.scope', $1, true)")
                .bind(scope.to_setting())
                .execute(&mut *conn)
                .await
                .map_err(map_err)?;
        }
        Ok(Tx { conn, dialect: self.dialect, _guard: guard })
    }

    /// A read-only transaction inside `scope`.
    pub(crate) async fn read(&self, scope: &TenantScope) -> Result<Tx<'_>> {
        self.begin(scope, None).await
    }

    /// A write transaction inside `scope`; on SQLite it holds the writer lock.
    pub(crate) async fn write(&self, scope: &TenantScope) -> Result<Tx<'_>> {
        let guard = self.write_guard().await;
        self.begin(scope, guard).await
    }
}

impl Tx<'_> {
    /// Appends the audit entry and commits: both or neither.
    pub(crate) async fn commit(self, draft: &AuditDraft) -> Result<()> {
        self.commit_returning(draft).await.map(|_| ())
    }

    pub(crate) async fn commit_returning(mut self, draft: &AuditDraft) -> Result<AuditEntry> {
        let entry = audit::append(&mut self.conn, self.dialect, draft).await?;
        self.conn.commit().await.map_err(map_err)?;
        Ok(entry)
    }

    /// Appends an audit entry inside the transaction (for writes that make
    /// several; the last goes with [`Tx::commit`]).
    pub(crate) async fn audit(&mut self, draft: &AuditDraft) -> Result<()> {
        audit::append(&mut self.conn, self.dialect, draft).await.map(|_| ())
    }

    /// Rolls back: for writes that find, part way, that they must not happen.
    pub(crate) async fn abandon(self) -> Result<()> {
        self.conn.rollback().await.map_err(map_err)
    }

    /// Commits without an audit entry (reads, sessions, throttling).
    pub(crate) async fn finish(self) -> Result<()> {
        self.conn.commit().await.map_err(map_err)
    }
}

/// `AND <col> IN (…)` for a scope; empty for `All`. The ids are integers
/// formatted here, so no outside text reaches the SQL.
pub(crate) fn scope_sql(col: &str, scope: &TenantScope) -> String {
    match scope {
        TenantScope::All => String::new(),
        TenantScope::Only(ids) if ids.is_empty() => " AND 1=0".to_owned(),
        TenantScope::Only(ids) => {
            let list = ids.iter().map(|i| i.0.to_string()).collect::<Vec<_>>().join(",");
            format!(" AND {col} IN ({list})")
        }
    }
}
