//! The security dashboard (PLAT-3): per tenant, or across all tenants for
//! staff: open alerts by severity, hosts down, alerts waiting for provider
//! action, the riskiest hosts, checklist scores, 30-day trends as charts,
//! and the newest alert activity live (server-sent events). Every tile
//! links to the filtered list behind it.

use super::alerts::alert_title;
use super::{page, render, Page, WebResult};
use crate::app::AppState;
use crate::http::{ApiError, Ctx};
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use jiff::Timestamp;
use leitstand_domain::alert::Severity;
use leitstand_domain::{Permission as P, TenantId};
use leitstand_service::{Actor, Dashboard};
use leitstand_store::{Alert, AlertQuery};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(M::GET, "/app/dashboard", P::HostsRead, Kind::Web, "The security dashboard.", show),
        route(
            M::GET,
            "/app/dashboard/live",
            P::HostsRead,
            Kind::Web,
            "Server-sent events: an `alert` event (title, severity, host, state, link) whenever an alert opens \
             or changes.",
            live,
        ),
    ]
}

#[derive(Deserialize, Default)]
struct DashForm {
    tenant: Option<i64>,
}

/// One line of the live list, in the reader's language.
#[derive(serde::Serialize)]
pub struct LiveItem {
    pub id: i64,
    pub severity: &'static str,
    pub severity_label: String,
    pub title: String,
    pub host: String,
    pub state: &'static str,
    pub state_label: String,
    pub at: String,
    pub count: u64,
}

fn live_item(p: &Page, a: &Alert) -> LiveItem {
    LiveItem {
        id: a.id,
        severity: a.severity.as_str(),
        severity_label: p.tk("severity-", a.severity.as_str()),
        title: alert_title(p, a),
        host: a.host_name.clone().unwrap_or_else(|| "–".into()),
        state: a.state.as_str(),
        state_label: p.tk("alert-state-", a.state.as_str()),
        at: p.time(&a.last_at),
        count: a.count,
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Tpl {
    p: Page,
    d: Dashboard,
    tenant: Option<TenantId>,
    /// Staff looking at all tenants: one row per tenant.
    tenants: Vec<TenantRow>,
    names: BTreeMap<TenantId, String>,
    latest: Vec<LiveItem>,
    alert_chart: String,
    event_chart: String,
}

pub struct TenantRow {
    pub id: TenantId,
    pub name: String,
    pub open: [u64; 4],
    pub flagged: u64,
}

impl Tpl {
    fn title(&self, a: &Alert) -> String {
        alert_title(&self.p, a)
    }

    fn tenant_name(&self, t: &TenantId) -> String {
        self.names.get(t).cloned().unwrap_or_default()
    }

    fn score(&self, v: &f64) -> String {
        format!("{:.0} %", v)
    }

    fn tenant_q(&self) -> String {
        self.tenant.map(|t| format!("&tenant={}", t.0)).unwrap_or_default()
    }
}

/// The tenant to show: asked for, the staff's switch, or all in scope.
fn chosen(ctx: &Ctx, asked: Option<i64>) -> Option<TenantId> {
    asked.map(TenantId).or(ctx.selected_tenant)
}

async fn show(State(s): State<AppState>, ctx: Ctx, Query(f): Query<DashForm>) -> WebResult {
    let a = ctx.actor()?;
    let tenant = chosen(&ctx, f.tenant);
    let d = s.services.dashboard(a, tenant).await?;
    let mut p = page(&s, &ctx, "page-dashboard", None).await;
    let names: BTreeMap<TenantId, String> = s.services.tenants(a).await?.into_iter().map(|t| (t.id, t.name)).collect();
    if let Some(t) = tenant {
        p.title = format!("{} · {}", p.title, names.get(&t).cloned().unwrap_or_default());
    }
    let recent = AlertQuery { limit: 15, ..AlertQuery::default() };
    let mut latest_alerts = s.services.alerts(a, tenant, recent).await?;
    latest_alerts.sort_by_key(|x| std::cmp::Reverse(x.last_at));
    let latest = latest_alerts.iter().map(|x| live_item(&p, x)).collect();
    let tenants = if tenant.is_none() && a.role().is_staff() {
        d.per_tenant
            .iter()
            .map(|(id, open, flagged)| TenantRow {
                id: *id,
                name: names.get(id).cloned().unwrap_or_default(),
                open: *open,
                flagged: *flagged,
            })
            .collect()
    } else {
        vec![]
    };
    let labels: Vec<String> = Severity::ALL.iter().map(|s| p.tk("severity-", s.as_str())).collect();
    let alert_chart = bar_chart(
        &d.alert_days.iter().map(|(t, n)| (*t, n.to_vec())).collect::<Vec<_>>(),
        &labels,
        &["#8a94a3", "#e0a100", "#d9480f", "#b42318"],
        &p,
    );
    let event_labels = ["label-trend-failed-logins", "label-trend-changes", "label-trend-host-down"].map(|k| p.t(k));
    let event_chart = bar_chart(
        &d.event_days.iter().map(|(t, n)| (*t, n.to_vec())).collect::<Vec<_>>(),
        &event_labels,
        &["#b42318", "#0e7c86", "#6b4fbb"],
        &p,
    );
    Ok(render(&Tpl { p, d, tenant, tenants, names, latest, alert_chart, event_chart }))
}

/// Stacked bars per day as inline SVG (no script needed), with a legend
/// and the day's figures as a tooltip.
fn bar_chart(days: &[(i64, Vec<u64>)], labels: &[String], colours: &[&str], p: &Page) -> String {
    let (w, h, pad) = (600.0, 160.0, 24.0);
    let max = days.iter().map(|(_, n)| n.iter().sum::<u64>()).max().unwrap_or(0).max(1) as f64;
    let step = (w - pad) / days.len().max(1) as f64;
    let mut svg =
        format!("<svg viewBox=\"0 0 {w} {}\" class=\"bars\" role=\"img\" preserveAspectRatio=\"none\">", h + 18.0);
    svg.push_str(&format!(
        "<line x1=\"{pad}\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\" stroke=\"#c8ced6\"/>\
         <text x=\"0\" y=\"10\" font-size=\"10\" fill=\"#5b6775\">{}</text>",
        max as u64
    ));
    for (i, (day, n)) in days.iter().enumerate() {
        let x = pad + i as f64 * step + 1.0;
        let mut y = h;
        let when = Timestamp::from_second(*day).map(|t| p.time(&t)).unwrap_or_default();
        let date = when.split([',', ' ']).next().unwrap_or_default().to_owned();
        let tip: Vec<String> = labels.iter().zip(n).map(|(l, c)| format!("{l}: {c}")).collect();
        svg.push_str(&format!("<g><title>{date} · {}</title>", crate::web::escape(&tip.join(", "))));
        for (c, colour) in n.iter().zip(colours) {
            if *c == 0 {
                continue;
            }
            let bh = *c as f64 / max * (h - 14.0);
            y -= bh;
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{colour}\"/>",
                (step - 2.0).max(1.0)
            ));
        }
        svg.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"0\" width=\"{:.1}\" height=\"{h}\" fill=\"transparent\"/></g>",
            (step - 2.0).max(1.0)
        ));
        if i % 7 == 0 {
            svg.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{}\" font-size=\"10\" fill=\"#5b6775\">{}</text>",
                h + 14.0,
                crate::web::escape(&date)
            ));
        }
    }
    svg.push_str("</svg><p class=\"legend\">");
    for (l, c) in labels.iter().zip(colours) {
        svg.push_str(&format!(
            "<span><svg width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\" fill=\"{c}\"/></svg> {}</span> ",
            crate::web::escape(l)
        ));
    }
    svg.push_str("</p>");
    svg
}

struct Watch {
    s: AppState,
    ctx_lang: leitstand_domain::Lang,
    tz: jiff::tz::TimeZone,
    actor: Actor,
    tenant: Option<TenantId>,
    /// The newest timeline note seen.
    since: i64,
    rx: tokio::sync::broadcast::Receiver<leitstand_domain::HostId>,
    stop: tokio::sync::watch::Receiver<bool>,
    queue: Vec<LiveItem>,
}

/// How often the stream looks for changes made elsewhere (sweeps, people,
/// other replicas); this replica's ingest wakes it at once.
const RECHECK: Duration = Duration::from_secs(2);

impl Watch {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Watch)> {
        loop {
            if let Some(item) = self.queue.pop() {
                let data = serde_json::to_string(&item).unwrap_or_default();
                return Some((Ok(Event::default().event("alert").data(data)), self));
            }
            tokio::select! {
                _ = self.stop.changed() => return None,
                _ = self.rx.recv() => {}
                _ = tokio::time::sleep(RECHECK) => {}
            }
            if *self.stop.borrow() {
                return None;
            }
            let Ok(newest) = self.s.services.latest_alert_note(&self.actor, self.tenant).await else { return None };
            if newest <= self.since {
                continue;
            }
            let q = AlertQuery { noted_after: Some(self.since), limit: 50, ..AlertQuery::default() };
            let Ok(changed) = self.s.services.alerts(&self.actor, self.tenant, q).await else { return None };
            self.since = newest;
            let p = Page::for_stream(self.ctx_lang, self.tz.clone());
            // Oldest first out of the queue (it pops from the end).
            let mut items: Vec<LiveItem> = changed.iter().map(|a| live_item(&p, a)).collect();
            items.sort_by_key(|i| std::cmp::Reverse(i.id));
            self.queue = items;
        }
    }
}

async fn live(
    State(s): State<AppState>,
    ctx: Ctx,
    Query(f): Query<DashForm>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let actor = ctx.actor()?.clone();
    let tenant = chosen(&ctx, f.tenant);
    // Refuse at once what the actor may not see, rather than an empty stream.
    actor.narrowed(tenant)?;
    let watch = Watch {
        since: s.services.latest_alert_note(&actor, tenant).await?,
        rx: s.services.stored_hosts(),
        stop: s.stopping.subscribe(),
        ctx_lang: ctx.lang,
        tz: ctx.tz.clone(),
        s,
        actor,
        tenant,
        queue: vec![],
    };
    Ok(Sse::new(futures::stream::unfold(watch, Watch::next)).keep_alive(KeepAlive::default()))
}
