//! Hosts: the list with status and figures at a glance, adding a host, and
//! the host page with live charts (MON-1, MON-3, MON-4).

use super::{done, page, render, Page, WebResult};
use crate::api::hosts::host_query;
use crate::app::AppState;
use crate::http::{Ctx, WebForm};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use leitstand_domain::host::HostStatus;
use leitstand_domain::{HostId, Permission as P, TenantId};
use leitstand_service::{EnrollToken, HostList, HostOverview, ServiceError};
use leitstand_store::{Host, HostPolicy, HostQuery, HostSort, Tenant, TenantKind};
use serde::Deserialize;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/app/hosts", P::HostsRead, Kind::Web, "Hosts: filter, sort, pages; pending hosts.", hosts),
        route(M::POST, "/app/hosts/enroll-token", P::HostsManage, Kind::Web, "Add a host: enrollment command.", enroll),
        route(
            M::POST,
            "/app/hosts/policy",
            P::HostsManage,
            Kind::Web,
            "A tenant's interval and approval rule.",
            policy,
        ),
        route(M::GET, "/app/hosts/{host}", P::HostsRead, Kind::Web, "One host with live charts.", host),
        route(M::POST, "/app/hosts/{host}/revoke", P::HostsManage, Kind::Web, "Revoke a host.", revoke),
        route(M::POST, "/app/hosts/{host}/approve", P::HostsManage, Kind::Web, "Approve a pending host.", approve),
        route(M::POST, "/app/hosts/{host}/interval", P::HostsManage, Kind::Web, "A host's own interval.", interval),
    ]
}

fn status_class(s: HostStatus) -> &'static str {
    match s {
        HostStatus::Up => "on",
        HostStatus::Down | HostStatus::Revoked => "off",
        HostStatus::Waiting | HostStatus::Pending => "warn",
    }
}

fn pct(v: &Option<f64>) -> String {
    v.map(|x| format!("{x:.0} %")).unwrap_or_else(|| "–".into())
}

#[derive(Template)]
#[template(path = "hosts.html")]
struct HostsTpl {
    p: Page,
    list: HostList,
    pending: Vec<HostOverview>,
    tenants: Vec<Tenant>,
    can_manage: bool,
    show_tenant: bool,
    q: ListForm,
    /// The tenant whose monitoring settings the page shows, with them.
    policy: Option<(Tenant, HostPolicy)>,
}

impl HostsTpl {
    fn tenant_name(&self, id: &TenantId) -> String {
        self.tenants.iter().find(|t| t.id == *id).map(|t| t.name.clone()).unwrap_or_default()
    }

    fn status(&self, s: &HostStatus) -> String {
        self.p.tk("label-status-", s.as_str())
    }

    fn class(&self, s: &HostStatus) -> &'static str {
        status_class(*s)
    }

    fn pct(&self, v: &Option<f64>) -> String {
        pct(v)
    }

    fn seen(&self, h: &Host) -> String {
        h.last_seen.map(|t| self.p.time(&t)).unwrap_or_else(|| "–".into())
    }

    fn statuses(&self) -> [HostStatus; 5] {
        HostStatus::ALL
    }

    fn sorts(&self) -> [&'static str; 5] {
        HostSort::ALL.map(HostSort::as_str)
    }

    fn is_status(&self, s: &HostStatus) -> bool {
        self.q.status.as_deref() == Some(s.as_str())
    }

    fn is_sort(&self, s: &str) -> bool {
        self.q.sort.as_deref().unwrap_or("name") == s
    }

    /// The list's address with one parameter changed (page back to 0
    /// unless the page is what changes).
    fn link(&self, key: &str, value: &str) -> String {
        let mut parts: Vec<(&str, String)> = vec![];
        let q = &self.q;
        for (k, v) in [("q", &q.q), ("status", &q.status), ("sort", &q.sort)] {
            if k != key {
                if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                    parts.push((k, v.to_owned()));
                }
            }
        }
        if key == "page" {
            parts.push(("page", value.to_owned()));
        } else {
            parts.push((key, value.to_owned()));
        }
        let query: Vec<String> = parts.iter().map(|(k, v)| format!("{k}={}", crate::http::url_escape(v))).collect();
        format!("/app/hosts?{}", query.join("&"))
    }

    fn page_label(&self) -> String {
        format!("{} / {}", self.list.page + 1, self.list.pages())
    }

    fn has_prev(&self) -> bool {
        self.list.page > 0
    }

    fn has_next(&self) -> bool {
        self.list.page + 1 < self.list.pages()
    }

    fn prev(&self) -> String {
        self.link("page", &self.list.page.saturating_sub(1).to_string())
    }

    fn next(&self) -> String {
        self.link("page", &(self.list.page + 1).to_string())
    }
}

#[derive(Deserialize, Default)]
struct Flash {
    ok: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
struct ListForm {
    q: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    page: Option<u32>,
    ok: Option<String>,
}

async fn hosts(State(s): State<AppState>, ctx: Ctx, Query(f): Query<ListForm>) -> WebResult {
    let a = ctx.actor()?;
    let query = host_query(f.q.clone(), f.status.as_deref(), f.sort.as_deref(), f.page, Some(PER_PAGE))
        .map_err(|_| ServiceError::field("filter", "error-invalid"))?;
    let list = s.services.host_list(a, ctx.selected_tenant, query).await?;
    let pending = if list.counts.pending > 0 {
        let q = HostQuery { status: Some(HostStatus::Pending), per_page: 100, ..HostQuery::default() };
        s.services.host_list(a, ctx.selected_tenant, q).await?.rows
    } else {
        vec![]
    };
    let tenants: Vec<Tenant> = s
        .services
        .tenants(a)
        .await?
        .into_iter()
        .filter(|t| t.kind == TenantKind::Customer || !a.user.role.is_staff())
        .collect();
    // A customer sees their own tenant's settings; staff those of the
    // tenant picked in the switcher.
    let policy_tenant = ctx.selected_tenant.or_else(|| (!a.user.role.is_staff()).then_some(a.user.tenant));
    let policy = match policy_tenant.and_then(|id| tenants.iter().find(|t| t.id == id)) {
        Some(t) => Some((t.clone(), s.services.host_policy(a, t.id).await?)),
        None => None,
    };
    let p = page(&s, &ctx, "page-hosts", f.ok.as_deref()).await;
    Ok(render(&HostsTpl {
        show_tenant: a.user.role.is_staff(),
        can_manage: a.can(P::HostsManage),
        list,
        pending,
        tenants,
        q: f,
        policy,
        p,
    }))
}

/// Hosts per page of the list.
const PER_PAGE: u32 = 50;

#[derive(Deserialize)]
struct PolicyForm {
    tenant: String,
    interval_secs: String,
    #[serde(default)]
    require_approval: Option<String>,
}

async fn policy(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<PolicyForm>) -> WebResult {
    let a = ctx.actor()?;
    let tenant = f.tenant.parse().map(TenantId).map_err(|_| ServiceError::field("tenant", "error-invalid"))?;
    let interval_secs =
        f.interval_secs.trim().parse().map_err(|_| ServiceError::field("interval_secs", "error-interval"))?;
    let policy = HostPolicy { interval_secs, require_approval: f.require_approval.is_some() };
    s.services.set_host_policy(a, tenant, policy).await?;
    Ok(done("/app/hosts", "msg-host-settings-saved"))
}

#[derive(Template)]
#[template(path = "enroll.html")]
struct EnrollTpl {
    p: Page,
    tenant: Tenant,
    token: EnrollToken,
    server: String,
    command: String,
}

#[derive(Deserialize)]
struct EnrollForm {
    tenant: String,
}

async fn enroll(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<EnrollForm>) -> WebResult {
    let a = ctx.actor()?;
    let tenant = f.tenant.parse().map(TenantId).map_err(|_| ServiceError::field("tenant", "error-invalid"))?;
    let token = s.services.create_enroll_token(a, tenant).await?;
    let tenant = s.services.tenant(a, tenant).await?;
    let p = page(&s, &ctx, "page-enroll", None).await;
    let command = super::install::install_command(&s, &token.token);
    Ok(render(&EnrollTpl { p, tenant, token, server: s.services.config().base_url.clone(), command }))
}

#[derive(Template)]
#[template(path = "host.html")]
struct HostTpl {
    p: Page,
    o: HostOverview,
    /// Metrics beyond the standard ones (custom metrics), one chart each.
    custom: Vec<String>,
    events: Vec<leitstand_store::HostEvent>,
    tenant: Tenant,
    can_manage: bool,
    tab: &'static str,
    tab_host: i64,
    /// Inventory sections whose collector failed on the host.
    broken: Vec<leitstand_store::SectionStatus>,
    /// The hardening checklist's score, when one arrived.
    score: Option<u8>,
}

impl HostTpl {
    fn status(&self) -> String {
        self.p.tk("label-status-", self.o.status.as_str())
    }

    fn class(&self) -> &'static str {
        status_class(self.o.status)
    }

    fn pct(&self, v: &Option<f64>) -> String {
        pct(v)
    }

    fn event(&self, kind: &str) -> String {
        self.p.tk("label-event-", &kind.replace(['.', '_'], "-"))
    }
}

async fn host(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(f): Query<Flash>) -> WebResult {
    let a = ctx.actor()?;
    let o = s.services.host_overview(a, HostId(id)).await?;
    let tenant = s.services.tenant(a, o.host.tenant).await?;
    let custom = s.services.metric_names(a, o.host.id).await?.into_iter().filter(|n| !is_standard(n)).collect();
    let events = s.services.host_events(a, o.host.id).await?;
    let p = page(&s, &ctx, "page-host", f.ok.as_deref()).await;
    let tab_host = o.host.id.0;
    let broken =
        s.services.inventory_sections(a, o.host.id).await?.into_iter().filter(|st| st.error.is_some()).collect();
    let score = super::checklist::tally(&s.services.host_checklist(a, o.host.id).await?).4;
    let can_manage = a.can(P::HostsManage);
    Ok(render(&HostTpl { p, o, custom, events, tenant, can_manage, tab: "overview", tab_host, broken, score }))
}

/// Metrics the agent's standard collectors make.
fn is_standard(name: &str) -> bool {
    ["cpu_", "mem_", "swap_", "fs_", "disk_", "net_", "load"].iter().any(|p| name.starts_with(p))
        || matches!(name, "uptime_seconds" | "process_count")
}

async fn revoke(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    s.services.revoke_host(ctx.actor()?, HostId(id)).await?;
    Ok(done(&format!("/app/hosts/{id}"), "msg-host-revoked"))
}

async fn approve(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    s.services.approve_host(ctx.actor()?, HostId(id)).await?;
    Ok(done(&format!("/app/hosts/{id}"), "msg-host-approved"))
}

#[derive(Deserialize)]
struct IntervalForm {
    /// Empty: follow the tenant.
    #[serde(default)]
    interval_secs: String,
}

async fn interval(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<IntervalForm>,
) -> WebResult {
    let secs = match f.interval_secs.trim() {
        "" => None,
        v => Some(v.parse().map_err(|_| ServiceError::field("interval_secs", "error-interval"))?),
    };
    s.services.set_host_interval(ctx.actor()?, HostId(id), secs).await?;
    Ok(done(&format!("/app/hosts/{id}"), "msg-host-settings-saved"))
}
