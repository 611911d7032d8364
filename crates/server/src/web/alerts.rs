//! Alerts in the console (ALARM-1 … ALARM-4, SOC-3): the list by severity
//! with acknowledge, mute and resolve, and each alert's page with its
//! timeline, comments, assignee, what the provider did, and the messages
//! sent about it.

use super::{done, page, render, Page, WebResult};
use crate::api::alerts::{parse_severity, parse_states};
use crate::app::AppState;
use crate::http::{Ctx, WebForm};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use jiff::SignedDuration;
use leitstand_domain::alert::{AlertAction, Severity};
use leitstand_domain::{HostId, Permission as P, UserId};
use leitstand_service::ServiceError;
use leitstand_store::{Alert, AlertNote, AlertQuery, Notification, NotificationQuery, NotificationState};
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/app/alerts", P::HostsRead, Kind::Web, "Alerts by severity, filtered by state.", list),
        route(M::GET, "/app/alerts/{alert}", P::HostsRead, Kind::Web, "An alert with its timeline.", detail),
        route(M::POST, "/app/alerts/{alert}", P::HostsManage, Kind::Web, "Acknowledge, mute or resolve an alert.", act),
        route(
            M::POST,
            "/app/alerts/{alert}/notes",
            P::HostsRead,
            Kind::Web,
            "Comment on an alert, or (staff) record what the provider did.",
            add_note,
        ),
        route(M::POST, "/app/alerts/{alert}/assignee", P::HostsManage, Kind::Web, "Give an alert to someone.", assign),
    ]
}

/// An alert's title: the Sigma rule's (SOC), the translated default rule,
/// or the tenant's own name.
pub fn alert_title(p: &Page, a: &Alert) -> String {
    crate::i18n::alert_title(p.lang, a)
}

pub struct AlertRow {
    pub alert: Alert,
    pub rule: String,
    pub host: String,
    pub facts: String,
    /// `pending` or `failed` when a message about it did not go out (yet).
    pub delivery: Option<&'static str>,
}

#[derive(Deserialize, Default)]
struct ListForm {
    state: Option<String>,
    severity: Option<String>,
    host: Option<i64>,
    rule: Option<i64>,
    #[serde(default)]
    flagged: Option<String>,
    ok: Option<String>,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct ListTpl {
    p: Page,
    rows: Vec<AlertRow>,
    state: String,
    severity: String,
    flagged: bool,
    states: Vec<(&'static str, String)>,
    severities: Vec<(&'static str, String, String)>,
    can_manage: bool,
}

/// Which alerts have a message waiting (pending) or given up (failed).
async fn deliveries(s: &AppState, ctx: &Ctx) -> Result<BTreeMap<i64, &'static str>, ServiceError> {
    let a = ctx.actor()?;
    let mut out = BTreeMap::new();
    for (state, word) in [(NotificationState::Pending, "pending"), (NotificationState::Failed, "failed")] {
        let q = NotificationQuery { state: Some(state), limit: 2000, ..Default::default() };
        for n in s.services.notifications(a, ctx.selected_tenant, q).await? {
            out.insert(n.alert, word);
        }
    }
    Ok(out)
}

async fn list(State(s): State<AppState>, ctx: Ctx, Query(f): Query<ListForm>) -> WebResult {
    let a = ctx.actor()?;
    // By default: what still needs someone.
    let state = f.state.unwrap_or_else(|| "open,acknowledged,muted".into());
    let severity = f.severity.unwrap_or_default();
    let flagged = f.flagged.is_some_and(|v| !v.is_empty());
    let q = AlertQuery {
        host: f.host.map(HostId),
        states: parse_states(Some(&state))?,
        min_severity: parse_severity(Some(&severity))?,
        flagged,
        rule: f.rule,
        limit: 500,
        ..AlertQuery::default()
    };
    let alerts = s.services.alerts(a, ctx.selected_tenant, q).await?;
    let delivery = deliveries(&s, &ctx).await?;
    let p = page(&s, &ctx, "page-alerts", f.ok.as_deref()).await;
    let rows = alerts
        .into_iter()
        .map(|x| AlertRow {
            rule: alert_title(&p, &x),
            host: x.host_name.clone().unwrap_or_else(|| "–".into()),
            facts: super::inventory::facts(&x.detail),
            delivery: delivery.get(&x.id).copied(),
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
    Ok(render(&ListTpl { p, rows, state, severity, flagged, states, severities, can_manage: a.can(P::HostsManage) }))
}

#[derive(Template)]
#[template(path = "alert.html")]
struct DetailTpl {
    p: Page,
    alert: Alert,
    title: String,
    facts: Vec<(String, String)>,
    /// The events behind a SOC alert.
    evidence: Vec<leitstand_store::SocEvent>,
    /// SOC staff on a SOC alert: the triage form and indicator hits.
    can_triage: bool,
    indicator_hits: Vec<leitstand_store::Indicator>,
    severities: Vec<Severity>,
    classes: Vec<&'static str>,
    notes: Vec<AlertNote>,
    notifications: Vec<Notification>,
    users: Vec<(UserId, String)>,
    can_manage: bool,
    is_staff: bool,
}

impl DetailTpl {
    fn note_kind(&self, n: &AlertNote) -> String {
        self.p.tk("label-note-", &n.kind.replace('_', "-"))
    }

    /// What a note says, in words: states and flags translated.
    fn note_text(&self, n: &AlertNote) -> String {
        match n.kind.as_str() {
            "opened" if self.alert.soc_rule.is_some() => serde_json::from_str::<serde_json::Value>(&n.body)
                .ok()
                .and_then(|d| d["message"].as_str().map(str::to_owned))
                .unwrap_or_default(),
            "opened" | "resolved" => super::inventory::facts(&n.body),
            "flagged" => self.p.tk("label-flag-", &n.body),
            "closed" => self.p.tk("soc-verdict-", &n.body),
            "reclassified" => self.p.tk("soc-class-", &n.body),
            "muted" => n.body.parse().map(|t| self.p.time(&t)).unwrap_or_default(),
            "quiet_hours" => n.body.parse().map(|t| self.p.time(&t)).unwrap_or_default(),
            _ => n.body.clone(),
        }
    }

    fn is_assignee(&self, u: &UserId) -> bool {
        self.alert.assignee == Some(*u)
    }

    fn is_class(&self, c: &str) -> bool {
        self.alert.soc_class.as_deref() == Some(c)
    }
}

async fn detail(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(f): Query<ListForm>) -> WebResult {
    let a = ctx.actor()?;
    let d = s.services.alert_detail(a, id).await?;
    let mut p = page(&s, &ctx, "page-alert", f.ok.as_deref()).await;
    let title = alert_title(&p, &d.alert);
    p.title = format!("{} · {title}", p.title);
    let facts = match serde_json::from_str::<serde_json::Value>(&d.alert.detail) {
        Ok(detail) if d.alert.soc_rule.is_some() => soc_facts(&p, &detail),
        Ok(serde_json::Value::Object(m)) => {
            m.into_iter().map(|(k, v)| (k, v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))).collect()
        }
        _ => vec![],
    };
    // Users of the alert's tenant who may act on it, and (for staff) staff.
    let users = if a.can(P::HostsManage) && a.can(P::UsersRead) {
        let mut list: Vec<(UserId, String)> = s
            .services
            .users(a, None)
            .await?
            .into_iter()
            .filter(|u| u.tenant == d.alert.tenant || u.role.is_staff())
            .filter(|u| P::HostsManage.granted_to(u.role))
            .map(|u| (u.id, u.display_name))
            .collect();
        list.sort_by(|x, y| x.1.cmp(&y.1));
        list
    } else {
        vec![]
    };
    let evidence = if d.alert.soc_rule.is_some() { s.services.soc_evidence(a, id).await? } else { vec![] };
    let can_triage = d.alert.soc_rule.is_some() && a.can(P::SocManage);
    let indicator_hits = if can_triage {
        s.services.check_observables(a, &leitstand_service::observables(&evidence)).await?
    } else {
        vec![]
    };
    Ok(render(&DetailTpl {
        p,
        title,
        facts,
        evidence,
        can_triage,
        indicator_hits,
        severities: Severity::ALL.to_vec(),
        classes: leitstand_domain::soc::CLASSES.to_vec(),
        notes: d.notes,
        notifications: d.notifications,
        users,
        can_manage: a.can(P::HostsManage),
        is_staff: a.role().is_staff(),
        alert: d.alert,
    }))
}

/// A SOC hit's facts in words: what it is grouped by, how many events in
/// which window, who and from where, the newest line, the Sigma rule.
fn soc_facts(p: &Page, d: &serde_json::Value) -> Vec<(String, String)> {
    let text = |k: &str| d[k].as_str().filter(|v| !v.is_empty()).map(str::to_owned);
    let mut out = vec![];
    let mut put = |label: &str, v: Option<String>| {
        if let Some(v) = v {
            out.push((p.t(label), v));
        }
    };
    put("label-soc-group", text("group"));
    if d["correlation"] == serde_json::Value::Bool(true) {
        let window = d["window_secs"].as_u64().map(|s| format!("{} min", s / 60)).unwrap_or_default();
        put("label-soc-count", d["count"].as_u64().map(|n| format!("{n} · {window}")));
    }
    put("label-soc-source-ip", text("source_ip"));
    put("label-user", text("user"));
    put("label-host", text("host"));
    put("label-message", text("message"));
    let matched: Vec<&str> =
        d["matched"].as_array().map(|m| m.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
    put("label-soc-matched", (!matched.is_empty()).then(|| matched.join(", ")));
    put("label-soc-rule-id", text("rule_id"));
    out
}

#[derive(Deserialize)]
struct ActForm {
    action: String,
    #[serde(default)]
    back: Option<String>,
}

/// Back to the alert's page when the form came from there, else the list.
fn back_to(id: i64, back: Option<&str>) -> String {
    if back == Some("detail") {
        format!("/app/alerts/{id}")
    } else {
        "/app/alerts".into()
    }
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
    Ok(done(&back_to(id, f.back.as_deref()), "msg-alert-updated"))
}

#[derive(Deserialize)]
struct NoteForm {
    text: String,
    #[serde(default)]
    kind: Option<String>,
}

async fn add_note(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<NoteForm>,
) -> WebResult {
    let a = ctx.actor()?;
    if f.kind.as_deref() == Some("provider_action") {
        s.services.record_provider_action(a, id, &f.text).await?;
    } else {
        s.services.comment_on_alert(a, id, &f.text).await?;
    }
    Ok(done(&format!("/app/alerts/{id}"), "msg-note-added"))
}

#[derive(Deserialize)]
struct AssignForm {
    #[serde(default)]
    user: Option<String>,
}

async fn assign(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<AssignForm>,
) -> WebResult {
    let user = match f.user.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(u) => Some(UserId(u.parse().map_err(|_| ServiceError::BadInput("user: not a user id".into()))?)),
    };
    s.services.assign_alert(ctx.actor()?, id, user).await?;
    Ok(done(&format!("/app/alerts/{id}"), "msg-alert-updated"))
}
