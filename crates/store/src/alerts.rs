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
}

/// A rule to add (defaults are added with their key).
#[derive(Debug, Clone)]
pub struct NewAlertRule {
    pub key: Option<String>,
    pub name: String,
    pub severity: Severity,
    pub kind: RuleKind,
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
}

#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    pub host: Option<HostId>,
    /// Only these states; empty: all.
    pub states: Vec<AlertState>,
    pub min_severity: Option<Severity>,
    pub limit: u32,
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Adds the rules whose key the tenant does not have yet; returns how
    /// many were added. Safe to call again and from several replicas.
    async fn ensure_rules(&self, tenant: TenantId, rules: &[NewAlertRule], at: Timestamp) -> Result<u64>;
    async fn alert_rules(&self, scope: &TenantScope, tenant: TenantId) -> Result<Vec<AlertRule>>;
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
    /// Writes a new state (acknowledged, muted, resolved) with its audit entry.
    async fn set_alert_state(
        &self,
        scope: &TenantScope,
        id: i64,
        state: AlertState,
        muted_until: Option<Timestamp>,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<Alert>;
}
