//! Inventories in the API: the sections of a host, one section paged,
//! questions across hosts. Items are the agent's JSON, tagged by `type`.

use super::ApiResult;
use crate::app::AppState;
use crate::http::Ctx;
use crate::routes::{route, Kind, RouteDef};
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::Json;
use leitstand_domain::{HostId, Permission as P, TenantId};
use leitstand_proto::inventory::Section;
use leitstand_service::{InventoryQuestion, ServiceError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(
            M::GET,
            "/api/v1/hosts/{host}/inventory",
            P::HostsRead,
            Kind::Api,
            "The inventory sections of a host: when each was read, item count, the collector's error if any.",
            sections,
        )
        .gives::<Vec<SectionDto>>(),
        route(
            M::GET,
            "/api/v1/hosts/{host}/inventory/{section}",
            P::HostsRead,
            Kind::Api,
            "One section (software, autostarts, services, ports, processes, users, groups, system), paged: \
             `?q=` (part of name or key) `&page=` (from 0) `&per_page=` (at most 1000). Processes come in tree \
             order with their depth.",
            items,
        )
        .gives::<ItemPageDto>(),
        route(
            M::GET,
            "/api/v1/inventory",
            P::HostsRead,
            Kind::Api,
            "Which hosts have …: `?section=software&name=openssl&below=3.0.13-1~deb12u1` (dpkg or rpm version \
             order), `?port=3389`, or `?section=services&name=nginx.service`; `&tenant=` narrows.",
            ask,
        )
        .gives::<Vec<FoundDto>>(),
        route(
            M::GET,
            "/api/v1/hosts/{host}/checklist",
            P::HostsRead,
            Kind::Api,
            "A host's hardening checklist: score, counts, and each check with result, evidence, rationale and \
             remedy in the caller's language (failures first).",
            checklist,
        )
        .gives::<ChecklistDto>(),
        route(
            M::GET,
            "/api/v1/checklist",
            P::HostsRead,
            Kind::Api,
            "Hardening scores per tenant (mean of its hosts) and per host; `?tenant=` narrows.",
            scores,
        )
        .gives::<ScoresDto>(),
    ]
}

#[derive(Serialize, JsonSchema)]
pub struct CheckDto {
    pub id: String,
    pub topic: String,
    pub title: String,
    /// `pass`, `fail`, `not_applicable` or `error`.
    pub result: String,
    pub evidence: String,
    pub rationale: String,
    pub remedy: String,
}

#[derive(Serialize, JsonSchema)]
pub struct ChecklistDto {
    /// Passed among passed and failed, 0–100; null before any result.
    pub score: Option<u8>,
    pub pass: u64,
    pub fail: u64,
    pub not_applicable: u64,
    pub error: u64,
    pub checked_at: Option<String>,
    pub checks: Vec<CheckDto>,
}

async fn checklist(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<ChecklistDto> {
    use crate::web::checklist::{rows, tally};
    let checks = s.services.host_checklist(ctx.actor()?, HostId(id)).await?;
    let (pass, fail, not_applicable, error, score) = tally(&checks);
    let checked_at = checks.iter().map(|c| c.checked_at).max().map(|t| t.to_string());
    let checks = rows(ctx.lang.code(), &checks)
        .into_iter()
        .map(|r| CheckDto {
            id: r.id,
            topic: r.topic,
            title: r.title,
            result: r.result,
            evidence: r.evidence,
            rationale: r.rationale,
            remedy: r.remedy,
        })
        .collect();
    Ok(Json(ChecklistDto { score, pass, fail, not_applicable, error, checked_at, checks }))
}

#[derive(Serialize, JsonSchema)]
pub struct TenantScoreDto {
    pub tenant: TenantId,
    pub name: String,
    pub hosts: usize,
    pub score: Option<u8>,
}

#[derive(Serialize, JsonSchema)]
pub struct HostScoreDto {
    pub host: HostId,
    pub host_name: String,
    pub tenant: TenantId,
    pub score: Option<u8>,
    pub pass: u64,
    pub fail: u64,
    pub not_applicable: u64,
    pub error: u64,
    pub checked_at: String,
}

#[derive(Serialize, JsonSchema)]
pub struct ScoresDto {
    pub tenants: Vec<TenantScoreDto>,
    pub hosts: Vec<HostScoreDto>,
}

#[derive(Deserialize)]
struct ScoresQuery {
    tenant: Option<i64>,
}

async fn scores(State(s): State<AppState>, ctx: Ctx, Query(q): Query<ScoresQuery>) -> ApiResult<ScoresDto> {
    let a = ctx.actor()?;
    let hosts = s.services.checklist_counts(a, q.tenant.map(TenantId)).await?;
    let names = s.services.tenants(a).await.unwrap_or_default().into_iter().map(|t| (t.id, t.name)).collect();
    let tenants = crate::web::checklist::tenant_scores(&hosts, &names)
        .into_iter()
        .map(|t| TenantScoreDto { tenant: t.tenant, name: t.name, hosts: t.hosts, score: t.score })
        .collect();
    let hosts = hosts
        .into_iter()
        .map(|h| HostScoreDto {
            score: leitstand_proto::checklist::score(h.pass, h.fail),
            host: h.host,
            host_name: h.host_name,
            tenant: h.tenant,
            pass: h.pass,
            fail: h.fail,
            not_applicable: h.not_applicable,
            error: h.error,
            checked_at: h.checked_at.to_string(),
        })
        .collect();
    Ok(Json(ScoresDto { tenants, hosts }))
}

#[derive(Serialize, JsonSchema)]
pub struct SectionDto {
    pub section: String,
    pub updated_at: Option<String>,
    pub items: u64,
    /// The collector's error when its latest run failed; the items are
    /// the last good state.
    pub error: Option<String>,
    pub error_at: Option<String>,
    /// Items the agent left out (bound per section).
    pub truncated: u64,
}

async fn sections(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> ApiResult<Vec<SectionDto>> {
    let list = s.services.inventory_sections(ctx.actor()?, HostId(id)).await?;
    Ok(Json(
        list.into_iter()
            .map(|st| SectionDto {
                section: st.section,
                updated_at: st.updated_at.map(|t| t.to_string()),
                items: st.items,
                error: st.error,
                error_at: st.error_at.map(|t| t.to_string()),
                truncated: st.truncated,
            })
            .collect(),
    ))
}

#[derive(Serialize, JsonSchema)]
pub struct ItemDto {
    /// Depth in the process tree; 0 for other sections.
    pub depth: usize,
    /// The item as the agent reported it, with `type` (package, autostart,
    /// service, listener, process, user, group, system).
    pub item: serde_json::Value,
}

#[derive(Serialize, JsonSchema)]
pub struct ItemPageDto {
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub items: Vec<ItemDto>,
}

#[derive(Deserialize)]
struct ItemsQuery {
    q: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

async fn items(
    State(s): State<AppState>,
    ctx: Ctx,
    Path((id, section)): Path<(i64, String)>,
    Query(q): Query<ItemsQuery>,
) -> ApiResult<ItemPageDto> {
    let section = Section::parse(&section).ok_or(ServiceError::NotFound)?;
    let per_page = q.per_page.unwrap_or(100).clamp(1, 1000);
    let page =
        s.services.inventory_items(ctx.actor()?, HostId(id), section, q.q, q.page.unwrap_or(0), per_page).await?;
    Ok(Json(ItemPageDto {
        total: page.total,
        page: page.page,
        per_page: page.per_page,
        items: page
            .items
            .into_iter()
            .map(|(depth, item)| ItemDto { depth, item: serde_json::to_value(item).unwrap_or_default() })
            .collect(),
    }))
}

#[derive(Serialize, JsonSchema)]
pub struct FoundDto {
    pub host: HostId,
    pub host_name: String,
    pub item: serde_json::Value,
}

#[derive(Deserialize)]
struct AskQuery {
    tenant: Option<i64>,
    section: Option<String>,
    name: Option<String>,
    below: Option<String>,
    port: Option<u16>,
}

async fn ask(State(s): State<AppState>, ctx: Ctx, Query(q): Query<AskQuery>) -> ApiResult<Vec<FoundDto>> {
    let section = match q.section.as_deref() {
        None | Some("") => None,
        Some(x) => Some(Section::parse(x).ok_or_else(|| {
            ServiceError::BadInput(format!(
                "section {x:?} is not one of software, autostarts, services, ports, processes, users, groups"
            ))
        })?),
    };
    let question = InventoryQuestion { section, name: q.name, below: q.below, port: q.port };
    let found = s.services.ask_inventory(ctx.actor()?, q.tenant.map(TenantId), question).await?;
    Ok(Json(
        found
            .into_iter()
            .map(|f| FoundDto {
                host: f.host,
                host_name: f.host_name,
                item: serde_json::to_value(f.item).unwrap_or_default(),
            })
            .collect(),
    ))
}
