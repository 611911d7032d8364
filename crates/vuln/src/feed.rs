//! Advisory feeds: the Debian Security Tracker's JSON and OSV records
//! (Debian, Ubuntu, AlmaLinux, Rocky), read into a `Db`. A file that does not
//! parse is refused whole with a message naming it, so the caller keeps the
//! data it had.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::db::{Db, Entry, FeedStats, Fix, Score};
use crate::release::Release;

/// The formats we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedKind {
    /// `https://security-tracker.debian.org/tracker/data/json`.
    DebianTracker,
    /// OSV records: one JSON file (a record or an array of them) or a
    /// directory of them.
    Osv,
}

impl FeedKind {
    pub fn name(self) -> &'static str {
        match self {
            FeedKind::DebianTracker => "debian-tracker",
            FeedKind::Osv => "osv",
        }
    }

    pub fn from_name(s: &str) -> Option<FeedKind> {
        match s {
            "debian-tracker" => Some(FeedKind::DebianTracker),
            "osv" => Some(FeedKind::Osv),
            _ => None,
        }
    }
}

/// Why a feed was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {message}")]
pub struct FeedError {
    /// The file (or URL) concerned.
    pub what: String,
    pub message: String,
}

impl FeedError {
    pub fn new(what: impl Into<String>, message: impl Into<String>) -> FeedError {
        FeedError { what: what.into(), message: message.into() }
    }
}

/// Most bytes one feed file may have (the whole tracker is about 80 MB).
pub const MAX_FEED_BYTES: u64 = 512 * 1024 * 1024;

/// Parses one feed document. `what` names it in errors.
pub fn parse(kind: FeedKind, what: &str, bytes: &[u8]) -> Result<(Db, FeedStats), FeedError> {
    let mut db = Db::new();
    let mut stats = FeedStats::default();
    match kind {
        FeedKind::DebianTracker => debian_tracker(&mut db, &mut stats, what, bytes)?,
        FeedKind::Osv => osv_document(&mut db, &mut stats, what, bytes)?,
    }
    Ok((db, stats))
}

/// Reads a feed from a file, or for OSV also from a directory of `.json`
/// files (searched to any depth, in name order).
pub fn load_path(kind: FeedKind, path: &Path) -> Result<(Db, FeedStats), FeedError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| FeedError::new(&shown, e.to_string()))?;
    if !meta.is_dir() {
        if meta.len() > MAX_FEED_BYTES {
            return Err(FeedError::new(&shown, format!("larger than {} MiB", MAX_FEED_BYTES >> 20)));
        }
        let bytes = std::fs::read(path).map_err(|e| FeedError::new(&shown, e.to_string()))?;
        return parse(kind, &shown, &bytes);
    }
    if kind != FeedKind::Osv {
        return Err(FeedError::new(&shown, "is a directory; the Debian tracker feed is one JSON file"));
    }
    let mut files = vec![];
    json_files(path, &mut files).map_err(|e| FeedError::new(&shown, e.to_string()))?;
    if files.is_empty() {
        return Err(FeedError::new(&shown, "holds no .json files"));
    }
    let mut db = Db::new();
    let mut stats = FeedStats::default();
    for f in files {
        let what = f.display().to_string();
        let bytes = std::fs::read(&f).map_err(|e| FeedError::new(&what, e.to_string()))?;
        osv_document(&mut db, &mut stats, &what, &bytes)?;
    }
    Ok((db, stats))
}

/// A cheap mark of a feed's files (names, sizes, modification times), to
/// skip parsing what has not changed since the last load.
pub fn fingerprint(path: &Path) -> Result<u64, FeedError> {
    use std::hash::{Hash, Hasher};
    let shown = path.display().to_string();
    let err = |e: std::io::Error| FeedError::new(&shown, e.to_string());
    let mut files = vec![];
    if std::fs::metadata(path).map_err(err)?.is_dir() {
        json_files(path, &mut files).map_err(err)?;
    } else {
        files.push(path.to_owned());
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in files {
        let m = std::fs::metadata(&f).map_err(err)?;
        f.hash(&mut h);
        m.len().hash(&mut h);
        m.modified().ok().hash(&mut h);
    }
    Ok(h.finish())
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if e.file_type()?.is_dir() {
            json_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    Ok(())
}

/// Where a JSON document broke: line, column and serde's words.
fn json_error(what: &str, e: &serde_json::Error) -> FeedError {
    let cause = if e.is_eof() { "the file ends early (truncated?)".to_owned() } else { e.to_string() };
    FeedError::new(what, format!("not valid JSON at line {}, column {}: {cause}", e.line(), e.column()))
}

#[derive(Deserialize)]
struct TrackerCve {
    #[serde(default)]
    description: String,
    #[serde(default)]
    releases: HashMap<String, TrackerRelease>,
}

#[derive(Deserialize)]
struct TrackerRelease {
    status: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: String,
    #[serde(default)]
    nodsa: Option<String>,
    #[serde(default)]
    nodsa_reason: Option<String>,
}

fn debian_tracker(db: &mut Db, stats: &mut FeedStats, what: &str, bytes: &[u8]) -> Result<(), FeedError> {
    let doc: HashMap<String, HashMap<String, TrackerCve>> =
        serde_json::from_slice(bytes).map_err(|e| json_error(what, &e))?;
    if doc.is_empty() {
        return Err(FeedError::new(what, "holds no packages"));
    }
    for (package, cves) in doc {
        for (id, cve) in cves {
            stats.records += 1;
            let id = db.intern(&id);
            if !cve.description.is_empty() {
                db.add_title(&id, &cve.description);
            }
            for (codename, r) in cve.releases {
                let Some(release) = Release::debian_from_codename(&codename) else {
                    stats.skipped += 1;
                    continue;
                };
                let fix = match (r.status.as_str(), r.fixed_version) {
                    // Fixed in "0": the release never had the flaw.
                    ("resolved", Some(v)) if v == "0" => continue,
                    ("resolved", Some(v)) => Fix::Fixed(v),
                    ("resolved", None) => continue,
                    ("open" | "undetermined", _) => match (r.urgency.as_str(), r.nodsa_reason.as_deref()) {
                        ("unimportant", _) => Fix::Ignored("unimportant".into()),
                        ("end-of-life", _) => Fix::EndOfLife,
                        (_, Some("ignored")) => Fix::Ignored(r.nodsa.unwrap_or_else(|| "ignored".into())),
                        _ => Fix::NotFixed,
                    },
                    (other, _) => {
                        return Err(FeedError::new(
                            what,
                            format!("{package} {id} {codename}: unknown status {other:?}"),
                        ))
                    }
                };
                stats.entries += 1;
                db.add(
                    release,
                    &package,
                    Entry {
                        cve: id.clone(),
                        advisory: None,
                        fix,
                        introduced: None,
                        last_affected: None,
                        pro_only: false,
                    },
                );
            }
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct OsvRecord {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    upstream: Vec<String>,
    #[serde(default)]
    related: Vec<String>,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    affected: Vec<OsvAffected>,
}

#[derive(Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct OsvAffected {
    package: OsvPackage,
    #[serde(default)]
    ranges: Vec<OsvRange>,
    #[serde(default)]
    ecosystem_specific: Option<serde_json::Value>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
}

#[derive(Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<OsvEvent>,
}

#[derive(Deserialize)]
struct OsvEvent {
    #[serde(default)]
    introduced: Option<String>,
    #[serde(default)]
    fixed: Option<String>,
    #[serde(default)]
    last_affected: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OsvDocument {
    Many(Vec<OsvRecord>),
    One(Box<OsvRecord>),
}

fn osv_document(db: &mut Db, stats: &mut FeedStats, what: &str, bytes: &[u8]) -> Result<(), FeedError> {
    // Parse as a value first: an untagged enum would hide where it broke.
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| json_error(what, &e))?;
    let doc: OsvDocument = serde_json::from_value(value)
        .map_err(|e| FeedError::new(what, format!("not an OSV record or list of records: {e}")))?;
    let records = match doc {
        OsvDocument::Many(v) => v,
        OsvDocument::One(r) => vec![*r],
    };
    for r in records {
        osv_record(db, stats, r);
    }
    Ok(())
}

fn osv_record(db: &mut Db, stats: &mut FeedStats, r: OsvRecord) {
    stats.records += 1;
    if r.withdrawn.is_some() {
        stats.skipped += 1;
        return;
    }
    let own_cve = ["UBUNTU-", "DEBIAN-"].iter().find_map(|p| r.id.strip_prefix(p)).unwrap_or(&r.id);
    let mut cves: Vec<&str> = std::iter::once(own_cve)
        .chain(r.aliases.iter().map(String::as_str))
        .chain(r.upstream.iter().map(String::as_str))
        .chain(r.related.iter().map(String::as_str))
        .filter(|c| c.starts_with("CVE-"))
        .collect();
    cves.sort_unstable();
    cves.dedup();
    let advisory = (!r.id.starts_with("CVE-") && !own_cve.starts_with("CVE-")).then(|| db.intern(&r.id));
    let ids: Vec<_> =
        if cves.is_empty() { vec![db.intern(&r.id)] } else { cves.iter().map(|c| db.intern(c)).collect() };
    let title = if r.summary.is_empty() { &r.details } else { &r.summary };
    for id in &ids {
        db.add_title(id, title);
        for s in r.severity.iter().filter(|s| s.kind.starts_with("CVSS_V")) {
            if let Some(score) = Score::parse(&s.score) {
                db.add_score(id, score);
            }
        }
    }
    let priority_negligible = r.severity.iter().any(|s| s.kind == "Ubuntu" && s.score == "negligible");
    // Ubuntu states universe packages of supported releases, and releases
    // past standard support, in its Pro stream only. The host has the flaw
    // all the same, so such a statement counts, marked; where the record
    // also has the release's own statement for the package, that one holds.
    let streams: Vec<_> = r.affected.iter().map(|a| Release::from_osv_stream(&a.package.ecosystem)).collect();
    let standard: HashSet<(Release, &str)> = r
        .affected
        .iter()
        .zip(&streams)
        .filter_map(|(a, s)| match s {
            Some((release, false)) => Some((release.clone(), a.package.name.as_str())),
            _ => None,
        })
        .collect();
    for (a, stream) in r.affected.iter().zip(streams.iter()) {
        let Some((release, pro_only)) = stream.clone() else {
            stats.skipped += 1;
            continue;
        };
        if pro_only && standard.contains(&(release.clone(), a.package.name.as_str())) {
            stats.skipped += 1;
            continue;
        }
        for s in a.severity.iter().filter(|s| s.kind.starts_with("CVSS_V")) {
            if let Some(score) = Score::parse(&s.score) {
                for id in &ids {
                    db.add_score(id, score.clone());
                }
            }
        }
        // Ubuntu's priority: the record's severity of type "Ubuntu" (as its
        // export writes it), or a per-package `ubuntu_priority`.
        let negligible = priority_negligible
            || a.ecosystem_specific
                .as_ref()
                .and_then(|v| v.get("ubuntu_priority"))
                .and_then(|v| v.as_str())
                .is_some_and(|p| p == "negligible");
        for range in a.ranges.iter().filter(|r| r.kind == "ECOSYSTEM") {
            for (introduced, end) in spans(&range.events) {
                let (fix, last_affected) = match end {
                    _ if negligible => (Fix::Ignored("negligible".into()), None),
                    Some(End::Fixed(v)) => (Fix::Fixed(v.to_owned()), None),
                    Some(End::LastAffected(v)) => (Fix::NotFixed, Some(v.to_owned())),
                    None => (Fix::NotFixed, None),
                };
                for id in &ids {
                    stats.entries += 1;
                    db.add(
                        release.clone(),
                        &a.package.name,
                        Entry {
                            cve: id.clone(),
                            advisory: advisory.clone(),
                            fix: fix.clone(),
                            introduced: introduced.map(str::to_owned),
                            last_affected: last_affected.clone(),
                            pro_only,
                        },
                    );
                }
            }
        }
    }
}

enum End<'a> {
    Fixed(&'a str),
    LastAffected(&'a str),
}

/// OSV range events as spans: each `introduced` opens one (`0` = from the
/// start), the next `fixed` or `last_affected` closes it.
fn spans(events: &[OsvEvent]) -> Vec<(Option<&str>, Option<End<'_>>)> {
    let mut out = vec![];
    let mut open: Option<Option<&str>> = None;
    for e in events {
        if let Some(i) = &e.introduced {
            if let Some(start) = open.take() {
                out.push((start, None));
            }
            open = Some((i != "0").then_some(i.as_str()));
        } else if let Some(f) = &e.fixed {
            if let Some(start) = open.take() {
                out.push((start, Some(End::Fixed(f))));
            }
        } else if let Some(l) = &e.last_affected {
            if let Some(start) = open.take() {
                out.push((start, Some(End::LastAffected(l))));
            }
        }
    }
    if let Some(start) = open {
        out.push((start, None));
    }
    out
}
