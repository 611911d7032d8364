//! Patch jobs in the API (PATCH-2, PATCH-3): the tenant's maintenance
//! window, what could be patched, jobs with their hosts, the customer's
//! order and cancelling.

use super::ApiResult;
use crate::app::AppState;
use crate::http::{ApiJson, Ctx};
use crate::routes::{route, Kind, RouteDef};
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::Json;
use leitstand_domain::patch::{HostState, JobState};
use leitstand_domain::{HostId, Lang, Permission as P, TenantId};
use leitstand_service::{JobInput, PatchCandidates};
use leitstand_store::{PatchJob, PatchJobHost};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/api/v1/patch-jobs", P::HostsRead, Kind::Api, "Patch jobs, newest first: `?tenant=`.", list)
            .gives::<Vec<JobDto>>(),
        route(
            M::POST,
            "/api/v1/patch-jobs",
            P::HostsManage,
            Kind::Api,
            "Plan a job: packages for hosts of one tenant; the pilot host goes first. It runs once the customer \
             orders it, inside the tenant's maintenance window or at the appointment.",
            create,
        )
        .takes::<NewJobDto>()
        .gives::<JobDetailDto>(),
        route(M::GET, "/api/v1/patch-jobs/{job}", P::HostsRead, Kind::Api, "One job with its hosts.", job)
            .gives::<JobDetailDto>(),
        route(
            M::POST,
            "/api/v1/patch-jobs/{job}/order",
            P::PatchOrder,
            Kind::Api,
            "The customer's order (its administrators only), optionally for an appointment \
             (`YYYY-MM-DDTHH:MM`, the tenant's time).",
            order,
        )
        .takes::<OrderDto>()
        .gives::<JobDetailDto>(),
        route(
            M::POST,
            "/api/v1/patch-jobs/{job}/cancel",
            P::SignedIn,
            Kind::Api,
            "Cancel a job that has not ended (planners, or the customer's administrators).",
            cancel,
        )
        .gives::<JobDetailDto>(),
        route(
            M::GET,
            "/api/v1/tenants/{tenant}/patch-candidates",
            P::HostsRead,
            Kind::Api,
            "The tenant's hosts with pending updates, and the packages pending across them.",
            candidates,
        )
        .gives::<CandidatesDto>(),
        route(
            M::GET,
            "/api/v1/tenants/{tenant}/maintenance-window",
            P::HostsRead,
            Kind::Api,
            "The tenant's weekly maintenance window, e.g. `Tue 22:00-02:00` (empty: none).",
            window,
        )
        .gives::<WindowDto>(),
        route(
            M::PUT,
            "/api/v1/tenants/{tenant}/maintenance-window",
            P::TenantsManage,
            Kind::Api,
            "Set the tenant's weekly maintenance window: slots like `Tue 22:00-02:00` or `Mo-Fr 06:00-07:00` \
             (German or English days), separated by commas.",
            set_window,
        )
        .takes::<WindowDto>()
        .gives::<WindowDto>(),
    ]
}

/// A patch job.
#[derive(Serialize, JsonSchema)]
pub struct JobDto {
    pub id: i64,
    pub tenant: TenantId,
    pub tenant_name: String,
    pub title: String,
    pub packages: Vec<String>,
    pub state: JobState,
    pub created_by: String,
    pub created_at: String,
    /// When set, the job runs at this time (for four hours) instead of in
    /// the window.
    pub appointment: Option<String>,
    pub ordered_by: Option<String>,
    pub ordered_at: Option<String>,
    /// The address the order came from.
    pub ordered_from: Option<String>,
    pub finished_at: Option<String>,
    pub hosts: u32,
    pub succeeded: u32,
    pub failed: u32,
}

impl From<PatchJob> for JobDto {
    fn from(j: PatchJob) -> Self {
        JobDto {
            id: j.id,
            tenant: j.tenant,
            tenant_name: j.tenant_name,
            title: j.title,
            packages: j.packages,
            state: j.state,
            created_by: j.created_by,
            created_at: j.created_at.to_string(),
            appointment: j.appointment.map(|t| t.to_string()),
            ordered_by: j.ordered_by,
            ordered_at: j.ordered_at.map(|t| t.to_string()),
            ordered_from: j.ordered_from,
            finished_at: j.finished_at.map(|t| t.to_string()),
            hosts: j.hosts,
            succeeded: j.succeeded,
            failed: j.failed,
        }
    }
}

/// One host's part in a job.
#[derive(Serialize, JsonSchema)]
pub struct JobHostDto {
    /// The signed action's id.
    pub action: i64,
    pub host: i64,
    pub host_name: String,
    /// 1: the pilot; 2: the rest.
    pub ring: u8,
    pub packages: Vec<String>,
    pub state: HostState,
    pub sent_at: Option<String>,
    pub not_after: Option<String>,
    pub finished_at: Option<String>,
    /// The agent's account: commands, their last lines, the rollback.
    pub detail: String,
    /// Versions before and after: `[{"name", "before", "after"}]`.
    pub changes: serde_json::Value,
}

impl From<PatchJobHost> for JobHostDto {
    fn from(h: PatchJobHost) -> Self {
        JobHostDto {
            action: h.id,
            host: h.host.0,
            host_name: h.host_name,
            ring: h.ring,
            packages: h.packages,
            state: h.state,
            sent_at: h.sent_at.map(|t| t.to_string()),
            not_after: h.not_after.map(|t| t.to_string()),
            finished_at: h.finished_at.map(|t| t.to_string()),
            detail: h.detail,
            changes: serde_json::from_str(&h.changes).unwrap_or_default(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct JobDetailDto {
    pub job: JobDto,
    pub hosts: Vec<JobHostDto>,
}

fn detail((job, hosts): (PatchJob, Vec<PatchJobHost>)) -> JobDetailDto {
    JobDetailDto { job: job.into(), hosts: hosts.into_iter().map(Into::into).collect() }
}

/// A job to plan.
#[derive(Deserialize, JsonSchema)]
pub struct NewJobDto {
    pub tenant: TenantId,
    /// Empty: named after its packages.
    #[serde(default)]
    pub title: String,
    pub hosts: Vec<i64>,
    /// Package names; each host gets those pending on it.
    pub packages: Vec<String>,
    /// The host that goes first; default: the first by name.
    #[serde(default)]
    pub pilot: Option<i64>,
    /// `YYYY-MM-DDTHH:MM` in the tenant's time; empty: the window.
    #[serde(default)]
    pub appointment: String,
}

#[derive(Deserialize, JsonSchema, Default)]
pub struct OrderDto {
    /// `YYYY-MM-DDTHH:MM` in the tenant's time; empty: the window (or the
    /// appointment the job was planned with).
    #[serde(default)]
    pub appointment: String,
}

#[derive(Deserialize, Default)]
pub struct TenantQuery {
    tenant: Option<i64>,
}

async fn list(State(s): State<AppState>, ctx: Ctx, Query(q): Query<TenantQuery>) -> ApiResult<Vec<JobDto>> {
    let jobs = s.services.patch_jobs(ctx.actor()?, q.tenant.map(TenantId)).await?;
    Ok(Json(jobs.into_iter().map(Into::into).collect()))
}

async fn create(State(s): State<AppState>, ctx: Ctx, ApiJson(d): ApiJson<NewJobDto>) -> ApiResult<JobDetailDto> {
    let a = ctx.actor()?;
    let input = JobInput {
        tenant: d.tenant,
        title: d.title,
        hosts: d.hosts.into_iter().map(HostId).collect(),
        packages: d.packages,
        pilot: d.pilot.map(HostId),
        appointment: d.appointment,
    };
    let created = s.services.create_patch_job(a, &input).await?;
    Ok(Json(detail(s.services.patch_job(a, created.id).await?)))
}

async fn job(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<JobDetailDto> {
    Ok(Json(detail(s.services.patch_job(ctx.actor()?, id).await?)))
}

async fn order(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(d): ApiJson<OrderDto>,
) -> ApiResult<JobDetailDto> {
    let a = ctx.actor()?;
    s.services.order_patch_job(a, id, &d.appointment).await?;
    Ok(Json(detail(s.services.patch_job(a, id).await?)))
}

async fn cancel(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<JobDetailDto> {
    let a = ctx.actor()?;
    s.services.cancel_patch_job(a, id).await?;
    Ok(Json(detail(s.services.patch_job(a, id).await?)))
}

/// A pending update on one host.
#[derive(Serialize, JsonSchema)]
pub struct PendingUpdateDto {
    pub name: String,
    pub arch: String,
    pub installed: String,
    pub candidate: String,
    pub security: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct CandidateHostDto {
    pub host: i64,
    pub name: String,
    pub release: Option<String>,
    /// Past its vendor's end of support: such hosts are not patched.
    pub out_of_support: bool,
    pub updates: Vec<PendingUpdateDto>,
}

#[derive(Serialize, JsonSchema)]
pub struct PendingPackageDto {
    pub name: String,
    pub hosts: u32,
    pub security: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct CandidatesDto {
    pub hosts: Vec<CandidateHostDto>,
    pub packages: Vec<PendingPackageDto>,
}

impl From<PatchCandidates> for CandidatesDto {
    fn from(c: PatchCandidates) -> Self {
        CandidatesDto {
            hosts: c
                .hosts
                .into_iter()
                .map(|h| CandidateHostDto {
                    host: h.host.0,
                    name: h.name,
                    release: h.release,
                    out_of_support: h.out_of_support,
                    updates: h
                        .updates
                        .into_iter()
                        .map(|u| PendingUpdateDto {
                            name: u.name,
                            arch: u.arch,
                            installed: u.installed,
                            candidate: u.candidate,
                            security: u.security,
                        })
                        .collect(),
                })
                .collect(),
            packages: c
                .packages
                .into_iter()
                .map(|p| PendingPackageDto { name: p.name, hosts: p.hosts, security: p.security })
                .collect(),
        }
    }
}

async fn candidates(State(s): State<AppState>, ctx: Ctx, Path(tenant): Path<i64>) -> ApiResult<CandidatesDto> {
    Ok(Json(s.services.patch_candidates(ctx.actor()?, TenantId(tenant)).await?.into()))
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct WindowDto {
    pub window: String,
}

async fn window(State(s): State<AppState>, ctx: Ctx, Path(tenant): Path<i64>) -> ApiResult<WindowDto> {
    Ok(Json(WindowDto { window: s.services.patch_window(ctx.actor()?, TenantId(tenant), Lang::En).await? }))
}

async fn set_window(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(tenant): Path<i64>,
    ApiJson(d): ApiJson<WindowDto>,
) -> ApiResult<WindowDto> {
    Ok(Json(WindowDto { window: s.services.set_patch_window(ctx.actor()?, TenantId(tenant), &d.window).await? }))
}
