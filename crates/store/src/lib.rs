//! Storage traits of Leitstand, split by aggregate, with backend-neutral
//! records and errors. Backends (`store-sqlite`, `store-postgres`) implement
//! them; [`conformance`] is the one test suite every backend must pass.
//!
//! Stores never decide who may do what: they take a [`TenantScope`] that the
//! service layer made from an authenticated actor, and return only rows inside
//! it. Every mutating call takes the [`AuditDraft`] of the change and writes it
//! in the same transaction: if the audit entry cannot be written, the change
//! does not happen.

mod alerts;
pub mod conformance;
mod inventory;
mod notify;
mod patch;
mod records;
mod scope;
mod soc;
mod vuln;

pub use alerts::*;
pub use inventory::*;
pub use leitstand_domain::audit::{AuditDraft, AuditEntry};
pub use notify::*;
pub use patch::*;
pub use records::*;
pub use scope::TenantScope;
pub use soc::*;
pub use vuln::*;

use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::{AuditSeq, HostId, Lang, Plan, TenantId, TokenId, UserId, UserName};

/// Backend-neutral store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist, or lies outside the caller's scope.
    #[error("not found")]
    NotFound,
    /// A unique value (name, token) is already taken.
    #[error("already exists: {0}")]
    Conflict(&'static str),
    /// The database cannot be reached right now; retrying later may work.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else the backend reported.
    #[error("database error: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates the provider organisation, its first admin and an invitation
    /// for that admin, once. Returns `None` when the provider already exists.
    async fn bootstrap(&self, b: &Bootstrap, audit: &AuditDraft) -> Result<Option<(Tenant, User)>>;
    async fn provider(&self) -> Result<Option<Tenant>>;
    async fn create_tenant(&self, t: &NewTenant, audit: &AuditDraft) -> Result<Tenant>;
    async fn tenant(&self, scope: &TenantScope, id: TenantId) -> Result<Tenant>;
    async fn tenants(&self, scope: &TenantScope) -> Result<Vec<Tenant>>;
    async fn set_plan(&self, scope: &TenantScope, id: TenantId, plan: &Plan, audit: &AuditDraft) -> Result<Tenant>;
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(&self, scope: &TenantScope, u: &NewUser, audit: &AuditDraft) -> Result<User>;
    async fn user(&self, scope: &TenantScope, id: UserId) -> Result<User>;
    async fn users(&self, scope: &TenantScope) -> Result<Vec<User>>;
    /// For sign-in, before any scope exists.
    async fn user_for_sign_in(&self, name: &UserName) -> Result<User>;
    /// For session and token checks, before any scope exists.
    async fn user_for_auth(&self, id: UserId) -> Result<User>;
    async fn set_password(&self, id: UserId, hash: &str, audit: &AuditDraft) -> Result<()>;
    async fn set_totp(&self, id: UserId, totp: Option<&TotpEnrolment>, audit: &AuditDraft) -> Result<()>;
    /// Marks one recovery code (by hash) used; false when it was not valid.
    async fn use_recovery_code(&self, id: UserId, code_hash: &str, audit: &AuditDraft) -> Result<bool>;
    /// Remembers the last TOTP step used, so a code cannot be used twice.
    async fn set_totp_last_step(&self, id: UserId, step: i64) -> Result<()>;
    async fn set_lang(&self, id: UserId, lang: Lang, audit: &AuditDraft) -> Result<()>;
    async fn set_disabled(&self, scope: &TenantScope, id: UserId, disabled: bool, audit: &AuditDraft) -> Result<()>;
    /// Replaces the tenants a staff member is assigned to.
    async fn set_assignments(&self, id: UserId, tenants: &[TenantId], audit: &AuditDraft) -> Result<()>;
    async fn assignments(&self, id: UserId) -> Result<Vec<TenantId>>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, s: &NewSession) -> Result<()>;
    async fn session(&self, token_hash: &str) -> Result<Session>;
    async fn touch_session(&self, token_hash: &str, at: Timestamp) -> Result<()>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Ends every session of a user but `keep` (e.g. after a password change).
    async fn delete_user_sessions(&self, id: UserId, keep: Option<&str>) -> Result<()>;
}

#[async_trait]
pub trait InviteStore: Send + Sync {
    async fn create_invite(&self, i: &NewInvite, audit: &AuditDraft) -> Result<()>;
    /// Looks up an unused, unexpired invitation without using it up.
    async fn invite(&self, token_hash: &str, now: Timestamp) -> Result<Invite>;
    /// Uses the invitation up and sets the password in one transaction.
    async fn redeem_invite(
        &self,
        token_hash: &str,
        now: Timestamp,
        password_hash: &str,
        audit: &AuditDraft,
    ) -> Result<UserId>;
}

#[async_trait]
pub trait ApiTokenStore: Send + Sync {
    async fn create_token(&self, t: &NewApiToken, audit: &AuditDraft) -> Result<ApiToken>;
    async fn tokens(&self, user: UserId) -> Result<Vec<ApiToken>>;
    async fn revoke_token(&self, user: UserId, id: TokenId, audit: &AuditDraft) -> Result<()>;
    async fn token_by_hash(&self, token_hash: &str, now: Timestamp) -> Result<ApiToken>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry that belongs to no other change (e.g. a failed sign-in).
    async fn append_audit(&self, audit: &AuditDraft) -> Result<AuditEntry>;
    async fn audit_entries(&self, scope: &TenantScope, filter: &AuditFilter) -> Result<Vec<AuditEntry>>;
    /// The whole chain in order, and the recorded head, for verification.
    async fn audit_chain(&self) -> Result<(Vec<AuditEntry>, Option<(AuditSeq, String)>)>;
}

#[async_trait]
pub trait ThrottleStore: Send + Sync {
    async fn record_failure(&self, key: &str, at: Timestamp) -> Result<()>;
    async fn failures_since(&self, key: &str, since: Timestamp) -> Result<u32>;
    async fn clear_failures(&self, key: &str) -> Result<()>;
}

#[async_trait]
pub trait SettingsStore: Send + Sync {
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    async fn set_setting(&self, key: &str, value: &str, audit: &AuditDraft) -> Result<()>;
}

#[async_trait]
pub trait HostStore: Send + Sync {
    async fn create_enroll_token(&self, t: &NewEnrollToken, audit: &AuditDraft) -> Result<()>;
    /// Uses the token up and creates the host in one transaction; `NotFound`
    /// when the token is unknown, used or expired.
    async fn enroll(&self, token_hash: &str, host: &NewHost, audit: &AuditDraft) -> Result<Host>;
    /// For request signatures, before any scope exists.
    async fn host_for_agent(&self, id: HostId) -> Result<Host>;
    async fn host(&self, scope: &TenantScope, id: HostId) -> Result<Host>;
    async fn hosts(&self, scope: &TenantScope) -> Result<Vec<Host>>;
    /// One page of hosts, filtered and ordered in the database.
    async fn host_page(&self, scope: &TenantScope, q: &HostQuery) -> Result<HostPage>;
    async fn host_counts(&self, scope: &TenantScope, now: Timestamp) -> Result<HostCounts>;
    /// Lets a pending host deliver.
    async fn approve_host(&self, scope: &TenantScope, id: HostId, audit: &AuditDraft) -> Result<()>;
    /// Sets a host's own interval; `None` follows the tenant again.
    async fn set_host_interval(
        &self,
        scope: &TenantScope,
        id: HostId,
        secs: Option<u32>,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// The tenant's policy, or the default when it has none.
    async fn host_policy(&self, scope: &TenantScope, tenant: TenantId) -> Result<HostPolicy>;
    async fn set_host_policy(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        policy: &HostPolicy,
        audit: &AuditDraft,
    ) -> Result<()>;
    async fn revoke_host(&self, scope: &TenantScope, id: HostId, audit: &AuditDraft) -> Result<()>;
    /// Remembers a request nonce; false when the host used it before.
    /// Nonces older than `forget_before` are forgotten.
    async fn use_nonce(&self, host: HostId, nonce: &str, at: Timestamp, forget_before: Timestamp) -> Result<bool>;
    /// Stores the records not stored before and returns the highest sequence
    /// the host has stored (the acknowledgement).
    async fn ingest(&self, batch: &IngestBatch) -> Result<IngestOutcome>;
    /// Marks hosts down (once each) that have been silent at `now` for
    /// longer than their interval allows (three intervals and 30 s, see
    /// `leitstand_domain::host::allowed_silence`) and records a `host.down`
    /// event for each; returns them. Safe with several replicas: only one
    /// marks a host.
    async fn mark_down(&self, now: Timestamp) -> Result<Vec<HostEvent>>;
    /// Events of a host, newest first.
    async fn host_events(&self, scope: &TenantScope, host: HostId, limit: u32) -> Result<Vec<HostEvent>>;
    /// Deletes samples of a resolution older than `before` (retention);
    /// returns how many rows went.
    async fn delete_samples_before(&self, res: Resolution, before: Timestamp) -> Result<u64>;
    /// Rolls up the sample ranges ingested since the last call (at most
    /// `limit` ranges) into 1-minute and 1-hour buckets; returns how many
    /// ranges were done. Idempotent, so safe with several replicas.
    async fn roll_up(&self, limit: u32) -> Result<u64>;
    /// Buckets of one host and metric in a time range, oldest first.
    async fn rollups(
        &self,
        scope: &TenantScope,
        host: HostId,
        name: &str,
        res: Resolution,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<Rolled>>;
    /// The metric names a host has, sorted.
    async fn metric_names(&self, scope: &TenantScope, host: HostId) -> Result<Vec<String>>;
    /// Samples of one host and metric in a time range, oldest first.
    async fn samples(
        &self,
        scope: &TenantScope,
        host: HostId,
        name: &str,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<StoredSample>>;
}

/// Everything a backend provides.
#[async_trait]
pub trait Store:
    TenantStore
    + UserStore
    + SessionStore
    + InviteStore
    + ApiTokenStore
    + AuditStore
    + ThrottleStore
    + SettingsStore
    + HostStore
    + InventoryStore
    + AlertStore
    + NotifyStore
    + SocStore
    + VulnStore
    + PatchStore
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> Result<()>;
    /// Pool figures for `/metrics`: (open connections, idle connections).
    fn pool_stats(&self) -> (u32, u32);
    /// Backend self-check (SQLite `integrity_check`); `Ok(())` when sound.
    async fn integrity_check(&self) -> Result<()>;
}
