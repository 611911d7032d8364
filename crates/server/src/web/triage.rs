//! SOC analyst work in the console (SOC-5, SOC-12, SOC-13): the queue of
//! the analyst's tenants in their package hours, the triage form of a SOC
//! alert (priority, class, internal note, recommendation, verdict), the
//! indicator list with its check, and the monthly fair-use figures.

use super::{done, page, render, Page, WebResult};
use crate::app::AppState;
use crate::http::{Ctx, WebForm};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use leitstand_domain::Permission as P;
use leitstand_service::{FairUseRow, QueueItem};
use leitstand_store::Indicator;
use serde::Deserialize;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/app/soc/queue", P::SocManage, Kind::Web, "The analysts' queue in package hours.", queue),
        route(
            M::POST,
            "/app/alerts/{alert}/triage",
            P::SocManage,
            Kind::Web,
            "Reprioritise, reclassify or close.",
            triage,
        ),
        route(
            M::POST,
            "/app/alerts/{alert}/internal-notes",
            P::SocManage,
            Kind::Web,
            "An internal note.",
            internal_note,
        ),
        route(
            M::POST,
            "/app/alerts/{alert}/recommendation",
            P::SocManage,
            Kind::Web,
            "A recommendation to the customer's contacts.",
            recommend,
        ),
        route(M::GET, "/app/soc/indicators", P::SocManage, Kind::Web, "The indicator list and its check.", indicators),
        route(M::POST, "/app/soc/indicators", P::SocManage, Kind::Web, "Add an indicator.", add_indicator),
        route(
            M::POST,
            "/app/soc/indicators/{indicator}/delete",
            P::SocManage,
            Kind::Web,
            "Remove an indicator.",
            remove_indicator,
        ),
        route(
            M::GET,
            "/app/soc/fair-use",
            P::SocManage,
            Kind::Web,
            "Monthly SOC usage against the packages.",
            fair_use,
        ),
    ]
}

#[derive(Template)]
#[template(path = "soc_queue.html")]
struct QueueTpl {
    p: Page,
    now: Vec<QueueItem>,
    later: Vec<QueueItem>,
}

impl QueueTpl {
    fn title(&self, i: &QueueItem) -> String {
        super::alerts::alert_title(&self.p, &i.alert)
    }
}

#[derive(Deserialize, Default)]
struct Flash {
    ok: Option<String>,
    check: Option<String>,
    month: Option<String>,
}

async fn queue(State(s): State<AppState>, ctx: Ctx, Query(f): Query<Flash>) -> WebResult {
    let items = s.services.soc_queue(ctx.actor()?).await?;
    let (now, later) = items.into_iter().partition(|i| i.in_hours);
    let p = page(&s, &ctx, "page-soc-queue", f.ok.as_deref()).await;
    Ok(render(&QueueTpl { p, now, later }))
}

#[derive(Deserialize)]
struct TriageForm {
    #[serde(default)]
    severity: String,
    #[serde(default)]
    class: String,
    #[serde(default)]
    verdict: String,
}

async fn triage(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<TriageForm>,
) -> WebResult {
    let a = ctx.actor()?;
    s.services.triage_soc_alert(a, id, Some(&f.severity), Some(&f.class), Some(&f.verdict)).await?;
    Ok(done(&format!("/app/alerts/{id}"), if f.verdict.is_empty() { "msg-saved" } else { "msg-soc-closed" }))
}

#[derive(Deserialize)]
struct TextForm {
    #[serde(default)]
    text: String,
}

async fn internal_note(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<TextForm>,
) -> WebResult {
    s.services.soc_internal_note(ctx.actor()?, id, &f.text).await?;
    Ok(done(&format!("/app/alerts/{id}"), "msg-saved"))
}

async fn recommend(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<TextForm>,
) -> WebResult {
    let told = s.services.recommend(ctx.actor()?, id, &f.text).await?;
    Ok(done(
        &format!("/app/alerts/{id}"),
        if told > 0 { "msg-recommendation-sent" } else { "msg-recommendation-noted" },
    ))
}

#[derive(Template)]
#[template(path = "soc_indicators.html")]
struct IndicatorsTpl {
    p: Page,
    indicators: Vec<Indicator>,
    kinds: Vec<(&'static str, String)>,
    check: String,
    hits: Option<Vec<Indicator>>,
}

async fn indicators(State(s): State<AppState>, ctx: Ctx, Query(f): Query<Flash>) -> WebResult {
    let a = ctx.actor()?;
    let list = s.services.indicators(a).await?;
    let check = f.check.unwrap_or_default();
    let hits = if check.trim().is_empty() {
        None
    } else {
        let values: Vec<&str> = check.split([',', ' ', '\n']).filter(|v| !v.is_empty()).collect();
        Some(s.services.check_observables(a, &values).await?)
    };
    let p = page(&s, &ctx, "page-soc-indicators", f.ok.as_deref()).await;
    let kinds = leitstand_domain::soc::IndicatorKind::ALL
        .iter()
        .map(|k| (k.as_str(), p.tk("label-indicator-", k.as_str())))
        .collect();
    Ok(render(&IndicatorsTpl { p, indicators: list, kinds, check, hits }))
}

#[derive(Deserialize)]
struct IndicatorForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    note: String,
}

async fn add_indicator(State(s): State<AppState>, ctx: Ctx, WebForm(f): WebForm<IndicatorForm>) -> WebResult {
    s.services.add_indicator(ctx.actor()?, &f.kind, &f.value, &f.note).await?;
    Ok(done("/app/soc/indicators", "msg-saved"))
}

async fn remove_indicator(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    s.services.remove_indicator(ctx.actor()?, id).await?;
    Ok(done("/app/soc/indicators", "msg-saved"))
}

#[derive(Template)]
#[template(path = "soc_fair_use.html")]
struct FairUseTpl {
    p: Page,
    month: String,
    rows: Vec<FairUseRow>,
}

async fn fair_use(State(s): State<AppState>, ctx: Ctx, Query(f): Query<Flash>) -> WebResult {
    let now = s.services.now().to_zoned(ctx.tz.clone());
    let month = f.month.unwrap_or_else(|| now.strftime("%Y-%m").to_string());
    let (year, mon) = month
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse::<i16>().ok()?, m.parse::<i8>().ok()?)))
        .ok_or_else(|| leitstand_service::ServiceError::field("month", "error-month"))?;
    let rows = s.services.soc_fair_use(ctx.actor()?, year, mon).await?;
    let p = page(&s, &ctx, "page-soc-fair-use", None).await;
    Ok(render(&FairUseTpl { p, month, rows }))
}
