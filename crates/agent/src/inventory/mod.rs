//! Inventory collectors (INV-1 … INV-6): each reads files under a root and
//! returns the items of one section. Same shape as the metric collectors:
//!
//! - a struct holding its settings,
//! - `section()`, which names what it reports,
//! - `collect(root)`, returning the items or a [`CollectError`] that names
//!   the file and the cause; a failing collector never stops the others.
//!
//! [`Inventory`] runs them, bounds each section, and turns the result into
//! full snapshots (at start and once a day) or deltas against what it sent
//! before.

mod accounts;
mod autostarts;
mod ports;
mod processes;
mod services;
mod software;
pub mod system;
mod updates;

pub use accounts::{Groups, Users};
pub use autostarts::Autostarts;
pub(crate) use list_dir as list_files;
pub use ports::Ports;
pub use processes::Processes;
pub(crate) use services::enabled_units;
pub use services::{parse_list_units, Services};
pub use software::{parse_dpkg_status, parse_rpm_query, Software, RPM_FORMAT};
pub use system::System;
pub use updates::{apt_updates, parse_dnf, Updates};

use crate::collect::CollectError;
use leitstand_proto::inventory::{self, Item, Section, SectionReport};
use std::collections::BTreeMap;
use std::path::Path;

pub trait InventoryCollector: Send {
    fn section(&self) -> Section;
    fn collect(&mut self, root: &Path) -> Result<Vec<Item>, CollectError>;
}

/// Every inventory collector.
pub fn standard() -> Vec<Box<dyn InventoryCollector>> {
    vec![
        Box::new(Software::default()),
        Box::new(Autostarts),
        Box::new(Services),
        Box::new(Ports),
        Box::new(Processes),
        Box::new(Users),
        Box::new(Groups),
        Box::new(System),
        Box::new(Updates::default()),
    ]
}

/// Most items one section may hold; beyond it the rest is left out and
/// counted (a host with 50 000 processes must not flood the server).
pub const MAX_ITEMS: usize = 20_000;

/// Most bytes of items in one spool record; bigger reports are split.
pub const MAX_RECORD_ITEMS_BYTES: usize = 256 * 1024;

/// Seconds between two full snapshots.
pub const FULL_EVERY_SECS: i64 = 24 * 3600;

/// Runs the collectors and remembers what was sent, to send only changes.
/// Of what was sent it keeps only a hash per item, not the items.
pub struct Inventory {
    collectors: Vec<Box<dyn InventoryCollector>>,
    sent: BTreeMap<Section, BTreeMap<String, u64>>,
    last_full_ms: Option<i64>,
}

fn hash_of(item: &Item) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    item.hash(&mut h);
    h.finish()
}

impl Inventory {
    pub fn new(collectors: Vec<Box<dyn InventoryCollector>>) -> Self {
        Self { collectors, sent: BTreeMap::new(), last_full_ms: None }
    }

    /// Reads every section: a full report of each on the first run and once
    /// a day, otherwise only the sections that changed. A section whose
    /// collector failed is reported as an error and keeps its last state.
    pub fn run(&mut self, root: &Path, now_ms: i64) -> Vec<SectionReport> {
        let full = self.last_full_ms.is_none_or(|t| now_ms - t >= FULL_EVERY_SECS * 1000);
        if full {
            self.last_full_ms = Some(now_ms);
        }
        let mut out = vec![];
        for c in &mut self.collectors {
            let section = c.section();
            let report = |items, removed, error, truncated| SectionReport {
                section,
                full: false,
                items,
                removed,
                error,
                truncated,
                more: false,
            };
            match c.collect(root) {
                Ok(mut items) => {
                    let truncated = items.len().saturating_sub(MAX_ITEMS) as u64;
                    items.truncate(MAX_ITEMS);
                    let items: BTreeMap<String, Item> = items.into_iter().map(|i| (i.key(), i)).collect();
                    let hashes: BTreeMap<String, u64> = items.iter().map(|(k, i)| (k.clone(), hash_of(i))).collect();
                    match self.sent.get(&section).filter(|_| !full) {
                        None => out.push(SectionReport {
                            full: true,
                            ..report(items.into_values().collect(), vec![], None, truncated)
                        }),
                        Some(old) => {
                            let removed: Vec<String> =
                                old.keys().filter(|k| !hashes.contains_key(*k)).cloned().collect();
                            let changed: Vec<Item> = items
                                .into_iter()
                                .filter(|(k, _)| old.get(k) != hashes.get(k))
                                .map(|(_, i)| i)
                                .collect();
                            if !changed.is_empty() || !removed.is_empty() {
                                out.push(report(changed, removed, None, truncated));
                            }
                        }
                    }
                    self.sent.insert(section, hashes);
                }
                Err(e) => out.push(report(vec![], vec![], Some(e.to_string()), 0)),
            }
        }
        out
    }
}

/// The reports of one run as spool records, none bigger than
/// [`MAX_RECORD_ITEMS_BYTES`] of items.
pub fn split_records(reports: Vec<SectionReport>, at_ms: i64) -> Vec<leitstand_proto::Record> {
    inventory::split(reports, MAX_RECORD_ITEMS_BYTES)
        .into_iter()
        .map(|sections| leitstand_proto::Record::Inventory { at_ms, sections })
        .collect()
}

/// For the benchmark: `n` full snapshots, each by a fresh collector set
/// (cold: nothing cached, the apt lists read for package origins), then
/// `n` by one warmed-up set; their median wall and CPU time, the size of
/// a full snapshot as batches on the wire, and the size of the delta
/// batch a change of one package's version makes. One line of JSON.
pub fn measure(root: &Path, n: u32) -> String {
    // CPU time of this (single-threaded) run in ns, from the scheduler.
    let cpu_ms = || -> f64 {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
        stat.split_whitespace().next().and_then(|ns| ns.parse::<f64>().ok()).map_or(0.0, |ns| ns / 1e6)
    };
    let wire = |records: &[leitstand_proto::Record]| -> usize {
        let seq: Vec<leitstand_proto::Sequenced> = records
            .iter()
            .enumerate()
            .map(|(i, r)| leitstand_proto::Sequenced { seq: i as u64 + 1, record: r.clone() })
            .collect();
        serde_json::to_vec(&leitstand_proto::Batch::new(seq)).map_or(0, |v| v.len())
    };
    let mut walls = vec![];
    let mut cpus = vec![];
    let mut last = (vec![], 0);
    for _ in 0..n {
        let (t, c) = (std::time::Instant::now(), cpu_ms());
        let reports = Inventory::new(standard()).run(root, 0);
        walls.push(t.elapsed().as_secs_f64() * 1000.0);
        cpus.push(cpu_ms() - c);
        let items = reports.iter().map(|r| r.items.len()).sum::<usize>();
        last = (reports, items);
    }
    // Warm: one collector set, whose package origins are known from the
    // first run (as on a running agent), a full snapshot each time.
    let mut warm = Inventory::new(standard());
    warm.run(root, 0);
    let mut warm_walls = vec![];
    let mut warm_cpus = vec![];
    for i in 1..=n {
        let (t, c) = (std::time::Instant::now(), cpu_ms());
        warm.run(root, i64::from(i) * FULL_EVERY_SECS * 1000);
        warm_walls.push(t.elapsed().as_secs_f64() * 1000.0);
        warm_cpus.push(cpu_ms() - c);
    }
    let (reports, items) = last;
    let records = split_records(reports.clone(), 0);
    let full_bytes = wire(&records);
    // One package moves to another version: the delta the agent sends.
    let software = reports.iter().find(|r| r.section == Section::Software).map(|r| r.items.clone()).unwrap_or_default();
    let old = inventory::state_of(software);
    let mut new = old.clone();
    if let Some(Item::Package(p)) = new.values_mut().next() {
        p.version.push_str("+1");
    }
    let delta_bytes = inventory::delta(Section::Software, &old, &new).map_or(0, |d| wire(&split_records(vec![d], 0)));
    for v in [&mut walls, &mut cpus, &mut warm_walls, &mut warm_cpus] {
        v.sort_by(f64::total_cmp);
    }
    let median = |v: &[f64]| v[v.len() / 2];
    serde_json::json!({
        "snapshots": n,
        "items": items,
        "packages": old.len(),
        "wall_ms_median": median(&walls),
        "cpu_ms_median": median(&cpus),
        "warm_wall_ms_median": median(&warm_walls),
        "warm_cpu_ms_median": median(&warm_cpus),
        "records": records.len(),
        "full_bytes": full_bytes,
        "delta_bytes": delta_bytes,
    })
    .to_string()
}

/// Reads `root/rel` when it exists: `Ok(None)` for a missing file.
pub(crate) fn read_optional(collector: &'static str, root: &Path, rel: &str) -> Result<Option<String>, CollectError> {
    let path = root.join(rel);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CollectError { collector, path, message: e.to_string() }),
    }
}

/// A unit file of this name exists in one of the unit directories.
pub(crate) fn unit_file_exists(root: &Path, unit: &str) -> bool {
    services::UNIT_DIRS.iter().any(|d| root.join(d).join(unit).exists())
}

/// File names in `root/rel`, sorted; none when the directory is missing.
pub(crate) fn list_dir(root: &Path, rel: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join(rel))
        .map(|d| d.filter_map(Result::ok).filter_map(|e| e.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot;

    #[test]
    fn every_section_reads_this_machine() {
        let mut inv = Inventory::new(standard());
        let reports = inv.run(Path::new("/"), 0);
        for r in &reports {
            assert!(r.error.is_none(), "{:?}: {:?}", r.section, r.error);
            assert!(r.full);
        }
        let count = |s: Section| reports.iter().find(|r| r.section == s).map_or(0, |r| r.items.len());
        assert!(count(Section::Processes) > 1);
        assert!(count(Section::Users) > 1);
        assert!(count(Section::Groups) > 1);
        assert_eq!(count(Section::System), 1);
        if Path::new("/var/lib/dpkg/status").exists() {
            assert!(count(Section::Software) > 10);
        }
    }

    #[test]
    fn later_runs_send_only_changes_and_a_broken_file_only_costs_its_section() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        testroot::write(
            root,
            &[
                ("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
                ("etc/group", "root:x:0:\n"),
                ("proc/sys/kernel/random/boot_id", "b1\n"),
                ("proc/stat", "btime 1700000000\n"),
                ("proc/sys/kernel/osrelease", "6.1.0\n"),
            ],
        );
        let mut inv = Inventory::new(vec![Box::new(Users), Box::new(Groups), Box::new(System)]);
        let first = inv.run(root, 1_000);
        assert_eq!(first.len(), 3);
        assert!(first.iter().all(|r| r.full && r.error.is_none()), "{first:?}");
        assert!(inv.run(root, 2_000).is_empty(), "nothing changed, nothing sent");

        testroot::write(
            root,
            &[("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nanna:x:1000:1000::/home/anna:/bin/sh\n")],
        );
        std::fs::remove_file(root.join("proc/sys/kernel/random/boot_id")).expect("rm");
        let next = inv.run(root, 3_000);
        let users = next.iter().find(|r| r.section == Section::Users).expect("users delta");
        assert!(!users.full);
        assert_eq!(users.items.iter().map(Item::key).collect::<Vec<_>>(), ["anna"]);
        let system = next.iter().find(|r| r.section == Section::System).expect("system error");
        assert!(system.error.as_deref().is_some_and(|e| e.contains("boot_id")), "{system:?}");

        let day_later = inv.run(root, 3_000 + FULL_EVERY_SECS * 1000);
        assert!(day_later.iter().filter(|r| r.error.is_none()).all(|r| r.full));
    }
}
