//! Tenants: the provider organisation and customers.

use crate::{map_err, map_err_as, ms, rows, tx::scope_sql, SqlStore};
use async_trait::async_trait;
use leitstand_domain::{Plan, Role, TenantId, UserId};
use leitstand_store::{
    AuditDraft, Bootstrap, NewTenant, Result, StoreError, Tenant, TenantKind, TenantScope, TenantStore, User, UserStore,
};
use sqlx::AnyConnection;

async fn insert_tenant(
    conn: &mut AnyConnection,
    name: &str,
    kind: TenantKind,
    plan: &Plan,
    time_zone: &str,
    at: i64,
) -> Result<TenantId> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO tenants (name, kind, security_plan, soc_package, managed_service, time_zone, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(name)
    .bind(kind.as_str())
    .bind(plan.security.as_str())
    .bind(plan.soc.as_str())
    .bind(plan.managed_service as i64)
    .bind(time_zone)
    .bind(at)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| map_err_as(e, "tenant name"))?;
    Ok(TenantId(id))
}

pub(crate) async fn tenant_in(conn: &mut AnyConnection, scope: &TenantScope, id: TenantId) -> Result<Tenant> {
    let sql = format!("SELECT {} FROM tenants WHERE id = $1{}", rows::TENANT_COLUMNS, scope_sql("id", scope));
    let row = sqlx::query(&sql).bind(id.0).fetch_one(&mut *conn).await.map_err(map_err)?;
    rows::tenant(&row)
}

#[async_trait]
impl TenantStore for SqlStore {
    async fn bootstrap(&self, b: &Bootstrap, audit: &AuditDraft) -> Result<Option<(Tenant, User)>> {
        let mut tx = self.write(&TenantScope::All).await?;
        let existing: Option<(i64,)> = sqlx::query_as("SELECT id FROM tenants WHERE kind = 'provider'")
            .fetch_optional(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        if existing.is_some() {
            tx.finish().await?;
            return Ok(None);
        }
        let at = ms(b.at);
        let tid = insert_tenant(
            &mut tx.conn,
            b.provider_name.as_str(),
            TenantKind::Provider,
            &Plan::default(),
            "Europe/Berlin",
            at,
        )
        .await?;
        let (uid,): (i64,) = sqlx::query_as(
            "INSERT INTO users (tenant_id, name, display_name, role, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(tid.0)
        .bind(b.admin.as_str())
        .bind(b.admin.as_str())
        .bind(Role::ProviderAdmin.as_str())
        .bind(at)
        .fetch_one(&mut *tx.conn)
        .await
        .map_err(|e| map_err_as(e, "user name"))?;
        sqlx::query(
            "INSERT INTO invitations (token_hash, user_id, tenant_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&b.invite_hash)
        .bind(uid)
        .bind(tid.0)
        .bind(at)
        .bind(ms(b.invite_expires))
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        let mut audit = audit.clone();
        audit.tenant = Some(tid);
        audit.target = format!("tenant:{}", tid.0);
        tx.commit(&audit).await?;
        let tenant = self.tenant(&TenantScope::All, tid).await?;
        let user = self.user(&TenantScope::All, UserId(uid)).await?;
        Ok(Some((tenant, user)))
    }

    async fn provider(&self) -> Result<Option<Tenant>> {
        let mut tx = self.read(&TenantScope::All).await?;
        let row = sqlx::query(&format!("SELECT {} FROM tenants WHERE kind = 'provider'", rows::TENANT_COLUMNS))
            .fetch_optional(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        tx.finish().await?;
        row.as_ref().map(rows::tenant).transpose()
    }

    async fn create_tenant(&self, t: &NewTenant, audit: &AuditDraft) -> Result<Tenant> {
        let mut tx = self.write(&TenantScope::All).await?;
        let id =
            insert_tenant(&mut tx.conn, t.name.as_str(), TenantKind::Customer, &t.plan, &t.time_zone, ms(t.at)).await?;
        let tenant = tenant_in(&mut tx.conn, &TenantScope::All, id).await?;
        let mut audit = audit.clone();
        audit.tenant = Some(id);
        audit.target = format!("tenant:{}", id.0);
        tx.commit(&audit).await?;
        Ok(tenant)
    }

    async fn tenant(&self, scope: &TenantScope, id: TenantId) -> Result<Tenant> {
        let mut tx = self.read(scope).await?;
        let t = tenant_in(&mut tx.conn, scope, id).await;
        tx.finish().await?;
        t
    }

    async fn tenants(&self, scope: &TenantScope) -> Result<Vec<Tenant>> {
        let mut tx = self.read(scope).await?;
        let sql = format!(
            "SELECT {} FROM tenants WHERE 1=1{} ORDER BY kind DESC, name",
            rows::TENANT_COLUMNS,
            scope_sql("id", scope)
        );
        let found = sqlx::query(&sql).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        found.iter().map(rows::tenant).collect()
    }

    async fn set_plan(&self, scope: &TenantScope, id: TenantId, plan: &Plan, audit: &AuditDraft) -> Result<Tenant> {
        let mut tx = self.write(scope).await?;
        let sql = format!(
            "UPDATE tenants SET security_plan = $1, soc_package = $2, managed_service = $3 WHERE id = $4{}",
            scope_sql("id", scope)
        );
        let done = sqlx::query(&sql)
            .bind(plan.security.as_str())
            .bind(plan.soc.as_str())
            .bind(plan.managed_service as i64)
            .bind(id.0)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let tenant = tenant_in(&mut tx.conn, scope, id).await?;
        tx.commit(audit).await?;
        Ok(tenant)
    }
}
