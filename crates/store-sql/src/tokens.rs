//! Sessions, invitations and API tokens: secrets stored only as hashes.

use crate::{map_err, map_err_as, ms, rows, ts, SqlStore};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::{TokenId, UserId};
use leitstand_store::{
    ApiToken, ApiTokenStore, AuditDraft, Invite, InviteStore, NewApiToken, NewInvite, NewSession, Result, Session,
    SessionStore, StoreError, TenantScope,
};

/// How often a token's `last_used` is written.
const LAST_USED_EVERY_MS: i64 = 60_000;

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, s: &NewSession) -> Result<()> {
        let mut tx = self.write(&TenantScope::All).await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, last_seen, expires_at, source) \
             VALUES ($1, $2, $3, $4, $4, $5, $6)",
        )
        .bind(&s.token_hash)
        .bind(s.user.0)
        .bind(&s.csrf)
        .bind(ms(s.created_at))
        .bind(ms(s.expires_at))
        .bind(&s.source)
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        // Expired sessions go when new ones come.
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(ms(s.created_at))
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        tx.finish().await
    }

    async fn session(&self, token_hash: &str) -> Result<Session> {
        let row: (i64, String, i64, i64, i64) = sqlx::query_as(
            "SELECT user_id, csrf, created_at, last_seen, expires_at FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(Session {
            user: UserId(row.0),
            csrf: row.1,
            created_at: ts(row.2),
            last_seen: ts(row.3),
            expires_at: ts(row.4),
        })
    }

    async fn touch_session(&self, token_hash: &str, at: Timestamp) -> Result<()> {
        let _w = self.write_guard().await;
        sqlx::query("UPDATE sessions SET last_seen = $1 WHERE token_hash = $2")
            .bind(ms(at))
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        let _w = self.write_guard().await;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_user_sessions(&self, id: UserId, keep: Option<&str>) -> Result<()> {
        let _w = self.write_guard().await;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(id.0)
            .bind(keep.unwrap_or(""))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl InviteStore for SqlStore {
    async fn create_invite(&self, i: &NewInvite, audit: &AuditDraft) -> Result<()> {
        let mut tx = self.write(&TenantScope::All).await?;
        // A new invitation replaces any open one of the same user.
        sqlx::query("DELETE FROM invitations WHERE user_id = $1 AND used_at IS NULL")
            .bind(i.user.0)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO invitations (token_hash, user_id, tenant_id, created_at, expires_at) \
             SELECT $1, id, tenant_id, $2, $3 FROM users WHERE id = $4",
        )
        .bind(&i.token_hash)
        .bind(ms(i.created_at))
        .bind(ms(i.expires_at))
        .bind(i.user.0)
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.commit(audit).await
    }

    async fn invite(&self, token_hash: &str, now: Timestamp) -> Result<Invite> {
        let mut tx = self.read(&TenantScope::All).await?;
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT user_id, expires_at FROM invitations WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(ms(now))
        .fetch_optional(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        let (user, expires) = row.ok_or(StoreError::NotFound)?;
        Ok(Invite { user: UserId(user), expires_at: ts(expires) })
    }

    async fn redeem_invite(
        &self,
        token_hash: &str,
        now: Timestamp,
        password_hash: &str,
        audit: &AuditDraft,
    ) -> Result<UserId> {
        let mut tx = self.write(&TenantScope::All).await?;
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE invitations SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
        )
        .bind(ms(now))
        .bind(token_hash)
        .fetch_optional(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        let (user,) = row.ok_or(StoreError::NotFound)?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        let mut audit = audit.clone();
        audit.actor_user = Some(UserId(user));
        audit.target = format!("user:{user}");
        tx.commit(&audit).await?;
        Ok(UserId(user))
    }
}

#[async_trait]
impl ApiTokenStore for SqlStore {
    async fn create_token(&self, t: &NewApiToken, audit: &AuditDraft) -> Result<ApiToken> {
        let mut tx = self.write(&TenantScope::All).await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO api_tokens (user_id, tenant_id, label, token_hash, prefix, created_at, expires_at) \
             SELECT id, tenant_id, $1, $2, $3, $4, $5 FROM users WHERE id = $6 RETURNING id",
        )
        .bind(&t.label)
        .bind(&t.token_hash)
        .bind(&t.prefix)
        .bind(ms(t.created_at))
        .bind(t.expires_at.map(ms))
        .bind(t.user.0)
        .fetch_one(&mut *tx.conn)
        .await
        .map_err(|e| map_err_as(e, "token"))?;
        let row = sqlx::query(&format!("SELECT {} FROM api_tokens WHERE id = $1", rows::TOKEN_COLUMNS))
            .bind(id)
            .fetch_one(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        let token = rows::api_token(&row)?;
        let mut audit = audit.clone();
        audit.target = format!("api_token:{id}");
        tx.commit(&audit).await?;
        Ok(token)
    }

    async fn tokens(&self, user: UserId) -> Result<Vec<ApiToken>> {
        let mut tx = self.read(&TenantScope::All).await?;
        let found = sqlx::query(&format!(
            "SELECT {} FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id",
            rows::TOKEN_COLUMNS
        ))
        .bind(user.0)
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        found.iter().map(rows::api_token).collect()
    }

    async fn revoke_token(&self, user: UserId, id: TokenId, audit: &AuditDraft) -> Result<()> {
        let mut tx = self.write(&TenantScope::All).await?;
        let done =
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(ms(audit.at))
                .bind(id.0)
                .bind(user.0)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit(audit).await
    }

    async fn token_by_hash(&self, token_hash: &str, now: Timestamp) -> Result<ApiToken> {
        let mut tx = self.read(&TenantScope::All).await?;
        let row = sqlx::query(&format!(
            "SELECT {} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2)",
            rows::TOKEN_COLUMNS
        ))
        .bind(token_hash)
        .bind(ms(now))
        .fetch_one(&mut *tx.conn)
        .await
        .map_err(map_err);
        tx.finish().await?;
        let mut token = rows::api_token(&row?)?;
        // Most requests only read; `last_used` is written at most once a minute.
        if token.last_used.is_none_or(|t| ms(now) - ms(t) >= LAST_USED_EVERY_MS) {
            let mut tx = self.write(&TenantScope::All).await?;
            sqlx::query("UPDATE api_tokens SET last_used = $1 WHERE id = $2")
                .bind(ms(now))
                .bind(token.id.0)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
            tx.finish().await?;
            token.last_used = Some(now);
        }
        Ok(token)
    }
}
