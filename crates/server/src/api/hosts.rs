//! Hosts in the API, and the two routes agents call: enrollment and batches.

use super::ApiResult;
use crate::app::AppState;
use crate::http::{ApiError, ApiJson, Ctx};
use crate::routes::{route, Kind, RouteDef};
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::Json;
use jiff::{SignedDuration, Timestamp};
use leitstand_domain::{HostId, Permission as P, TenantId};
use leitstand_proto::{Ack, Batch, EnrollRequest, EnrollResponse};
use leitstand_service::ServiceError;
use leitstand_store::Host;
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
            "Hosts in the caller's scope; `?tenant=` filters.",
            hosts,
        )
        .gives::<Vec<HostDto>>(),
        route(M::GET, "/api/v1/hosts/{host}", P::HostsRead, Kind::Api, "One host.", host).gives::<HostDto>(),
        route(M::POST, "/api/v1/hosts/{host}/revoke", P::HostsManage, Kind::Api, "Revoke a host's agent.", revoke)
            .gives::<HostDto>(),
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
        route(M::GET, "/api/v1/hosts/{host}/events", P::HostsRead, Kind::Api, "Events of a host (down, up).", events)
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
    pub enrolled_at: String,
    pub last_seen: Option<String>,
    pub revoked: bool,
}

impl From<&Host> for HostDto {
    fn from(h: &Host) -> Self {
        Self {
            id: h.id,
            tenant: h.tenant,
            name: h.name.clone(),
            os: h.os.clone(),
            enrolled_at: h.enrolled_at.to_string(),
            last_seen: h.last_seen.map(|t| t.to_string()),
            revoked: h.revoked,
        }
    }
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
    let (ack, refused) = s.services.ingest_batch(host, batch).await?;
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
    /// `host.down` or `host.up`.
    pub kind: String,
    pub detail: serde_json::Value,
}

async fn events(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<Vec<HostEventDto>> {
    let list = s.services.host_events(ctx.actor()?, HostId(id)).await?;
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
struct TenantQuery {
    tenant: Option<i64>,
}

async fn hosts(State(s): State<AppState>, ctx: Ctx, Query(q): Query<TenantQuery>) -> ApiResult<Vec<HostDto>> {
    let list = s.services.hosts(ctx.actor()?, q.tenant.map(TenantId)).await?;
    Ok(Json(list.iter().map(HostDto::from).collect()))
}

async fn host(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<HostDto> {
    Ok(Json(HostDto::from(&s.services.host(ctx.actor()?, HostId(id)).await?)))
}

async fn revoke(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<HostDto> {
    let actor = ctx.actor()?;
    s.services.revoke_host(actor, HostId(id)).await?;
    Ok(Json(HostDto::from(&s.services.host(actor, HostId(id)).await?)))
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
    let command = format!("curl -fsSL '{server}/install.sh?token={}' | sudo sh", t.token);
    let agent_command = format!("leitstand-agent enroll --server {server} --token {}", t.token);
    Ok(Json(EnrollTokenDto { token: t.token, expires_at: t.expires_at.to_string(), command, agent_command }))
}
