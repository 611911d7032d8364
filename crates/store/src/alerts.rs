//! Records and the trait for alarm rules and alerts (ALARM-1 … ALARM-4).

use crate::{AuditDraft, Result, TenantScope};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::alert::{AlertState, RuleKind, Severity};
use leitstand_domain::{HostId, TenantId};

/// A rule as stored. Default rules have a key (their name is translated
/// from it); rules people add have only a name.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub id: i64,
    pub tenant: TenantId,
    pub key: Option<String>,
    pub name: String,
    pub severity: Severity,
    pub kind: RuleKind,
    pub enabled: bool,
    /// Notifications on; the customer may switch them off (ALARM-3).
    pub notify: bool,
    /// Its alerts mean imminent danger: flagged for provider action at once.
    pub imminent: bool,
}

/// A rule to add (defaults are added with their key) or the new content of one.
#[derive(Debug, Clone)]
pub struct NewAlertRule {
    pub key: Option<String>,
    pub name: String,
    pub severity: Severity,
    pub kind: RuleKind,
    pub imminent: bool,
}

/// One alert: a rule that matched on a host, with how often.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: i64,
    pub tenant: TenantId,
    pub rule: i64,
    pub host: Option<HostId>,
    pub severity: Severity,
    pub state: AlertState,
    pub count: u64,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
    pub muted_until: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// Whether notifications were on for the rule when it opened.
    pub notify: bool,
    /// The facts of the newest occurrence, JSON.
    pub detail: String,
    pub assignee: Option<leitstand_domain::UserId>,
    /// Flagged for provider action (ALARM-4), and why.
    pub flag: Option<AlertFlag>,
    pub flagged_at: Option<Timestamp>,
    /// Highest escalation level told so far; -1: nobody yet.
    pub notified_level: i32,
    /// Joined for display: the host's name, the rule's name and key.
    pub host_name: Option<String>,
    pub rule_name: String,
    pub rule_key: Option<String>,
    /// SOC alerts: the Sigma rule id and what repeats are grouped by.
    pub soc_rule: Option<String>,
    pub soc_group: Option<String>,
    /// SOC triage (SOC-5): the analyst's verdict, class, and when.
    pub soc_verdict: Option<leitstand_domain::soc::Verdict>,
    pub soc_class: Option<String>,
    pub triaged_at: Option<Timestamp>,
}

/// Why an alert waits for the provider (ALARM-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFlag {
    /// Left unanswered by the customer past the deadline (three days).
    Unanswered,
    /// Danger is imminent (disk full, database killed, certificate not renewed).
    Imminent,
}

impl AlertFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertFlag::Unanswered => "unanswered",
            AlertFlag::Imminent => "imminent",
        }
    }

    pub fn parse(s: &str) -> Option<AlertFlag> {
        [AlertFlag::Unanswered, AlertFlag::Imminent].into_iter().find(|f| f.as_str() == s)
    }
}

/// One entry of an alert's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertNote {
    pub id: i64,
    pub alert: i64,
    pub at: Timestamp,
    /// `opened`, `acknowledged`, `muted`, `resolved`, `reopened`, `comment`,
    /// `assigned`, `flagged`, `provider_action`, `notified`, `notify_failed`,
    /// `escalated`, `notify_off`.
    pub kind: String,
    pub author: Option<leitstand_domain::UserId>,
    pub author_name: Option<String>,
    pub body: String,
}

/// What a person writes on an alert's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    Comment,
    /// What the provider did about a flagged alert (ALARM-4).
    ProviderAction,
    /// An analyst's note the customer never sees (SOC-13).
    Internal,
}

impl NoteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Comment => "comment",
            NoteKind::ProviderAction => "provider_action",
            NoteKind::Internal => "internal",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    pub host: Option<HostId>,
    /// Only these states; empty: all.
    pub states: Vec<AlertState>,
    pub min_severity: Option<Severity>,
    /// Only alerts flagged for provider action.
    pub flagged: bool,
    /// Only alerts with a timeline note newer than this note id (opened,
    /// state changes, notifications: the live stream).
    pub noted_after: Option<i64>,
    pub rule: Option<i64>,
    /// Only SOC alerts (hits of Sigma rules).
    pub soc: bool,
    pub limit: u32,
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Adds the rules whose key the tenant does not have yet; returns how
    /// many were added. Safe to call again and from several replicas.
    async fn ensure_rules(&self, tenant: TenantId, rules: &[NewAlertRule], at: Timestamp) -> Result<u64>;
    async fn alert_rules(&self, scope: &TenantScope, tenant: TenantId) -> Result<Vec<AlertRule>>;
    async fn alert_rule(&self, scope: &TenantScope, id: i64) -> Result<AlertRule>;
    /// Switches a rule or its notifications on or off.
    async fn set_rule_flags(
        &self,
        scope: &TenantScope,
        rule: i64,
        enabled: bool,
        notify: bool,
        audit: &AuditDraft,
    ) -> Result<AlertRule>;
    /// Alerts in scope, most severe and newest first.
    async fn alerts(&self, scope: &TenantScope, q: &AlertQuery) -> Result<Vec<Alert>>;
    async fn alert(&self, scope: &TenantScope, id: i64) -> Result<Alert>;
    /// Writes a new state (acknowledged, muted, resolved) with its audit
    /// entry and a timeline note by the audit's actor.
    async fn set_alert_state(
        &self,
        scope: &TenantScope,
        id: i64,
        state: AlertState,
        muted_until: Option<Timestamp>,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<Alert>;
    /// Adds a rule a person wrote to a tenant.
    async fn create_rule(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        rule: &NewAlertRule,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<AlertRule>;
    /// Changes a rule's name, severity and what it watches (a default
    /// keeps its key); its trackers start afresh.
    async fn update_rule(
        &self,
        scope: &TenantScope,
        id: i64,
        rule: &NewAlertRule,
        audit: &AuditDraft,
    ) -> Result<AlertRule>;
    /// Writes a comment or a provider action on the timeline.
    async fn add_note(
        &self,
        scope: &TenantScope,
        alert: i64,
        kind: NoteKind,
        body: &str,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<AlertNote>;
    /// Gives the alert to a user of its tenant (or to nobody).
    async fn assign_alert(
        &self,
        scope: &TenantScope,
        alert: i64,
        user: Option<leitstand_domain::UserId>,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<Alert>;
    /// The timeline, oldest first.
    async fn alert_notes(&self, scope: &TenantScope, alert: i64) -> Result<Vec<AlertNote>>;
    /// The newest timeline note's id in scope (0 when none): where a live
    /// stream starts.
    async fn latest_note(&self, scope: &TenantScope) -> Result<i64>;
    /// Alerts opened per day and severity since a time; days start at
    /// midnight `offset_ms` east of UTC. Returns (day number, severity, count).
    async fn alert_trend(
        &self,
        scope: &TenantScope,
        since: Timestamp,
        offset_ms: i64,
    ) -> Result<Vec<(i64, Severity, u64)>>;
    /// Host events per day and kind since a time, as [`alert_trend`](Self::alert_trend).
    async fn event_trend(
        &self,
        scope: &TenantScope,
        since: Timestamp,
        offset_ms: i64,
    ) -> Result<Vec<(i64, String, u64)>>;
}
