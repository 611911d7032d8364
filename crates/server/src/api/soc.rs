//! The SOC in the API (SOC-1 … SOC-4, SOC-8, SOC-11, SOC-13): SOC alerts and
//! the alert file, evidence and events for everyone who sees the tenant;
//! senders, rules and retention for provider security staff.

use super::alerts::AlertDto;
use super::ApiResult;
use crate::app::AppState;
use crate::http::{ApiJson, Ctx};
use crate::routes::{route, Kind, RouteDef};
use axum::extract::{Path, Query, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use leitstand_detect::rules::{RuleProblem, RuleSummary};
use leitstand_domain::alert::Severity;
use leitstand_domain::{Permission as P, TenantId};
use leitstand_service::{ServiceError, SourceInput, EXPORT_COLUMNS};
use leitstand_store::{SocEvent, SyslogSource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(
            M::GET,
            "/api/v1/soc/alerts",
            P::SocRead,
            Kind::Api,
            "SOC alerts, most critical first: `?tenant=` `&state=open,acknowledged`.",
            alerts,
        )
        .gives::<Vec<AlertDto>>(),
        route(
            M::GET,
            "/api/v1/soc/export",
            P::SocRead,
            Kind::Api,
            "The SOC alert file: `?format=csv|json` `&tenant=`.",
            export,
        ),
        route(
            M::GET,
            "/api/v1/soc/events",
            P::SocRead,
            Kind::Api,
            "Stored events: `?tenant=` `&before=` `&limit=`.",
            events,
        )
        .gives::<Vec<SocEventDto>>(),
        route(
            M::GET,
            "/api/v1/alerts/{alert}/evidence",
            P::SocRead,
            Kind::Api,
            "The events behind a SOC alert.",
            evidence,
        )
        .gives::<Vec<SocEventDto>>(),
        route(
            M::GET,
            "/api/v1/tenants/{tenant}/syslog-sources",
            P::SocManage,
            Kind::Api,
            "A tenant's syslog senders.",
            sources,
        )
        .gives::<Vec<SourceDto>>(),
        route(
            M::POST,
            "/api/v1/tenants/{tenant}/syslog-sources",
            P::SocManage,
            Kind::Api,
            "Register a syslog sender; with `new_token` the answer holds its TLS token (shown once).",
            create_source,
        )
        .takes::<SourceInputDto>()
        .gives::<SourceDto>(),
        route(
            M::PUT,
            "/api/v1/tenants/{tenant}/syslog-sources/{source}",
            P::SocManage,
            Kind::Api,
            "Change a syslog sender.",
            update_source,
        )
        .takes::<SourceInputDto>()
        .gives::<SourceDto>(),
        route(
            M::GET,
            "/api/v1/tenants/{tenant}/soc-rules",
            P::SocManage,
            Kind::Api,
            "The Sigma rules a tenant runs, with those that did not load.",
            rules,
        )
        .gives::<RulesDto>(),
        route(
            M::POST,
            "/api/v1/tenants/{tenant}/soc-rules",
            P::SocManage,
            Kind::Api,
            "Add or replace a tenant's own Sigma rule (YAML); refused with line and cause when it is not valid.",
            save_rule,
        )
        .takes::<RuleYamlDto>()
        .gives::<RuleCheckDto>(),
        route(
            M::PUT,
            "/api/v1/tenants/{tenant}/soc-rules/{rule}",
            P::SocManage,
            Kind::Api,
            "Switch a rule on or off for a tenant.",
            set_rule,
        )
        .takes::<SwitchDto>(),
        route(
            M::POST,
            "/api/v1/soc/rules/check",
            P::SocManage,
            Kind::Api,
            "Check a Sigma rule without saving it: what it is, or each problem with its line.",
            check_rule,
        )
        .takes::<RuleYamlDto>()
        .gives::<RuleCheckDto>(),
        route(
            M::PUT,
            "/api/v1/tenants/{tenant}/soc-retention",
            P::SocManage,
            Kind::Api,
            "How many days a tenant's events are kept (SOC-11; 90 unless agreed).",
            set_retention,
        )
        .takes::<RetentionDto>(),
    ]
}

#[derive(Deserialize)]
struct ListQuery {
    tenant: Option<i64>,
    state: Option<String>,
    format: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

async fn alerts(State(s): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> ApiResult<Vec<AlertDto>> {
    let states = super::alerts::parse_states(q.state.as_deref())?;
    let list = s.services.soc_alerts(ctx.actor()?, q.tenant.map(TenantId), states, 1000).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

async fn export(State(s): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> Result<Response, super::ApiError> {
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "csv" | "json") {
        return Err(ServiceError::BadInput(format!("format {format:?}: use csv or json")).into());
    }
    let rows = s.services.soc_export(ctx.actor()?, q.tenant.map(TenantId), &ctx.tz).await?;
    if format == "csv" {
        let header: Vec<String> = EXPORT_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        return Ok(crate::web::csv::response(&s, "soc_alerts", &header, rows.into_iter()));
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], crate::web::csv::json_text(&EXPORT_COLUMNS, &rows))
        .into_response())
}

/// A stored security event.
#[derive(Serialize, JsonSchema)]
pub struct SocEventDto {
    pub id: i64,
    pub tenant: TenantId,
    pub at: String,
    pub received_at: String,
    /// The parser that read it: sshd, filterlog, fortinet, raw …
    pub dataset: String,
    /// The event in the ECS-like schema.
    pub event: serde_json::Value,
}

impl From<SocEvent> for SocEventDto {
    fn from(e: SocEvent) -> Self {
        SocEventDto {
            id: e.id,
            tenant: e.tenant,
            at: e.at.to_string(),
            received_at: e.received_at.to_string(),
            dataset: e.dataset,
            event: serde_json::from_str(&e.event).unwrap_or_default(),
        }
    }
}

async fn events(State(s): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> ApiResult<Vec<SocEventDto>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let list = s.services.soc_events(ctx.actor()?, q.tenant.map(TenantId), q.before, limit).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

async fn evidence(State(s): State<AppState>, ctx: Ctx, Path(alert): Path<i64>) -> ApiResult<Vec<SocEventDto>> {
    let list = s.services.soc_evidence(ctx.actor()?, alert).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

/// A syslog sender.
#[derive(Serialize, JsonSchema)]
pub struct SourceDto {
    pub id: i64,
    pub tenant: TenantId,
    pub name: String,
    pub address: Option<String>,
    pub hostname: Option<String>,
    /// Whether it has a TLS token.
    pub has_token: bool,
    /// The token, only in the answer that made it.
    pub token: Option<String>,
    pub enabled: bool,
    pub last_seen_at: Option<String>,
}

fn source_dto(src: SyslogSource, token: Option<String>) -> SourceDto {
    SourceDto {
        id: src.id,
        tenant: src.tenant,
        name: src.name,
        address: src.address,
        hostname: src.hostname,
        has_token: src.token_hash.is_some(),
        token,
        enabled: src.enabled,
        last_seen_at: src.last_seen_at.map(|t| t.to_string()),
    }
}

#[derive(Deserialize, JsonSchema)]
pub struct SourceInputDto {
    pub name: String,
    /// The sender's IP address.
    #[serde(default)]
    pub address: String,
    /// The host name in its lines.
    #[serde(default)]
    pub hostname: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Make a (new) token for sending over TLS.
    #[serde(default)]
    pub new_token: bool,
}

fn yes() -> bool {
    true
}

impl From<SourceInputDto> for SourceInput {
    fn from(d: SourceInputDto) -> Self {
        SourceInput {
            name: d.name,
            address: d.address,
            hostname: d.hostname,
            enabled: d.enabled,
            new_token: d.new_token,
        }
    }
}

async fn sources(State(s): State<AppState>, ctx: Ctx, Path(tenant): Path<i64>) -> ApiResult<Vec<SourceDto>> {
    let list = s.services.syslog_sources(ctx.actor()?, Some(TenantId(tenant))).await?;
    Ok(Json(list.into_iter().map(|x| source_dto(x, None)).collect()))
}

async fn create_source(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(tenant): Path<i64>,
    ApiJson(d): ApiJson<SourceInputDto>,
) -> ApiResult<SourceDto> {
    let (saved, token) = s.services.save_syslog_source(ctx.actor()?, TenantId(tenant), None, &d.into()).await?;
    Ok(Json(source_dto(saved, token)))
}

async fn update_source(
    State(s): State<AppState>,
    ctx: Ctx,
    Path((tenant, id)): Path<(i64, i64)>,
    ApiJson(d): ApiJson<SourceInputDto>,
) -> ApiResult<SourceDto> {
    let (saved, token) = s.services.save_syslog_source(ctx.actor()?, TenantId(tenant), Some(id), &d.into()).await?;
    Ok(Json(source_dto(saved, token)))
}

/// A Sigma rule as loaded.
#[derive(Serialize, JsonSchema)]
pub struct RuleDto {
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub correlation: bool,
    pub logsource: String,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub custom: bool,
}

fn rule_dto(s: RuleSummary, enabled: bool, custom: bool) -> RuleDto {
    RuleDto {
        id: s.id,
        title: s.title,
        description: s.description,
        severity: s.severity,
        correlation: s.correlation,
        logsource: s.logsource,
        tags: s.tags,
        enabled,
        custom,
    }
}

/// A rule that did not load, or a problem of a checked rule.
#[derive(Serialize, JsonSchema)]
pub struct ProblemDto {
    pub origin: String,
    pub line: Option<u32>,
    pub cause: String,
}

impl From<RuleProblem> for ProblemDto {
    fn from(p: RuleProblem) -> Self {
        ProblemDto { origin: p.origin, line: p.line, cause: p.cause }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct RulesDto {
    pub rules: Vec<RuleDto>,
    pub problems: Vec<ProblemDto>,
    pub retention_days: u32,
}

async fn rules(State(s): State<AppState>, ctx: Ctx, Path(tenant): Path<i64>) -> ApiResult<RulesDto> {
    let r = s.services.soc_rules(ctx.actor()?, TenantId(tenant)).await?;
    Ok(Json(RulesDto {
        rules: r.rules.into_iter().map(|v| rule_dto(v.summary, v.enabled, v.custom)).collect(),
        problems: r.problems.into_iter().map(Into::into).collect(),
        retention_days: r.retention_days,
    }))
}

#[derive(Deserialize, JsonSchema)]
pub struct RuleYamlDto {
    /// The rule as Sigma YAML.
    pub yaml: String,
}

#[derive(Serialize, JsonSchema)]
pub struct RuleCheckDto {
    pub valid: bool,
    pub rules: Vec<RuleDto>,
    pub problems: Vec<ProblemDto>,
}

async fn check_rule(State(s): State<AppState>, ctx: Ctx, ApiJson(d): ApiJson<RuleYamlDto>) -> ApiResult<RuleCheckDto> {
    ctx.actor()?.require(P::SocManage)?;
    Ok(Json(match s.services.check_soc_rule(&d.yaml) {
        Ok(list) => RuleCheckDto {
            valid: true,
            rules: list.into_iter().map(|r| rule_dto(r, true, true)).collect(),
            problems: vec![],
        },
        Err(problems) => {
            RuleCheckDto { valid: false, rules: vec![], problems: problems.into_iter().map(Into::into).collect() }
        }
    }))
}

async fn save_rule(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(tenant): Path<i64>,
    ApiJson(d): ApiJson<RuleYamlDto>,
) -> ApiResult<RuleCheckDto> {
    let saved = s.services.save_soc_rule(ctx.actor()?, TenantId(tenant), &d.yaml).await?;
    let summary = s.services.check_soc_rule(&saved.yaml).map_err(|_| ServiceError::Internal("saved rule".into()))?;
    Ok(Json(RuleCheckDto {
        valid: true,
        rules: summary.into_iter().map(|r| rule_dto(r, saved.enabled, true)).collect(),
        problems: vec![],
    }))
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct SwitchDto {
    pub enabled: bool,
}

async fn set_rule(
    State(s): State<AppState>,
    ctx: Ctx,
    Path((tenant, rule)): Path<(i64, String)>,
    ApiJson(d): ApiJson<SwitchDto>,
) -> ApiResult<SwitchDto> {
    s.services.set_soc_rule(ctx.actor()?, TenantId(tenant), &rule, d.enabled).await?;
    Ok(Json(d))
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct RetentionDto {
    pub days: u32,
}

async fn set_retention(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(tenant): Path<i64>,
    ApiJson(d): ApiJson<RetentionDto>,
) -> ApiResult<RetentionDto> {
    s.services.set_soc_retention(ctx.actor()?, TenantId(tenant), d.days).await?;
    Ok(Json(d))
}

pub fn triage_routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(
            M::GET,
            "/api/v1/soc/queue",
            P::SocManage,
            Kind::Api,
            "Open SOC alerts of the analyst's tenants with triage (packages 2 and 3); `in_hours` first.",
            queue,
        )
        .gives::<Vec<QueueItemDto>>(),
        route(
            M::POST,
            "/api/v1/alerts/{alert}/triage",
            P::SocManage,
            Kind::Api,
            "Reprioritise (`severity`), reclassify (`class`) and close with a `verdict` (true_positive, false_positive).",
            triage,
        )
        .takes::<TriageDto>(),
        route(
            M::POST,
            "/api/v1/alerts/{alert}/recommendation",
            P::SocManage,
            Kind::Api,
            "A recommendation on the timeline, mailed to the tenant's e-mail contacts.",
            recommend,
        )
        .takes::<TextDto>(),
        route(
            M::POST,
            "/api/v1/alerts/{alert}/internal-notes",
            P::SocManage,
            Kind::Api,
            "A note only provider staff see.",
            internal_note,
        )
        .takes::<TextDto>(),
        route(M::GET, "/api/v1/soc/indicators", P::SocManage, Kind::Api, "The provider's indicator list.", indicators)
            .gives::<Vec<IndicatorDto>>(),
        route(
            M::POST,
            "/api/v1/soc/indicators",
            P::SocManage,
            Kind::Api,
            "Add an indicator (`kind`: ip, domain, hash, user).",
            add_indicator,
        )
        .takes::<IndicatorInputDto>()
        .gives::<IndicatorDto>(),
        route(
            M::DELETE,
            "/api/v1/soc/indicators/{indicator}",
            P::SocManage,
            Kind::Api,
            "Remove an indicator.",
            remove_indicator,
        ),
        route(
            M::GET,
            "/api/v1/soc/indicators/check",
            P::SocManage,
            Kind::Api,
            "Which observables (`?values=a,b`) are on the indicator list.",
            check_indicators,
        )
        .gives::<Vec<IndicatorDto>>(),
        route(
            M::GET,
            "/api/v1/soc/fair-use",
            P::SocManage,
            Kind::Api,
            "SOC alerts and handled incidents per tenant in a month (`?month=2026-11`) against the package.",
            fair_use,
        )
        .gives::<Vec<FairUseDto>>(),
    ]
}

#[derive(Serialize, JsonSchema)]
pub struct QueueItemDto {
    pub alert: AlertDto,
    pub tenant_name: String,
    /// `2` or `3`.
    pub package: String,
    pub in_hours: bool,
    pub next_start: Option<String>,
}

async fn queue(State(s): State<AppState>, ctx: Ctx) -> ApiResult<Vec<QueueItemDto>> {
    let items = s.services.soc_queue(ctx.actor()?).await?;
    Ok(Json(
        items
            .into_iter()
            .map(|i| QueueItemDto {
                tenant_name: i.tenant_name,
                package: i.package.as_str().to_owned(),
                in_hours: i.in_hours,
                next_start: i.next_start.map(|t| t.to_string()),
                alert: i.alert.into(),
            })
            .collect(),
    ))
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct TriageDto {
    pub severity: Option<String>,
    pub class: Option<String>,
    pub verdict: Option<String>,
}

async fn triage(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(d): ApiJson<TriageDto>,
) -> ApiResult<TriageDto> {
    s.services
        .triage_soc_alert(ctx.actor()?, id, d.severity.as_deref(), d.class.as_deref(), d.verdict.as_deref())
        .await?;
    Ok(Json(d))
}

#[derive(Deserialize, JsonSchema)]
pub struct TextDto {
    pub text: String,
}

#[derive(Serialize, JsonSchema)]
pub struct ToldDto {
    /// Contacts the recommendation is mailed to.
    pub contacts: usize,
}

async fn recommend(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(d): ApiJson<TextDto>,
) -> ApiResult<ToldDto> {
    Ok(Json(ToldDto { contacts: s.services.recommend(ctx.actor()?, id, &d.text).await? }))
}

async fn internal_note(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(d): ApiJson<TextDto>,
) -> ApiResult<ToldDto> {
    s.services.soc_internal_note(ctx.actor()?, id, &d.text).await?;
    Ok(Json(ToldDto { contacts: 0 }))
}

#[derive(Serialize, JsonSchema)]
pub struct IndicatorDto {
    pub id: i64,
    pub kind: leitstand_domain::soc::IndicatorKind,
    pub value: String,
    pub note: String,
    pub added_at: String,
}

impl From<leitstand_store::Indicator> for IndicatorDto {
    fn from(i: leitstand_store::Indicator) -> Self {
        IndicatorDto { id: i.id, kind: i.kind, value: i.value, note: i.note, added_at: i.added_at.to_string() }
    }
}

#[derive(Deserialize, JsonSchema)]
pub struct IndicatorInputDto {
    pub kind: String,
    pub value: String,
    #[serde(default)]
    pub note: String,
}

async fn indicators(State(s): State<AppState>, ctx: Ctx) -> ApiResult<Vec<IndicatorDto>> {
    Ok(Json(s.services.indicators(ctx.actor()?).await?.into_iter().map(Into::into).collect()))
}

async fn add_indicator(
    State(s): State<AppState>,
    ctx: Ctx,
    ApiJson(d): ApiJson<IndicatorInputDto>,
) -> ApiResult<IndicatorDto> {
    Ok(Json(s.services.add_indicator(ctx.actor()?, &d.kind, &d.value, &d.note).await?.into()))
}

async fn remove_indicator(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<serde_json::Value> {
    s.services.remove_indicator(ctx.actor()?, id).await?;
    Ok(Json(serde_json::json!({ "removed": id })))
}

#[derive(Deserialize)]
struct CheckQuery {
    #[serde(default)]
    values: String,
    month: Option<String>,
}

async fn check_indicators(
    State(s): State<AppState>,
    ctx: Ctx,
    Query(q): Query<CheckQuery>,
) -> ApiResult<Vec<IndicatorDto>> {
    let values: Vec<&str> = q.values.split(',').map(str::trim).filter(|v| !v.is_empty()).collect();
    Ok(Json(s.services.check_observables(ctx.actor()?, &values).await?.into_iter().map(Into::into).collect()))
}

#[derive(Serialize, JsonSchema)]
pub struct FairUseDto {
    pub tenant: TenantId,
    pub name: String,
    pub package: String,
    pub alerts: u64,
    pub handled: u64,
    pub included_alerts: u64,
    pub included_handled: u64,
    /// More than three times the package (SOC-12).
    pub over: bool,
}

async fn fair_use(State(s): State<AppState>, ctx: Ctx, Query(q): Query<CheckQuery>) -> ApiResult<Vec<FairUseDto>> {
    let now = s.services.now().to_zoned(ctx.tz.clone()).strftime("%Y-%m").to_string();
    let month = q.month.unwrap_or(now);
    let (y, m) = month
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse::<i16>().ok()?, m.parse::<i8>().ok()?)))
        .ok_or_else(|| ServiceError::BadInput(format!("month {month:?}: write it as YYYY-MM")))?;
    let rows = s.services.soc_fair_use(ctx.actor()?, y, m).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| FairUseDto {
                tenant: r.tenant,
                name: r.name,
                package: r.package.as_str().to_owned(),
                alerts: r.alerts,
                handled: r.handled,
                included_alerts: r.included.0,
                included_handled: r.included.1,
                over: r.over,
            })
            .collect(),
    ))
}
