//! Users, their second factor and staff assignments.

use crate::{map_err, map_err_as, ms, rows, tenants::tenant_in, tx::scope_sql, SqlStore};
use async_trait::async_trait;
use leitstand_domain::{Lang, TenantId, UserId, UserName};
use leitstand_store::{AuditDraft, NewUser, Result, StoreError, TenantScope, TotpEnrolment, User, UserStore};
use sqlx::AnyConnection;

async fn user_in(conn: &mut AnyConnection, scope: &TenantScope, id: UserId) -> Result<User> {
    let sql = format!("SELECT {} FROM users u WHERE u.id = $1{}", rows::USER_COLUMNS, scope_sql("u.tenant_id", scope));
    let row = sqlx::query(&sql).bind(id.0).fetch_one(&mut *conn).await.map_err(map_err)?;
    rows::user(&row)
}

/// Ends every session of a user (privilege change, disabling).
async fn end_sessions(conn: &mut AnyConnection, id: UserId) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id.0).execute(&mut *conn).await.map_err(map_err)?;
    Ok(())
}

fn affected(done: sqlx::any::AnyQueryResult) -> Result<()> {
    if done.rows_affected() == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, scope: &TenantScope, u: &NewUser, audit: &AuditDraft) -> Result<User> {
        let mut tx = self.write(scope).await?;
        // The tenant must lie inside the caller's scope.
        tenant_in(&mut tx.conn, scope, u.tenant).await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO users (tenant_id, name, display_name, email, role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(u.tenant.0)
        .bind(u.name.as_str())
        .bind(&u.display_name)
        .bind(u.email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(u.role.as_str())
        .bind(ms(u.at))
        .fetch_one(&mut *tx.conn)
        .await
        .map_err(|e| map_err_as(e, "user name"))?;
        let user = user_in(&mut tx.conn, scope, UserId(id)).await?;
        let mut audit = audit.clone();
        audit.target = format!("user:{id}");
        tx.commit(&audit).await?;
        Ok(user)
    }

    async fn user(&self, scope: &TenantScope, id: UserId) -> Result<User> {
        let mut tx = self.read(scope).await?;
        let u = user_in(&mut tx.conn, scope, id).await;
        tx.finish().await?;
        u
    }

    async fn users(&self, scope: &TenantScope) -> Result<Vec<User>> {
        let mut tx = self.read(scope).await?;
        let sql = format!(
            "SELECT {} FROM users u WHERE 1=1{} ORDER BY u.tenant_id, u.name",
            rows::USER_COLUMNS,
            scope_sql("u.tenant_id", scope)
        );
        let found = sqlx::query(&sql).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        found.iter().map(rows::user).collect()
    }

    async fn user_for_sign_in(&self, name: &UserName) -> Result<User> {
        let mut tx = self.read(&TenantScope::All).await?;
        let row = sqlx::query(&format!("SELECT {} FROM users u WHERE u.name = $1", rows::USER_COLUMNS))
            .bind(name.as_str())
            .fetch_one(&mut *tx.conn)
            .await
            .map_err(map_err);
        tx.finish().await?;
        rows::user(&row?)
    }

    async fn user_for_auth(&self, id: UserId) -> Result<User> {
        self.user(&TenantScope::All, id).await
    }

    async fn set_password(&self, id: UserId, hash: &str, audit: &AuditDraft) -> Result<()> {
        let mut tx = self.write(&TenantScope::All).await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id.0)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        affected(done)?;
        tx.commit(audit).await
    }

    async fn set_totp(&self, id: UserId, totp: Option<&TotpEnrolment>, audit: &AuditDraft) -> Result<()> {
        let mut tx = self.write(&TenantScope::All).await?;
        let done = sqlx::query("UPDATE users SET totp_secret = $1, totp_last_step = 0 WHERE id = $2")
            .bind(totp.map(|t| t.secret_sealed.clone()))
            .bind(id.0)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        affected(done)?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(id.0)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        for code in totp.map(|t| t.recovery_hashes.as_slice()).unwrap_or_default() {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, tenant_id, code_hash) \
                 SELECT id, tenant_id, $1 FROM users WHERE id = $2",
            )
            .bind(code)
            .bind(id.0)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        }
        tx.commit(audit).await
    }

    async fn use_recovery_code(&self, id: UserId, code_hash: &str, audit: &AuditDraft) -> Result<bool> {
        let mut tx = self.write(&TenantScope::All).await?;
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(ms(audit.at))
        .bind(id.0)
        .bind(code_hash)
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            tx.finish().await?;
            return Ok(false);
        }
        tx.commit(audit).await?;
        Ok(true)
    }

    async fn set_totp_last_step(&self, id: UserId, step: i64) -> Result<()> {
        let tx = self.write(&TenantScope::All).await?;
        let mut tx = tx;
        sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2")
            .bind(step)
            .bind(id.0)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        tx.finish().await
    }

    async fn set_lang(&self, id: UserId, lang: Lang, audit: &AuditDraft) -> Result<()> {
        let mut tx = self.write(&TenantScope::All).await?;
        let done = sqlx::query("UPDATE users SET lang = $1 WHERE id = $2")
            .bind(lang.code())
            .bind(id.0)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        affected(done)?;
        tx.commit(audit).await
    }

    async fn set_disabled(&self, scope: &TenantScope, id: UserId, disabled: bool, audit: &AuditDraft) -> Result<()> {
        let mut tx = self.write(scope).await?;
        let sql = format!("UPDATE users SET disabled = $1 WHERE id = $2{}", scope_sql("tenant_id", scope));
        let done = sqlx::query(&sql).bind(disabled as i64).bind(id.0).execute(&mut *tx.conn).await.map_err(map_err)?;
        affected(done)?;
        if disabled {
            end_sessions(&mut tx.conn, id).await?;
        }
        tx.commit(audit).await
    }

    async fn set_assignments(&self, id: UserId, tenants: &[TenantId], audit: &AuditDraft) -> Result<()> {
        let mut tx = self.write(&TenantScope::All).await?;
        sqlx::query("DELETE FROM staff_assignments WHERE user_id = $1")
            .bind(id.0)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        for t in tenants {
            sqlx::query("INSERT INTO staff_assignments (user_id, tenant_id) VALUES ($1, $2)")
                .bind(id.0)
                .bind(t.0)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        }
        // Assignment is a change of privilege: end the user's sessions.
        end_sessions(&mut tx.conn, id).await?;
        tx.commit(audit).await
    }

    async fn assignments(&self, id: UserId) -> Result<Vec<TenantId>> {
        let mut tx = self.read(&TenantScope::All).await?;
        let found: Vec<(i64,)> =
            sqlx::query_as("SELECT tenant_id FROM staff_assignments WHERE user_id = $1 ORDER BY tenant_id")
                .bind(id.0)
                .fetch_all(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        tx.finish().await?;
        Ok(found.into_iter().map(|r| TenantId(r.0)).collect())
    }
}
