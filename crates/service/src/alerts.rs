//! Alarm rules and alerts (ALARM-1 … ALARM-3): every tenant gets the
//! default rules; people read alerts and move them through their
//! lifecycle, each change audited.

use crate::{Actor, Result, ServiceError, Services};
use jiff::{SignedDuration, Timestamp};
use leitstand_domain::alert::{default_rules, next_state, AlertAction, AlertState, RuleKind, Severity, IMMINENT};
use leitstand_domain::{HostId, Permission, TenantId, UserId};
use leitstand_store::{
    Alert, AlertNote, AlertQuery, AlertRule, HostChecklist, HostCounts, NewAlertRule, NoteKind, Notification,
    NotificationQuery, TenantScope,
};
use serde_json::json;
use std::collections::BTreeMap;

/// A rule as a person writes it.
#[derive(Debug, Clone)]
pub struct RuleInput {
    pub name: String,
    pub severity: Severity,
    pub kind: RuleKind,
    pub imminent: bool,
}

/// An alert with its timeline and messages.
#[derive(Debug, Clone)]
pub struct AlertDetail {
    pub alert: Alert,
    pub notes: Vec<AlertNote>,
    pub notifications: Vec<Notification>,
}

/// What the security dashboard shows (PLAT-3).
#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    /// Active alerts per severity, most severe first.
    pub open_by_severity: Vec<(Severity, u64)>,
    /// Alerts waiting for provider action (ALARM-4).
    pub flagged: u64,
    pub hosts: HostCounts,
    /// Hosts with the most active high and critical alerts: (host, name, critical, high).
    pub riskiest_hosts: Vec<(HostId, String, u64, u64)>,
    /// Checklist score per tenant in scope: (tenant, passed share 0–100, hosts).
    pub checklist: Vec<(TenantId, f64, u64)>,
    /// The most urgent active alerts.
    pub urgent: Vec<Alert>,
    /// Per tenant in scope with active alerts: counts critical, high,
    /// medium, low, and how many are flagged; most critical first.
    pub per_tenant: Vec<(TenantId, [u64; 4], u64)>,
    /// Alerts opened per day (local midnight, Unix seconds) and severity, 30 days.
    pub alert_days: Vec<(i64, [u64; 4])>,
    /// Host events per day: sign-in failures, changes, host down.
    pub event_days: Vec<(i64, [u64; 3])>,
}

/// Days the dashboard charts cover.
pub const TREND_DAYS: i64 = 30;

/// The default rules as stored rules; their names are their keys, which the
/// console translates.
pub fn default_alert_rules() -> Vec<NewAlertRule> {
    default_rules()
        .into_iter()
        .map(|d| NewAlertRule {
            key: Some(d.key.into()),
            name: d.key.into(),
            severity: d.severity,
            imminent: IMMINENT.contains(&d.key),
            kind: d.kind,
        })
        .collect()
}

impl Services {
    /// Gives a tenant the default rules it does not have yet (at creation,
    /// and at every start for tenants made before a default was added).
    pub async fn ensure_default_rules(&self, tenant: TenantId) -> Result<u64> {
        Ok(self.store.ensure_rules(tenant, &default_alert_rules(), self.now()).await?)
    }

    /// [`ensure_default_rules`](Self::ensure_default_rules) for every tenant.
    pub async fn ensure_default_rules_everywhere(&self) -> Result<u64> {
        let mut added = 0;
        for t in self.store.tenants(&TenantScope::All).await? {
            added += self.ensure_default_rules(t.id).await?;
        }
        Ok(added)
    }

    pub async fn alert_rule(&self, actor: &Actor, id: i64) -> Result<AlertRule> {
        actor.require(Permission::HostsRead)?;
        Ok(self.store.alert_rule(actor.scope(), id).await?)
    }

    pub async fn alert_rules(&self, actor: &Actor, tenant: TenantId) -> Result<Vec<AlertRule>> {
        actor.require(Permission::HostsRead)?;
        actor.require_tenant(tenant)?;
        Ok(self.store.alert_rules(actor.scope(), tenant).await?)
    }

    /// Alerts of the actor's tenants (or one), most severe and newest first.
    pub async fn alerts(&self, actor: &Actor, tenant: Option<TenantId>, mut q: AlertQuery) -> Result<Vec<Alert>> {
        actor.require(Permission::HostsRead)?;
        let scope = actor.narrowed(tenant)?;
        q.limit = if q.limit == 0 { 200 } else { q.limit.min(10_000) };
        Ok(self.store.alerts(&scope, &q).await?)
    }

    /// Acknowledges, mutes or resolves an alert; refused with the reason
    /// when the lifecycle does not allow it.
    pub async fn act_on_alert(&self, actor: &Actor, id: i64, action: AlertAction) -> Result<Alert> {
        actor.require(Permission::HostsManage)?;
        let now = self.now();
        let alert = self.store.alert(actor.scope(), id).await?;
        let state = next_state(alert.state, alert.muted_until, action, now)
            .map_err(|e| ServiceError::BadInput(e.to_string()))?;
        let (verb, muted_until): (&str, Option<Timestamp>) = match action {
            AlertAction::Acknowledge => ("alert.acknowledge", None),
            AlertAction::Mute { until } => ("alert.mute", Some(until)),
            AlertAction::Resolve => ("alert.resolve", None),
            AlertAction::Repeat => {
                return Err(ServiceError::BadInput("a repeat comes from the rule, not a person".into()))
            }
        };
        let draft = actor.audit(
            now,
            verb,
            Some(alert.tenant),
            format!("alert:{id}"),
            json!({ "from": alert.state.as_str(), "to": state.as_str(), "muted_until": muted_until.map(|t| t.to_string()) }),
        );
        Ok(self.store.set_alert_state(actor.scope(), id, state, muted_until, now, &draft).await?)
    }

    /// Adds a rule a person wrote, after checking it.
    pub async fn create_rule(&self, actor: &Actor, tenant: TenantId, input: RuleInput) -> Result<AlertRule> {
        actor.require(Permission::HostsManage)?;
        actor.require_tenant(tenant)?;
        let rule = checked_rule(input, None)?;
        let now = self.now();
        let draft = actor.audit(now, "alert_rule.create", Some(tenant), String::new(), rule_facts(&rule));
        Ok(self.store.create_rule(actor.scope(), tenant, &rule, now, &draft).await?)
    }

    /// Changes a rule (a default one too) after checking it.
    pub async fn update_rule(&self, actor: &Actor, id: i64, input: RuleInput) -> Result<AlertRule> {
        actor.require(Permission::HostsManage)?;
        let before = self.store.alert_rule(actor.scope(), id).await?;
        let rule = checked_rule(input, before.key.clone())?;
        let draft = actor.audit(self.now(), "alert_rule.update", None, format!("alert_rule:{id}"), rule_facts(&rule));
        Ok(self.store.update_rule(actor.scope(), id, &rule, &draft).await?)
    }

    /// The newest timeline note of the actor's tenants (or one): where a
    /// live stream of alert changes starts.
    pub async fn latest_alert_note(&self, actor: &Actor, tenant: Option<TenantId>) -> Result<i64> {
        actor.require(Permission::HostsRead)?;
        let scope = actor.narrowed(tenant)?;
        Ok(self.store.latest_note(&scope).await?)
    }

    /// An alert with its timeline and the messages sent about it.
    pub async fn alert_detail(&self, actor: &Actor, id: i64) -> Result<AlertDetail> {
        actor.require(Permission::HostsRead)?;
        let alert = self.store.alert(actor.scope(), id).await?;
        let mut notes = self.store.alert_notes(actor.scope(), id).await?;
        if !actor.role().is_staff() {
            // Analysts' internal notes stay with the provider (SOC-13).
            notes.retain(|n| n.kind != NoteKind::Internal.as_str());
        }
        let q = NotificationQuery { alert: Some(id), limit: 200, ..Default::default() };
        let notifications = self.store.notifications(actor.scope(), &q).await?;
        Ok(AlertDetail { alert, notes, notifications })
    }

    /// A comment on the timeline, by anyone who sees the alert.
    pub async fn comment_on_alert(&self, actor: &Actor, id: i64, text: &str) -> Result<AlertNote> {
        actor.require(Permission::HostsRead)?;
        self.note_on_alert(actor, id, NoteKind::Comment, text).await
    }

    /// What the provider did about an alert (ALARM-4); staff only, and
    /// never for an alert whose notifications the customer switched off
    /// (ALARM-3: then no proactive action follows).
    pub async fn record_provider_action(&self, actor: &Actor, id: i64, text: &str) -> Result<AlertNote> {
        actor.require(Permission::HostsManage)?;
        let alert = self.store.alert(actor.scope(), id).await?;
        if !actor.role().is_staff() {
            return Err(ServiceError::Forbidden);
        }
        if !alert.notify {
            return Err(ServiceError::BadInput(
                "the customer switched notifications off for this alarm: no proactive action".into(),
            ));
        }
        self.note_on_alert(actor, id, NoteKind::ProviderAction, text).await
    }

    async fn note_on_alert(&self, actor: &Actor, id: i64, kind: NoteKind, text: &str) -> Result<AlertNote> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 4000 {
            return Err(ServiceError::Invalid(vec![leitstand_domain::FieldError::new("text", "error-note-text")]));
        }
        let now = self.now();
        let verb = if kind == NoteKind::Comment { "alert.comment" } else { "alert.provider_action" };
        let draft = actor.audit(now, verb, None, format!("alert:{id}"), json!({ "text": text }));
        Ok(self.store.add_note(actor.scope(), id, kind, text, now, &draft).await?)
    }

    /// Gives an alert to a user (or nobody).
    pub async fn assign_alert(&self, actor: &Actor, id: i64, user: Option<UserId>) -> Result<Alert> {
        actor.require(Permission::HostsManage)?;
        let now = self.now();
        let draft = actor.audit(now, "alert.assign", None, format!("alert:{id}"), json!({ "user": user.map(|u| u.0) }));
        Ok(self.store.assign_alert(actor.scope(), id, user, now, &draft).await?)
    }

    /// The security dashboard of one tenant or of all in the actor's scope.
    pub async fn dashboard(&self, actor: &Actor, tenant: Option<TenantId>) -> Result<Dashboard> {
        actor.require(Permission::HostsRead)?;
        let scope = actor.narrowed(tenant)?;
        let now = self.now();
        let active = AlertQuery {
            states: vec![AlertState::Open, AlertState::Acknowledged, AlertState::Muted],
            limit: 10_000,
            ..AlertQuery::default()
        };
        let alerts = self.store.alerts(&scope, &active).await?;
        let mut d = Dashboard {
            open_by_severity: Severity::ALL
                .iter()
                .rev()
                .map(|s| (*s, alerts.iter().filter(|a| a.severity == *s).count() as u64))
                .collect(),
            flagged: alerts.iter().filter(|a| a.flag.is_some()).count() as u64,
            hosts: self.store.host_counts(&scope, now).await?,
            urgent: alerts.iter().filter(|a| a.state == AlertState::Open).take(8).cloned().collect(),
            ..Dashboard::default()
        };
        let mut per_tenant: BTreeMap<TenantId, ([u64; 4], u64)> = BTreeMap::new();
        for a in &alerts {
            let e = per_tenant.entry(a.tenant).or_default();
            e.0[3 - a.severity as usize] += 1;
            e.1 += u64::from(a.flag.is_some());
        }
        d.per_tenant = per_tenant.into_iter().map(|(t, (open, flagged))| (t, open, flagged)).collect();
        d.per_tenant.sort_by_key(|(_, open, _)| std::cmp::Reverse(*open));
        let mut per_host: BTreeMap<HostId, (String, u64, u64)> = BTreeMap::new();
        for a in alerts.iter().filter(|a| a.severity >= Severity::High) {
            let Some(h) = a.host else { continue };
            let e = per_host.entry(h).or_insert_with(|| (a.host_name.clone().unwrap_or_default(), 0, 0));
            if a.severity == Severity::Critical {
                e.1 += 1;
            } else {
                e.2 += 1;
            }
        }
        let mut riskiest: Vec<_> = per_host.into_iter().map(|(h, (n, c, hi))| (h, n, c, hi)).collect();
        riskiest.sort_by(|a, b| (b.2, b.3).cmp(&(a.2, a.3)).then(a.1.cmp(&b.1)));
        riskiest.truncate(5);
        d.riskiest_hosts = riskiest;
        d.checklist = checklist_by_tenant(&self.store.checklist_counts(&scope).await?);
        // Days in Berlin time by default: the offset of now is close enough
        // for day buckets (a daylight-saving change shifts one hour).
        let offset_ms = jiff::tz::TimeZone::get("Europe/Berlin")
            .map(|tz| i64::from(tz.to_offset(now).seconds()) * 1000)
            .unwrap_or(0);
        let since = now - SignedDuration::from_hours(24 * TREND_DAYS);
        let first_day = (since.as_millisecond() + offset_ms).div_euclid(86_400_000) + 1;
        let day_start = |day: i64| (day * 86_400_000 - offset_ms) / 1000;
        let days: Vec<i64> = (first_day..first_day + TREND_DAYS).collect();
        let trend = self.store.alert_trend(&scope, since, offset_ms).await?;
        d.alert_days = days
            .iter()
            .map(|day| {
                let mut n = [0u64; 4];
                for (_, s, c) in trend.iter().filter(|(d, _, _)| d == day) {
                    n[*s as usize] += c;
                }
                (day_start(*day), n)
            })
            .collect();
        let events = self.store.event_trend(&scope, since, offset_ms).await?;
        d.event_days = days
            .iter()
            .map(|day| {
                let mut n = [0u64; 3];
                for (_, kind, c) in events.iter().filter(|(d, _, _)| d == day) {
                    let i = match kind.as_str() {
                        "auth.login_failed" | "auth.invalid_user" | "auth.su_failed" | "auth.sudo_failed"
                        | "auth.sudo_denied" => 0,
                        "host.down" => 2,
                        k if k.starts_with("auth.") || k == "host.up" => continue,
                        _ => 1,
                    };
                    n[i] += c;
                }
                (day_start(*day), n)
            })
            .collect();
        Ok(d)
    }

    /// Switches a rule, or only its notifications, on or off (ALARM-3).
    pub async fn set_rule_flags(&self, actor: &Actor, rule: i64, enabled: bool, notify: bool) -> Result<AlertRule> {
        actor.require(Permission::HostsManage)?;
        let draft = actor.audit(
            self.now(),
            "alert_rule.update",
            None,
            format!("alert_rule:{rule}"),
            json!({ "enabled": enabled, "notify": notify }),
        );
        Ok(self.store.set_rule_flags(actor.scope(), rule, enabled, notify, &draft).await?)
    }
}

/// Checks a rule: a name, and a kind that can work. A rule keeps its key.
fn checked_rule(input: RuleInput, key: Option<String>) -> Result<NewAlertRule> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ServiceError::BadInput("a rule needs a name of 1 to 100 characters".into()));
    }
    input.kind.validate().map_err(|e| ServiceError::BadInput(e.0))?;
    Ok(NewAlertRule {
        key,
        name: name.to_owned(),
        severity: input.severity,
        kind: input.kind,
        imminent: input.imminent,
    })
}

fn rule_facts(r: &NewAlertRule) -> serde_json::Value {
    json!({ "name": r.name, "severity": r.severity.as_str(), "kind": r.kind, "imminent": r.imminent })
}

/// The checklist score of each tenant: the mean of its hosts' shares of
/// passed checks (RISK-1).
fn checklist_by_tenant(hosts: &[HostChecklist]) -> Vec<(TenantId, f64, u64)> {
    let mut by: BTreeMap<TenantId, (f64, u64)> = BTreeMap::new();
    for h in hosts.iter().filter(|h| h.pass + h.fail > 0) {
        let e = by.entry(h.tenant).or_default();
        e.0 += h.pass as f64 * 100.0 / (h.pass + h.fail) as f64;
        e.1 += 1;
    }
    by.into_iter().map(|(t, (sum, n))| (t, sum / n as f64, n)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_default_rule_has_a_key_and_is_valid() {
        let rules = super::default_alert_rules();
        assert_eq!(rules.len(), 20);
        for r in rules {
            assert!(r.key.is_some());
            r.kind.validate().expect("valid");
        }
    }
}
