//! Records the stores read and write.

use jiff::Timestamp;
use leitstand_domain::{AuditSeq, Email, HostId, Lang, Plan, Role, TenantId, TenantName, TokenId, UserId, UserName};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantKind {
    /// The provider organisation; staff belong to it.
    Provider,
    /// A customer.
    Customer,
}

impl TenantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantKind::Provider => "provider",
            TenantKind::Customer => "customer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "provider" => Some(Self::Provider),
            "customer" => Some(Self::Customer),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub kind: TenantKind,
    pub plan: Plan,
    /// IANA zone for times shown to this tenant.
    pub time_zone: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: TenantName,
    pub plan: Plan,
    pub time_zone: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    /// The shared secret, encrypted at rest by the service.
    pub secret_sealed: String,
    /// Hashes of the recovery codes.
    pub recovery_hashes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub tenant: TenantId,
    pub name: UserName,
    pub display_name: String,
    pub email: Option<Email>,
    pub role: Role,
    pub lang: Option<Lang>,
    /// Argon2id PHC string; `None` until the invitation is redeemed.
    pub password_hash: Option<String>,
    pub totp_secret_sealed: Option<String>,
    pub totp_last_step: i64,
    pub recovery_left: u32,
    pub disabled: bool,
    pub created_at: Timestamp,
}

impl User {
    pub fn totp_enabled(&self) -> bool {
        self.totp_secret_sealed.is_some()
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub tenant: TenantId,
    pub name: UserName,
    pub display_name: String,
    pub email: Option<Email>,
    pub role: Role,
    pub at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub provider_name: TenantName,
    pub admin: UserName,
    pub invite_hash: String,
    pub invite_expires: Timestamp,
    pub at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub user: UserId,
    pub csrf: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub user: UserId,
    pub csrf: String,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewInvite {
    pub token_hash: String,
    pub user: UserId,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Invite {
    pub user: UserId,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub user: UserId,
    pub label: String,
    pub token_hash: String,
    /// First characters of the token, so a person can tell tokens apart.
    pub prefix: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: TokenId,
    pub user: UserId,
    pub label: String,
    pub prefix: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used: Option<Timestamp>,
}

/// Filter for audit log queries; every field optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub tenant: Option<TenantId>,
    pub actor: Option<String>,
    /// Prefix of the action, e.g. `auth.` or `user.create`.
    pub action: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Entries older than this sequence (paging backwards).
    pub before: Option<AuditSeq>,
    pub limit: u32,
}

/// A single-use token that enrols one agent into one tenant.
#[derive(Debug, Clone)]
pub struct NewEnrollToken {
    pub tenant: TenantId,
    pub token_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What an agent tells about itself when it enrols.
#[derive(Debug, Clone)]
pub struct NewHost {
    pub name: String,
    pub os: String,
    /// Ed25519 public key, hex.
    pub public_key: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Host {
    pub id: HostId,
    pub tenant: TenantId,
    pub name: String,
    pub os: String,
    pub public_key: String,
    pub enrolled_at: Timestamp,
    pub last_seen: Option<Timestamp>,
    pub revoked: bool,
}

/// One sample as the ingest stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSample {
    pub name: String,
    /// Labels as canonical JSON (sorted keys).
    pub labels: String,
    pub at: Timestamp,
    pub value: f64,
}

/// Records of one batch, by sequence: only sequences not stored before are
/// written, so a retried batch never duplicates.
#[derive(Debug, Clone)]
pub struct IngestBatch {
    pub host: HostId,
    pub records: Vec<(u64, Vec<StoredSample>)>,
    pub at: Timestamp,
    /// False for samples pushed through the API: no sequence applies, and
    /// the batch is stored whole or, when a series is refused, not at all.
    pub sequenced: bool,
    /// Most series a host may have; samples of new series beyond it are
    /// refused and counted.
    pub max_series: u64,
}

/// What an ingest stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Every record of the host up to this sequence is stored.
    pub up_to: u64,
    /// New series refused because the host is at its limit.
    pub refused_series: u64,
}

/// Something that happened to a host (down, up).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostEvent {
    pub host: HostId,
    pub tenant: TenantId,
    pub at: Timestamp,
    /// `host.down` or `host.up`.
    pub kind: String,
    pub detail: String,
}
