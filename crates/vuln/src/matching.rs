//! Installed packages against the advisory index (VULN-1): by source
//! package (and binary name, as the rpm advisories list binaries), in the
//! release's version order, against the distribution's own fixed versions,
//! so a backported fix counts as fixed.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use crate::db::{Db, Fix, Score};
use crate::release::Release;

/// One installed package, as the inventory reports it.
#[derive(Debug, Clone, Copy)]
pub struct Installed<'a> {
    pub name: &'a str,
    pub version: &'a str,
    /// Source package; empty when it is the name.
    pub source: &'a str,
    /// Source version; empty when it is the version.
    pub source_version: &'a str,
}

impl<'a> From<&'a leitstand_proto::inventory::Package> for Installed<'a> {
    /// A package as the agent's inventory reports it.
    fn from(p: &'a leitstand_proto::inventory::Package) -> Self {
        Installed { name: &p.name, version: &p.version, source: &p.source, source_version: &p.source_version }
    }
}

impl<'a> Installed<'a> {
    pub fn new(name: &'a str, version: &'a str) -> Installed<'a> {
        Installed { name, version, source: "", source_version: "" }
    }

    fn source(&self) -> &'a str {
        if self.source.is_empty() {
            self.name
        } else {
            self.source
        }
    }

    fn source_version(&self) -> &'a str {
        if self.source_version.is_empty() {
            self.version
        } else {
            self.source_version
        }
    }
}

/// The four states of VULN-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// The distribution has a fixed version; updating removes it.
    FixAvailable,
    /// Affected, and no fix has been published yet.
    NotFixed,
    /// The distribution decided not to fix it (minor issue).
    Ignored,
    /// The release or the package is out of security support.
    EndOfLife,
}

impl State {
    pub const ALL: [State; 4] = [State::FixAvailable, State::NotFixed, State::Ignored, State::EndOfLife];

    pub fn name(self) -> &'static str {
        match self {
            State::FixAvailable => "fix_available",
            State::NotFixed => "not_fixed",
            State::Ignored => "ignored",
            State::EndOfLife => "end_of_life",
        }
    }
}

/// One vulnerability of one package on a host.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub cve: Arc<str>,
    /// Source package.
    pub package: String,
    /// Installed binary packages of that source.
    pub binaries: Vec<String>,
    /// Installed version (the lowest of the binaries).
    pub installed: String,
    pub fixed: Option<String>,
    pub state: State,
    /// Why it is ignored, as the distribution says.
    pub note: String,
    pub advisory: Option<Arc<str>>,
    pub score: Option<Score>,
}

/// The result of one host's scan.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub findings: Vec<Finding>,
    /// Packages compared.
    pub packages: usize,
    /// Comparisons skipped because a version could not be read.
    pub unreadable: usize,
    /// The release is past its end of security support.
    pub out_of_support: bool,
}

/// The note of a finding that Ubuntu states in its Pro (ESM) stream only.
pub const PRO_ONLY: &str = "Ubuntu Pro (ESM)";

/// Matches a host's packages. `today` (`YYYY-MM-DD`) decides whether the
/// release is out of support; then findings without a fix are
/// `EndOfLife` (none will come).
pub fn scan(db: &Db, release: &Release, packages: &[Installed<'_>], today: &str) -> Scan {
    let manager = release.manager();
    let out_of_support = release.out_of_support(today);
    let mut found: HashMap<(Arc<str>, &str), Finding> = HashMap::new();
    let mut unreadable = 0;
    for p in packages {
        let source = p.source();
        let by_source = db.entries(release, source);
        let by_name = if source == p.name { &[][..] } else { db.entries(release, p.name) };
        for (entries, version) in [(by_source, p.source_version()), (by_name, p.version)] {
            for e in entries {
                if let Some(i) = &e.introduced {
                    match manager.compare(version, i) {
                        Some(Ordering::Less) => continue,
                        None => {
                            unreadable += 1;
                            continue;
                        }
                        _ => {}
                    }
                }
                let (state, fixed, note) = match &e.fix {
                    Fix::Fixed(v) => match manager.compare(version, v) {
                        Some(Ordering::Less) => (State::FixAvailable, Some(v.clone()), String::new()),
                        Some(_) => continue,
                        None => {
                            unreadable += 1;
                            continue;
                        }
                    },
                    Fix::NotFixed => {
                        if let Some(l) = &e.last_affected {
                            if !matches!(manager.compare(version, l), Some(Ordering::Less | Ordering::Equal)) {
                                continue;
                            }
                        }
                        let state = if out_of_support { State::EndOfLife } else { State::NotFixed };
                        (state, None, String::new())
                    }
                    Fix::Ignored(why) => (State::Ignored, None, why.clone()),
                    Fix::EndOfLife => (State::EndOfLife, None, String::new()),
                };
                let note = match (note.is_empty(), e.pro_only) {
                    (true, true) => PRO_ONLY.to_owned(),
                    _ => note,
                };
                let f = found.entry((e.cve.clone(), source)).or_insert_with(|| Finding {
                    cve: e.cve.clone(),
                    package: source.to_owned(),
                    binaries: vec![],
                    installed: p.version.to_owned(),
                    fixed,
                    state,
                    note,
                    advisory: e.advisory.clone(),
                    score: db.score(&e.cve).cloned(),
                });
                if !f.binaries.iter().any(|b| b == p.name) {
                    f.binaries.push(p.name.to_owned());
                    if manager.below(p.version, &f.installed) {
                        p.version.clone_into(&mut f.installed);
                    }
                }
            }
        }
    }
    let mut findings: Vec<Finding> = found.into_values().collect();
    findings.sort_by(|a, b| a.package.cmp(&b.package).then_with(|| a.cve.cmp(&b.cve)));
    Scan { findings, packages: packages.len(), unreadable, out_of_support }
}
