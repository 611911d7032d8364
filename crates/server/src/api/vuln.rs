//! Vulnerabilities in the API (VULN-1, VULN-2): findings (filtered, as a
//! file), hosts' scan state, risk acceptance, the tenant's alarm threshold,
//! and the advisory feeds for the provider.

use super::ApiResult;
use crate::app::AppState;
use crate::http::{ApiJson, Ctx};
use crate::routes::{route, Kind, RouteDef};
use crate::web::vuln::FindingForm;
use axum::extract::{Path, Query, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use leitstand_domain::{Permission as P, TenantId};
use leitstand_service::{score_text, AcceptInput, ServiceError, FINDING_COLUMNS};
use leitstand_store::{VulnFinding, VulnHost};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(
            M::GET,
            "/api/v1/vulnerabilities",
            P::HostsRead,
            Kind::Api,
            "Findings, highest score first: `?tenant=` `&host=` `&status=open|accepted|fixed|all` `&state=` \
             `&min_score=7.5` `&q=` `&page=`.",
            list,
        )
        .gives::<FindingPageDto>(),
        route(
            M::GET,
            "/api/v1/vulnerabilities/export",
            P::HostsRead,
            Kind::Api,
            "The findings file: `?format=csv|json` and the list's filters.",
            export,
        ),
        route(
            M::GET,
            "/api/v1/vulnerabilities/hosts",
            P::HostsRead,
            Kind::Api,
            "Each scanned host: release, end of support, open findings per severity: `?tenant=`.",
            hosts,
        )
        .gives::<Vec<VulnHostDto>>(),
        route(M::GET, "/api/v1/vulnerabilities/{finding}", P::HostsRead, Kind::Api, "One finding.", finding)
            .gives::<FindingDto>(),
        route(
            M::PUT,
            "/api/v1/vulnerabilities/{finding}/acceptance",
            P::HostsManage,
            Kind::Api,
            "Accept the finding's risk until a day (`YYYY-MM-DD`), with a reason.",
            accept,
        )
        .takes::<AcceptDto>()
        .gives::<FindingDto>(),
        route(
            M::DELETE,
            "/api/v1/vulnerabilities/{finding}/acceptance",
            P::HostsManage,
            Kind::Api,
            "Withdraw a risk acceptance.",
            withdraw,
        )
        .gives::<FindingDto>(),
        route(
            M::GET,
            "/api/v1/tenants/{tenant}/vulnerability-threshold",
            P::HostsRead,
            Kind::Api,
            "The CVSS score from which a new finding raises the alarm.",
            threshold,
        )
        .gives::<ThresholdDto>(),
        route(
            M::PUT,
            "/api/v1/tenants/{tenant}/vulnerability-threshold",
            P::HostsManage,
            Kind::Api,
            "Set the CVSS score from which a new finding raises the alarm (0 to 10).",
            set_threshold,
        )
        .takes::<ThresholdDto>()
        .gives::<ThresholdDto>(),
        route(
            M::GET,
            "/api/v1/vulnerability-feeds",
            P::PolicyManage,
            Kind::Api,
            "The advisory feeds: when loaded, what they held, the last error.",
            feeds,
        )
        .gives::<Vec<FeedDto>>(),
    ]
}

/// A finding.
#[derive(Serialize, JsonSchema)]
pub struct FindingDto {
    pub id: i64,
    pub tenant: TenantId,
    pub host: i64,
    pub host_name: String,
    pub cve: String,
    /// Source package.
    pub package: String,
    pub binaries: String,
    pub installed: String,
    pub fixed_version: Option<String>,
    /// `fix_available`, `not_fixed`, `ignored` (by the distribution), `end_of_life`.
    pub state: String,
    pub note: String,
    pub advisory: Option<String>,
    /// CVSS base score, e.g. `8.1`.
    pub cvss_score: Option<String>,
    pub cvss_vector: Option<String>,
    /// `critical`, `high`, `medium`, `low`, `none`, `unknown`.
    pub severity: String,
    pub title: String,
    /// `open`, `accepted`, `fixed`.
    pub status: String,
    pub first_seen: String,
    pub last_seen: String,
    pub fixed_at: Option<String>,
    pub accepted_reason: Option<String>,
    pub accepted_until: Option<String>,
    pub accepted_by: Option<String>,
}

impl From<VulnFinding> for FindingDto {
    fn from(f: VulnFinding) -> Self {
        FindingDto {
            id: f.id,
            tenant: f.tenant,
            host: f.host.0,
            host_name: f.host_name,
            cve: f.cve,
            package: f.package,
            binaries: f.binaries,
            installed: f.installed,
            fixed_version: f.fixed,
            state: f.state,
            note: f.note,
            advisory: f.advisory,
            cvss_score: f.score_tenths.map(score_text),
            cvss_vector: f.vector,
            severity: f.severity,
            title: f.title,
            status: f.status,
            first_seen: f.first_seen.to_string(),
            last_seen: f.last_seen.to_string(),
            fixed_at: f.fixed_at.map(|t| t.to_string()),
            accepted_reason: f.accepted_reason,
            accepted_until: f.accepted_until.map(|t| t.to_string()),
            accepted_by: f.accepted_by,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct FindingPageDto {
    pub total: u64,
    pub findings: Vec<FindingDto>,
}

async fn list(State(s): State<AppState>, ctx: Ctx, Query(q): Query<FindingForm>) -> ApiResult<FindingPageDto> {
    let page = s.services.vuln_findings(ctx.actor()?, q.query(q.tenant.map(TenantId))).await?;
    Ok(Json(FindingPageDto { total: page.total, findings: page.findings.into_iter().map(Into::into).collect() }))
}

async fn export(
    State(s): State<AppState>,
    ctx: Ctx,
    Query(q): Query<FindingForm>,
) -> Result<Response, super::ApiError> {
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "csv" | "json") {
        return Err(ServiceError::BadInput(format!("format {format:?}: use csv or json")).into());
    }
    let rows = crate::web::vuln::export_rows(&s, ctx.actor()?, &q, q.tenant.map(TenantId)).await?;
    if format == "csv" {
        let header: Vec<String> = FINDING_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        return Ok(crate::web::csv::response(&s, "vulnerabilities", &header, rows.into_iter()));
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], crate::web::csv::json_text(&FINDING_COLUMNS, &rows))
        .into_response())
}

/// A host's scan state.
#[derive(Serialize, JsonSchema)]
pub struct VulnHostDto {
    pub host: i64,
    pub tenant: TenantId,
    pub host_name: String,
    pub release: Option<String>,
    /// Last day of the release's security support.
    pub end_of_support: Option<String>,
    pub out_of_support: bool,
    pub packages: u32,
    /// Why the host could not be scanned.
    pub problem: Option<String>,
    pub scanned_at: String,
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub unscored: u32,
    /// Pending updates (PATCH-1) and of them security updates.
    pub updates: u32,
    pub security_updates: u32,
}

impl From<VulnHost> for VulnHostDto {
    fn from(h: VulnHost) -> Self {
        VulnHostDto {
            host: h.host.0,
            tenant: h.tenant,
            host_name: h.host_name,
            release: h.release,
            end_of_support: h.end_of_support,
            out_of_support: h.out_of_support,
            packages: h.packages,
            problem: h.problem,
            scanned_at: h.scanned_at.to_string(),
            critical: h.critical,
            high: h.high,
            medium: h.medium,
            low: h.low,
            unscored: h.unscored,
            updates: h.updates,
            security_updates: h.security_updates,
        }
    }
}

#[derive(Deserialize)]
struct TenantQuery {
    tenant: Option<i64>,
}

async fn hosts(State(s): State<AppState>, ctx: Ctx, Query(q): Query<TenantQuery>) -> ApiResult<Vec<VulnHostDto>> {
    let hosts = s.services.vuln_hosts(ctx.actor()?, q.tenant.map(TenantId)).await?;
    Ok(Json(hosts.into_iter().map(Into::into).collect()))
}

async fn finding(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<FindingDto> {
    Ok(Json(s.services.vuln_finding(ctx.actor()?, id).await?.into()))
}

#[derive(Deserialize, JsonSchema)]
pub struct AcceptDto {
    pub reason: String,
    /// Last day the acceptance holds, `YYYY-MM-DD` (at most a year ahead).
    pub until: String,
}

async fn accept(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    ApiJson(d): ApiJson<AcceptDto>,
) -> ApiResult<FindingDto> {
    let input = AcceptInput { reason: d.reason, until: d.until };
    Ok(Json(s.services.accept_vuln_risk(ctx.actor()?, id, &input).await?.into()))
}

async fn withdraw(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<FindingDto> {
    Ok(Json(s.services.withdraw_vuln_acceptance(ctx.actor()?, id).await?.into()))
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct ThresholdDto {
    /// CVSS score, e.g. `7.0`.
    pub min_score: String,
}

async fn threshold(State(s): State<AppState>, ctx: Ctx, Path(tenant): Path<i64>) -> ApiResult<ThresholdDto> {
    let t = s.services.vuln_min_score(ctx.actor()?, TenantId(tenant)).await?;
    Ok(Json(ThresholdDto { min_score: score_text(t) }))
}

async fn set_threshold(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(tenant): Path<i64>,
    ApiJson(d): ApiJson<ThresholdDto>,
) -> ApiResult<ThresholdDto> {
    let t = s.services.set_vuln_min_score(ctx.actor()?, TenantId(tenant), &d.min_score).await?;
    Ok(Json(ThresholdDto { min_score: score_text(t) }))
}

/// An advisory feed's state.
#[derive(Serialize, JsonSchema)]
pub struct FeedDto {
    pub name: String,
    /// `debian-tracker` or `osv`.
    pub kind: String,
    pub location: String,
    pub loaded_at: Option<String>,
    pub records: usize,
    pub entries: usize,
    pub skipped: usize,
    pub error: Option<String>,
    pub error_at: Option<String>,
}

async fn feeds(State(s): State<AppState>, ctx: Ctx) -> ApiResult<Vec<FeedDto>> {
    let (feeds, _, _) = s.services.feed_status(ctx.actor()?)?;
    Ok(Json(
        feeds
            .into_iter()
            .map(|f| FeedDto {
                name: f.spec.name,
                kind: f.spec.kind.name().into(),
                location: f.spec.location,
                loaded_at: f.loaded_at.map(|t| t.to_string()),
                records: f.stats.records,
                entries: f.stats.entries,
                skipped: f.stats.skipped,
                error: f.error,
                error_at: f.error_at.map(|t| t.to_string()),
            })
            .collect(),
    ))
}
