//! Alerts and alarm rules in the API (ALARM-1 … ALARM-3).

use super::ApiResult;
use crate::app::AppState;
use crate::http::{ApiJson, Ctx};
use crate::routes::{route, Kind, RouteDef};
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::Json;
use leitstand_domain::alert::{AlertAction, AlertState, RuleKind, Severity};
use leitstand_domain::{HostId, Permission as P, TenantId, UserId};
use leitstand_service::{RuleInput, ServiceError};
use leitstand_store::{Alert, AlertNote, AlertQuery, AlertRule};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(
            M::GET,
            "/api/v1/alerts",
            P::HostsRead,
            Kind::Api,
            "Alerts in the caller's scope, most severe and newest first: `?tenant=` `&host=` \
             `&state=open|acknowledged|muted|resolved` (repeatable as a comma list) `&severity=` (at least).",
            list,
        )
        .gives::<Vec<AlertDto>>(),
        route(
            M::POST,
            "/api/v1/alerts/{alert}/acknowledge",
            P::HostsManage,
            Kind::Api,
            "Acknowledge an open or muted alert.",
            acknowledge,
        )
        .gives::<AlertDto>(),
        route(M::POST, "/api/v1/alerts/{alert}/resolve", P::HostsManage, Kind::Api, "Resolve an alert.", resolve)
            .gives::<AlertDto>(),
        route(
            M::POST,
            "/api/v1/alerts/{alert}/mute",
            P::HostsManage,
            Kind::Api,
            "Mute an alert until a time (RFC 3339); repeats before then are counted quietly.",
            mute,
        )
        .takes::<MuteDto>()
        .gives::<AlertDto>(),
        route(
            M::GET,
            "/api/v1/tenants/{tenant}/alert-rules",
            P::HostsRead,
            Kind::Api,
            "A tenant's alarm rules (the defaults and its own).",
            rules,
        )
        .gives::<Vec<RuleDto>>(),
        route(
            M::PUT,
            "/api/v1/alert-rules/{rule}",
            P::HostsManage,
            Kind::Api,
            "Switch a rule, or only its notifications, on or off.",
            set_rule,
        )
        .takes::<RuleFlagsDto>()
        .gives::<RuleDto>(),
        route(
            M::POST,
            "/api/v1/tenants/{tenant}/alert-rules",
            P::HostsManage,
            Kind::Api,
            "Add a rule: a threshold on any metric, host down, or event kinds; refused with the reason when it cannot work.",
            create_rule,
        )
        .takes::<RuleInputDto>()
        .gives::<RuleDto>(),
        route(
            M::PUT,
            "/api/v1/alert-rules/{rule}/definition",
            P::HostsManage,
            Kind::Api,
            "Change what a rule watches, its name and severity.",
            update_rule,
        )
        .takes::<RuleInputDto>()
        .gives::<RuleDto>(),
        route(
            M::GET,
            "/api/v1/alerts/{alert}",
            P::HostsRead,
            Kind::Api,
            "An alert with its timeline and the notifications sent about it.",
            detail,
        )
        .gives::<AlertDetailDto>(),
        route(
            M::POST,
            "/api/v1/alerts/{alert}/comments",
            P::HostsRead,
            Kind::Api,
            "Write a comment on an alert's timeline.",
            comment,
        )
        .takes::<NoteDto>()
        .gives::<NoteOutDto>(),
        route(
            M::POST,
            "/api/v1/alerts/{alert}/provider-actions",
            P::HostsManage,
            Kind::Api,
            "Record what the provider did about an alert (ALARM-4; staff only).",
            provider_action,
        )
        .takes::<NoteDto>()
        .gives::<NoteOutDto>(),
        route(
            M::PUT,
            "/api/v1/alerts/{alert}/assignee",
            P::HostsManage,
            Kind::Api,
            "Give an alert to a user of its tenant or to staff (null: nobody).",
            assign,
        )
        .takes::<AssignDto>()
        .gives::<AlertDto>(),
    ]
}

#[derive(Serialize, JsonSchema)]
pub struct AlertDto {
    pub id: i64,
    pub tenant: TenantId,
    pub rule: i64,
    pub host: Option<HostId>,
    pub severity: Severity,
    pub state: AlertState,
    /// How often the rule matched on the host while the alert was active.
    pub count: u64,
    pub first_at: String,
    pub last_at: String,
    pub muted_until: Option<String>,
    pub resolved_at: Option<String>,
    /// Whether notifications were on for the rule (ALARM-3).
    pub notify: bool,
    /// Facts of the newest occurrence.
    pub detail: serde_json::Value,
    pub assignee: Option<i64>,
    /// `unanswered` (past the deadline) or `imminent` (danger): waits for provider action.
    pub flag: Option<String>,
    pub flagged_at: Option<String>,
    pub host_name: Option<String>,
    pub rule_name: String,
    /// SOC alerts: the Sigma rule id and what repeats are grouped by.
    pub soc_rule: Option<String>,
    pub soc_group: Option<String>,
}

impl From<Alert> for AlertDto {
    fn from(a: Alert) -> Self {
        AlertDto {
            id: a.id,
            tenant: a.tenant,
            rule: a.rule,
            host: a.host,
            severity: a.severity,
            state: a.state,
            count: a.count,
            first_at: a.first_at.to_string(),
            last_at: a.last_at.to_string(),
            muted_until: a.muted_until.map(|t| t.to_string()),
            resolved_at: a.resolved_at.map(|t| t.to_string()),
            notify: a.notify,
            detail: serde_json::from_str(&a.detail).unwrap_or_default(),
            assignee: a.assignee.map(|u| u.0),
            flag: a.flag.map(|f| f.as_str().to_owned()),
            flagged_at: a.flagged_at.map(|t| t.to_string()),
            host_name: a.host_name,
            rule_name: a.rule_key.unwrap_or(a.rule_name),
            soc_rule: a.soc_rule,
            soc_group: a.soc_group,
        }
    }
}

#[derive(Deserialize)]
struct ListQuery {
    tenant: Option<i64>,
    host: Option<i64>,
    state: Option<String>,
    severity: Option<String>,
    #[serde(default)]
    flagged: bool,
    rule: Option<i64>,
}

/// `open,acknowledged` → states; an unknown one is an error that names it.
pub fn parse_states(s: Option<&str>) -> Result<Vec<AlertState>, ServiceError> {
    s.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            AlertState::parse(x).ok_or_else(|| {
                ServiceError::BadInput(format!("state {x:?} is not one of open, acknowledged, muted, resolved"))
            })
        })
        .collect()
}

pub fn parse_severity(s: Option<&str>) -> Result<Option<Severity>, ServiceError> {
    match s.map(str::trim).filter(|x| !x.is_empty()) {
        None => Ok(None),
        Some(x) => Severity::parse(x)
            .map(Some)
            .ok_or_else(|| ServiceError::BadInput(format!("severity {x:?} is not one of low, medium, high, critical"))),
    }
}

async fn list(State(s): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> ApiResult<Vec<AlertDto>> {
    let query = AlertQuery {
        host: q.host.map(HostId),
        states: parse_states(q.state.as_deref())?,
        min_severity: parse_severity(q.severity.as_deref())?,
        flagged: q.flagged,
        rule: q.rule,
        limit: 0,
        ..AlertQuery::default()
    };
    let list = s.services.alerts(ctx.actor()?, q.tenant.map(TenantId), query).await?;
    Ok(Json(list.into_iter().map(AlertDto::from).collect()))
}

async fn act(s: &AppState, ctx: &Ctx, id: i64, action: AlertAction) -> ApiResult<AlertDto> {
    Ok(Json(s.services.act_on_alert(ctx.actor()?, id, action).await?.into()))
}

async fn acknowledge(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<AlertDto> {
    act(&s, &ctx, id, AlertAction::Acknowledge).await
}

async fn resolve(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<AlertDto> {
    act(&s, &ctx, id, AlertAction::Resolve).await
}

#[derive(Deserialize, JsonSchema)]
pub struct MuteDto {
    /// RFC 3339, in the future.
    pub until: String,
}

async fn mute(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(m): ApiJson<MuteDto>,
) -> ApiResult<AlertDto> {
    let until =
        m.until.parse().map_err(|_| ServiceError::BadInput(format!("until: {:?} is not an RFC 3339 time", m.until)))?;
    act(&s, &ctx, id, AlertAction::Mute { until }).await
}

#[derive(Serialize, JsonSchema)]
pub struct RuleDto {
    pub id: i64,
    pub tenant: TenantId,
    /// The default rule it is, or null for a rule of the tenant's own.
    pub key: Option<String>,
    pub name: String,
    pub severity: Severity,
    pub rule: RuleKind,
    pub enabled: bool,
    pub notify: bool,
    /// Its alerts mean imminent danger (ALARM-4).
    pub imminent: bool,
}

impl From<AlertRule> for RuleDto {
    fn from(r: AlertRule) -> Self {
        RuleDto {
            id: r.id,
            tenant: r.tenant,
            key: r.key,
            name: r.name,
            severity: r.severity,
            rule: r.kind,
            enabled: r.enabled,
            notify: r.notify,
            imminent: r.imminent,
        }
    }
}

async fn rules(State(s): State<AppState>, ctx: Ctx, Path(tenant): Path<i64>) -> ApiResult<Vec<RuleDto>> {
    let list = s.services.alert_rules(ctx.actor()?, TenantId(tenant)).await?;
    Ok(Json(list.into_iter().map(RuleDto::from).collect()))
}

#[derive(Deserialize, JsonSchema)]
pub struct RuleFlagsDto {
    pub enabled: bool,
    /// Notifications for this rule; off means no notification and no
    /// proactive action (ALARM-3).
    pub notify: bool,
}

async fn set_rule(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(f): ApiJson<RuleFlagsDto>,
) -> ApiResult<RuleDto> {
    Ok(Json(s.services.set_rule_flags(ctx.actor()?, id, f.enabled, f.notify).await?.into()))
}

#[derive(Deserialize, JsonSchema)]
pub struct RuleInputDto {
    pub name: String,
    pub severity: Severity,
    /// What the rule watches, e.g. `{"kind":"threshold","metric":"fs_used_percent","labels":{"mount":"/"},
    /// "direction":"above","value":90,"for_secs":300,"recover":85}`.
    pub rule: RuleKind,
    #[serde(default)]
    pub imminent: bool,
}

impl From<RuleInputDto> for RuleInput {
    fn from(r: RuleInputDto) -> Self {
        RuleInput { name: r.name, severity: r.severity, kind: r.rule, imminent: r.imminent }
    }
}

async fn create_rule(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(tenant): Path<i64>,
    ApiJson(r): ApiJson<RuleInputDto>,
) -> ApiResult<RuleDto> {
    Ok(Json(s.services.create_rule(ctx.actor()?, TenantId(tenant), r.into()).await?.into()))
}

async fn update_rule(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(r): ApiJson<RuleInputDto>,
) -> ApiResult<RuleDto> {
    Ok(Json(s.services.update_rule(ctx.actor()?, id, r.into()).await?.into()))
}

#[derive(Serialize, JsonSchema)]
pub struct NoteOutDto {
    pub at: String,
    /// `opened`, `acknowledged`, `muted`, `resolved`, `reopened`, `comment`, `assigned`, `flagged`,
    /// `provider_action`, `notified`, `notify_failed`, `escalated`, `quiet_hours`, `notify_off`.
    pub kind: String,
    pub author: Option<String>,
    pub text: String,
}

impl From<AlertNote> for NoteOutDto {
    fn from(n: AlertNote) -> Self {
        NoteOutDto { at: n.at.to_string(), kind: n.kind, author: n.author_name, text: n.body }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct AlertDetailDto {
    pub alert: AlertDto,
    pub timeline: Vec<NoteOutDto>,
    pub notifications: Vec<super::notify::NotificationDto>,
}

async fn detail(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<AlertDetailDto> {
    let d = s.services.alert_detail(ctx.actor()?, id).await?;
    Ok(Json(AlertDetailDto {
        alert: d.alert.into(),
        timeline: d.notes.into_iter().map(Into::into).collect(),
        notifications: d.notifications.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize, JsonSchema)]
pub struct NoteDto {
    pub text: String,
}

async fn comment(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(n): ApiJson<NoteDto>,
) -> ApiResult<NoteOutDto> {
    Ok(Json(s.services.comment_on_alert(ctx.actor()?, id, &n.text).await?.into()))
}

async fn provider_action(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(n): ApiJson<NoteDto>,
) -> ApiResult<NoteOutDto> {
    Ok(Json(s.services.record_provider_action(ctx.actor()?, id, &n.text).await?.into()))
}

#[derive(Deserialize, JsonSchema)]
pub struct AssignDto {
    pub user: Option<i64>,
}

async fn assign(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(a): ApiJson<AssignDto>,
) -> ApiResult<AlertDto> {
    Ok(Json(s.services.assign_alert(ctx.actor()?, id, a.user.map(UserId)).await?.into()))
}
