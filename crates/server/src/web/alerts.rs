//! Alerts and alarm rules in the console (ALARM-1 … ALARM-3, SOC-3): the
//! alert list by severity with acknowledge, mute and resolve, and each
//! tenant's rules with their switches.

use super::{done, page, render, Page, WebResult};
use crate::api::alerts::{parse_severity, parse_states};
use crate::app::AppState;
use crate::http::{Ctx, WebForm};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use jiff::SignedDuration;
use leitstand_domain::alert::{AlertAction, AlertState, RuleKind, Severity};
use leitstand_domain::{HostId, Permission as P, TenantId};
use leitstand_service::ServiceError;
use leitstand_store::{Alert, AlertQuery, AlertRule, TenantKind};
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/app/alerts", P::HostsRead, Kind::Web, "Alerts by severity, filtered by state.", list),
        route(M::POST, "/app/alerts/{alert}", P::HostsManage, Kind::Web, "Acknowledge, mute or resolve an alert.", act),
        route(M::GET, "/app/alert-rules", P::HostsRead, Kind::Web, "A tenant's alarm rules.", rules),
        route(
            M::POST,
            "/app/alert-rules/{rule}",
            P::HostsManage,
            Kind::Web,
            "Switch an alarm rule or its notifications on or off.",
            set_rule,
        ),
    ]
}

/// A rule's name: the translated default, or the tenant's own.
fn rule_name(p: &Page, r: &AlertRule) -> String {
    match &r.key {
        Some(k) => p.tk("rule-", k),
        None => r.name.clone(),
    }
}

/// What a rule watches, in words.
fn rule_summary(p: &Page, k: &RuleKind) -> String {
    match k {
        RuleKind::Event { kinds } => kinds.join(", "),
        RuleKind::HostDown => p.t("label-event-host-down"),
        RuleKind::Pending { source } => format!("{} ({source})", p.t("label-rule-source-later")),
        RuleKind::Threshold { metric, labels, direction, value, for_secs, recover } => {
            let op = if *direction == leitstand_domain::alert::Direction::Above { ">" } else { "<" };
            let filter = labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
            let filter = if filter.is_empty() { String::new() } else { format!("{{{filter}}}") };
            format!("{metric}{filter} {op} {value} · {} s · {} {recover}", for_secs, p.t("label-recover-at"))
        }
    }
}

pub struct AlertRow {
    pub alert: Alert,
    pub rule: String,
    pub host: String,
    pub facts: String,
}

#[derive(Deserialize, Default)]
struct ListForm {
    state: Option<String>,
    severity: Option<String>,
    host: Option<i64>,
    ok: Option<String>,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct ListTpl {
    p: Page,
    rows: Vec<AlertRow>,
    state: String,
    severity: String,
    states: Vec<(&'static str, String)>,
    severities: Vec<(&'static str, String, String)>,
    can_manage: bool,
}

impl ListTpl {
    fn sev(&self, s: &Severity) -> String {
        self.p.tk("severity-", s.as_str())
    }

    fn state_label(&self, s: &AlertState) -> String {
        self.p.tk("alert-state-", s.as_str())
    }
}

async fn list(State(s): State<AppState>, ctx: Ctx, Query(f): Query<ListForm>) -> WebResult {
    let a = ctx.actor()?;
    // By default: what still needs someone.
    let state = f.state.unwrap_or_else(|| "open,acknowledged,muted".into());
    let severity = f.severity.unwrap_or_default();
    let q = AlertQuery {
        host: f.host.map(HostId),
        states: parse_states(Some(&state))?,
        min_severity: parse_severity(Some(&severity))?,
        limit: 500,
    };
    let alerts = s.services.alerts(a, ctx.selected_tenant, q).await?;
    let p = page(&s, &ctx, "page-alerts", f.ok.as_deref()).await;
    let mut rule_names: BTreeMap<i64, String> = BTreeMap::new();
    let tenants: Vec<TenantId> = {
        let mut t: Vec<TenantId> = alerts.iter().map(|x| x.tenant).collect();
        t.sort_unstable();
        t.dedup();
        t
    };
    for t in tenants {
        for r in s.services.alert_rules(a, t).await.unwrap_or_default() {
            rule_names.insert(r.id, rule_name(&p, &r));
        }
    }
    let host_names: BTreeMap<HostId, String> =
        s.services.hosts(a, ctx.selected_tenant).await?.into_iter().map(|h| (h.id, h.name)).collect();
    let rows = alerts
        .into_iter()
        .map(|x| AlertRow {
            rule: rule_names.get(&x.rule).cloned().unwrap_or_else(|| x.rule.to_string()),
            host: x.host.and_then(|h| host_names.get(&h).cloned()).unwrap_or_else(|| "–".into()),
            facts: super::inventory::facts(&x.detail),
            alert: x,
        })
        .collect();
    let states = [
        ("open,acknowledged,muted", "label-alerts-active"),
        ("open", "alert-state-open"),
        ("acknowledged", "alert-state-acknowledged"),
        ("muted", "alert-state-muted"),
        ("resolved", "alert-state-resolved"),
    ]
    .iter()
    .map(|(v, k)| (*v, p.t(k)))
    .collect();
    let severities = Severity::ALL
        .iter()
        .map(|x| (x.as_str(), p.tk("severity-", x.as_str()), p.tk("severity-meaning-", x.as_str())))
        .collect();
    Ok(render(&ListTpl { p, rows, state, severity, states, severities, can_manage: a.can(P::HostsManage) }))
}

#[derive(Deserialize)]
struct ActForm {
    action: String,
}

async fn act(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, WebForm(f): WebForm<ActForm>) -> WebResult {
    let now = s.services.now();
    let action = match f.action.as_str() {
        "acknowledge" => AlertAction::Acknowledge,
        "resolve" => AlertAction::Resolve,
        "mute_1h" => AlertAction::Mute { until: now + SignedDuration::from_hours(1) },
        "mute_24h" => AlertAction::Mute { until: now + SignedDuration::from_hours(24) },
        _ => return Err(ServiceError::BadInput("unknown action".into()).into()),
    };
    s.services.act_on_alert(ctx.actor()?, id, action).await?;
    Ok(done("/app/alerts", "msg-alert-updated"))
}

#[derive(Deserialize, Default)]
struct RulesForm {
    tenant: Option<i64>,
    ok: Option<String>,
}

pub struct RuleRow {
    pub rule: AlertRule,
    pub name: String,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "alert_rules.html")]
struct RulesTpl {
    p: Page,
    tenants: Vec<(TenantId, String)>,
    tenant: Option<TenantId>,
    rows: Vec<RuleRow>,
    can_manage: bool,
}

impl RulesTpl {
    fn sev(&self, s: &Severity) -> String {
        self.p.tk("severity-", s.as_str())
    }

    fn is_tenant(&self, t: &TenantId) -> bool {
        self.tenant == Some(*t)
    }
}

async fn rules(State(s): State<AppState>, ctx: Ctx, Query(f): Query<RulesForm>) -> WebResult {
    let a = ctx.actor()?;
    let tenants: Vec<(TenantId, String)> = s
        .services
        .tenants(a)
        .await?
        .into_iter()
        .filter(|t| t.kind == TenantKind::Customer)
        .map(|t| (t.id, t.name))
        .collect();
    let tenant = f
        .tenant
        .map(TenantId)
        .or(ctx.selected_tenant)
        .or_else(|| tenants.first().map(|t| t.0))
        .filter(|t| tenants.iter().any(|(id, _)| id == t));
    let p = page(&s, &ctx, "page-alert-rules", f.ok.as_deref()).await;
    let rows = match tenant {
        Some(t) => s
            .services
            .alert_rules(a, t)
            .await?
            .into_iter()
            .map(|r| RuleRow { name: rule_name(&p, &r), summary: rule_summary(&p, &r.kind), rule: r })
            .collect(),
        None => vec![],
    };
    Ok(render(&RulesTpl { p, tenants, tenant, rows, can_manage: a.can(P::HostsManage) }))
}

#[derive(Deserialize)]
struct RuleForm {
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    notify: Option<String>,
    tenant: i64,
}

async fn set_rule(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<RuleForm>,
) -> WebResult {
    s.services.set_rule_flags(ctx.actor()?, id, f.enabled.is_some(), f.notify.is_some()).await?;
    Ok(done(&format!("/app/alert-rules?tenant={}", f.tenant), "msg-rule-saved"))
}
