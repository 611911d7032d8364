//! Turning rows into records; a malformed row is a backend error, not a panic.

use crate::ts;
use leitstand_domain::{
    AuditSeq, Email, Lang, Plan, Role, SecurityPlan, SocPackage, TenantId, TokenId, UserId, UserName,
};
use leitstand_store::{ApiToken, AuditEntry, Result, StoreError, Tenant, TenantKind, User};
use sqlx::{any::AnyRow, Row};

fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col).map_err(|e| StoreError::Backend(format!("column {col}: {e}")))
}

fn bad(col: &str, v: &str) -> StoreError {
    StoreError::Backend(format!("column {col}: unexpected value {v:?}"))
}

pub(crate) const TENANT_COLUMNS: &str =
    "id, name, kind, security_plan, soc_package, managed_service, time_zone, created_at";

pub(crate) fn tenant(row: &AnyRow) -> Result<Tenant> {
    let kind: String = get(row, "kind")?;
    let security: String = get(row, "security_plan")?;
    let soc: String = get(row, "soc_package")?;
    Ok(Tenant {
        id: TenantId(get(row, "id")?),
        name: get(row, "name")?,
        kind: TenantKind::parse(&kind).ok_or_else(|| bad("kind", &kind))?,
        plan: Plan {
            security: SecurityPlan::parse(&security).ok_or_else(|| bad("security_plan", &security))?,
            soc: SocPackage::parse(&soc).ok_or_else(|| bad("soc_package", &soc))?,
            managed_service: get::<i64>(row, "managed_service")? != 0,
        },
        time_zone: get(row, "time_zone")?,
        created_at: ts(get(row, "created_at")?),
    })
}

pub(crate) const USER_COLUMNS: &str = "u.id, u.tenant_id, u.name, u.display_name, u.email, u.role, u.lang, \
     u.password_hash, u.totp_secret, u.totp_last_step, u.disabled, u.created_at, \
     (SELECT COUNT(*) FROM recovery_codes r WHERE r.user_id = u.id AND r.used_at IS NULL) AS recovery_left";

pub(crate) fn user(row: &AnyRow) -> Result<User> {
    let name: String = get(row, "name")?;
    let role: String = get(row, "role")?;
    let email: Option<String> = get(row, "email")?;
    let lang: Option<String> = get(row, "lang")?;
    Ok(User {
        id: UserId(get(row, "id")?),
        tenant: TenantId(get(row, "tenant_id")?),
        name: UserName::parse("name", &name).map_err(|_| bad("name", &name))?,
        display_name: get(row, "display_name")?,
        email: email.as_deref().and_then(|e| Email::parse("email", e).ok()),
        role: Role::parse(&role).ok_or_else(|| bad("role", &role))?,
        lang: lang.as_deref().and_then(Lang::parse),
        password_hash: get(row, "password_hash")?,
        totp_secret_sealed: get(row, "totp_secret")?,
        totp_last_step: get(row, "totp_last_step")?,
        recovery_left: get::<i64>(row, "recovery_left")? as u32,
        disabled: get::<i64>(row, "disabled")? != 0,
        created_at: ts(get(row, "created_at")?),
    })
}

pub(crate) const TOKEN_COLUMNS: &str = "id, user_id, label, prefix, created_at, expires_at, last_used";

pub(crate) fn api_token(row: &AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: TokenId(get(row, "id")?),
        user: UserId(get(row, "user_id")?),
        label: get(row, "label")?,
        prefix: get(row, "prefix")?,
        created_at: ts(get(row, "created_at")?),
        expires_at: get::<Option<i64>>(row, "expires_at")?.map(ts),
        last_used: get::<Option<i64>>(row, "last_used")?.map(ts),
    })
}

pub(crate) fn audit_entry(row: &AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: AuditSeq(get(row, "seq")?),
        at: ts(get(row, "at")?),
        actor_user: get::<Option<i64>>(row, "actor_user")?.map(UserId),
        actor_name: get(row, "actor_name")?,
        tenant: get::<Option<i64>>(row, "tenant_id")?.map(TenantId),
        action: get(row, "action")?,
        target: get(row, "target")?,
        source: get(row, "source")?,
        detail: get(row, "detail")?,
        prev_hash: get(row, "prev_hash")?,
        hash: get(row, "hash")?,
    })
}

/// The interval in force for the host row `alias`: its own, else its
/// tenant's, else the default. For statements without [`HOSTS`].
pub(crate) fn effective_interval(alias: &str) -> String {
    format!(
        "COALESCE({alias}.interval_secs, (SELECT p.interval_secs FROM host_policies p WHERE p.tenant_id = {alias}.tenant_id), {})",
        leitstand_domain::host::DEFAULT_INTERVAL_SECS
    )
}

/// Hosts with their tenant's policy, for reading: `h` and `hp`.
pub(crate) const HOSTS: &str = "hosts h LEFT JOIN host_policies hp ON hp.tenant_id = h.tenant_id";

/// The interval in force for `h` in [`HOSTS`].
pub(crate) fn joined_interval() -> String {
    format!("COALESCE(h.interval_secs, hp.interval_secs, {})", leitstand_domain::host::DEFAULT_INTERVAL_SECS)
}

/// Host columns of [`HOSTS`].
pub(crate) fn host_columns() -> String {
    format!(
        "h.id, h.tenant_id, h.name, h.os, h.public_key, h.enrolled_at, h.last_seen, h.revoked_at, h.pending, \
         h.interval_secs, h.address, h.cpu_percent, h.mem_percent, h.disk_percent, h.agent_version, h.agent_sha256, \
         {} AS effective_interval",
        joined_interval()
    )
}

pub(crate) fn host(row: &AnyRow) -> Result<leitstand_store::Host> {
    Ok(leitstand_store::Host {
        id: leitstand_domain::HostId(get(row, "id")?),
        tenant: TenantId(get(row, "tenant_id")?),
        name: get(row, "name")?,
        os: get(row, "os")?,
        public_key: get(row, "public_key")?,
        enrolled_at: ts(get(row, "enrolled_at")?),
        last_seen: get::<Option<i64>>(row, "last_seen")?.map(ts),
        revoked: get::<Option<i64>>(row, "revoked_at")?.is_some(),
        pending: get::<i64>(row, "pending")? != 0,
        interval_secs: get::<Option<i64>>(row, "interval_secs")?.map(|v| v as u32),
        effective_interval_secs: get::<i64>(row, "effective_interval")? as u32,
        address: get(row, "address")?,
        glance: leitstand_store::Glance {
            cpu_percent: get(row, "cpu_percent")?,
            mem_percent: get(row, "mem_percent")?,
            disk_percent: get(row, "disk_percent")?,
        },
        agent_version: get(row, "agent_version")?,
        agent_sha256: get(row, "agent_sha256")?,
    })
}
