//! Use cases of Leitstand. Every call takes an authenticated [`Actor`]; all
//! authorisation and tenant scoping happen here, so the web pages, the JSON
//! API and the command line share one set of rules.

mod actor;
mod alerts;
mod audit;
mod auth;
mod crypto;
mod error;
mod hosts;
mod inventory;
mod notify;
mod patch;
mod rate;
mod soc;
mod tenants;
mod tokens;
mod totp;
mod triage;
mod users;
mod vuln;

pub use actor::{Actor, AuthVia};
pub use alerts::{default_alert_rules, AlertDetail, Dashboard, RuleInput, TREND_DAYS};
pub use audit::{AuditPage, ChainReport};
pub use auth::{SignIn, SignedIn};
pub use crypto::SecretKey;
pub use error::ServiceError;
pub use hosts::{resolution_for, AgentSignature, EnrollToken, History, HostList, HostOverview, MAX_RECORDS_PER_BATCH};
pub use inventory::{process_tree, version_below, Found, InventoryQuestion, ItemPage};
pub use notify::{ContactInput, Outgoing, Planned};
pub use patch::{HostUpdates, JobInput, PatchCandidates, PatchRound, PendingPackage, MAX_JOB_HOSTS, MAX_JOB_PACKAGES};
pub use soc::{
    Datagram, IntakeReport, SocConfig, SocRuleView, SocRules, SourceInput, EXPORT_COLUMNS, MAX_RETENTION_DAYS,
};
pub use tenants::{NewTenantInput, PlanInput};
pub use tokens::CreatedToken;
pub use totp::{TotpSetup, TOTP_ISSUER};
pub use triage::{observables, FairUseRow, QueueItem};
pub use users::{Invitation, NewUserInput};
pub use vuln::{
    finding_row, parse_score, score_text, AcceptInput, FeedSpec, FeedStatus, ScanRound, VulnConfig, FINDING_COLUMNS,
    MAX_ACCEPT_DAYS, SCAN_BATCH,
};

use leitstand_domain::Clock;
use leitstand_store::Store;
use std::sync::Arc;

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Settings the use cases need.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Public base URL, for one-time links, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// How long an invitation link stays valid.
    pub invite_ttl: jiff::SignedDuration,
    /// How long a session lives without use.
    pub session_ttl: jiff::SignedDuration,
    /// Failed sign-ins per user name in the window before it is throttled.
    pub max_failures_per_user: u32,
    /// Failed sign-ins per source address in the window.
    pub max_failures_per_source: u32,
    pub failure_window: jiff::SignedDuration,
    /// Most series (metric name + labels) one host may have.
    pub max_series_per_host: u64,
    /// How long samples are kept: raw, 1-minute and 1-hour rollups.
    pub retention: Retention,
    /// Batches one agent may send per second, sustained, and in a burst
    /// (after an outage the spool is sent in quick succession).
    pub agent_batches_per_second: f64,
    pub agent_batch_burst: u32,
    /// The agent build this server ships and offers to agents that run
    /// another one (AGT-4); `None`: no upgrades offered.
    pub agent_release: Option<AgentRelease>,
    /// The SOC intake: extra rule directories, per-tenant line quota.
    pub soc: SocConfig,
    /// Advisory feeds of the vulnerability scanner.
    pub vuln: VulnConfig,
}

/// An agent build: version and SHA-256 of the binary.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentRelease {
    pub version: String,
    pub sha256: String,
}

/// How long each kind of sample is kept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retention {
    pub raw: jiff::SignedDuration,
    pub minute: jiff::SignedDuration,
    pub hour: jiff::SignedDuration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            raw: jiff::SignedDuration::from_hours(7 * 24),
            minute: jiff::SignedDuration::from_hours(30 * 24),
            hour: jiff::SignedDuration::from_hours(730 * 24),
        }
    }
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8080".into(),
            invite_ttl: jiff::SignedDuration::from_hours(72),
            session_ttl: jiff::SignedDuration::from_hours(12),
            max_failures_per_user: 5,
            max_failures_per_source: 30,
            failure_window: jiff::SignedDuration::from_mins(15),
            max_series_per_host: 5000,
            retention: Retention::default(),
            agent_batches_per_second: 5.0,
            agent_batch_burst: 60,
            agent_release: None,
            soc: SocConfig::default(),
            vuln: VulnConfig::default(),
        }
    }
}

/// The use cases, with what they need: store, clock, key, settings.
#[derive(Clone)]
pub struct Services {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) key: SecretKey,
    pub(crate) config: ServiceConfig,
    /// Batches per agent, this replica (a token bucket each).
    pub(crate) agent_buckets: Arc<std::sync::Mutex<rate::Buckets>>,
    /// Hosts whose samples this replica just stored, for live pages.
    pub(crate) stored: tokio::sync::broadcast::Sender<leitstand_domain::HostId>,
    /// Rules, detectors, sender table and quotas of the SOC intake.
    pub(crate) soc: Arc<soc::SocState>,
    /// Advisory feeds loaded into this replica.
    pub(crate) vuln: Arc<vuln::VulnState>,
}

impl Services {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, key: SecretKey, config: ServiceConfig) -> Self {
        let agent_buckets = Arc::new(std::sync::Mutex::new(rate::Buckets::default()));
        let (stored, _) = tokio::sync::broadcast::channel(1024);
        let soc = Arc::new(soc::SocState::new(&config.soc));
        let vuln = Arc::new(vuln::VulnState::new(&config.vuln));
        Self { store, clock, key, config, agent_buckets, stored, soc, vuln }
    }

    /// Tells of every host whose samples this replica stores from now on
    /// (a batch or a push). Other replicas' ingest is not seen here.
    pub fn stored_hosts(&self) -> tokio::sync::broadcast::Receiver<leitstand_domain::HostId> {
        self.stored.subscribe()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// A tenant's time zone (system use: pages, messages, quiet hours);
    /// Europe/Berlin when the tenant is unknown, UTC for a zone name the
    /// time-zone database lacks.
    pub async fn tenant_zone(&self, tenant: leitstand_domain::TenantId) -> jiff::tz::TimeZone {
        let name = match self.store.tenant(&leitstand_store::TenantScope::All, tenant).await {
            Ok(t) => t.time_zone,
            Err(_) => "Europe/Berlin".into(),
        };
        jiff::tz::TimeZone::get(&name).unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

/// Setting key: provider admins may make TOTP mandatory for staff.
pub const SETTING_TOTP_REQUIRED_FOR_STAFF: &str = "totp.required_for_staff";

/// Constant-time check of a presented CSRF token against the expected one.
pub fn csrf_matches(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && crypto::same(expected, presented)
}

pub use crypto::token_hash;
