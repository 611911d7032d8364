//! Hosts in the API, and the two routes agents call: enrollment and batches.

use super::ApiResult;
use crate::app::AppState;
use crate::http::{ApiError, ApiJson, Ctx};
use crate::routes::{route, Kind, RouteDef};
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::Json;
use jiff::{SignedDuration, Timestamp};
use leitstand_domain::host::HostStatus;
use leitstand_domain::{HostId, Permission as P, TenantId};
use leitstand_proto::{Ack, Batch, EnrollRequest, EnrollResponse};
use leitstand_service::{HostOverview, ServiceError};
use leitstand_store::{HostPolicy, HostQuery, HostSort};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::POST, "/api/agent/v1/enroll", P::Public, Kind::Api, "Agent: enrol with a single-use token.", enroll),
        route(M::POST, "/api/agent/v1/batches", P::Agent, Kind::Api, "Agent: a signed batch of records.", batches),
        route(
            M::GET,
            "/api/v1/hosts",
            P::HostsRead,
            Kind::Api,
            "One page of hosts in the caller's scope: `?tenant=` `&q=` (name, OS, address) \
             `&status=up|down|waiting|pending|revoked` `&sort=name|last_seen|cpu|mem|disk` `&page=` (from 0) \
             `&per_page=` (at most 500).",
            hosts,
        )
        .gives::<HostPageDto>(),
        route(M::GET, "/api/v1/hosts/{host}", P::HostsRead, Kind::Api, "One host.", host).gives::<HostDto>(),
        route(M::POST, "/api/v1/hosts/{host}/revoke", P::HostsManage, Kind::Api, "Revoke a host's agent.", revoke)
            .gives::<HostDto>(),
        route(M::POST, "/api/v1/hosts/{host}/approve", P::HostsManage, Kind::Api, "Approve a pending host.", approve)
            .gives::<HostDto>(),
        route(
            M::PUT,
            "/api/v1/hosts/{host}/interval",
            P::HostsManage,
            Kind::Api,
            "Set the host's collection interval (5 to 3600 s; null follows the tenant). Pushed to the agent.",
            set_interval,
        )
        .takes::<IntervalDto>()
        .gives::<HostDto>(),
        route(
            M::GET,
            "/api/v1/tenants/{tenant}/host-policy",
            P::HostsRead,
            Kind::Api,
            "The tenant's collection interval and whether new hosts wait for approval.",
            policy,
        )
        .gives::<HostPolicyDto>(),
        route(
            M::PUT,
            "/api/v1/tenants/{tenant}/host-policy",
            P::HostsManage,
            Kind::Api,
            "Set the tenant's collection interval and approval rule.",
            set_policy,
        )
        .takes::<HostPolicyDto>()
        .gives::<HostPolicyDto>(),
        route(
            M::GET,
            "/api/v1/hosts/{host}/history",
            P::HostsRead,
            Kind::Api,
            "One metric over a range, from raw samples (up to 6 h), 1-minute (up to 3 d) or 1-hour rollups: \
             `?name=` `&minutes=60` or `&from=&to=` (RFC 3339).",
            history,
        )
        .gives::<HistoryDto>(),
        route(
            M::GET,
            "/api/v1/hosts/{host}/samples",
            P::HostsRead,
            Kind::Api,
            "Raw samples of one metric: `?name=` (default cpu_usage_percent) `&minutes=60`.",
            samples,
        )
        .gives::<Vec<SampleDto>>(),
        route(
            M::POST,
            "/api/v1/hosts/{host}/metrics",
            P::HostsManage,
            Kind::Api,
            "Push custom metrics for a host.",
            push,
        )
        .takes::<PushDto>()
        .gives::<PushedDto>(),
        route(
            M::GET,
            "/api/v1/hosts/{host}/events",
            P::HostsRead,
            Kind::Api,
            "Events of a host, newest first (down, up, inventory changes, sign-ins): `?kind=` (a kind such as \
             `user.created`, or a group ending in a dot such as `software.`) `&from=&to=` (RFC 3339) `&page=` \
             `&per_page=` (at most 1000, default 100).",
            events,
        )
        .gives::<Vec<HostEventDto>>(),
        route(
            M::GET,
            "/api/v1/hosts/{host}/metrics",
            P::HostsRead,
            Kind::Api,
            "The metric names a host has.",
            metric_names,
        )
        .gives::<Vec<String>>(),
        route(
            M::POST,
            "/api/v1/tenants/{tenant}/enroll-tokens",
            P::HostsManage,
            Kind::Api,
            "A single-use enrollment token (24 h) and the install command.",
            enroll_token,
        )
        .gives::<EnrollTokenDto>(),
    ]
}

#[derive(Serialize, JsonSchema)]
pub struct HostDto {
    pub id: HostId,
    pub tenant: TenantId,
    pub name: String,
    pub os: String,
    pub status: HostStatus,
    /// The address the host last spoke from.
    pub address: Option<String>,
    pub enrolled_at: String,
    pub last_seen: Option<String>,
    pub revoked: bool,
    pub pending: bool,
    /// The host's own interval; null follows the tenant.
    pub interval_secs: Option<u32>,
    /// The interval in force.
    pub effective_interval_secs: u32,
    pub cpu_percent: Option<f64>,
    pub mem_percent: Option<f64>,
    /// The fullest file system.
    pub disk_percent: Option<f64>,
    /// The agent build the host last reported.
    pub agent_version: Option<String>,
    pub agent_sha256: Option<String>,
}

impl From<&HostOverview> for HostDto {
    fn from(o: &HostOverview) -> Self {
        let h = &o.host;
        Self {
            id: h.id,
            tenant: h.tenant,
            name: h.name.clone(),
            os: h.os.clone(),
            status: o.status,
            address: h.address.clone(),
            enrolled_at: h.enrolled_at.to_string(),
            last_seen: h.last_seen.map(|t| t.to_string()),
            revoked: h.revoked,
            pending: h.pending,
            interval_secs: h.interval_secs,
            effective_interval_secs: h.effective_interval_secs,
            cpu_percent: o.cpu_percent,
            mem_percent: o.mem_percent,
            disk_percent: o.disk_percent,
            agent_version: h.agent_version.clone(),
            agent_sha256: h.agent_sha256.clone(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct HostPageDto {
    /// Hosts that match, on all pages.
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub hosts: Vec<HostDto>,
    /// Hosts per state in the whole scope (not only this page).
    pub counts: HostCountsDto,
}

#[derive(Serialize, JsonSchema)]
pub struct HostCountsDto {
    pub total: u64,
    pub up: u64,
    pub down: u64,
    pub waiting: u64,
    pub pending: u64,
    pub revoked: u64,
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct HostPolicyDto {
    /// Seconds between two collections, 5 to 3600.
    pub interval_secs: u32,
    /// New hosts wait in a pending list until approved.
    pub require_approval: bool,
}

#[derive(Deserialize, JsonSchema)]
pub struct IntervalDto {
    /// 5 to 3600; null follows the tenant's interval.
    pub interval_secs: Option<u32>,
}

#[derive(Serialize, JsonSchema)]
pub struct HistoryDto {
    /// `raw`, `minute` or `hour`.
    pub resolution: &'static str,
    pub from: String,
    pub to: String,
    pub points: Vec<PointDto>,
}

#[derive(Serialize, JsonSchema)]
pub struct PointDto {
    /// Labels as a JSON object.
    pub labels: serde_json::Value,
    /// Sample time, or the start of the bucket.
    pub at: String,
    /// The sample, or the mean of the bucket.
    pub value: f64,
    pub min: f64,
    pub max: f64,
    /// Samples in the bucket.
    pub count: u64,
}

#[derive(Serialize, JsonSchema)]
pub struct SampleDto {
    /// Labels as a JSON object.
    pub labels: serde_json::Value,
    pub at: String,
    pub value: f64,
}

#[derive(Serialize, JsonSchema)]
pub struct EnrollTokenDto {
    /// Shown once; valid for one host until `expires_at`.
    pub token: String,
    pub expires_at: String,
    /// The one-line install command for the host (downloads, enrols, starts).
    pub command: String,
    /// The enrol command where the agent is installed already.
    pub agent_command: String,
    /// The agent as a Debian package that enrols with this token.
    pub deb_url: String,
}

async fn enroll(
    State(s): State<AppState>,
    ctx: Ctx,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> ApiResult<EnrollResponse> {
    let (_, resp) = s.services.enroll_host(&req, &ctx.source).await?;
    Ok(Json(resp))
}

async fn batches(State(s): State<AppState>, ctx: Ctx, ApiJson(batch): ApiJson<Batch>) -> ApiResult<Ack> {
    let host = ctx.agent.as_ref().ok_or(ServiceError::Unauthenticated)?;
    let (ack, refused) = s.services.ingest_batch(host, batch, Some(&ctx.source)).await?;
    s.metrics.series_refused(refused);
    Ok(Json(ack))
}

/// Custom metrics pushed for a host.
#[derive(Deserialize, JsonSchema)]
pub struct PushDto {
    /// At most 10 000 samples; names like Prometheus metric names.
    pub samples: Vec<PushSample>,
}

#[derive(Deserialize, JsonSchema)]
pub struct PushSample {
    pub name: String,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Serialize, JsonSchema)]
pub struct PushedDto {
    pub stored: usize,
}

async fn push(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<PushDto>,
) -> ApiResult<PushedDto> {
    let samples = body
        .samples
        .into_iter()
        .map(|p| leitstand_proto::Sample { name: p.name, labels: p.labels, value: p.value })
        .collect();
    let stored = s.services.push_samples(ctx.actor()?, HostId(id), samples).await?;
    Ok(Json(PushedDto { stored }))
}

#[derive(Serialize, JsonSchema)]
pub struct HostEventDto {
    pub at: String,
    /// `host.down`, `host.up`, `software.updated`, `user.created` …
    pub kind: String,
    pub detail: serde_json::Value,
}

#[derive(Deserialize)]
struct EventsQuery {
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

fn rfc3339(field: &str, v: Option<&str>) -> Result<Option<Timestamp>, ServiceError> {
    v.map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse().map_err(|_| ServiceError::BadInput(format!("{field}: expected an RFC 3339 time, not {v:?}")))
        })
        .transpose()
}

async fn events(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Vec<HostEventDto>> {
    let query = leitstand_store::EventQuery {
        host: Some(HostId(id)),
        kinds: q.kind.into_iter().filter(|k| !k.trim().is_empty()).collect(),
        since: rfc3339("from", q.from.as_deref())?,
        until: rfc3339("to", q.to.as_deref())?,
        page: q.page.unwrap_or(0),
        per_page: q.per_page.unwrap_or(100),
    };
    let list = s.services.events(ctx.actor()?, None, query).await?.events;
    Ok(Json(
        list.into_iter()
            .map(|e| HostEventDto {
                at: e.at.to_string(),
                kind: e.kind,
                detail: serde_json::from_str(&e.detail).unwrap_or_default(),
            })
            .collect(),
    ))
}

async fn metric_names(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<Vec<String>> {
    Ok(Json(s.services.metric_names(ctx.actor()?, HostId(id)).await?))
}

#[derive(Deserialize)]
struct ListQuery {
    tenant: Option<i64>,
    q: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// The list query of the API and the web page, refused with a reason when
/// a value is not one of the known ones.
pub(crate) fn host_query(
    q: Option<String>,
    status: Option<&str>,
    sort: Option<&str>,
    page: Option<u32>,
    per_page: Option<u32>,
) -> Result<HostQuery, ServiceError> {
    let status = match status.filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(HostStatus::parse(s).ok_or_else(|| {
            ServiceError::BadInput(format!("status {s:?}: use up, down, waiting, pending or revoked"))
        })?),
    };
    let sort = match sort.filter(|s| !s.is_empty()) {
        None => HostSort::Name,
        Some(s) => HostSort::parse(s)
            .ok_or_else(|| ServiceError::BadInput(format!("sort {s:?}: use name, last_seen, cpu, mem or disk")))?,
    };
    Ok(HostQuery { text: q, status, sort, page: page.unwrap_or(0), per_page: per_page.unwrap_or(50), now: None })
}

async fn hosts(State(s): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> ApiResult<HostPageDto> {
    let query = host_query(q.q, q.status.as_deref(), q.sort.as_deref(), q.page, q.per_page)?;
    let list = s.services.host_list(ctx.actor()?, q.tenant.map(TenantId), query).await?;
    let c = list.counts;
    Ok(Json(HostPageDto {
        total: list.total,
        page: list.page,
        per_page: list.per_page,
        hosts: list.rows.iter().map(HostDto::from).collect(),
        counts: HostCountsDto {
            total: c.total,
            up: c.up,
            down: c.down,
            waiting: c.waiting,
            pending: c.pending,
            revoked: c.revoked,
        },
    }))
}

async fn host_dto(s: &AppState, ctx: &Ctx, id: i64) -> ApiResult<HostDto> {
    Ok(Json(HostDto::from(&s.services.host_overview(ctx.actor()?, HostId(id)).await?)))
}

async fn host(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<HostDto> {
    host_dto(&s, &ctx, id).await
}

async fn revoke(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<HostDto> {
    s.services.revoke_host(ctx.actor()?, HostId(id)).await?;
    host_dto(&s, &ctx, id).await
}

async fn approve(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<HostDto> {
    s.services.approve_host(ctx.actor()?, HostId(id)).await?;
    host_dto(&s, &ctx, id).await
}

async fn set_interval(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<IntervalDto>,
) -> ApiResult<HostDto> {
    s.services.set_host_interval(ctx.actor()?, HostId(id), body.interval_secs).await?;
    host_dto(&s, &ctx, id).await
}

async fn policy(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<HostPolicyDto> {
    let p = s.services.host_policy(ctx.actor()?, TenantId(id)).await?;
    Ok(Json(HostPolicyDto { interval_secs: p.interval_secs, require_approval: p.require_approval }))
}

async fn set_policy(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<HostPolicyDto>,
) -> ApiResult<HostPolicyDto> {
    let policy = HostPolicy { interval_secs: body.interval_secs, require_approval: body.require_approval };
    s.services.set_host_policy(ctx.actor()?, TenantId(id), policy).await?;
    Ok(Json(body))
}

#[derive(Deserialize)]
struct HistoryQuery {
    name: Option<String>,
    minutes: Option<i64>,
    from: Option<String>,
    to: Option<String>,
}

fn instant(field: &str, v: &str) -> Result<Timestamp, ServiceError> {
    v.parse::<Timestamp>()
        .map_err(|_| ServiceError::BadInput(format!("{field} {v:?}: use RFC 3339, e.g. 2026-11-23T08:00:00Z")))
}

async fn history(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<HistoryDto> {
    let now = s.services.now();
    let to = match &q.to {
        Some(t) => instant("to", t)?,
        None => now + SignedDuration::from_secs(60),
    };
    let from = match (&q.from, q.minutes) {
        (Some(f), _) => instant("from", f)?,
        (None, m) => to - SignedDuration::from_mins(m.unwrap_or(60).clamp(1, 60 * 24 * 731) + 1),
    };
    let name = q.name.as_deref().unwrap_or("cpu_usage_percent");
    let h = s.services.host_history(ctx.actor()?, HostId(id), name, from, to).await?;
    Ok(Json(HistoryDto {
        resolution: h.resolution.as_str(),
        from: from.to_string(),
        to: to.to_string(),
        points: h
            .points
            .into_iter()
            .map(|r| PointDto {
                labels: serde_json::from_str(&r.labels).unwrap_or_default(),
                at: r.at.to_string(),
                value: r.mean,
                min: r.min,
                max: r.max,
                count: r.count,
            })
            .collect(),
    }))
}

#[derive(Deserialize)]
struct SamplesQuery {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    minutes: Option<i64>,
}

async fn samples(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<SamplesQuery>,
) -> Result<Json<Vec<SampleDto>>, ApiError> {
    let minutes = q.minutes.unwrap_or(60).clamp(1, 60 * 24 * 7);
    let until = s.services.now() + SignedDuration::from_secs(60);
    let since: Timestamp = until - SignedDuration::from_mins(minutes + 1);
    let name = q.name.as_deref().unwrap_or("cpu_usage_percent");
    let rows = s.services.host_samples(ctx.actor()?, HostId(id), name, since, until).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| SampleDto {
                labels: serde_json::from_str(&r.labels).unwrap_or_default(),
                at: r.at.to_string(),
                value: r.value,
            })
            .collect(),
    ))
}

async fn enroll_token(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<EnrollTokenDto> {
    let t = s.services.create_enroll_token(ctx.actor()?, TenantId(id)).await?;
    let server = s.services.config().base_url.trim_end_matches('/').to_owned();
    let command = crate::web::install_command(&s, &t.token);
    let agent_command = format!("leitstand-agent enroll --server {server} --token {}", t.token);
    let deb_url = format!("{server}/downloads/leitstand-agent.deb?token={}", t.token);
    Ok(Json(EnrollTokenDto { token: t.token, expires_at: t.expires_at.to_string(), command, agent_command, deb_url }))
}
