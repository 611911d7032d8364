//! The SOC in the console (SOC-1 … SOC-4, SOC-8, SOC-11, SOC-13): SOC
//! alerts by criticality with the alert file (CSV, JSON) and the intake
//! counters; stored events; for provider security staff the rules (shipped
//! ones switched per tenant, custom Sigma rules checked with line and
//! cause), the syslog senders and the retention.

use super::rules::customer_tenants;
use super::{done, page, render, Page, WebResult};
use crate::app::AppState;
use crate::http::{Ctx, WebForm};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use leitstand_detect::rules::RuleProblem;
use leitstand_domain::alert::Severity;
use leitstand_domain::{Permission as P, TenantId};
use leitstand_service::{ServiceError, SocRuleView, SourceInput, EXPORT_COLUMNS};
use leitstand_store::{Alert, SocEvent, SyslogSource};
use serde::Deserialize;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/app/soc", P::SocRead, Kind::Web, "SOC alerts by criticality, intake counters.", overview),
        route(M::GET, "/app/soc/events", P::SocRead, Kind::Web, "Stored security events, newest first.", events),
        route(M::GET, "/app/soc/export.csv", P::SocRead, Kind::Web, "The SOC alert file as CSV.", export_csv),
        route(M::GET, "/app/soc/export.json", P::SocRead, Kind::Web, "The SOC alert file as JSON.", export_json),
        route(M::GET, "/app/soc/rules", P::SocManage, Kind::Web, "A tenant's Sigma rules.", rules),
        route(M::POST, "/app/soc/rules", P::SocManage, Kind::Web, "Check or save a custom Sigma rule.", save_rule),
        route(M::POST, "/app/soc/rules/{rule}", P::SocManage, Kind::Web, "Switch a Sigma rule on or off.", set_rule),
        route(M::GET, "/app/soc/sources", P::SocManage, Kind::Web, "Syslog senders of a tenant.", sources),
        route(M::POST, "/app/soc/sources", P::SocManage, Kind::Web, "Register a syslog sender.", create_source),
        route(M::POST, "/app/soc/sources/{source}", P::SocManage, Kind::Web, "Change a syslog sender.", update_source),
        route(
            M::POST,
            "/app/soc/retention",
            P::SocManage,
            Kind::Web,
            "How long a tenant's events are kept.",
            retention,
        ),
    ]
}

#[derive(Deserialize, Default)]
struct ListForm {
    state: Option<String>,
    before: Option<i64>,
    ok: Option<String>,
}

pub struct SocRow {
    pub alert: Alert,
    pub title: String,
    pub group: String,
}

#[derive(Template)]
#[template(path = "soc.html")]
struct OverviewTpl {
    p: Page,
    rows: Vec<SocRow>,
    state: String,
    states: Vec<(&'static str, String)>,
    severities: Vec<(&'static str, String, String)>,
    /// Intake of the last 7 days: counter name and total.
    counters: Vec<(String, u64)>,
    can_manage: bool,
}

async fn overview(State(s): State<AppState>, ctx: Ctx, Query(f): Query<ListForm>) -> WebResult {
    let a = ctx.actor()?;
    let state = f.state.unwrap_or_else(|| "open,acknowledged,muted".into());
    let states = crate::api::alerts::parse_states(Some(&state))?;
    let alerts = s.services.soc_alerts(a, ctx.selected_tenant, states, 500).await?;
    let p = page(&s, &ctx, "page-soc", f.ok.as_deref()).await;
    let rows = alerts
        .into_iter()
        .map(|x| SocRow {
            title: super::alerts::alert_title(&p, &x),
            group: x.soc_group.clone().unwrap_or_default(),
            alert: x,
        })
        .collect();
    let mut totals: std::collections::BTreeMap<String, u64> = Default::default();
    if let Some(t) = ctx.selected_tenant.or((!a.user.role.is_staff()).then_some(a.user.tenant)) {
        for (_, kind, n) in s.services.soc_counters(a, t, 7).await? {
            *totals.entry(kind).or_default() += n;
        }
    }
    let counters = totals.into_iter().map(|(k, n)| (p.tk("soc-counter-", &k.replace('_', "-")), n)).collect();
    let states = [
        ("open,acknowledged,muted", "label-alerts-active"),
        ("open", "alert-state-open"),
        ("acknowledged", "alert-state-acknowledged"),
        ("resolved", "alert-state-resolved"),
    ]
    .iter()
    .map(|(v, k)| (*v, p.t(k)))
    .collect();
    let severities = Severity::ALL
        .iter()
        .rev()
        .map(|x| (x.as_str(), p.tk("severity-", x.as_str()), p.tk("severity-meaning-", x.as_str())))
        .collect();
    Ok(render(&OverviewTpl { p, rows, state, states, severities, counters, can_manage: a.can(P::SocManage) }))
}

#[derive(Template)]
#[template(path = "soc_events.html")]
struct EventsTpl {
    p: Page,
    events: Vec<SocEvent>,
    older: Option<i64>,
}

/// Events per page.
const EVENT_PAGE: u32 = 100;

async fn events(State(s): State<AppState>, ctx: Ctx, Query(f): Query<ListForm>) -> WebResult {
    let a = ctx.actor()?;
    let events = s.services.soc_events(a, ctx.selected_tenant, f.before, EVENT_PAGE).await?;
    let older = (events.len() == EVENT_PAGE as usize).then(|| events.last().map(|e| e.id)).flatten();
    let p = page(&s, &ctx, "page-soc-events", None).await;
    Ok(render(&EventsTpl { p, events, older }))
}

async fn export_csv(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    let rows = s.services.soc_export(ctx.actor()?, ctx.selected_tenant, &ctx.tz).await?;
    let header: Vec<String> = EXPORT_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    Ok(super::csv::response(&s, "soc_alerts", &header, rows.into_iter()))
}

async fn export_json(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    let rows = s.services.soc_export(ctx.actor()?, ctx.selected_tenant, &ctx.tz).await?;
    Ok(super::csv::json_response(&s, "soc_alerts", &EXPORT_COLUMNS, &rows))
}

#[derive(Template)]
#[template(path = "soc_rules.html")]
struct RulesTpl {
    p: Page,
    tenants: Vec<(TenantId, String)>,
    tenant: Option<TenantId>,
    rules: Vec<SocRuleView>,
    problems: Vec<RuleProblem>,
    retention_days: u32,
    /// The custom rule as typed, and what the check found.
    yaml: String,
    checked: Vec<RuleProblem>,
    checked_ok: Option<String>,
}

impl RulesTpl {
    /// A rule problem in the reader's language: where, then the cause.
    fn problem(&self, pr: &RuleProblem) -> String {
        let origin = if pr.origin == "rule" { String::new() } else { format!("{} · ", pr.origin) };
        match pr.line {
            Some(l) => format!("{origin}{} {l}: {}", self.p.t("label-line"), pr.cause),
            None => format!("{origin}{}", pr.cause),
        }
    }

    fn title(&self, r: &SocRuleView) -> String {
        crate::i18n::sigma_title(self.p.lang, &r.summary.id).unwrap_or_else(|| r.summary.title.clone())
    }

    fn is_tenant(&self, t: &TenantId) -> bool {
        self.tenant == Some(*t)
    }
}

async fn rules_page(
    s: &AppState,
    ctx: &Ctx,
    asked: Option<i64>,
    flash: Option<&str>,
    yaml: String,
    checked: Result<Option<String>, Vec<RuleProblem>>,
) -> WebResult {
    let a = ctx.actor()?;
    let (tenants, tenant) = customer_tenants(s, ctx, asked).await?;
    let p = page(s, ctx, "page-soc-rules", flash).await;
    let (rules, problems, retention_days) = match tenant {
        Some(t) => {
            let r = s.services.soc_rules(a, t).await?;
            (r.rules, r.problems, r.retention_days)
        }
        None => (vec![], s.services.soc_rule_set().problems().to_vec(), 0),
    };
    let (checked_ok, checked) = match checked {
        Ok(ok) => (ok, vec![]),
        Err(problems) => (None, problems),
    };
    Ok(render(&RulesTpl { p, tenants, tenant, rules, problems, retention_days, yaml, checked, checked_ok }))
}

#[derive(Deserialize, Default)]
struct TenantQuery {
    tenant: Option<i64>,
    ok: Option<String>,
}

async fn rules(State(s): State<AppState>, ctx: Ctx, Query(f): Query<TenantQuery>) -> WebResult {
    rules_page(&s, &ctx, f.tenant, f.ok.as_deref(), String::new(), Ok(None)).await
}

#[derive(Deserialize)]
struct RuleForm {
    tenant: i64,
    #[serde(default)]
    yaml: String,
    #[serde(default)]
    action: String,
}

async fn save_rule(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<RuleForm>) -> WebResult {
    let a = ctx.actor()?;
    a.require(P::SocManage)?;
    a.require_tenant(TenantId(f.tenant))?;
    let checked = s.services.check_soc_rule(&f.yaml);
    match (checked, f.action.as_str()) {
        (Ok(_), "save") => {
            s.services.save_soc_rule(a, TenantId(f.tenant), &f.yaml).await?;
            Ok(done(&format!("/app/soc/rules?tenant={}", f.tenant), "msg-soc-rule-saved"))
        }
        (Ok(summaries), _) => {
            let title = summaries.first().map(|r| r.title.clone());
            rules_page(&s, &ctx, Some(f.tenant), None, f.yaml, Ok(title)).await
        }
        (Err(problems), _) => rules_page(&s, &ctx, Some(f.tenant), None, f.yaml, Err(problems)).await,
    }
}

#[derive(Deserialize)]
struct SwitchForm {
    tenant: i64,
    #[serde(default)]
    enabled: Option<String>,
}

async fn set_rule(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(rule): Path<String>,
    WebForm(f): WebForm<SwitchForm>,
) -> WebResult {
    s.services.set_soc_rule(ctx.actor()?, TenantId(f.tenant), &rule, f.enabled.is_some()).await?;
    Ok(done(&format!("/app/soc/rules?tenant={}", f.tenant), "msg-rule-saved"))
}

#[derive(Deserialize)]
struct RetentionForm {
    tenant: i64,
    days: String,
}

async fn retention(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<RetentionForm>) -> WebResult {
    let days =
        f.days.trim().parse::<u32>().map_err(|_| {
            ServiceError::Invalid(vec![leitstand_domain::FieldError::new("days", "error-retention-days")])
        })?;
    s.services.set_soc_retention(ctx.actor()?, TenantId(f.tenant), days).await?;
    Ok(done(&format!("/app/soc/rules?tenant={}", f.tenant), "msg-saved"))
}

#[derive(Template)]
#[template(path = "soc_sources.html")]
struct SourcesTpl {
    p: Page,
    tenants: Vec<(TenantId, String)>,
    tenant: Option<TenantId>,
    sources: Vec<SyslogSource>,
    /// A token made just now, shown once.
    token: Option<(String, String)>,
    receiver: String,
    /// With a new token and a TLS receiver: rsyslog's configuration for a
    /// Linux server, with the token in it.
    rsyslog: Option<String>,
    /// Where the private CA's certificate is served (built-in CA only).
    ca_url: Option<String>,
}

impl SourcesTpl {
    fn is_tenant(&self, t: &TenantId) -> bool {
        self.tenant == Some(*t)
    }
}

async fn sources_page(
    s: &AppState,
    ctx: &Ctx,
    asked: Option<i64>,
    flash: Option<&str>,
    token: Option<(String, String)>,
) -> WebResult {
    let a = ctx.actor()?;
    let (tenants, tenant) = customer_tenants(s, ctx, asked).await?;
    let sources = match tenant {
        Some(t) => s.services.syslog_sources(a, Some(t)).await?,
        None => vec![],
    };
    let c = &s.config.syslog;
    let receiver = [("UDP", c.udp), ("TCP", c.tcp), ("TLS", c.tls)]
        .iter()
        .filter_map(|(k, v)| v.map(|a| format!("{k} {a}")))
        .collect::<Vec<_>>()
        .join(" · ");
    let internal_ca = s.config.tls == "internal";
    let rsyslog = match (&token, c.tls) {
        (Some((_, t)), Some(at)) => Some(rsyslog_config(&s.config.base_url(), at.port(), t, internal_ca)),
        _ => None,
    };
    let ca_url = internal_ca.then(|| format!("{}/downloads/ca.pem", s.config.base_url()));
    let p = page(s, ctx, "page-soc-sources", flash).await;
    Ok(render(&SourcesTpl { p, tenants, tenant, sources, token, receiver, rsyslog, ca_url }))
}

/// rsyslog's forwarding of authentication and kernel warnings to our TLS
/// receiver (package `rsyslog-gnutls`), checking the server's name and
/// certificate: the system's CA bundle, or the built-in CA's file.
fn rsyslog_config(base_url: &str, port: u16, token: &str, internal_ca: bool) -> String {
    let host = crate::tls::host_of(base_url).unwrap_or_else(|| base_url.to_owned());
    let ca = if internal_ca { "/etc/rsyslog.d/leitstand-ca.pem" } else { "/etc/ssl/certs/ca-certificates.crt" };
    format!(
        "global(defaultNetstreamDriverCAFile=\"{ca}\")\n\
         template(name=\"leitstand\" type=\"string\"\n  \
         string=\"<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% %MSGID% \
         [leitstand token=\\\"{token}\\\"] %msg%\\n\")\n\
         auth,authpriv.*;kern.warning action(type=\"omfwd\" target=\"{host}\" port=\"{port}\" protocol=\"tcp\"\n  \
         TCP_Framing=\"octet-counted\" StreamDriver=\"gtls\" StreamDriverMode=\"1\"\n  \
         StreamDriverAuthMode=\"x509/name\" StreamDriverPermittedPeers=\"{host}\" template=\"leitstand\")\n"
    )
}

async fn sources(State(s): State<AppState>, ctx: Ctx, Query(f): Query<TenantQuery>) -> WebResult {
    sources_page(&s, &ctx, f.tenant, f.ok.as_deref(), None).await
}

#[derive(Deserialize, Default)]
struct SourceForm {
    tenant: i64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    new_token: Option<String>,
}

impl SourceForm {
    fn input(&self) -> SourceInput {
        SourceInput {
            name: self.name.clone(),
            address: self.address.clone(),
            hostname: self.hostname.clone(),
            enabled: self.enabled.is_some(),
            new_token: self.new_token.is_some(),
        }
    }
}

async fn save_source(s: &AppState, ctx: &Ctx, id: Option<i64>, f: &SourceForm) -> WebResult {
    let (saved, token) = s.services.save_syslog_source(ctx.actor()?, TenantId(f.tenant), id, &f.input()).await?;
    match token {
        Some(t) => sources_page(s, ctx, Some(f.tenant), Some("msg-saved"), Some((saved.name, t))).await,
        None => Ok(done(&format!("/app/soc/sources?tenant={}", f.tenant), "msg-saved")),
    }
}

async fn create_source(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<SourceForm>) -> WebResult {
    save_source(&s, &ctx, None, &f).await
}

async fn update_source(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<SourceForm>,
) -> WebResult {
    save_source(&s, &ctx, Some(id), &f).await
}

#[cfg(test)]
mod tests {
    use super::rsyslog_config;

    #[test]
    fn the_rsyslog_configuration_names_host_port_token_and_ca() {
        let conf = rsyslog_config("https://leitstand.example.de:8443/", 6514, "lss_abc", false);
        assert!(conf.contains(r#"target="leitstand.example.de" port="6514""#), "{conf}");
        assert!(conf.contains(r#"StreamDriverPermittedPeers="leitstand.example.de""#), "{conf}");
        assert!(conf.contains(r#"[leitstand token=\"lss_abc\"] %msg%\n""#), "{conf}");
        assert!(conf.contains("/etc/ssl/certs/ca-certificates.crt"));
        let conf = rsyslog_config("https://[2001:db8::1]", 6514, "lss_abc", true);
        assert!(conf.contains(r#"target="2001:db8::1""#) && conf.contains("leitstand-ca.pem"), "{conf}");
        // rsyslog itself accepts it, where it is installed (scripts/test.sh installs it).
        let rsyslogd = std::path::Path::new("/usr/sbin/rsyslogd");
        if rsyslogd.exists() {
            let dir = tempfile::tempdir().expect("dir");
            let file = dir.path().join("leitstand.conf");
            std::fs::write(&file, rsyslog_config("https://leitstand.example.de", 6514, "lss_abc", false))
                .expect("write");
            let out = std::process::Command::new(rsyslogd).arg("-N1").arg("-f").arg(&file).output().expect("rsyslogd");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
