//! Vulnerabilities in the console (VULN-1, VULN-2): findings across hosts
//! with filters and the findings file (CSV, JSON), each host's scan state
//! (release, end of support), one finding with its risk acceptance, the
//! tenant's alarm threshold, and for the provider the advisory feeds.

use super::{done, own_tenant, page, render, Page, WebResult};
use crate::app::AppState;
use crate::http::{Ctx, WebForm};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use leitstand_domain::{HostId, Permission as P, TenantId};
use leitstand_service::{finding_row, score_text, AcceptInput, FeedStatus, FINDING_COLUMNS};
use leitstand_store::{FindingQuery, VulnFinding, VulnHost};
use serde::Deserialize;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/app/vulnerabilities", P::HostsRead, Kind::Web, "Vulnerability findings and hosts.", list),
        route(M::GET, "/app/vulnerabilities/export.csv", P::HostsRead, Kind::Web, "Findings as CSV.", export_csv),
        route(M::GET, "/app/vulnerabilities/export.json", P::HostsRead, Kind::Web, "Findings as JSON.", export_json),
        route(M::GET, "/app/vulnerabilities/feeds", P::PolicyManage, Kind::Web, "Advisory feeds.", feeds),
        route(
            M::POST,
            "/app/vulnerabilities/threshold",
            P::HostsManage,
            Kind::Web,
            "A tenant's alarm threshold (CVSS).",
            threshold,
        ),
        route(M::GET, "/app/vulnerabilities/{finding}", P::HostsRead, Kind::Web, "One finding.", finding),
        route(
            M::POST,
            "/app/vulnerabilities/{finding}/accept",
            P::HostsManage,
            Kind::Web,
            "Accept a finding's risk until a day.",
            accept,
        ),
        route(
            M::POST,
            "/app/vulnerabilities/{finding}/withdraw",
            P::HostsManage,
            Kind::Web,
            "Withdraw a risk acceptance.",
            withdraw,
        ),
    ]
}

/// The list's filters, as query parameters.
#[derive(Deserialize, Default, Clone)]
pub struct FindingForm {
    pub host: Option<i64>,
    pub status: Option<String>,
    pub state: Option<String>,
    pub min_score: Option<String>,
    pub q: Option<String>,
    #[serde(default)]
    pub page: u32,
    pub ok: Option<String>,
    /// API only (the console uses the tenant picked in the switcher).
    pub tenant: Option<i64>,
    /// API export only: `csv` or `json`.
    pub format: Option<String>,
}

impl FindingForm {
    pub fn query(&self, tenant: Option<TenantId>) -> FindingQuery {
        let status = self.status.clone().unwrap_or_else(|| "open".into());
        FindingQuery {
            host: self.host.map(HostId),
            tenant,
            status: (status != "all").then_some(status),
            state: self.state.clone().filter(|s| !s.is_empty()),
            min_score_tenths: self.min_score.as_deref().and_then(leitstand_service::parse_score),
            text: self.q.clone().filter(|s| !s.trim().is_empty()),
            now: None,
            page: self.page,
            per_page: PER_PAGE,
        }
    }

    /// The filters as a query string (export links, paging).
    fn link(&self) -> String {
        let pairs = [
            ("host", self.host.map(|h| h.to_string())),
            ("status", self.status.clone()),
            ("state", self.state.clone()),
            ("min_score", self.min_score.clone()),
            ("q", self.q.clone()),
        ];
        serde_urlencoded::to_string(pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v))).collect::<Vec<_>>())
            .unwrap_or_default()
    }
}

const PER_PAGE: u32 = 100;

/// Severity names of CVSS as labels, worst first.
const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

/// Bars of the open-findings chart: severity, count, bar width in pixels.
pub struct Bar {
    pub severity: &'static str,
    pub count: u32,
    pub width: u32,
    pub y: u32,
}

#[derive(Template)]
#[template(path = "vulnerabilities.html")]
struct ListTpl {
    p: Page,
    f: FindingForm,
    hosts: Vec<VulnHost>,
    findings: Vec<VulnFinding>,
    total: u64,
    pages: u32,
    link: String,
    bars: Vec<Bar>,
    out_of_support: usize,
    threshold: Option<(TenantId, String)>,
    can_manage: bool,
    can_feeds: bool,
    states: Vec<(&'static str, String)>,
    statuses: Vec<(&'static str, String)>,
}

impl ListTpl {
    fn sev(&self, s: &str) -> String {
        severity_label(&self.p, s)
    }
    fn bar_label(&self, b: &Bar) -> String {
        severity_label(&self.p, b.severity)
    }
    fn state(&self, s: &str) -> String {
        self.p.tk("label-vuln-state-", &s.replace('_', "-"))
    }
    fn status(&self, s: &str) -> String {
        self.p.tk("label-vuln-status-", s)
    }
    fn score(&self, f: &VulnFinding) -> String {
        f.score_tenths.map(score_text).unwrap_or_else(|| "–".into())
    }
    /// The status filter in force (open when none is given).
    fn status_filter(&self) -> &str {
        self.f.status.as_deref().unwrap_or("open")
    }
}

/// A CVSS severity as a label; unscored findings say so.
pub fn severity_label(p: &Page, s: &str) -> String {
    if SEVERITIES.contains(&s) {
        p.tk("severity-", s)
    } else {
        p.t("label-vuln-unscored")
    }
}

async fn list(State(s): State<AppState>, ctx: Ctx, Query(f): Query<FindingForm>) -> WebResult {
    let a = ctx.actor()?;
    let tenant = ctx.selected_tenant;
    let page_of = s.services.vuln_findings(a, f.query(tenant)).await?;
    let mut hosts = s.services.vuln_hosts(a, tenant).await?;
    if let Some(h) = f.host {
        hosts.retain(|x| x.host.0 == h);
    }
    let counts = [
        hosts.iter().map(|h| h.critical).sum::<u32>(),
        hosts.iter().map(|h| h.high).sum(),
        hosts.iter().map(|h| h.medium).sum(),
        hosts.iter().map(|h| h.low).sum(),
        hosts.iter().map(|h| h.unscored).sum(),
    ];
    let most = counts.iter().copied().max().unwrap_or(0).max(1);
    let bars = SEVERITIES
        .iter()
        .chain(&["unknown"])
        .zip(counts)
        .enumerate()
        .map(|(i, (sev, n))| Bar { severity: sev, count: n, width: n * 400 / most, y: i as u32 * 28 })
        .collect();
    let threshold = match own_tenant(&ctx) {
        Some(t) => Some((t, score_text(s.services.vuln_min_score(a, t).await?))),
        None => None,
    };
    let p = page(&s, &ctx, "page-vulnerabilities", f.ok.as_deref()).await;
    let states = leitstand_vuln::State::ALL
        .iter()
        .map(|x| (x.name(), p.tk("label-vuln-state-", &x.name().replace('_', "-"))))
        .collect();
    let statuses = ["open", "accepted", "fixed", "all"].iter().map(|x| (*x, p.tk("label-vuln-status-", x))).collect();
    Ok(render(&ListTpl {
        out_of_support: hosts.iter().filter(|h| h.out_of_support).count(),
        total: page_of.total,
        pages: (page_of.total.div_ceil(u64::from(PER_PAGE))).max(1) as u32,
        findings: page_of.findings,
        link: f.link(),
        hosts,
        bars,
        threshold,
        can_manage: a.can(P::HostsManage),
        can_feeds: a.can(P::PolicyManage),
        states,
        statuses,
        p,
        f,
    }))
}

/// Every finding the filters select (in `tenant`, or the actor's scope),
/// as rows of the findings file; the web and the API export the same.
pub async fn export_rows(
    s: &AppState,
    actor: &leitstand_service::Actor,
    f: &FindingForm,
    tenant: Option<TenantId>,
) -> Result<Vec<Vec<String>>, leitstand_service::ServiceError> {
    let mut q = f.query(tenant);
    (q.page, q.per_page) = (0, u32::MAX);
    let names: std::collections::HashMap<TenantId, String> =
        s.services.tenants(actor).await?.into_iter().map(|t| (t.id, t.name)).collect();
    let found = s.services.vuln_findings(actor, q).await?;
    Ok(found.findings.iter().map(|x| finding_row(x, names.get(&x.tenant).map_or("", String::as_str))).collect())
}

async fn export_csv(State(s): State<AppState>, ctx: Ctx, Query(f): Query<FindingForm>) -> WebResult {
    let rows = export_rows(&s, ctx.actor()?, &f, ctx.selected_tenant).await?;
    let header: Vec<String> = FINDING_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    Ok(super::csv::response(&s, "vulnerabilities", &header, rows.into_iter()))
}

async fn export_json(State(s): State<AppState>, ctx: Ctx, Query(f): Query<FindingForm>) -> WebResult {
    let rows = export_rows(&s, ctx.actor()?, &f, ctx.selected_tenant).await?;
    Ok(super::csv::json_response(&s, "vulnerabilities", &FINDING_COLUMNS, &rows))
}

#[derive(Template)]
#[template(path = "vulnerability.html")]
struct FindingTpl {
    p: Page,
    f: VulnFinding,
    can_manage: bool,
    /// Default end of an acceptance: 90 days from today.
    until: String,
    tracker: String,
}

impl FindingTpl {
    fn sev(&self) -> String {
        severity_label(&self.p, &self.f.severity)
    }
    fn state(&self) -> String {
        self.p.tk("label-vuln-state-", &self.f.state.replace('_', "-"))
    }
    fn status(&self) -> String {
        self.p.tk("label-vuln-status-", &self.f.status)
    }
    fn score(&self) -> String {
        self.f.score_tenths.map(score_text).unwrap_or_else(|| "–".into())
    }
}

#[derive(Deserialize, Default)]
struct OkForm {
    ok: Option<String>,
}

async fn finding(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(q): Query<OkForm>) -> WebResult {
    let a = ctx.actor()?;
    let f = s.services.vuln_finding(a, id).await?;
    let today = s.services.now().to_zoned(ctx.tz.clone()).date();
    let until = today.checked_add(jiff::Span::new().days(90)).unwrap_or(today).to_string();
    // Debian's tracker knows every CVE; other ids link to OSV.
    let tracker = if f.cve.starts_with("CVE-") {
        format!("https://security-tracker.debian.org/tracker/{}", f.cve)
    } else {
        format!("https://osv.dev/vulnerability/{}", f.cve)
    };
    let p = page(&s, &ctx, "page-vulnerability", q.ok.as_deref()).await;
    Ok(render(&FindingTpl { p, f, can_manage: a.can(P::HostsManage), until, tracker }))
}

#[derive(Deserialize, Default)]
struct AcceptForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    until: String,
}

async fn accept(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<AcceptForm>,
) -> WebResult {
    let input = AcceptInput { reason: f.reason, until: f.until };
    s.services.accept_vuln_risk(ctx.actor()?, id, &input).await?;
    Ok(done(&format!("/app/vulnerabilities/{id}"), "msg-saved"))
}

async fn withdraw(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    s.services.withdraw_vuln_acceptance(ctx.actor()?, id).await?;
    Ok(done(&format!("/app/vulnerabilities/{id}"), "msg-saved"))
}

#[derive(Deserialize, Default)]
struct ThresholdForm {
    tenant: i64,
    #[serde(default)]
    min_score: String,
}

async fn threshold(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<ThresholdForm>) -> WebResult {
    s.services.set_vuln_min_score(ctx.actor()?, TenantId(f.tenant), &f.min_score).await?;
    Ok(done("/app/vulnerabilities", "msg-saved"))
}

#[derive(Template)]
#[template(path = "vulnerability_feeds.html")]
struct FeedsTpl {
    p: Page,
    feeds: Vec<FeedStatus>,
    loaded_at: Option<jiff::Timestamp>,
    entries: usize,
}

async fn feeds(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    let (feeds, at, entries) = s.services.feed_status(ctx.actor()?)?;
    let p = page(&s, &ctx, "page-vulnerability-feeds", None).await;
    let loaded_at = (at != jiff::Timestamp::UNIX_EPOCH).then_some(at);
    Ok(render(&FeedsTpl { p, feeds, loaded_at, entries }))
}
