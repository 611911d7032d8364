//! Alarm rules in the console (ALARM-1, ALARM-2): each tenant's rules with
//! their switches, and the form to change one or add one (a threshold on
//! any metric, host down, or event kinds), refused with the reason when it
//! cannot work.

use super::{done, page, render, Page, WebResult};
use crate::app::AppState;
use crate::http::{Ctx, WebForm};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use leitstand_domain::alert::{Direction, RuleKind, Severity};
use leitstand_domain::{Permission as P, TenantId};
use leitstand_service::{RuleInput, ServiceError};
use leitstand_store::{AlertRule, TenantKind};
use serde::Deserialize;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/app/alert-rules", P::HostsRead, Kind::Web, "A tenant's alarm rules.", rules),
        route(
            M::POST,
            "/app/alert-rules/{rule}",
            P::HostsManage,
            Kind::Web,
            "Switch an alarm rule or its notifications on or off.",
            set_rule,
        ),
        route(M::GET, "/app/alert-rules/new", P::HostsManage, Kind::Web, "Form for a new alarm rule.", new_form),
        route(M::POST, "/app/alert-rules/new", P::HostsManage, Kind::Web, "Add an alarm rule.", create),
        route(M::GET, "/app/alert-rules/{rule}/edit", P::HostsManage, Kind::Web, "Form to change a rule.", edit_form),
        route(M::POST, "/app/alert-rules/{rule}/edit", P::HostsManage, Kind::Web, "Change an alarm rule.", update),
    ]
}

/// A rule's name: the translated default, or the tenant's own.
pub fn rule_name(p: &Page, r: &AlertRule) -> String {
    crate::i18n::rule_title(p.lang, r.key.as_deref(), &r.name)
}

/// What a rule watches, in words.
fn rule_summary(p: &Page, k: &RuleKind) -> String {
    match k {
        RuleKind::Event { kinds } => kinds.join(", "),
        RuleKind::HostDown => p.t("label-event-host-down"),
        RuleKind::Soc => p.t("label-rule-soc"),
        RuleKind::Pending { source } => format!("{} ({source})", p.t("label-rule-source-later")),
        RuleKind::Threshold { metric, labels, direction, value, for_secs, recover } => {
            let op = if *direction == Direction::Above { ">" } else { "<" };
            let filter = labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
            let filter = if filter.is_empty() { String::new() } else { format!("{{{filter}}}") };
            format!("{metric}{filter} {op} {value} · {} s · {} {recover}", for_secs, p.t("label-recover-at"))
        }
    }
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
    fn is_tenant(&self, t: &TenantId) -> bool {
        self.tenant == Some(*t)
    }
}

/// The customer tenants in the actor's scope, and the one to show.
pub async fn customer_tenants(
    s: &AppState,
    ctx: &Ctx,
    asked: Option<i64>,
) -> Result<(Vec<(TenantId, String)>, Option<TenantId>), ServiceError> {
    let a = ctx.actor()?;
    let tenants: Vec<(TenantId, String)> = s
        .services
        .tenants(a)
        .await?
        .into_iter()
        .filter(|t| t.kind == TenantKind::Customer)
        .map(|t| (t.id, t.name))
        .collect();
    let tenant = asked
        .map(TenantId)
        .or(ctx.selected_tenant)
        .or_else(|| tenants.first().map(|t| t.0))
        .filter(|t| tenants.iter().any(|(id, _)| id == t));
    Ok((tenants, tenant))
}

async fn rules(State(s): State<AppState>, ctx: Ctx, Query(f): Query<RulesForm>) -> WebResult {
    let a = ctx.actor()?;
    let (tenants, tenant) = customer_tenants(&s, &ctx, f.tenant).await?;
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
struct FlagsForm {
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
    WebForm(f): WebForm<FlagsForm>,
) -> WebResult {
    s.services.set_rule_flags(ctx.actor()?, id, f.enabled.is_some(), f.notify.is_some()).await?;
    Ok(done(&format!("/app/alert-rules?tenant={}", f.tenant), "msg-rule-saved"))
}

/// The rule form as sent: every field text, so a wrong one comes back as typed.
#[derive(Deserialize, Default, Clone)]
pub struct RuleForm {
    #[serde(default)]
    pub tenant: Option<i64>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metric: String,
    #[serde(default)]
    pub labels: String,
    #[serde(default)]
    pub direction: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub for_mins: String,
    #[serde(default)]
    pub recover: String,
    #[serde(default)]
    pub kinds: String,
    #[serde(default)]
    pub imminent: Option<String>,
}

impl RuleForm {
    fn from_rule(r: &AlertRule, name: String) -> Self {
        let mut f = RuleForm {
            tenant: Some(r.tenant.0),
            name,
            severity: r.severity.as_str().into(),
            imminent: r.imminent.then(|| "1".into()),
            ..RuleForm::default()
        };
        match &r.kind {
            RuleKind::Threshold { metric, labels, direction, value, for_secs, recover } => {
                f.kind = "threshold".into();
                f.metric = metric.clone();
                f.labels = labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
                f.direction = if *direction == Direction::Above { "above" } else { "below" }.into();
                f.value = value.to_string();
                f.for_mins = (f64::from(*for_secs) / 60.0).to_string();
                f.recover = recover.to_string();
            }
            RuleKind::Event { kinds } => {
                f.kind = "event".into();
                f.kinds = kinds.join(", ");
            }
            RuleKind::HostDown => f.kind = "host_down".into(),
            RuleKind::Soc => f.kind = "soc".into(),
            RuleKind::Pending { source } => {
                f.kind = "pending".into();
                f.kinds = source.clone();
            }
        }
        f
    }

    /// The rule the form describes; a field that is not a number says so.
    pub fn input(&self) -> Result<RuleInput, ServiceError> {
        let bad = |m: String| ServiceError::BadInput(m);
        let num = |field: &str, v: &str| -> Result<f64, ServiceError> {
            v.trim().replace(',', ".").parse::<f64>().map_err(|_| bad(format!("{field}: {v:?} is not a number")))
        };
        let severity = Severity::parse(&self.severity).ok_or_else(|| bad("choose a severity".into()))?;
        let kind = match self.kind.as_str() {
            "threshold" => {
                let mut labels = std::collections::BTreeMap::new();
                for pair in self.labels.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| bad(format!("labels: {pair:?} is not name=value (e.g. mount=/)")))?;
                    labels.insert(k.trim().to_owned(), v.trim().to_owned());
                }
                let mins = num("for", &self.for_mins)?;
                if !(0.0..=1440.0).contains(&mins) {
                    return Err(bad("for: 0 to 1440 minutes".into()));
                }
                RuleKind::Threshold {
                    metric: self.metric.trim().to_owned(),
                    labels,
                    direction: if self.direction == "below" { Direction::Below } else { Direction::Above },
                    value: num("value", &self.value)?,
                    for_secs: (mins * 60.0).round() as u32,
                    recover: num("recover", &self.recover)?,
                }
            }
            "event" => RuleKind::Event {
                kinds: self.kinds.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect(),
            },
            "host_down" => RuleKind::HostDown,
            "soc" => RuleKind::Soc,
            "pending" => RuleKind::Pending { source: self.kinds.trim().to_owned() },
            other => return Err(bad(format!("kind {other:?} is not threshold, event or host_down"))),
        };
        Ok(RuleInput { name: self.name.clone(), severity, kind, imminent: self.imminent.is_some() })
    }
}

#[derive(Template)]
#[template(path = "alert_rule.html")]
struct FormTpl {
    p: Page,
    f: RuleForm,
    /// None: a new rule.
    rule: Option<i64>,
    error: Option<String>,
    severities: Vec<(&'static str, String)>,
}

fn form_page(p: Page, f: RuleForm, rule: Option<i64>, error: Option<String>) -> WebResult {
    let severities = Severity::ALL.iter().map(|s| (s.as_str(), p.tk("severity-", s.as_str()))).collect();
    Ok(render(&FormTpl { p, f, rule, error, severities }))
}

async fn new_form(State(s): State<AppState>, ctx: Ctx, Query(q): Query<RulesForm>) -> WebResult {
    let (_, tenant) = customer_tenants(&s, &ctx, q.tenant).await?;
    let tenant = tenant.ok_or(ServiceError::NotFound)?;
    let p = page(&s, &ctx, "page-alert-rule-new", None).await;
    let f = RuleForm {
        tenant: Some(tenant.0),
        severity: "medium".into(),
        kind: "threshold".into(),
        direction: "above".into(),
        for_mins: "5".into(),
        ..RuleForm::default()
    };
    form_page(p, f, None, None)
}

async fn create(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<RuleForm>) -> WebResult {
    let tenant = TenantId(f.tenant.ok_or(ServiceError::BadInput("tenant missing".into()))?);
    let made = match f.input() {
        Ok(input) => s.services.create_rule(ctx.actor()?, tenant, input).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(_) => Ok(done(&format!("/app/alert-rules?tenant={}", tenant.0), "msg-rule-saved")),
        Err(ServiceError::BadInput(m)) => {
            form_page(page(&s, &ctx, "page-alert-rule-new", None).await, f, None, Some(m))
        }
        Err(e) => Err(e.into()),
    }
}

async fn edit_form(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let a = ctx.actor()?;
    let rule = s.services.alert_rule(a, id).await?;
    let p = page(&s, &ctx, "page-alert-rule-edit", None).await;
    let f = RuleForm::from_rule(&rule, rule_name(&p, &rule));
    form_page(p, f, Some(id), None)
}

async fn update(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, WebForm(f): WebForm<RuleForm>) -> WebResult {
    let a = ctx.actor()?;
    let saved = match f.input() {
        Ok(input) => s.services.update_rule(a, id, input).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(r) => Ok(done(&format!("/app/alert-rules?tenant={}", r.tenant.0), "msg-rule-saved")),
        Err(ServiceError::BadInput(m)) => {
            form_page(page(&s, &ctx, "page-alert-rule-edit", None).await, f, Some(id), Some(m))
        }
        Err(e) => Err(e.into()),
    }
}
