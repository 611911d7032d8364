//! Records and the trait for the SOC: syslog senders, security events and
//! the evidence of SOC alerts, rule choices and custom rules per tenant,
//! retention and intake counters.

use crate::{AuditDraft, Result, TenantScope};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::alert::Severity;
use leitstand_domain::soc::{IndicatorKind, Verdict};
use leitstand_domain::{HostId, TenantId, UserId};

/// Events are kept this long unless the tenant agreed otherwise (SOC-11).
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// Evidence events kept per SOC alert; later repeats only count.
pub const MAX_EVIDENCE: i64 = 50;

/// A device that sends syslog to the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogSource {
    pub id: i64,
    pub tenant: TenantId,
    pub name: String,
    /// Sender address (UDP/TCP) it is matched by.
    pub address: Option<String>,
    /// Host name in its lines it is matched by.
    pub hostname: Option<String>,
    /// SHA-256 (hex) of the token a TLS sender puts in its lines.
    pub token_hash: Option<String>,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
}

/// A sender as a person wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSyslogSource {
    pub name: String,
    pub address: Option<String>,
    pub hostname: Option<String>,
    /// A new token hash; `None` keeps the one it has.
    pub token_hash: Option<String>,
    pub enabled: bool,
}

/// One event to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSocEvent {
    pub source: Option<i64>,
    pub host: Option<HostId>,
    pub at: Timestamp,
    pub dataset: String,
    pub category: String,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub user: Option<String>,
    pub source_ip: Option<String>,
    pub host_name: Option<String>,
    pub message: String,
    /// The event as ECS JSON.
    pub event: String,
}

/// A rule that fired on one of the events of an intake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSocHit {
    /// Index into the intake's events.
    pub event: usize,
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    /// What repeats are grouped by (`source.ip=…`).
    pub group: String,
    /// Facts shown on the alert, JSON.
    pub detail: String,
    /// A correlation's earlier events to link as evidence too: the stored
    /// events of the tenant with this column (`source_ip`, `user_name`,
    /// `host_name`) equal to the value, since this time.
    pub related: Option<(&'static str, String, Timestamp)>,
}

/// What one tenant's share of a receive round brings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SocIntake {
    pub tenant: Option<TenantId>,
    pub events: Vec<NewSocEvent>,
    pub hits: Vec<NewSocHit>,
    /// Counter name and amount (received, malformed, over_quota …).
    pub counters: Vec<(String, u64)>,
    /// Sources heard from in this round.
    pub seen_sources: Vec<i64>,
    pub received_at: Option<Timestamp>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocEvent {
    pub id: i64,
    pub tenant: TenantId,
    pub source: Option<i64>,
    pub at: Timestamp,
    pub received_at: Timestamp,
    pub dataset: String,
    pub category: String,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub user: Option<String>,
    pub source_ip: Option<String>,
    pub host_name: Option<String>,
    pub message: String,
    pub event: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocEventQuery {
    pub tenant: Option<TenantId>,
    /// Only the evidence of this alert.
    pub alert: Option<i64>,
    /// Only events older than this id (paging back).
    pub before: Option<i64>,
    pub limit: u32,
}

/// A tenant's own Sigma rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRule {
    pub id: i64,
    pub tenant: TenantId,
    /// The Sigma rule id (UUID) written in the YAML.
    pub rule_id: String,
    pub title: String,
    pub yaml: String,
    pub enabled: bool,
    pub updated_at: Timestamp,
}

/// What a tenant chose: shipped rules switched off or on, its own rules,
/// and the version that changes with every choice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocRuleChoices {
    /// Shipped rule id and whether it is on (missing: on).
    pub choices: Vec<(String, bool)>,
    pub custom: Vec<CustomRule>,
    pub version: u64,
    pub retention_days: u32,
}

/// What an analyst changes on a SOC alert; a verdict closes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Triage {
    pub severity: Option<Severity>,
    pub class: Option<String>,
    pub verdict: Option<Verdict>,
}

/// An entry of the provider's indicator list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    pub id: i64,
    pub kind: IndicatorKind,
    pub value: String,
    pub note: String,
    pub added_at: Timestamp,
}

/// A tenant's SOC usage in a period (SOC-12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocUsage {
    pub tenant: TenantId,
    /// SOC alerts opened.
    pub alerts: u64,
    /// SOC alerts an analyst closed with a verdict.
    pub handled: u64,
}

#[async_trait]
pub trait SocStore: Send + Sync {
    async fn syslog_sources(&self, scope: &TenantScope, tenant: Option<TenantId>) -> Result<Vec<SyslogSource>>;
    async fn save_syslog_source(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        id: Option<i64>,
        source: &NewSyslogSource,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<SyslogSource>;
    /// Every enabled sender of every tenant: the receiver's lookup table.
    async fn all_syslog_sources(&self) -> Result<Vec<SyslogSource>>;
    /// Stores a tenant's events, raises or counts its SOC alerts with their
    /// evidence, and adds to its counters, in one transaction.
    async fn soc_intake(&self, intake: &SocIntake) -> Result<()>;
    async fn soc_events(&self, scope: &TenantScope, q: &SocEventQuery) -> Result<Vec<SocEvent>>;
    async fn soc_rule_choices(&self, scope: &TenantScope, tenant: TenantId) -> Result<SocRuleChoices>;
    /// The version of a tenant's rule choices (cheap; read per intake).
    async fn soc_rules_version(&self, tenant: TenantId) -> Result<u64>;
    async fn set_soc_rule(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        rule_id: &str,
        enabled: bool,
        audit: &AuditDraft,
    ) -> Result<()>;
    #[allow(clippy::too_many_arguments)]
    async fn save_custom_rule(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        rule_id: &str,
        title: &str,
        yaml: &str,
        enabled: bool,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<CustomRule>;
    async fn set_soc_retention(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        days: u32,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// Deletes every tenant's events older than its retention, with their
    /// evidence links; returns how many events went.
    async fn soc_retention(&self, now: Timestamp) -> Result<u64>;
    /// Reprioritises, reclassifies and (with a verdict) closes a SOC alert,
    /// each change a timeline note.
    #[allow(clippy::too_many_arguments)]
    async fn triage_alert(
        &self,
        scope: &TenantScope,
        alert: i64,
        triage: &Triage,
        author: UserId,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()>;
    /// A recommendation on the timeline, queued to `contacts` with it.
    #[allow(clippy::too_many_arguments)]
    async fn recommend(
        &self,
        scope: &TenantScope,
        alert: i64,
        author: UserId,
        text: &str,
        contacts: &[i64],
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<i64>;
    async fn indicators(&self) -> Result<Vec<Indicator>>;
    async fn add_indicator(
        &self,
        kind: IndicatorKind,
        value: &str,
        note: &str,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<Indicator>;
    async fn remove_indicator(&self, id: i64, audit: &AuditDraft) -> Result<()>;
    /// Indicators among these values (any kind).
    async fn matching_indicators(&self, values: &[String]) -> Result<Vec<Indicator>>;
    /// Every tenant's SOC alerts opened and handled in `[from, to)`.
    async fn soc_usage(&self, from: Timestamp, to: Timestamp) -> Result<Vec<SocUsage>>;
    /// Counters per day (days since the Unix epoch, UTC) since a day.
    async fn soc_counters(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        since_day: i64,
    ) -> Result<Vec<(i64, String, u64)>>;
}
