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
    /// Waits for approval (tenants that approve new hosts).
    pub pending: bool,
    /// Collection interval set for this host; `None` follows the tenant.
    pub interval_secs: Option<u32>,
    /// The interval in force: the host's, else the tenant's, else 10 s.
    pub effective_interval_secs: u32,
    /// The address the host last spoke from.
    pub address: Option<String>,
    /// Figures at a glance from the newest batch.
    pub glance: Glance,
    /// The agent build the host last reported: version and SHA-256.
    pub agent_version: Option<String>,
    pub agent_sha256: Option<String>,
}

/// CPU, RAM and the fullest file system in percent, from the newest batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Glance {
    pub cpu_percent: Option<f64>,
    pub mem_percent: Option<f64>,
    pub disk_percent: Option<f64>,
}

/// How a tenant's hosts are monitored (AGT-2, AGT-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HostPolicy {
    pub interval_secs: u32,
    /// New hosts wait in a pending list until approved.
    pub require_approval: bool,
}

impl Default for HostPolicy {
    fn default() -> Self {
        Self { interval_secs: leitstand_domain::host::DEFAULT_INTERVAL_SECS, require_approval: false }
    }
}

/// Orders of the host list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostSort {
    #[default]
    Name,
    LastSeen,
    Cpu,
    Mem,
    Disk,
}

impl HostSort {
    pub const ALL: [HostSort; 5] = [HostSort::Name, HostSort::LastSeen, HostSort::Cpu, HostSort::Mem, HostSort::Disk];

    pub fn as_str(self) -> &'static str {
        match self {
            HostSort::Name => "name",
            HostSort::LastSeen => "last_seen",
            HostSort::Cpu => "cpu",
            HostSort::Mem => "mem",
            HostSort::Disk => "disk",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// One page of the host list: text filter (name, OS, address), status
/// filter, order, page (from 0) and page size.
#[derive(Debug, Clone, Default)]
pub struct HostQuery {
    pub text: Option<String>,
    pub status: Option<leitstand_domain::host::HostStatus>,
    pub sort: HostSort,
    pub page: u32,
    pub per_page: u32,
    /// The moment statuses are judged at.
    pub now: Option<Timestamp>,
}

/// Hosts of one page and how many match in all.
#[derive(Debug, Clone)]
pub struct HostPage {
    pub hosts: Vec<Host>,
    pub total: u64,
}

/// How many hosts in scope are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HostCounts {
    pub total: u64,
    pub up: u64,
    pub down: u64,
    pub waiting: u64,
    pub pending: u64,
    pub revoked: u64,
}

/// Widths of the stored aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Raw,
    Minute,
    Hour,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Raw => "raw",
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
        }
    }

    /// Bucket width in milliseconds (0 for raw samples).
    pub fn millis(self) -> i64 {
        match self {
            Resolution::Raw => 0,
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
        }
    }
}

/// A bucket of samples of one series: mean, lowest and highest value.
#[derive(Debug, Clone, PartialEq)]
pub struct Rolled {
    pub labels: String,
    /// Bucket start.
    pub at: Timestamp,
    pub count: u64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
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
    /// Figures at a glance to keep on the host row, when the batch has them.
    pub glance: Option<Glance>,
    /// Where the batch came from.
    pub address: Option<String>,
    /// The agent build that sent it: version and SHA-256.
    pub agent: Option<(String, String)>,
    /// Inventory records of the batch, in sequence order.
    pub inventory: Vec<crate::InventoryUpdate>,
    /// System events (sign-ins, su, sudo) of the batch by sequence.
    pub events: Vec<(u64, Vec<NewHostEvent>)>,
    /// The newest checklist results of the batch.
    pub checklist: Option<crate::ChecklistUpdate>,
    /// Reports of actions the server sent, by sequence.
    pub action_reports: Vec<(u64, crate::ActionOutcome)>,
}

/// An event the agent reported, for the host's event list.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHostEvent {
    pub at: Timestamp,
    pub kind: String,
    /// Its facts as a JSON object.
    pub detail: String,
}

/// What an ingest stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Every record of the host up to this sequence is stored.
    pub up_to: u64,
    /// New series refused because the host is at its limit.
    pub refused_series: u64,
    /// The host's stored sequence before this batch: records at or below it
    /// were retries and were skipped.
    pub prior: u64,
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
