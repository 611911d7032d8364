//! Inventory of a host (INV-1 … INV-6): the items each collector reports,
//! and the snapshot and delta records that carry them to the server.
//!
//! Every item has a section and a key that is unique in its section on one
//! host; a delta names the items added or changed (whole) and the keys
//! removed since the last record the server acknowledged.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The parts of an inventory, one per collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Software,
    Autostarts,
    Services,
    Ports,
    Processes,
    Users,
    Groups,
    System,
    Updates,
}

impl Section {
    pub const ALL: [Section; 9] = [
        Section::Software,
        Section::Autostarts,
        Section::Services,
        Section::Ports,
        Section::Processes,
        Section::Users,
        Section::Groups,
        Section::System,
        Section::Updates,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Section::Software => "software",
            Section::Autostarts => "autostarts",
            Section::Services => "services",
            Section::Ports => "ports",
            Section::Processes => "processes",
            Section::Users => "users",
            Section::Groups => "groups",
            Section::System => "system",
            Section::Updates => "updates",
        }
    }

    pub fn parse(s: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// An installed package (INV-1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// Source package, when it differs from the name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Version of the source package, when it differs from the version
    /// (`Source: glibc (2.36-9)` of a rebuilt binary).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_version: String,
    /// Repository it came from (e.g. `Debian:bookworm-security/main`), or
    /// empty when unknown (installed by hand).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub origin: String,
    /// `dpkg` or `rpm`.
    pub manager: String,
}

/// Something started at boot (INV-2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Autostart {
    /// `systemd`, `systemd-timer`, `cron`, `rc.local` or `init.d`.
    pub mechanism: String,
    /// Unit name, script name or cron line.
    pub name: String,
    /// Where it is declared.
    pub location: String,
    /// What it runs, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
}

/// A service unit and its state (INV-3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Service {
    pub unit: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `active`, `inactive`, `failed`, …; `unknown` without a running systemd.
    pub active: String,
    /// `running`, `exited`, `dead`, `failed`, …
    pub sub: String,
    /// `enabled`, `disabled`, `static`, `masked`, …
    pub enabled: String,
}

/// A socket listening for connections (INV-4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Listener {
    /// `tcp`, `tcp6`, `udp`, `udp6`.
    pub protocol: String,
    pub address: String,
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub process: String,
}

/// A running process (INV-5).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cmdline: String,
    pub user: String,
    /// Start time, Unix seconds.
    pub started: i64,
}

/// A local account (INV-6).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
    /// Supplementary groups, sorted.
    pub groups: Vec<String>,
    /// The password is locked (`!` in shadow) or the account expired.
    pub locked: bool,
    /// uid 0 or member of sudo, wheel or admin.
    pub admin: bool,
}

/// A local group (INV-6).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// Facts of the running system: the boot (key `boot`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SystemFacts {
    pub boot_id: String,
    /// Boot time, Unix seconds.
    pub booted: i64,
    pub kernel: String,
    /// The operating system's `PRETTY_NAME` (os-release), so a release
    /// upgrade is seen without enrolling again.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os: String,
}

/// A pending update of an installed package (PATCH-1): the version the
/// package manager would install, from where, and whether it is a security
/// update.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Update {
    pub name: String,
    pub arch: String,
    pub installed: String,
    pub candidate: String,
    /// Repository of the candidate (`deb.debian.org/debian-security
    /// bookworm-security/main`, or the dnf repository id).
    pub origin: String,
    pub security: bool,
    /// `dpkg` or `rpm`.
    pub manager: String,
}

/// One inventory item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    Package(Package),
    Autostart(Autostart),
    Service(Service),
    Listener(Listener),
    Process(Process),
    User(User),
    Group(Group),
    System(SystemFacts),
    Update(Update),
}

impl Item {
    pub fn section(&self) -> Section {
        match self {
            Item::Package(_) => Section::Software,
            Item::Autostart(_) => Section::Autostarts,
            Item::Service(_) => Section::Services,
            Item::Listener(_) => Section::Ports,
            Item::Process(_) => Section::Processes,
            Item::User(_) => Section::Users,
            Item::Group(_) => Section::Groups,
            Item::System(_) => Section::System,
            Item::Update(_) => Section::Updates,
        }
    }

    /// Unique within the section on one host.
    pub fn key(&self) -> String {
        match self {
            Item::Package(p) => format!("{}:{}", p.name, p.arch),
            Item::Autostart(a) => format!("{}:{}:{}", a.mechanism, a.location, a.name),
            Item::Service(s) => s.unit.clone(),
            Item::Listener(l) => format!("{}:{}:{}", l.protocol, l.address, l.port),
            Item::Process(p) => p.pid.to_string(),
            Item::User(u) => u.name.clone(),
            Item::Group(g) => g.name.clone(),
            Item::System(_) => "boot".into(),
            Item::Update(u) => format!("{}:{}", u.name, u.arch),
        }
    }

    /// The item's name as people search for it (package, unit, user …).
    pub fn name(&self) -> &str {
        match self {
            Item::Package(p) => &p.name,
            Item::Autostart(a) => &a.name,
            Item::Service(s) => &s.unit,
            Item::Listener(l) => &l.process,
            Item::Process(p) => &p.name,
            Item::User(u) => &u.name,
            Item::Group(g) => &g.name,
            Item::System(s) => &s.kernel,
            Item::Update(u) => &u.name,
        }
    }
}

/// The state of one section as the agent reads it, or why it could not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionReport {
    pub section: Section,
    /// `Full`: these items are the whole section; `Delta`: items added or
    /// changed and keys removed since the last acknowledged report.
    pub full: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Item>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// The collector failed: the message says which file and why. The
    /// server keeps the last good state and shows the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Items left out because the section passed its bound.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub truncated: u64,
    /// A full report too big for one record is sent in parts; every part
    /// but the last says `more`. Only after the last part does the server
    /// drop the items the snapshot did not contain.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Items of one section by key.
pub type SectionState = BTreeMap<String, Item>;

/// What changed from `old` to `new`: a delta report (items added or
/// changed, keys removed), or `None` when nothing did.
pub fn delta(section: Section, old: &SectionState, new: &SectionState) -> Option<SectionReport> {
    let items: Vec<Item> = new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(_, v)| v.clone()).collect();
    let removed: Vec<String> = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
    if items.is_empty() && removed.is_empty() {
        return None;
    }
    Some(SectionReport { section, full: false, items, removed, error: None, truncated: 0, more: false })
}

/// Splits reports so that no part holds more than about `max_bytes` of
/// items (as JSON); returns the groups of reports, one record each. A
/// full report split in parts has `more` set on all but its last part.
pub fn split(reports: Vec<SectionReport>, max_bytes: usize) -> Vec<Vec<SectionReport>> {
    let mut records: Vec<Vec<SectionReport>> = vec![];
    let mut current: Vec<SectionReport> = vec![];
    let mut size = 0;
    for report in reports {
        let SectionReport { section, full, items, removed, error, truncated, more: _ } = report;
        let mut part = SectionReport { section, full, items: vec![], removed, error, truncated, more: false };
        let mut part_size = part.removed.iter().map(|r| r.len() + 3).sum::<usize>() + 64;
        for item in items {
            let n = serde_json::to_vec(&item).map_or(0, |v| v.len()) + 1;
            if size + part_size + n > max_bytes && (!part.items.is_empty() || !current.is_empty()) {
                let next = SectionReport {
                    section,
                    full,
                    items: vec![],
                    removed: vec![],
                    error: None,
                    truncated: 0,
                    more: false,
                };
                let done = std::mem::replace(&mut part, next);
                if !done.items.is_empty() || !done.removed.is_empty() || done.error.is_some() {
                    let mut done = done;
                    done.more = full;
                    current.push(done);
                }
                records.push(std::mem::take(&mut current));
                size = 0;
                part_size = 64;
            }
            part_size += n;
            part.items.push(item);
        }
        size += part_size;
        current.push(part);
    }
    if !current.is_empty() {
        records.push(current);
    }
    records
}

/// Items by key, for [`delta`].
pub fn state_of(items: Vec<Item>) -> SectionState {
    items.into_iter().map(|i| (i.key(), i)).collect()
}

/// An event a difference between two inventories makes (INV-7): a stable
/// kind such as `software.updated` and its facts as a JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: &'static str,
    pub detail: serde_json::Value,
}

fn change(kind: &'static str, detail: serde_json::Value) -> Change {
    Change { kind, detail }
}

/// Every event kind [`changes`] makes, for labels and filters.
pub const CHANGE_KINDS: [&str; 16] = [
    "software.installed",
    "software.removed",
    "software.updated",
    "autostart.added",
    "autostart.removed",
    "service.added",
    "service.removed",
    "service.state",
    "port.opened",
    "port.closed",
    "user.created",
    "user.removed",
    "user.admin_created",
    "user.elevated",
    "user.unlocked",
    "user.admin_unlocked",
];

/// The events that an item going from `old` to `new` makes; `None` is
/// absent. Items of one section and key. Process and group changes make
/// none (processes come and go; group changes show on the users); a new
/// boot id is `host.restarted`.
pub fn changes(old: Option<&Item>, new: Option<&Item>) -> Vec<Change> {
    use serde_json::json;
    match (old, new) {
        (None, Some(Item::Package(p))) => {
            vec![change("software.installed", json!({"name": p.name, "version": p.version, "arch": p.arch}))]
        }
        (Some(Item::Package(p)), None) => {
            vec![change("software.removed", json!({"name": p.name, "version": p.version, "arch": p.arch}))]
        }
        (Some(Item::Package(a)), Some(Item::Package(b))) if a.version != b.version => {
            vec![change(
                "software.updated",
                json!({"name": b.name, "from": a.version, "to": b.version, "arch": b.arch}),
            )]
        }
        (None, Some(Item::Autostart(a))) => vec![change(
            "autostart.added",
            json!({"mechanism": a.mechanism, "name": a.name, "location": a.location, "command": a.command}),
        )],
        (Some(Item::Autostart(a)), None) => {
            vec![change("autostart.removed", json!({"mechanism": a.mechanism, "name": a.name, "location": a.location}))]
        }
        (None, Some(Item::Service(s))) => {
            vec![change("service.added", json!({"unit": s.unit, "active": s.active, "enabled": s.enabled}))]
        }
        (Some(Item::Service(s)), None) => vec![change("service.removed", json!({"unit": s.unit}))],
        (Some(Item::Service(a)), Some(Item::Service(b))) if a.active != b.active || a.enabled != b.enabled => {
            vec![change(
                "service.state",
                json!({"unit": b.unit, "from": format!("{}/{}", a.active, a.enabled), "to": format!("{}/{}", b.active, b.enabled)}),
            )]
        }
        (None, Some(Item::Listener(l))) => vec![change(
            "port.opened",
            json!({"protocol": l.protocol, "address": l.address, "port": l.port, "process": l.process}),
        )],
        (Some(Item::Listener(l)), None) => {
            vec![change("port.closed", json!({"protocol": l.protocol, "address": l.address, "port": l.port}))]
        }
        (None, Some(Item::User(u))) => {
            let mut out = vec![change("user.created", json!({"name": u.name, "uid": u.uid}))];
            if u.admin {
                out.push(change(
                    "user.admin_created",
                    json!({"name": u.name, "uid": u.uid, "groups": u.groups.join(",")}),
                ));
            }
            out
        }
        (Some(Item::User(u)), None) => vec![change("user.removed", json!({"name": u.name, "uid": u.uid}))],
        (Some(Item::User(a)), Some(Item::User(b))) => {
            let mut out = vec![];
            if b.admin && !a.admin {
                out.push(change("user.elevated", json!({"name": b.name, "uid": b.uid, "groups": b.groups.join(",")})));
            }
            if a.locked && !b.locked {
                let kind = if b.admin { "user.admin_unlocked" } else { "user.unlocked" };
                out.push(change(kind, json!({"name": b.name, "uid": b.uid})));
            }
            out
        }
        (Some(Item::System(a)), Some(Item::System(b))) if a.boot_id != b.boot_id => {
            vec![change("host.restarted", json!({"booted": b.booted, "kernel": b.kernel, "previous_kernel": a.kernel}))]
        }
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str) -> Item {
        Item::Package(Package {
            name: name.into(),
            version: version.into(),
            arch: "amd64".into(),
            source: String::new(),
            source_version: String::new(),
            origin: String::new(),
            manager: "dpkg".into(),
        })
    }

    #[test]
    fn a_delta_carries_changed_items_and_removed_keys() {
        let old = state_of(vec![pkg("curl", "7.88"), pkg("vim", "9.0"), pkg("gone", "1")]);
        let new = state_of(vec![pkg("curl", "7.89"), pkg("vim", "9.0"), pkg("nginx", "1.22")]);
        let d = delta(Section::Software, &old, &new).expect("changes");
        let keys: Vec<String> = d.items.iter().map(Item::key).collect();
        assert_eq!(keys, ["curl:amd64", "nginx:amd64"]);
        assert_eq!(d.removed, ["gone:amd64"]);
        assert!(delta(Section::Software, &new, &new).is_none());
    }

    fn user(name: &str, admin: bool, locked: bool) -> Item {
        Item::User(User {
            name: name.into(),
            uid: if name == "root" { 0 } else { 1000 },
            gid: 1000,
            home: format!("/home/{name}"),
            shell: "/bin/bash".into(),
            groups: if admin { vec!["sudo".into()] } else { vec![] },
            locked,
            admin,
        })
    }

    /// The kinds two snapshots make, through the delta the agent sends.
    fn kinds_between(old: Vec<Item>, new: Vec<Item>) -> Vec<&'static str> {
        let (old, new) = (state_of(old), state_of(new));
        let Some(d) = delta(Section::Users, &old, &new) else { return vec![] };
        let mut out = vec![];
        for i in &d.items {
            out.extend(changes(old.get(&i.key()), Some(i)).into_iter().map(|c| c.kind));
        }
        for k in &d.removed {
            out.extend(changes(old.get(k), None).into_iter().map(|c| c.kind));
        }
        out
    }

    #[test]
    fn software_installed_removed_updated() {
        assert_eq!(kinds_between(vec![], vec![pkg("nginx", "1.22")]), ["software.installed"]);
        assert_eq!(kinds_between(vec![pkg("nginx", "1.22")], vec![]), ["software.removed"]);
        assert_eq!(kinds_between(vec![pkg("nginx", "1.22")], vec![pkg("nginx", "1.24")]), ["software.updated"]);
        let c = changes(Some(&pkg("nginx", "1.22")), Some(&pkg("nginx", "1.24")));
        assert_eq!(c[0].detail["from"], "1.22");
    }

    #[test]
    fn autostart_added() {
        let a = Item::Autostart(Autostart {
            mechanism: "cron".into(),
            name: "@reboot /tmp/x".into(),
            location: "/etc/cron.d/x".into(),
            command: "/tmp/x".into(),
        });
        assert_eq!(kinds_between(vec![], vec![a.clone()]), ["autostart.added"]);
        assert_eq!(kinds_between(vec![a], vec![]), ["autostart.removed"]);
    }

    #[test]
    fn service_added_removed_and_failed() {
        let svc = |active: &str| {
            Item::Service(Service {
                unit: "nginx.service".into(),
                description: String::new(),
                active: active.into(),
                sub: "running".into(),
                enabled: "enabled".into(),
            })
        };
        assert_eq!(kinds_between(vec![], vec![svc("active")]), ["service.added"]);
        assert_eq!(kinds_between(vec![svc("active")], vec![]), ["service.removed"]);
        assert_eq!(kinds_between(vec![svc("active")], vec![svc("failed")]), ["service.state"]);
    }

    #[test]
    fn new_listening_port() {
        let l = |port| {
            Item::Listener(Listener {
                protocol: "tcp".into(),
                address: "0.0.0.0".into(),
                port,
                pid: Some(1),
                process: "xrdp".into(),
            })
        };
        assert_eq!(kinds_between(vec![l(22)], vec![l(22), l(3389)]), ["port.opened"]);
        assert_eq!(kinds_between(vec![l(22), l(3389)], vec![l(22)]), ["port.closed"]);
    }

    #[test]
    fn user_created_removed_and_new_admin() {
        assert_eq!(kinds_between(vec![], vec![user("anna", false, false)]), ["user.created"]);
        assert_eq!(kinds_between(vec![user("anna", false, false)], vec![]), ["user.removed"]);
        assert_eq!(kinds_between(vec![], vec![user("eve", true, false)]), ["user.created", "user.admin_created"]);
    }

    #[test]
    fn user_given_elevated_privileges() {
        assert_eq!(kinds_between(vec![user("anna", false, false)], vec![user("anna", true, false)]), ["user.elevated"]);
        assert!(kinds_between(vec![user("anna", true, false)], vec![user("anna", false, false)]).is_empty());
    }

    #[test]
    fn locked_account_and_locked_admin_account_enabled() {
        assert_eq!(kinds_between(vec![user("www", false, true)], vec![user("www", false, false)]), ["user.unlocked"]);
        assert_eq!(
            kinds_between(vec![user("root", true, true)], vec![user("root", true, false)]),
            ["user.admin_unlocked"]
        );
        assert!(kinds_between(vec![user("www", false, false)], vec![user("www", false, true)]).is_empty());
    }

    #[test]
    fn host_restarted_when_the_boot_id_changes() {
        let boot = |id: &str| {
            Item::System(SystemFacts { boot_id: id.into(), booted: 1, kernel: "6.1".into(), os: String::new() })
        };
        assert_eq!(changes(Some(&boot("a")), Some(&boot("b")))[0].kind, "host.restarted");
        assert!(changes(Some(&boot("a")), Some(&boot("a"))).is_empty());
    }

    #[test]
    fn items_round_trip_tagged() {
        let i = pkg("curl", "7.88");
        let json = serde_json::to_string(&i).expect("json");
        assert!(json.contains("\"type\":\"package\""), "{json}");
        assert_eq!(serde_json::from_str::<Item>(&json).expect("parse"), i);
        assert_eq!(Section::parse("ports"), Some(Section::Ports));
    }

    #[test]
    fn big_reports_are_split_into_parts_that_say_more() {
        let items: Vec<Item> = (0..100).map(|i| pkg(&format!("package-{i:03}"), "1.0")).collect();
        let one = |full| SectionReport {
            section: Section::Software,
            full,
            items: items.clone(),
            removed: vec![],
            error: None,
            truncated: 0,
            more: false,
        };
        let small = SectionReport { section: Section::Users, items: items[..1].to_vec(), ..one(true) };
        let records = split(vec![one(true), small], 2_000);
        assert!(records.len() > 3, "{}", records.len());
        let parts: Vec<&SectionReport> = records.iter().flatten().filter(|r| r.section == Section::Software).collect();
        assert!(parts[..parts.len() - 1].iter().all(|p| p.more && p.full));
        assert!(!parts.last().expect("last").more);
        assert_eq!(parts.iter().map(|p| p.items.len()).sum::<usize>(), 100);
        for r in &records {
            let n: usize = r.iter().flat_map(|p| &p.items).map(|i| serde_json::to_vec(i).map_or(0, |v| v.len())).sum();
            assert!(n <= 2_000, "{n}");
        }
        let deltas = split(vec![one(false)], 2_000);
        assert!(deltas.iter().flatten().all(|p| !p.more), "deltas need no parts");
        assert_eq!(split(vec![one(true)], 1 << 20).len(), 1);
    }
}
