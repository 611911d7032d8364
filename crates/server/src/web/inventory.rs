//! Inventory pages (INV-1 … INV-7): one tab per section of a host, the
//! host's events filtered by kind and time, and questions across the
//! tenant ("hosts with package X below Y", "hosts with port 3389 open").
//! Every list pages in the database and exports as CSV.

use super::{csv, page, render, Page, WebResult};
use crate::app::AppState;
use crate::http::Ctx;
use crate::routes::{route, Kind, RouteDef};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use jiff::Timestamp;
use leitstand_domain::{HostId, Permission as P};
use leitstand_proto::inventory::{Item, Section};
use leitstand_service::{Found, InventoryQuestion, ItemPage, ServiceError};
use leitstand_store::{EventPage, EventQuery, Host, HostEvent, SectionStatus};
use serde::Deserialize;

pub fn routes() -> Vec<RouteDef> {
    use Method as M;
    vec![
        route(
            M::GET,
            "/app/hosts/{host}/inventory/{section}",
            P::HostsRead,
            Kind::Web,
            "A section of a host's inventory (software, services, ports …); CSV with format=csv.",
            section_page,
        ),
        route(
            M::GET,
            "/app/hosts/{host}/events",
            P::HostsRead,
            Kind::Web,
            "A host's events by kind and time; CSV with format=csv.",
            events_page,
        ),
        route(
            M::GET,
            "/app/inventory",
            P::HostsRead,
            Kind::Web,
            "Questions across hosts: a package below a version, an open port; CSV with format=csv.",
            ask_page,
        ),
    ]
}

/// Rows per page of an inventory list.
const PER_PAGE: u32 = 100;

/// Column keys (`col-…` in the catalogues) of a section.
pub fn columns(section: Section) -> &'static [&'static str] {
    match section {
        Section::Software => &["name", "version", "arch", "source", "origin", "manager"],
        Section::Autostarts => &["mechanism", "name", "location", "command"],
        Section::Services => &["unit", "description", "active", "sub", "enabled"],
        Section::Ports => &["protocol", "address", "port", "pid", "process"],
        Section::Processes => &["pid", "name", "user", "started", "cmdline", "ppid"],
        Section::Users => &["name", "uid", "gid", "groups", "admin", "locked", "shell", "home"],
        Section::Groups => &["name", "gid", "members"],
        Section::System => &["boot-id", "booted", "kernel", "os"],
        Section::Updates => &["name", "installed", "candidate", "security", "origin", "arch", "manager"],
    }
}

fn unix_time(p: &Page, secs: i64) -> String {
    Timestamp::from_second(secs).map(|t| p.time(&t)).unwrap_or_default()
}

fn yes_no(p: &Page, b: bool) -> String {
    p.t(if b { "label-yes" } else { "label-no" })
}

/// The cells of an item, in the order of [`columns`].
pub fn cells(p: &Page, item: &Item) -> Vec<String> {
    match item {
        Item::Package(x) => {
            vec![
                x.name.clone(),
                x.version.clone(),
                x.arch.clone(),
                x.source.clone(),
                x.origin.clone(),
                x.manager.clone(),
            ]
        }
        Item::Autostart(x) => vec![x.mechanism.clone(), x.name.clone(), x.location.clone(), x.command.clone()],
        Item::Service(x) => {
            vec![x.unit.clone(), x.description.clone(), x.active.clone(), x.sub.clone(), x.enabled.clone()]
        }
        Item::Listener(x) => vec![
            x.protocol.clone(),
            x.address.clone(),
            x.port.to_string(),
            x.pid.map(|p| p.to_string()).unwrap_or_default(),
            x.process.clone(),
        ],
        Item::Process(x) => vec![
            x.pid.to_string(),
            x.name.clone(),
            x.user.clone(),
            unix_time(p, x.started),
            x.cmdline.clone(),
            x.ppid.to_string(),
        ],
        Item::User(x) => vec![
            x.name.clone(),
            x.uid.to_string(),
            x.gid.to_string(),
            x.groups.join(", "),
            yes_no(p, x.admin),
            yes_no(p, x.locked),
            x.shell.clone(),
            x.home.clone(),
        ],
        Item::Group(x) => vec![x.name.clone(), x.gid.to_string(), x.members.join(", ")],
        Item::System(x) => vec![x.boot_id.clone(), unix_time(p, x.booted), x.kernel.clone(), x.os.clone()],
        Item::Update(x) => vec![
            x.name.clone(),
            x.installed.clone(),
            x.candidate.clone(),
            yes_no(p, x.security),
            x.origin.clone(),
            x.arch.clone(),
            x.manager.clone(),
        ],
    }
}

/// A table row: depth in the process tree (0 elsewhere), whether it is
/// worth a warning (an administrator, a failed service), and the cells.
pub struct Row {
    pub depth: usize,
    pub warn: bool,
    pub cells: Vec<String>,
}

fn warn(item: &Item) -> bool {
    match item {
        Item::User(u) => u.admin && !u.locked,
        Item::Service(s) => s.active == "failed",
        _ => false,
    }
}

#[derive(Deserialize, Default)]
struct ListForm {
    q: Option<String>,
    #[serde(default)]
    page: u32,
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "inventory.html")]
struct SectionTpl {
    p: Page,
    host: Host,
    tab: &'static str,
    tab_host: i64,
    section: Section,
    status: Option<SectionStatus>,
    columns: Vec<String>,
    rows: Vec<Row>,
    list: ItemPage,
    q: String,
}

impl SectionTpl {
    fn link(&self, page: u32) -> String {
        let mut url = format!("/app/hosts/{}/inventory/{}?page={page}", self.host.id, self.section.as_str());
        if !self.q.is_empty() {
            url.push_str(&format!("&q={}", crate::http::url_escape(&self.q)));
        }
        url
    }

    fn csv_link(&self) -> String {
        format!(
            "/app/hosts/{}/inventory/{}?format=csv&q={}",
            self.host.id,
            self.section.as_str(),
            crate::http::url_escape(&self.q)
        )
    }

    /// Indent and branch before a process name (inline styles are not
    /// allowed by the page's content security policy).
    fn branch(&self, depth: &usize) -> String {
        match *depth {
            0 => String::new(),
            d => format!("{}└ ", "\u{a0}\u{a0}\u{a0}\u{a0}".repeat(d.min(20) - 1)),
        }
    }

    fn page_label(&self) -> String {
        format!("{} / {}", self.list.page + 1, self.list.pages())
    }
}

fn parse_section(s: &str) -> Result<Section, ServiceError> {
    Section::parse(s).filter(|s| *s != Section::System).ok_or(ServiceError::NotFound)
}

async fn section_page(
    State(s): State<AppState>,
    ctx: Ctx,
    Path((id, section)): Path<(i64, String)>,
    Query(f): Query<ListForm>,
) -> WebResult {
    let a = ctx.actor()?;
    let section = parse_section(&section)?;
    let host = s.services.host(a, HostId(id)).await?;
    let q = f.q.unwrap_or_default().trim().to_owned();
    let text = (!q.is_empty()).then(|| q.clone());
    let p = page(&s, &ctx, &format!("tab-{}", section.as_str()), None).await;
    if f.format.as_deref() == Some("csv") {
        let all = s.services.inventory_items(a, host.id, section, text, 0, u32::MAX).await?;
        let name = format!("{}-{}", host.name, section.as_str());
        let header: Vec<String> = columns(section).iter().map(|c| (*c).to_owned()).collect();
        return Ok(csv::response(&s, &name, &header, all.items.iter().map(|(_, i)| cells(&p, i))));
    }
    let list = s.services.inventory_items(a, host.id, section, text, f.page, PER_PAGE).await?;
    let status = s.services.inventory_sections(a, host.id).await?.into_iter().find(|st| st.section == section.as_str());
    let rows = list.items.iter().map(|(depth, i)| Row { depth: *depth, warn: warn(i), cells: cells(&p, i) }).collect();
    let columns = columns(section).iter().map(|c| p.tk("col-", c)).collect();
    Ok(render(&SectionTpl {
        p,
        tab_host: host.id.0,
        host,
        tab: section.as_str(),
        section,
        status,
        columns,
        rows,
        list,
        q,
    }))
}

/// Kind groups people filter events by.
pub const EVENT_GROUPS: [&str; 10] =
    ["auth.", "software.", "autostart.", "service.", "port.", "user.", "host.", "oom.", "cert.", "vulnerability."];

#[derive(Deserialize, Default)]
struct EventForm {
    kind: Option<String>,
    /// Dates (YYYY-MM-DD) in the page's time zone; `to` is inclusive.
    from: Option<String>,
    to: Option<String>,
    #[serde(default)]
    page: u32,
    format: Option<String>,
}

/// One event for the table: time, label of its kind, its facts.
pub struct EventRow {
    pub at: Timestamp,
    pub kind: String,
    pub label: String,
    pub facts: String,
}

/// `{"name":"curl","from":"1","to":"2"}` → `name: curl · from: 1 · to: 2`.
pub fn facts(detail: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(detail) {
        Ok(serde_json::Value::Object(m)) => m
            .iter()
            .filter(|(_, v)| !v.is_null() && v.as_str() != Some(""))
            .map(|(k, v)| format!("{k}: {}", v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect::<Vec<_>>()
            .join(" · "),
        _ => detail.to_owned(),
    }
}

pub fn event_row(p: &Page, e: &HostEvent) -> EventRow {
    EventRow {
        at: e.at,
        kind: e.kind.clone(),
        label: p.tk("label-event-", &e.kind.replace(['.', '_'], "-")),
        facts: facts(&e.detail),
    }
}

#[derive(Template)]
#[template(path = "host_events.html")]
struct EventsTpl {
    p: Page,
    host: Host,
    tab: &'static str,
    tab_host: i64,
    groups: Vec<(&'static str, String)>,
    kind: String,
    from: String,
    to: String,
    rows: Vec<EventRow>,
    list: EventPage,
    page: u32,
}

impl EventsTpl {
    fn query(&self) -> String {
        format!(
            "kind={}&from={}&to={}",
            crate::http::url_escape(&self.kind),
            crate::http::url_escape(&self.from),
            crate::http::url_escape(&self.to)
        )
    }

    fn link(&self, page: u32) -> String {
        format!("/app/hosts/{}/events?{}&page={page}", self.host.id, self.query())
    }

    fn csv_link(&self) -> String {
        format!("/app/hosts/{}/events?{}&format=csv", self.host.id, self.query())
    }

    fn pages(&self) -> u32 {
        self.list.total.div_ceil(u64::from(PER_PAGE)).max(1) as u32
    }

    fn page_label(&self) -> String {
        format!("{} / {}", self.page + 1, self.pages())
    }
}

/// A date in the page's zone as the start of that day; `next_day` gives
/// the start of the following day (for an inclusive end).
fn day_start(p: &Page, field: &'static str, s: &str, next_day: bool) -> Result<Option<Timestamp>, ServiceError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let d: jiff::civil::Date = s.parse().map_err(|_| ServiceError::field(field, "error-date"))?;
    let d = if next_day { d.tomorrow().map_err(|_| ServiceError::field(field, "error-date"))? } else { d };
    let t = d.to_zoned(p.tz.clone()).map_err(|_| ServiceError::field(field, "error-date"))?.timestamp();
    Ok(Some(t))
}

async fn events_page(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(f): Query<EventForm>,
) -> WebResult {
    let a = ctx.actor()?;
    let host = s.services.host(a, HostId(id)).await?;
    let p = page(&s, &ctx, "tab-events", None).await;
    let kind = f.kind.unwrap_or_default().trim().to_owned();
    let (from, to) = (f.from.unwrap_or_default(), f.to.unwrap_or_default());
    let mut q = EventQuery {
        host: Some(host.id),
        kinds: if kind.is_empty() { vec![] } else { vec![kind.clone()] },
        since: day_start(&p, "from", &from, false)?,
        until: day_start(&p, "to", &to, true)?,
        page: f.page,
        per_page: PER_PAGE,
    };
    if f.format.as_deref() == Some("csv") {
        q.per_page = 1000;
        q.page = 0;
        let mut rows = vec![];
        loop {
            let got = s.services.events(a, None, q.clone()).await?;
            let n = got.events.len();
            rows.extend(got.events.iter().map(|e| {
                let r = event_row(&p, e);
                vec![r.at.to_string(), host.name.clone(), r.kind, r.label, r.facts]
            }));
            if n < 1000 || rows.len() >= 100_000 {
                break;
            }
            q.page += 1;
        }
        let header = ["time_utc", "host", "kind", "event", "detail"].map(str::to_owned);
        return Ok(csv::response(&s, &format!("{}-events", host.name), &header, rows.into_iter()));
    }
    let list = s.services.events(a, None, q).await?;
    let rows = list.events.iter().map(|e| event_row(&p, e)).collect();
    let groups = EVENT_GROUPS.iter().map(|g| (*g, p.tk("label-events-", g.trim_end_matches('.')))).collect();
    Ok(render(&EventsTpl {
        p,
        tab_host: host.id.0,
        host,
        tab: "events",
        groups,
        kind,
        from,
        to,
        rows,
        list,
        page: f.page,
    }))
}

#[derive(Deserialize, Default)]
struct AskForm {
    section: Option<String>,
    name: Option<String>,
    below: Option<String>,
    port: Option<String>,
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "inventory_ask.html")]
struct AskTpl {
    p: Page,
    sections: Vec<(&'static str, String)>,
    section: String,
    name: String,
    below: String,
    port: String,
    asked: bool,
    columns: Vec<String>,
    found: Vec<(Found, Vec<String>)>,
    hits: usize,
}

impl AskTpl {
    fn hits(&self) -> &usize {
        &self.hits
    }

    fn csv_link(&self) -> String {
        format!(
            "/app/inventory?section={}&name={}&below={}&port={}&format=csv",
            crate::http::url_escape(&self.section),
            crate::http::url_escape(&self.name),
            crate::http::url_escape(&self.below),
            crate::http::url_escape(&self.port)
        )
    }
}

/// Sections one can ask about across hosts.
const ASKABLE: [Section; 5] =
    [Section::Software, Section::Ports, Section::Services, Section::Autostarts, Section::Users];

async fn ask_page(State(s): State<AppState>, ctx: Ctx, Query(f): Query<AskForm>) -> WebResult {
    let a = ctx.actor()?;
    let p = page(&s, &ctx, "page-inventory", None).await;
    let section_name = f.section.unwrap_or_else(|| "software".into());
    let section = Section::parse(&section_name).filter(|s| ASKABLE.contains(s)).unwrap_or(Section::Software);
    let (name, below, port) =
        (f.name.unwrap_or_default(), f.below.unwrap_or_default(), f.port.unwrap_or_default().trim().to_owned());
    let asked = !name.trim().is_empty() || !port.is_empty();
    let port_num = match port.as_str() {
        "" => None,
        v => Some(v.parse::<u16>().map_err(|_| ServiceError::field("port", "error-port"))?),
    };
    let shown = if port_num.is_some() { Section::Ports } else { section };
    let mut found = vec![];
    if asked {
        let question = InventoryQuestion {
            section: Some(section),
            name: Some(name.clone()),
            below: Some(below.clone()),
            port: port_num,
        };
        found = s
            .services
            .ask_inventory(a, ctx.selected_tenant, question)
            .await?
            .into_iter()
            .map(|f| {
                let c = cells(&p, &f.item);
                (f, c)
            })
            .collect();
    }
    if f.format.as_deref() == Some("csv") {
        let mut header = vec!["host".to_owned()];
        header.extend(columns(shown).iter().map(|c| (*c).to_owned()));
        let rows = found.into_iter().map(|(f, c)| std::iter::once(f.host_name).chain(c).collect());
        return Ok(csv::response(&s, "inventory", &header, rows));
    }
    let columns = columns(shown).iter().map(|c| p.tk("col-", c)).collect();
    let sections = ASKABLE.iter().map(|s| (s.as_str(), p.tk("tab-", s.as_str()))).collect();
    let hits = found.len();
    Ok(render(&AskTpl { p, sections, section: shown.as_str().into(), name, below, port, asked, columns, found, hits }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_read_as_pairs() {
        assert_eq!(facts(r#"{"name":"curl","from":"1","to":"2","arch":""}"#), "from: 1 · name: curl · to: 2");
        assert_eq!(facts(r#"{"port":3389}"#), "port: 3389");
        assert_eq!(facts("plain"), "plain");
    }
}
