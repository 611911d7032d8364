//! Patch jobs in the console (PATCH-2, PATCH-3): the jobs with their
//! progress, the tenant's maintenance window, planning a job from the
//! pending updates, one job with each host's outcome, and the customer's
//! order or cancelling.

use super::{done, own_tenant, page, render, Page, WebResult};
use crate::app::AppState;
use crate::http::{Ctx, WebForm};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use leitstand_domain::patch::{HostState, JobState};
use leitstand_domain::{HostId, Permission as P, TenantId};
use leitstand_service::{JobInput, PatchCandidates};
use leitstand_store::{PatchJob, PatchJobHost};
use serde::Deserialize;
use std::collections::HashMap;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/app/patches", P::HostsRead, Kind::Web, "Patch jobs and the maintenance window.", list),
        route(M::POST, "/app/patches", P::HostsManage, Kind::Web, "Plan a patch job.", create),
        route(M::GET, "/app/patches/new", P::HostsManage, Kind::Web, "Pick updates and hosts for a job.", new_job),
        route(
            M::POST,
            "/app/patches/window",
            P::TenantsManage,
            Kind::Web,
            "Set a tenant's maintenance window.",
            window,
        ),
        route(M::GET, "/app/patches/{job}", P::HostsRead, Kind::Web, "One patch job.", job),
        route(M::POST, "/app/patches/{job}/order", P::PatchOrder, Kind::Web, "The customer's order.", order),
        route(M::POST, "/app/patches/{job}/cancel", P::SignedIn, Kind::Web, "Cancel a patch job.", cancel),
    ]
}

/// A job's progress as bar widths (of 200 pixels): succeeded, failed.
fn progress(j: &PatchJob) -> (u32, u32) {
    let n = j.hosts.max(1);
    (j.succeeded * 200 / n, j.failed * 200 / n)
}

fn job_state(p: &Page, s: JobState) -> String {
    p.tk("label-patch-job-", &s.as_str().replace('_', "-"))
}

fn host_state(p: &Page, s: HostState) -> String {
    p.tk("label-patch-host-", &s.as_str().replace('_', "-"))
}

/// The badge class of a job's state.
fn job_badge(state: JobState) -> &'static str {
    match state {
        JobState::Completed => "on",
        JobState::Stopped => "off",
        JobState::Ordered | JobState::Running => "warn",
        JobState::AwaitingOrder | JobState::Cancelled => "na",
    }
}

/// The badge class of a host's state: failures as the planner counts them.
fn host_badge(state: HostState) -> &'static str {
    match state {
        HostState::Succeeded => "on",
        s if s.is_failure() => "off",
        HostState::Sent => "warn",
        _ => "na",
    }
}

#[derive(Template)]
#[template(path = "patches.html")]
struct ListTpl {
    p: Page,
    jobs: Vec<PatchJob>,
    tenant: Option<TenantId>,
    window: String,
    can_plan: bool,
    can_window: bool,
}

impl ListTpl {
    fn state(&self, j: &PatchJob) -> String {
        job_state(&self.p, j.state)
    }
    fn badge(&self, j: &PatchJob) -> &'static str {
        job_badge(j.state)
    }
    fn bars(&self, j: &PatchJob) -> (u32, u32) {
        progress(j)
    }
}

#[derive(Deserialize, Default)]
struct OkForm {
    ok: Option<String>,
}

async fn list(State(s): State<AppState>, ctx: Ctx, Query(q): Query<OkForm>) -> WebResult {
    let a = ctx.actor()?;
    let tenant = own_tenant(&ctx);
    let jobs = s.services.patch_jobs(a, ctx.selected_tenant).await?;
    let window = match tenant {
        Some(t) => s.services.patch_window(a, t, ctx.lang).await?,
        None => String::new(),
    };
    let p = page(&s, &ctx, "page-patches", q.ok.as_deref()).await;
    Ok(render(&ListTpl {
        p,
        jobs,
        tenant,
        window,
        can_plan: a.can(P::HostsManage),
        can_window: a.can(P::TenantsManage),
    }))
}

#[derive(Deserialize, Default)]
struct WindowForm {
    tenant: i64,
    #[serde(default)]
    window: String,
}

async fn window(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<WindowForm>) -> WebResult {
    s.services.set_patch_window(ctx.actor()?, TenantId(f.tenant), &f.window).await?;
    Ok(done("/app/patches", "msg-saved"))
}

#[derive(Template)]
#[template(path = "patch_new.html")]
struct NewTpl {
    p: Page,
    tenant: Option<TenantId>,
    c: PatchCandidates,
    window: String,
}

impl NewTpl {
    fn security(&self, h: &leitstand_service::HostUpdates) -> usize {
        h.updates.iter().filter(|u| u.security).count()
    }
    fn any_unsupported(&self) -> bool {
        self.c.hosts.iter().any(|h| h.out_of_support)
    }
}

async fn new_job(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    let a = ctx.actor()?;
    let tenant = own_tenant(&ctx);
    let (c, window) = match tenant {
        Some(t) => (s.services.patch_candidates(a, t).await?, s.services.patch_window(a, t, ctx.lang).await?),
        None => (PatchCandidates::default(), String::new()),
    };
    let p = page(&s, &ctx, "page-patch-new", None).await;
    Ok(render(&NewTpl { p, tenant, c, window }))
}

/// The job form: `host_<id>` and `pkg_<name>` checkboxes.
#[derive(Deserialize, Default)]
struct JobForm {
    tenant: i64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    pilot: String,
    #[serde(default)]
    appointment: String,
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

async fn create(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<JobForm>) -> WebResult {
    let mut hosts: Vec<HostId> =
        f.rest.keys().filter_map(|k| k.strip_prefix("host_")?.parse().ok()).map(HostId).collect();
    hosts.sort();
    let mut packages: Vec<String> = f.rest.keys().filter_map(|k| k.strip_prefix("pkg_")).map(str::to_owned).collect();
    packages.sort();
    let input = JobInput {
        tenant: TenantId(f.tenant),
        title: f.title,
        hosts,
        packages,
        pilot: f.pilot.parse().ok().map(HostId),
        appointment: f.appointment,
    };
    let job = s.services.create_patch_job(ctx.actor()?, &input).await?;
    Ok(done(&format!("/app/patches/{}", job.id), "msg-patch-planned"))
}

#[derive(Template)]
#[template(path = "patch_job.html")]
struct JobTpl {
    p: Page,
    j: PatchJob,
    hosts: Vec<PatchJobHost>,
    window: String,
    can_order: bool,
    can_cancel: bool,
}

impl JobTpl {
    fn state(&self) -> String {
        job_state(&self.p, self.j.state)
    }
    fn badge(&self) -> &'static str {
        job_badge(self.j.state)
    }
    fn bars(&self) -> (u32, u32) {
        progress(&self.j)
    }
    fn host_state(&self, h: &PatchJobHost) -> String {
        host_state(&self.p, h.state)
    }
    fn host_badge(&self, h: &PatchJobHost) -> &'static str {
        host_badge(h.state)
    }
    /// "name before → after" per package the agent reported.
    fn changes(&self, h: &PatchJobHost) -> Vec<String> {
        let list: Vec<leitstand_proto::actions::PackageChange> = serde_json::from_str(&h.changes).unwrap_or_default();
        list.iter()
            .map(|c| {
                format!("{} {} → {}", c.name, c.before.as_deref().unwrap_or("–"), c.after.as_deref().unwrap_or("–"))
            })
            .collect()
    }
}

async fn job(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, Query(q): Query<OkForm>) -> WebResult {
    let a = ctx.actor()?;
    let (j, hosts) = s.services.patch_job(a, id).await?;
    let window = s.services.patch_window(a, j.tenant, ctx.lang).await?;
    let can_order = a.can(P::PatchOrder) && a.user.tenant == j.tenant && j.state == JobState::AwaitingOrder;
    let can_cancel = (a.can(P::HostsManage) || a.can(P::PatchOrder)) && !j.state.is_final();
    let p = page(&s, &ctx, "page-patch-job", q.ok.as_deref()).await;
    Ok(render(&JobTpl { p, j, hosts, window, can_order, can_cancel }))
}

#[derive(Deserialize, Default)]
struct OrderForm {
    #[serde(default)]
    appointment: String,
}

async fn order(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>, WebForm(f): WebForm<OrderForm>) -> WebResult {
    s.services.order_patch_job(ctx.actor()?, id, &f.appointment).await?;
    Ok(done(&format!("/app/patches/{id}"), "msg-patch-ordered"))
}

async fn cancel(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    s.services.cancel_patch_job(ctx.actor()?, id).await?;
    Ok(done(&format!("/app/patches/{id}"), "msg-saved"))
}
