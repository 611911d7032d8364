//! Appending to and reading the hash-chained audit log.

use crate::{map_err, ms, rows, tx::scope_sql, Dialect, SqlStore};
use async_trait::async_trait;
use leitstand_domain::AuditSeq;
use leitstand_store::{AuditDraft, AuditEntry, AuditFilter, AuditStore, Result, TenantScope};
use sqlx::{any::AnyArguments, Any, AnyConnection, Arguments};

const COLUMNS: &str = "seq, at, actor_user, actor_name, tenant_id, action, target, source, detail, prev_hash, hash";

/// Seals `draft` after the current head and writes it; the head row is locked
/// (PostgreSQL) or the writer lock is held (SQLite), so appends never race.
pub(crate) async fn append(conn: &mut AnyConnection, dialect: Dialect, draft: &AuditDraft) -> Result<AuditEntry> {
    let lock = if dialect == Dialect::Postgres { " FOR UPDATE" } else { "" };
    let (seq, hash): (i64, String) = sqlx::query_as(&format!("SELECT seq, hash FROM audit_head WHERE id = 1{lock}"))
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err)?;
    let entry = draft.clone().seal(AuditSeq(seq + 1), &hash);
    sqlx::query(&format!("INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
        .bind(entry.seq.0)
        .bind(ms(entry.at))
        .bind(entry.actor_user.map(|u| u.0))
        .bind(&entry.actor_name)
        .bind(entry.tenant.map(|t| t.0))
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(&entry.source)
        .bind(&entry.detail)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(entry.seq.0)
        .bind(&entry.hash)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    Ok(entry)
}

/// Builds `WHERE` clauses with numbered placeholders.
struct Where {
    sql: String,
    args: AnyArguments<'static>,
    n: usize,
}

impl Where {
    fn new() -> Self {
        Self { sql: String::from(" WHERE 1=1"), args: AnyArguments::default(), n: 0 }
    }

    fn push<T>(&mut self, clause: &str, value: T)
    where
        T: 'static + Send + sqlx::Encode<'static, Any> + sqlx::Type<Any>,
    {
        self.n += 1;
        self.sql.push_str(&clause.replace("$?", &format!("${}", self.n)));
        let _ = self.args.add(value);
    }
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, audit: &AuditDraft) -> Result<AuditEntry> {
        let tx = self.write(&TenantScope::All).await?;
        tx.commit_returning(audit).await
    }

    async fn audit_entries(&self, scope: &TenantScope, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut w = Where::new();
        w.sql.push_str(&scope_sql("tenant_id", scope));
        if let Some(t) = f.tenant {
            w.push(" AND tenant_id = $?", t.0);
        }
        if let Some(a) = &f.actor {
            w.push(" AND actor_name = $?", a.clone());
        }
        if let Some(a) = &f.action {
            let escaped = a.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            w.push(" AND action LIKE $? ESCAPE '\\'", format!("{escaped}%"));
        }
        if let Some(s) = f.since {
            w.push(" AND at >= $?", ms(s));
        }
        if let Some(u) = f.until {
            w.push(" AND at < $?", ms(u));
        }
        if let Some(b) = f.before {
            w.push(" AND seq < $?", b.0);
        }
        let limit = f.limit.clamp(1, 10_000) as i64;
        let sql = format!("SELECT {COLUMNS} FROM audit_log{} ORDER BY seq DESC LIMIT {limit}", w.sql);
        let mut tx = self.read(scope).await?;
        let found = sqlx::query_with(&sql, w.args).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        found.iter().map(rows::audit_entry).collect()
    }

    async fn audit_chain(&self) -> Result<(Vec<AuditEntry>, Option<(AuditSeq, String)>)> {
        let mut tx = self.read(&TenantScope::All).await?;
        let found = sqlx::query(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"))
            .fetch_all(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        let head: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        tx.finish().await?;
        let entries = found.iter().map(rows::audit_entry).collect::<Result<Vec<_>>>()?;
        Ok((entries, head.map(|(s, h)| (AuditSeq(s), h))))
    }
}
