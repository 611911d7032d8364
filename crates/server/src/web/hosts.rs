//! Hosts: the list with status and figures at a glance, adding a host, and
//! the host page with live charts (MON-1, MON-3, MON-4).

use super::{done, page, render, Page, WebResult};
use crate::app::AppState;
use crate::http::{Ctx, WebForm};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use leitstand_domain::host::HostStatus;
use leitstand_domain::{HostId, Permission as P, TenantId};
use leitstand_service::{EnrollToken, HostOverview, ServiceError};
use leitstand_store::{Host, Tenant, TenantKind};
use serde::Deserialize;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/app/hosts", P::HostsRead, Kind::Web, "Hosts.", hosts),
        route(M::POST, "/app/hosts/enroll-token", P::HostsManage, Kind::Web, "Add a host: enrollment command.", enroll),
        route(M::GET, "/app/hosts/{host}", P::HostsRead, Kind::Web, "One host with live charts.", host),
        route(M::POST, "/app/hosts/{host}/revoke", P::HostsManage, Kind::Web, "Revoke a host.", revoke),
    ]
}

fn status_class(s: HostStatus) -> &'static str {
    match s {
        HostStatus::Up => "on",
        HostStatus::Down => "off",
        HostStatus::Waiting => "warn",
        HostStatus::Revoked => "off",
    }
}

fn pct(v: &Option<f64>) -> String {
    v.map(|x| format!("{x:.0} %")).unwrap_or_else(|| "–".into())
}

#[derive(Template)]
#[template(path = "hosts.html")]
struct HostsTpl {
    p: Page,
    rows: Vec<HostOverview>,
    tenants: Vec<Tenant>,
    can_manage: bool,
    show_tenant: bool,
    total: usize,
    up: usize,
    down: usize,
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
}

#[derive(Deserialize, Default)]
struct Flash {
    ok: Option<String>,
}

async fn hosts(State(s): State<AppState>, ctx: Ctx, Query(f): Query<Flash>) -> WebResult {
    let a = ctx.actor()?;
    let rows = s.services.host_overviews(a, ctx.selected_tenant).await?;
    let tenants: Vec<Tenant> = s
        .services
        .tenants(a)
        .await?
        .into_iter()
        .filter(|t| t.kind == TenantKind::Customer || !a.user.role.is_staff())
        .collect();
    let p = page(&s, &ctx, "page-hosts", f.ok.as_deref()).await;
    Ok(render(&HostsTpl {
        total: rows.len(),
        up: rows.iter().filter(|r| r.status == HostStatus::Up).count(),
        down: rows.iter().filter(|r| r.status == HostStatus::Down).count(),
        show_tenant: a.user.role.is_staff(),
        can_manage: a.can(P::HostsManage),
        rows,
        tenants,
        p,
    }))
}

#[derive(Template)]
#[template(path = "enroll.html")]
struct EnrollTpl {
    p: Page,
    tenant: Tenant,
    token: EnrollToken,
    server: String,
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
    Ok(render(&EnrollTpl { p, tenant, token, server: s.services.config().base_url.clone() }))
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
        self.p.tk("label-event-", &kind.replace('.', "-"))
    }
}

async fn host(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(f): Query<Flash>) -> WebResult {
    let a = ctx.actor()?;
    let o = s.services.host_overview(a, HostId(id)).await?;
    let tenant = s.services.tenant(a, o.host.tenant).await?;
    let custom = s.services.metric_names(a, o.host.id).await?.into_iter().filter(|n| !is_standard(n)).collect();
    let events = s.services.host_events(a, o.host.id).await?;
    let p = page(&s, &ctx, "page-host", f.ok.as_deref()).await;
    Ok(render(&HostTpl { p, o, custom, events, tenant, can_manage: a.can(P::HostsManage) }))
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
