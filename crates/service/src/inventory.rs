//! Inventories (INV-1 … INV-7): checks what agents report, and answers
//! the questions people ask of it, per host and across a tenant.

use crate::{Actor, Result, ServiceError, Services};
use jiff::Timestamp;
use leitstand_domain::{HostId, Permission, TenantId};
use leitstand_proto::checklist::CheckResult;
use leitstand_proto::inventory::{Item, Process, Section, SectionReport};
use leitstand_proto::{SystemEvent, SYSTEM_EVENT_KINDS};
use leitstand_store::{
    ChecklistUpdate, EventPage, EventQuery, HostChecklist, InventoryEntry, InventoryQuery, InventorySearch,
    InventoryUpdate, NewHostEvent, SectionStatus, StoredCheck,
};
use std::collections::{BTreeMap, BTreeSet};

/// Most items in one section report (the agent bounds itself lower).
pub const MAX_ITEMS_PER_REPORT: usize = 20_000;
/// Longest item key and longest item as JSON, in bytes.
const MAX_KEY: usize = 1024;
const MAX_ITEM_JSON: usize = 16 * 1024;
/// Longest collector error kept.
const MAX_ERROR: usize = 1024;

/// An inventory record from an agent, checked: every item belongs to the
/// section it came in and stays within the bounds.
pub(crate) fn checked(seq: u64, at_ms: i64, mut reports: Vec<SectionReport>) -> Result<InventoryUpdate> {
    let bad = |m: String| ServiceError::BadInput(format!("record {seq}: inventory: {m}"));
    let at = Timestamp::from_millisecond(at_ms).map_err(|_| bad(format!("time {at_ms} out of range")))?;
    for r in &mut reports {
        if r.items.len() + r.removed.len() > MAX_ITEMS_PER_REPORT {
            return Err(bad(format!(
                "{} items in section {}; at most {MAX_ITEMS_PER_REPORT}",
                r.items.len() + r.removed.len(),
                r.section.as_str()
            )));
        }
        if let Some(i) = r.items.iter().find(|i| i.section() != r.section) {
            return Err(bad(format!("a {} item in section {}", i.section().as_str(), r.section.as_str())));
        }
        let too_long = |k: &str| k.len() > MAX_KEY;
        if r.items.iter().any(|i| too_long(&i.key()) || json_len(i) > MAX_ITEM_JSON)
            || r.removed.iter().any(|k| too_long(k))
        {
            return Err(bad(format!(
                "an item of section {} is longer than {MAX_ITEM_JSON} bytes or its key longer than {MAX_KEY}",
                r.section.as_str()
            )));
        }
        if let Some(e) = &mut r.error {
            truncate_text(e, MAX_ERROR);
        }
        for item in &mut r.items {
            if let leitstand_proto::inventory::Item::System(f) = item {
                // As at enrollment: printable, at most 200 characters.
                f.os = f.os.trim().chars().filter(|c| !c.is_control()).take(200).collect();
            }
        }
    }
    Ok(InventoryUpdate { seq, at, reports })
}

/// Most system events in one record, and longest field.
const MAX_EVENTS_PER_RECORD: usize = 5_000;
const MAX_EVENT_FIELD: usize = 1024;

/// System events from an agent, checked: known kinds, times in range,
/// fields within bounds; stored with their facts as JSON.
pub(crate) fn checked_events(seq: u64, list: Vec<SystemEvent>) -> Result<Vec<NewHostEvent>> {
    let bad = |m: String| ServiceError::BadInput(format!("record {seq}: events: {m}"));
    if list.len() > MAX_EVENTS_PER_RECORD {
        return Err(bad(format!("{} events; at most {MAX_EVENTS_PER_RECORD}", list.len())));
    }
    list.into_iter()
        .map(|e| {
            if !SYSTEM_EVENT_KINDS.contains(&e.kind.as_str()) {
                return Err(bad(format!("unknown kind {:?}; known: {}", e.kind, SYSTEM_EVENT_KINDS.join(", "))));
            }
            let fields = [&e.service, &e.user, &e.source, &e.method, &e.target, &e.command, &e.tty];
            if fields.iter().any(|f| f.len() > MAX_EVENT_FIELD) {
                return Err(bad(format!("a field of a {} event is longer than {MAX_EVENT_FIELD} bytes", e.kind)));
            }
            let at = Timestamp::from_millisecond(e.at_ms).map_err(|_| bad(format!("time {} out of range", e.at_ms)))?;
            let mut facts = serde_json::Map::new();
            for (k, v) in [
                ("service", &e.service),
                ("user", &e.user),
                ("source", &e.source),
                ("method", &e.method),
                ("target", &e.target),
                ("command", &e.command),
                ("tty", &e.tty),
            ] {
                if !v.is_empty() {
                    facts.insert(k.into(), v.as_str().into());
                }
            }
            Ok(NewHostEvent { at, kind: e.kind, detail: serde_json::Value::Object(facts).to_string() })
        })
        .collect()
}

/// Most checks in one report, longest evidence kept.
const MAX_CHECKS: usize = 1_000;
const MAX_EVIDENCE: usize = 2_048;

/// Checklist results from an agent, checked and bounded.
pub(crate) fn checked_checklist(seq: u64, at_ms: i64, results: Vec<CheckResult>) -> Result<ChecklistUpdate> {
    let bad = |m: String| ServiceError::BadInput(format!("record {seq}: checklist: {m}"));
    let at = Timestamp::from_millisecond(at_ms).map_err(|_| bad(format!("time {at_ms} out of range")))?;
    if results.len() > MAX_CHECKS {
        return Err(bad(format!("{} results; at most {MAX_CHECKS}", results.len())));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        if r.id.is_empty() || r.id.len() > 64 || !seen.insert(r.id.clone()) {
            return Err(bad(format!("check id {:?} is empty, too long or repeated", r.id)));
        }
        let mut evidence = r.evidence;
        truncate_text(&mut evidence, MAX_EVIDENCE);
        out.push(StoredCheck { id: r.id, result: r.result.as_str().into(), evidence, checked_at: at });
    }
    Ok(ChecklistUpdate { seq, at, results: out })
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
pub(crate) fn truncate_text(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

fn json_len(i: &Item) -> usize {
    serde_json::to_vec(i).map_or(usize::MAX, |v| v.len())
}

/// Most processes a tree page is built from (the agent sends at most as many).
const MAX_TREE: u32 = 20_000;
/// Most hosts a question across the tenant answers with.
const MAX_FOUND: u32 = 10_000;

/// A page of one section of a host's inventory.
#[derive(Debug, Clone)]
pub struct ItemPage {
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    /// With its depth in the tree for processes; 0 otherwise.
    pub items: Vec<(usize, Item)>,
}

impl ItemPage {
    pub fn pages(&self) -> u32 {
        crate::hosts::page_count(self.total, self.per_page)
    }
}

/// "Which hosts have …": a package (below a version), a port open, or any
/// item of a section by exact name.
#[derive(Debug, Clone, Default)]
pub struct InventoryQuestion {
    pub section: Option<Section>,
    pub name: Option<String>,
    /// Only packages whose version is below this one (dpkg or rpm order).
    pub below: Option<String>,
    pub port: Option<u16>,
}

/// One answer: the host and the item that matched.
#[derive(Debug, Clone)]
pub struct Found {
    pub host: HostId,
    pub host_name: String,
    pub item: Item,
}

fn parse_items(entries: Vec<InventoryEntry>) -> Vec<(InventoryEntry, Item)> {
    entries
        .into_iter()
        .filter_map(|e| {
            let item = serde_json::from_str(&e.data).ok()?;
            Some((e, item))
        })
        .collect()
}

/// Processes in tree order (parents before their children, siblings by
/// pid) with their depth; processes whose parent is not listed are roots.
pub fn process_tree(mut procs: Vec<Process>) -> Vec<(usize, Process)> {
    procs.sort_by_key(|p| p.pid);
    let pids: BTreeSet<u32> = procs.iter().map(|p| p.pid).collect();
    let mut children: BTreeMap<u32, Vec<Process>> = BTreeMap::new();
    let mut roots = vec![];
    for p in procs {
        if p.ppid != p.pid && pids.contains(&p.ppid) {
            children.entry(p.ppid).or_default().push(p);
        } else {
            roots.push(p);
        }
    }
    let mut out = Vec::with_capacity(pids.len());
    let mut stack: Vec<(usize, Process)> = roots.into_iter().rev().map(|p| (0, p)).collect();
    while let Some((depth, p)) = stack.pop() {
        if let Some(kids) = children.remove(&p.pid) {
            stack.extend(kids.into_iter().rev().map(|k| (depth + 1, k)));
        }
        out.push((depth, p));
    }
    out
}

/// `a < b` in the version order of the package manager (`dpkg` or `rpm`).
pub fn version_below(manager: &str, a: &str, b: &str) -> bool {
    leitstand_vuln::Manager::from_name(manager).below(a, b)
}

impl Services {
    /// The state of each inventory section of a host.
    pub async fn inventory_sections(&self, actor: &Actor, host: HostId) -> Result<Vec<SectionStatus>> {
        self.host(actor, host).await?;
        Ok(self.store.inventory_sections(actor.scope(), host).await?)
    }

    /// One page of a section of a host's inventory; processes as a tree.
    /// `per_page` 0 gives 100; `u32::MAX` gives every item (exports).
    pub async fn inventory_items(
        &self,
        actor: &Actor,
        host: HostId,
        section: Section,
        text: Option<String>,
        page: u32,
        per_page: u32,
    ) -> Result<ItemPage> {
        self.host(actor, host).await?;
        let per_page = match per_page {
            0 => 100,
            u32::MAX => u32::MAX,
            n => n.min(1000),
        };
        if section == Section::Processes && text.as_deref().is_none_or(|t| t.trim().is_empty()) {
            let q = InventoryQuery { section: section.as_str().into(), text: None, page: 0, per_page: MAX_TREE };
            let all = self.store.inventory_page(actor.scope(), host, &q).await?;
            let procs = parse_items(all.items)
                .into_iter()
                .filter_map(|(_, i)| match i {
                    Item::Process(p) => Some(p),
                    _ => None,
                })
                .collect();
            let tree = process_tree(procs);
            let total = tree.len() as u64;
            let skip = (page as usize).saturating_mul(per_page as usize);
            let items =
                tree.into_iter().skip(skip).take(per_page as usize).map(|(d, p)| (d, Item::Process(p))).collect();
            return Ok(ItemPage { total, page, per_page, items });
        }
        let q = InventoryQuery { section: section.as_str().into(), text, page, per_page };
        let found = self.store.inventory_page(actor.scope(), host, &q).await?;
        let items = parse_items(found.items).into_iter().map(|(_, i)| (0, i)).collect();
        Ok(ItemPage { total: found.total, page, per_page, items })
    }

    /// A host's latest checklist results.
    pub async fn host_checklist(&self, actor: &Actor, host: HostId) -> Result<Vec<StoredCheck>> {
        self.host(actor, host).await?;
        Ok(self.store.checklist(actor.scope(), host).await?)
    }

    /// Checklist counts of every host in the actor's tenants (or one tenant).
    pub async fn checklist_counts(&self, actor: &Actor, tenant: Option<TenantId>) -> Result<Vec<HostChecklist>> {
        actor.require(Permission::HostsRead)?;
        let scope = actor.narrowed(tenant)?;
        Ok(self.store.checklist_counts(&scope).await?)
    }

    /// Events of a host or of every host in scope, filtered by kind and time.
    pub async fn events(&self, actor: &Actor, tenant: Option<TenantId>, mut q: EventQuery) -> Result<EventPage> {
        actor.require(Permission::HostsRead)?;
        let scope = actor.narrowed(tenant)?;
        if let Some(h) = q.host {
            self.store.host(&scope, h).await?;
        }
        q.per_page = if q.per_page == 0 { 100 } else { q.per_page.min(1000) };
        Ok(self.store.events_page(&scope, &q).await?)
    }

    /// Hosts that have a package (optionally below a version), a port open,
    /// or an item of a section by name, in the actor's tenants.
    pub async fn ask_inventory(
        &self,
        actor: &Actor,
        tenant: Option<TenantId>,
        q: InventoryQuestion,
    ) -> Result<Vec<Found>> {
        actor.require(Permission::HostsRead)?;
        let scope = actor.narrowed(tenant)?;
        let section = match (q.section, q.port) {
            (_, Some(_)) => Section::Ports,
            (Some(s), None) => s,
            (None, None) => Section::Software,
        };
        let name = q.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
        if q.port.is_none() && name.is_none() {
            return Err(ServiceError::field("name", "error-inventory-question"));
        }
        let search = InventorySearch { section: section.as_str().into(), name, port: q.port, limit: MAX_FOUND };
        let below = q.below.as_deref().map(str::trim).filter(|b| !b.is_empty());
        Ok(parse_items(self.store.find_inventory(&scope, &search).await?)
            .into_iter()
            .filter(|(_, item)| match (item, below) {
                (_, None) => true,
                (Item::Package(p), Some(b)) => version_below(&p.manager, &p.version, b),
                _ => false,
            })
            .map(|(e, item)| Found { host: e.host, host_name: e.host_name, item })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, ppid: u32) -> Process {
        Process { pid, ppid, name: format!("p{pid}"), cmdline: String::new(), user: "root".into(), started: 0 }
    }

    #[test]
    fn processes_come_in_tree_order_with_depth() {
        let tree = process_tree(vec![p(2, 0), p(12, 1), p(1, 0), p(10, 1), p(11, 10), p(30, 99)]);
        let order: Vec<(usize, u32)> = tree.iter().map(|(d, p)| (*d, p.pid)).collect();
        assert_eq!(order, [(0, 1), (1, 10), (2, 11), (1, 12), (0, 2), (0, 30)]);
    }

    #[test]
    fn versions_compare_in_each_managers_order() {
        assert!(version_below("dpkg", "3.0.11-1~deb12u2", "3.0.13-1~deb12u1"));
        assert!(version_below("dpkg", "1:1.0", "1:1.0+b1"));
        assert!(!version_below("dpkg", "2:1.0", "1:9.9"), "the epoch wins");
        assert!(version_below("dpkg", "1.0~rc1", "1.0"), "a tilde sorts before");
        assert!(version_below("rpm", "3.0.7-24.el9", "3.0.7-25.el9"));
        assert!(!version_below("rpm", "1.10-1", "1.9a-1"));
        assert!(version_below("rpm", "1.9-1", "1.10-1"));
        assert!(!version_below("rpm", "1:1.0-1", "2.0-1"), "the epoch wins");
    }
}
