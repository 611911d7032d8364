//! The audit log page with filters, and its CSV export (PLAT-6).

use super::{page, render, Page, WebResult};
use crate::app::AppState;
use crate::http::Ctx;
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, Method};
use axum::response::IntoResponse;
use jiff::civil::Date;
use leitstand_domain::{AuditSeq, Permission as P, TenantId};
use leitstand_service::ServiceError;
use leitstand_store::{AuditEntry, AuditFilter, Tenant};
use serde::Deserialize;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/app/audit", P::AuditRead, Kind::Web, "Audit log.", audit),
        route(M::GET, "/app/audit.csv", P::AuditRead, Kind::Web, "Audit log as CSV.", audit_csv),
    ]
}

/// Filters as they come in the query string; dates are `YYYY-MM-DD` in the
/// reader's time zone, `until` inclusive.
#[derive(Deserialize, Default, Clone)]
pub struct AuditQuery {
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub actor: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub before: Option<i64>,
    #[serde(default)]
    pub limit: Option<u32>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl AuditQuery {
    pub fn to_filter(&self, ctx: &Ctx) -> Result<AuditFilter, ServiceError> {
        let mut errors = vec![];
        let day = |field: &'static str, v: Option<&str>, errors: &mut Vec<_>, plus: i64| {
            v.and_then(|d| match d.parse::<Date>() {
                Ok(date) => date
                    .checked_add(jiff::Span::new().days(plus))
                    .ok()
                    .and_then(|d| d.to_zoned(ctx.tz.clone()).ok())
                    .map(|z| z.timestamp()),
                Err(_) => {
                    errors.push(leitstand_domain::FieldError::new(field, "error-date"));
                    None
                }
            })
        };
        let since = day("since", nonempty(&self.since), &mut errors, 0);
        let until = day("until", nonempty(&self.until), &mut errors, 1);
        let tenant = match nonempty(&self.tenant) {
            Some(t) => match t.parse() {
                Ok(id) => Some(TenantId(id)),
                Err(_) => {
                    errors.push(leitstand_domain::FieldError::new("tenant", "error-invalid"));
                    None
                }
            },
            None => ctx.selected_tenant,
        };
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        Ok(AuditFilter {
            tenant,
            actor: nonempty(&self.actor).map(str::to_owned),
            action: nonempty(&self.action).map(str::to_owned),
            since,
            until,
            before: self.before.map(AuditSeq),
            limit: self.limit.unwrap_or(100).clamp(1, 1000),
        })
    }

    /// The query string for the next page.
    fn next_page(&self, before: i64) -> String {
        let q = AuditQuery { before: Some(before), ..self.clone() };
        let pairs: Vec<(&str, String)> = [
            ("tenant", q.tenant.clone()),
            ("actor", q.actor.clone()),
            ("action", q.action.clone()),
            ("since", q.since.clone()),
            ("until", q.until.clone()),
            ("before", q.before.map(|b| b.to_string())),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    fn export_query(&self) -> String {
        let mut q = self.next_page(0);
        q = q.split('&').filter(|p| !p.starts_with("before=")).collect::<Vec<_>>().join("&");
        q
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditTpl {
    p: Page,
    q: AuditQuery,
    entries: Vec<AuditEntry>,
    tenants: Vec<Tenant>,
    next: Option<String>,
    export: String,
    show_tenant: bool,
}

impl AuditTpl {
    fn tenant_name(&self, id: &Option<TenantId>) -> String {
        id.and_then(|id| self.tenants.iter().find(|t| t.id == id)).map(|t| t.name.clone()).unwrap_or_else(|| "–".into())
    }

    fn selected(&self, id: &TenantId) -> bool {
        nonempty(&self.q.tenant) == Some(id.0.to_string().as_str())
    }
}

async fn audit(State(s): State<AppState>, ctx: Ctx, Query(q): Query<AuditQuery>) -> WebResult {
    let a = ctx.actor()?;
    let filter = q.to_filter(&ctx)?;
    let page_ = s.services.audit_entries(a, &filter).await?;
    let tenants = s.services.tenants(a).await?;
    let p = page(&s, &ctx, "page-audit", None).await;
    let next = page_.next.map(|b| q.next_page(b.0));
    Ok(render(&AuditTpl {
        p,
        export: q.export_query(),
        show_tenant: tenants.len() > 1,
        q,
        entries: page_.entries,
        tenants,
        next,
    }))
}

async fn audit_csv(State(s): State<AppState>, ctx: Ctx, Query(q): Query<AuditQuery>) -> WebResult {
    let a = ctx.actor()?;
    let mut filter = q.to_filter(&ctx)?;
    filter.limit = 1000;
    let mut out = String::from("seq,time_utc,actor,tenant_id,action,target,source,detail,hash\n");
    loop {
        let page_ = s.services.audit_entries(a, &filter).await?;
        for e in &page_.entries {
            let row = [
                e.seq.0.to_string(),
                e.at.to_string(),
                e.actor_name.clone(),
                e.tenant.map(|t| t.0.to_string()).unwrap_or_default(),
                e.action.clone(),
                e.target.clone(),
                e.source.clone(),
                e.detail.clone(),
                e.hash.clone(),
            ];
            out.push_str(&row.iter().map(|f| super::csv::field(f)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        match page_.next {
            Some(b) => filter.before = Some(b),
            None => break,
        }
    }
    let name = format!("leitstand-audit-{}.csv", s.services.now().strftime("%Y%m%d-%H%M%S"));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        out,
    )
        .into_response())
}
