//! Notifications and the security dashboard in the API (ALARM-3, ALARM-4,
//! PLAT-3): a tenant's policy and contacts, the notification log, and the
//! dashboard's figures.

use super::alerts::AlertDto;
use super::ApiResult;
use crate::app::AppState;
use crate::http::{ApiJson, Ctx};
use crate::routes::{route, Kind, RouteDef};
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::Json;
use leitstand_domain::alert::Severity;
use leitstand_domain::notify::{Channel, Policy};
use leitstand_domain::{Permission as P, TenantId};
use leitstand_service::{ContactInput, ServiceError};
use leitstand_store::{Contact, Notification, NotificationQuery, NotificationState};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(
            M::GET,
            "/api/v1/tenants/{tenant}/notify-policy",
            P::HostsRead,
            Kind::Api,
            "A tenant's quiet hours, escalation step and unanswered deadline.",
            policy,
        )
        .gives::<Policy>(),
        route(
            M::PUT,
            "/api/v1/tenants/{tenant}/notify-policy",
            P::HostsManage,
            Kind::Api,
            "Set quiet hours (minutes of the day, null: none), escalation step (minutes) and the unanswered \
             deadline (hours).",
            set_policy,
        )
        .takes::<Policy>(),
        route(
            M::GET,
            "/api/v1/tenants/{tenant}/contacts",
            P::HostsRead,
            Kind::Api,
            "Who is told of which alerts, by which channel, at which escalation level.",
            contacts,
        )
        .gives::<Vec<ContactDto>>(),
        route(
            M::POST,
            "/api/v1/tenants/{tenant}/contacts",
            P::HostsManage,
            Kind::Api,
            "Add a contact; a webhook gets its signing key (shown in the answer).",
            create_contact,
        )
        .takes::<ContactInputDto>()
        .gives::<ContactDto>(),
        route(M::PUT, "/api/v1/contacts/{contact}", P::HostsManage, Kind::Api, "Change a contact.", update_contact)
            .takes::<ContactInputDto>()
            .gives::<ContactDto>(),
        route(
            M::GET,
            "/api/v1/notifications",
            P::HostsRead,
            Kind::Api,
            "The notification log, newest first: `?tenant=` `&alert=` `&state=pending|sent|failed`.",
            notifications,
        )
        .gives::<Vec<NotificationDto>>(),
        route(
            M::GET,
            "/api/v1/dashboard",
            P::HostsRead,
            Kind::Api,
            "The security dashboard's figures for the caller's tenants or one (`?tenant=`).",
            dashboard,
        )
        .gives::<DashboardDto>(),
    ]
}

async fn policy(State(s): State<AppState>, ctx: Ctx, Path(tenant): Path<i64>) -> ApiResult<Policy> {
    Ok(Json(s.services.notify_policy(ctx.actor()?, TenantId(tenant)).await?))
}

async fn set_policy(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(tenant): Path<i64>,
    ApiJson(p): ApiJson<Policy>,
) -> ApiResult<Policy> {
    s.services.set_notify_policy(ctx.actor()?, TenantId(tenant), p).await?;
    Ok(Json(p))
}

#[derive(Serialize, JsonSchema)]
pub struct ContactDto {
    pub id: i64,
    pub tenant: TenantId,
    pub name: String,
    pub channel: Channel,
    pub address: String,
    /// `de` or `en`.
    pub language: String,
    pub min_severity: Severity,
    /// Only these rules; empty: all.
    pub rules: Vec<i64>,
    pub level: u32,
    /// The webhook's signing key (HMAC-SHA256), for those who may change contacts.
    pub secret: Option<String>,
    pub enabled: bool,
}

impl From<Contact> for ContactDto {
    fn from(c: Contact) -> Self {
        ContactDto {
            id: c.id,
            tenant: c.tenant,
            name: c.name,
            channel: c.channel,
            address: c.address,
            language: c.language.code().to_owned(),
            min_severity: c.min_severity,
            rules: c.rules,
            level: c.level,
            secret: c.secret,
            enabled: c.enabled,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
pub struct ContactInputDto {
    pub name: String,
    /// `email`, `sms` or `webhook`.
    pub channel: String,
    pub address: String,
    #[serde(default = "default_language")]
    pub language: String,
    #[serde(default = "default_severity")]
    pub min_severity: String,
    #[serde(default)]
    pub rules: Vec<i64>,
    #[serde(default)]
    pub level: u32,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_language() -> String {
    "de".into()
}

fn default_severity() -> String {
    "medium".into()
}

fn yes() -> bool {
    true
}

impl From<ContactInputDto> for ContactInput {
    fn from(c: ContactInputDto) -> Self {
        ContactInput {
            name: c.name,
            channel: c.channel,
            address: c.address,
            language: c.language,
            min_severity: c.min_severity,
            rules: c.rules,
            level: c.level,
            enabled: c.enabled,
        }
    }
}

async fn contacts(State(s): State<AppState>, ctx: Ctx, Path(tenant): Path<i64>) -> ApiResult<Vec<ContactDto>> {
    let list = s.services.contacts(ctx.actor()?, TenantId(tenant)).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

async fn create_contact(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(tenant): Path<i64>,
    ApiJson(c): ApiJson<ContactInputDto>,
) -> ApiResult<ContactDto> {
    Ok(Json(s.services.save_contact(ctx.actor()?, TenantId(tenant), None, c.into()).await?.into()))
}

async fn update_contact(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(c): ApiJson<ContactInputDto>,
) -> ApiResult<ContactDto> {
    let a = ctx.actor()?;
    let tenant = s.services.contact(a, id).await?.tenant;
    Ok(Json(s.services.save_contact(a, tenant, Some(id), c.into()).await?.into()))
}

#[derive(Serialize, JsonSchema)]
pub struct NotificationDto {
    pub id: i64,
    pub alert: i64,
    pub contact: i64,
    pub contact_name: String,
    pub channel: Channel,
    pub address: String,
    pub level: u32,
    /// `pending` (waiting or to be tried again), `sent` or `failed` (given up).
    pub state: String,
    pub attempts: u32,
    pub next_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

impl From<Notification> for NotificationDto {
    fn from(n: Notification) -> Self {
        NotificationDto {
            id: n.id,
            alert: n.alert,
            contact: n.contact,
            contact_name: n.contact_name,
            channel: n.channel,
            address: n.address,
            level: n.level,
            state: n.state.as_str().to_owned(),
            attempts: n.attempts,
            next_at: n.next_at.to_string(),
            last_error: n.last_error,
            created_at: n.created_at.to_string(),
            sent_at: n.sent_at.map(|t| t.to_string()),
        }
    }
}

#[derive(Deserialize)]
struct LogQuery {
    tenant: Option<i64>,
    alert: Option<i64>,
    state: Option<String>,
}

/// `pending`, `sent` or `failed`; anything else is refused with the choices.
pub fn parse_notification_state(s: Option<&str>) -> Result<Option<NotificationState>, ServiceError> {
    match s.map(str::trim).filter(|x| !x.is_empty()) {
        None => Ok(None),
        Some(x) => NotificationState::parse(x)
            .map(Some)
            .ok_or_else(|| ServiceError::BadInput(format!("state {x:?} is not one of pending, sent, failed"))),
    }
}

async fn notifications(
    State(s): State<AppState>,
    ctx: Ctx,
    Query(q): Query<LogQuery>,
) -> ApiResult<Vec<NotificationDto>> {
    let query = NotificationQuery { alert: q.alert, state: parse_notification_state(q.state.as_deref())?, limit: 0 };
    let list = s.services.notifications(ctx.actor()?, q.tenant.map(TenantId), query).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

#[derive(Serialize, JsonSchema)]
pub struct DashboardDto {
    /// Active alerts per severity.
    pub open: std::collections::BTreeMap<String, u64>,
    /// Alerts waiting for provider action (ALARM-4).
    pub flagged: u64,
    pub hosts_total: u64,
    pub hosts_down: u64,
    /// Hosts with the most active critical and high alerts.
    pub riskiest_hosts: Vec<RiskyHostDto>,
    /// Checklist score (share of passed checks) per tenant.
    pub checklist: Vec<ScoreDto>,
    /// The most urgent open alerts.
    pub urgent: Vec<AlertDto>,
    /// Alerts opened per day (local midnight, RFC 3339) and severity, last 30 days.
    pub alert_days: Vec<DayDto>,
}

#[derive(Serialize, JsonSchema)]
pub struct RiskyHostDto {
    pub host: i64,
    pub name: String,
    pub critical: u64,
    pub high: u64,
}

#[derive(Serialize, JsonSchema)]
pub struct ScoreDto {
    pub tenant: TenantId,
    pub score: f64,
    pub hosts: u64,
}

#[derive(Serialize, JsonSchema)]
pub struct DayDto {
    pub day: String,
    pub low: u64,
    pub medium: u64,
    pub high: u64,
    pub critical: u64,
}

#[derive(Deserialize)]
struct DashQuery {
    tenant: Option<i64>,
}

async fn dashboard(State(s): State<AppState>, ctx: Ctx, Query(q): Query<DashQuery>) -> ApiResult<DashboardDto> {
    let d = s.services.dashboard(ctx.actor()?, q.tenant.map(TenantId)).await?;
    Ok(Json(DashboardDto {
        open: d.open_by_severity.iter().map(|(s, n)| (s.as_str().to_owned(), *n)).collect(),
        flagged: d.flagged,
        hosts_total: d.hosts.total,
        hosts_down: d.hosts.down,
        riskiest_hosts: d
            .riskiest_hosts
            .into_iter()
            .map(|(h, name, critical, high)| RiskyHostDto { host: h.0, name, critical, high })
            .collect(),
        checklist: d.checklist.into_iter().map(|(tenant, score, hosts)| ScoreDto { tenant, score, hosts }).collect(),
        urgent: d.urgent.into_iter().map(Into::into).collect(),
        alert_days: d
            .alert_days
            .into_iter()
            .map(|(day, n)| DayDto {
                day: jiff::Timestamp::from_second(day).map(|t| t.to_string()).unwrap_or_default(),
                low: n[0],
                medium: n[1],
                high: n[2],
                critical: n[3],
            })
            .collect(),
    }))
}
