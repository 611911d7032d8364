//! Vulnerability use cases (VULN-1, VULN-2): advisory feeds loaded into this
//! replica (a feed that fails keeps its last good data), hosts scanned when
//! their software or the advisories change, findings listed, exported and
//! accepted as a risk, the tenant's alarm threshold.

use crate::{Actor, Result, ServiceError, Services};
use jiff::Timestamp;
use leitstand_domain::{FieldError, Permission, TenantId};
use leitstand_proto::inventory::Item;
use leitstand_store::{
    Acceptance, FindingPage, FindingQuery, HostScan, InventoryQuery, NewFinding, ScanTarget, TenantScope, VulnFinding,
    VulnHost,
};
use leitstand_vuln::feed::{self, FeedKind};
use leitstand_vuln::{Db, FeedStats, Installed, Release};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

/// Hosts one scan round takes at most.
pub const SCAN_BATCH: u32 = 50;
/// Longest a risk may be accepted for.
pub const MAX_ACCEPT_DAYS: i64 = 366;

/// One advisory feed as the provider configured it.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedSpec {
    /// Short name, unique (`debian`, `ubuntu-osv`); names the cached copy.
    pub name: String,
    pub kind: FeedKind,
    /// A file or directory, or an `http(s)://` URL (fetched by the server
    /// into its cache directory, then read from there).
    pub location: String,
}

impl FeedSpec {
    pub fn is_url(&self) -> bool {
        self.location.starts_with("http://") || self.location.starts_with("https://")
    }
}

/// Settings of the vulnerability scanner (when to read the feeds again is
/// the server worker's `[vuln] refresh_hours`).
#[derive(Clone, Debug, Default)]
pub struct VulnConfig {
    pub feeds: Vec<FeedSpec>,
}

/// What the feed page shows of one feed.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedStatus {
    pub spec: FeedSpec,
    /// When its data in use was loaded.
    pub loaded_at: Option<Timestamp>,
    pub stats: FeedStats,
    /// The last refusal, kept until a load succeeds.
    pub error: Option<String>,
    pub error_at: Option<Timestamp>,
}

struct Loaded {
    status: FeedStatus,
    db: Arc<Db>,
    fingerprint: Option<u64>,
}

/// The advisories of this replica.
pub(crate) struct VulnState {
    feeds: Mutex<Vec<Loaded>>,
    /// All feeds merged, and when that changed last.
    current: RwLock<(Arc<Db>, Timestamp)>,
}

impl VulnState {
    pub(crate) fn new(config: &VulnConfig) -> VulnState {
        let feeds = config
            .feeds
            .iter()
            .map(|spec| Loaded {
                status: FeedStatus {
                    spec: spec.clone(),
                    loaded_at: None,
                    stats: FeedStats::default(),
                    error: None,
                    error_at: None,
                },
                db: Arc::new(Db::new()),
                fingerprint: None,
            })
            .collect();
        VulnState { feeds: Mutex::new(feeds), current: RwLock::new((Arc::new(Db::new()), Timestamp::UNIX_EPOCH)) }
    }
}

/// The findings file's columns (CSV and JSON).
pub const FINDING_COLUMNS: [&str; 16] = [
    "tenant",
    "host",
    "cve",
    "package",
    "binaries",
    "installed",
    "fixed_version",
    "state",
    "cvss_score",
    "cvss_vector",
    "severity",
    "status",
    "first_seen",
    "accepted_reason",
    "accepted_until",
    "title",
];

/// One findings-file row, in `FINDING_COLUMNS` order.
pub fn finding_row(f: &VulnFinding, tenant: &str) -> Vec<String> {
    vec![
        tenant.to_owned(),
        f.host_name.clone(),
        f.cve.clone(),
        f.package.clone(),
        f.binaries.clone(),
        f.installed.clone(),
        f.fixed.clone().unwrap_or_default(),
        f.state.clone(),
        f.score_tenths.map(score_text).unwrap_or_default(),
        f.vector.clone().unwrap_or_default(),
        f.severity.clone(),
        f.status.clone(),
        f.first_seen.to_string(),
        f.accepted_reason.clone().unwrap_or_default(),
        f.accepted_until.map(|t| t.to_string()).unwrap_or_default(),
        f.title.clone(),
    ]
}

/// `81` → `8.1`.
pub fn score_text(tenths: u32) -> String {
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// Reads `7`, `7.5`, `7,5` (German) into tenths, 0 to 10.
pub fn parse_score(text: &str) -> Option<u32> {
    let v: f64 = text.trim().replace(',', ".").parse().ok()?;
    (0.0..=10.0).contains(&v).then(|| (v * 10.0).round() as u32)
}

/// What one scan round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanRound {
    pub hosts: u32,
    pub new: u32,
    pub alarmed: u32,
    pub fixed: u32,
}

/// A risk acceptance as a person wrote it.
#[derive(Clone, Debug, Default)]
pub struct AcceptInput {
    pub reason: String,
    /// `YYYY-MM-DD`, the last day the acceptance holds (in the tenant's
    /// time zone, Europe/Berlin by default).
    pub until: String,
}

impl Services {
    /// Reads every feed whose files changed (`cache` holds the copies of URL
    /// feeds the server fetched, `<cache>/<name>`). A feed that fails keeps
    /// the data it had and shows the error. Returns whether the advisories in
    /// use changed.
    pub fn load_feeds(&self, cache: &std::path::Path) -> bool {
        let now = self.now();
        // Parse without holding the lock: the feed page stays readable while
        // a big file is read.
        let todo: Vec<(FeedSpec, Option<u64>, bool)> = self
            .vuln
            .feeds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|f| (f.status.spec.clone(), f.fingerprint, f.status.error.is_some()))
            .collect();
        let mut results = vec![];
        for (spec, seen, has_error) in todo {
            let path = if spec.is_url() { cache.join(&spec.name) } else { PathBuf::from(&spec.location) };
            let result = match feed::fingerprint(&path) {
                Ok(fp) if Some(fp) == seen => continue,
                // A URL feed not fetched yet keeps the fetch's own error.
                Err(_) if spec.is_url() && has_error => continue,
                Err(e) => Err(e),
                Ok(fp) => feed::load_path(spec.kind, &path).map(|(db, stats)| (db, stats, fp)),
            };
            results.push((spec.name, result));
        }
        let mut feeds = self.vuln.feeds.lock().unwrap_or_else(|e| e.into_inner());
        let mut changed = false;
        for (name, result) in results {
            let Some(f) = feeds.iter_mut().find(|f| f.status.spec.name == name) else { continue };
            match result {
                Ok((db, stats, fp)) => {
                    tracing::info!(feed = %name, records = stats.records, entries = stats.entries, "advisory feed loaded");
                    f.db = Arc::new(db);
                    f.fingerprint = Some(fp);
                    f.status.stats = stats;
                    f.status.loaded_at = Some(now);
                    f.status.error = None;
                    f.status.error_at = None;
                    changed = true;
                }
                Err(e) => {
                    tracing::warn!(feed = %name, error = %e, "advisory feed refused; the previous data stays in use");
                    f.status.error = Some(e.to_string());
                    f.status.error_at = Some(now);
                }
            }
        }
        let dbs: Vec<Arc<Db>> = feeds.iter().map(|f| f.db.clone()).collect();
        drop(feeds);
        if changed {
            let mut merged = Db::new();
            for db in dbs {
                merged.merge((*db).clone());
            }
            *self.vuln.current.write().unwrap_or_else(|e| e.into_inner()) = (Arc::new(merged), now);
        }
        changed
    }

    /// Records that fetching a URL feed failed (the cached copy stays).
    pub fn feed_fetch_failed(&self, name: &str, error: &str) {
        let mut feeds = self.vuln.feeds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = feeds.iter_mut().find(|f| f.status.spec.name == name) {
            f.status.error = Some(error.to_owned());
            f.status.error_at = Some(self.now());
        }
    }

    /// The configured feeds (for the server's fetcher).
    pub fn feed_specs(&self) -> Vec<FeedSpec> {
        self.config.vuln.feeds.clone()
    }

    /// The feeds' state, for the provider.
    pub fn feed_status(&self, actor: &Actor) -> Result<(Vec<FeedStatus>, Timestamp, usize)> {
        actor.require(Permission::PolicyManage)?;
        let feeds = self.vuln.feeds.lock().unwrap_or_else(|e| e.into_inner());
        let (db, at) = self.vuln.current.read().unwrap_or_else(|e| e.into_inner()).clone();
        Ok((feeds.iter().map(|f| f.status.clone()).collect(), at, db.len()))
    }

    fn advisories(&self) -> (Arc<Db>, Timestamp) {
        self.vuln.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Scans the hosts that are due (the worker's round): software changed,
    /// never scanned, or scanned before the advisories changed. Nothing
    /// happens while no feed has loaded.
    pub async fn scan_due_hosts(&self) -> Result<ScanRound> {
        let (db, loaded_at) = self.advisories();
        let mut round = ScanRound::default();
        if db.is_empty() {
            return Ok(round);
        }
        for target in self.store.scan_targets(loaded_at, SCAN_BATCH).await? {
            let scan = self.scan_host(&db, loaded_at, &target).await?;
            let out = self.store.save_scan(&scan).await?;
            round.hosts += 1;
            round.new += out.new;
            round.alarmed += out.alarmed;
            round.fixed += out.fixed;
        }
        Ok(round)
    }

    async fn scan_host(&self, db: &Db, loaded_at: Timestamp, t: &ScanTarget) -> Result<HostScan> {
        let now = self.now();
        let q = InventoryQuery { section: "software".into(), text: None, page: 0, per_page: u32::MAX };
        let page = self.store.inventory_page(&TenantScope::All, t.host, &q).await?;
        let packages: Vec<leitstand_proto::inventory::Package> = page
            .items
            .iter()
            .filter_map(|e| match serde_json::from_str::<Item>(&e.data) {
                Ok(Item::Package(p)) => Some(p),
                _ => None,
            })
            .collect();
        let mut scan = HostScan {
            host: t.host,
            tenant: t.tenant,
            release: None,
            end_of_support: None,
            out_of_support: false,
            packages: packages.len() as u32,
            problem: None,
            findings: vec![],
            at: now,
            software_at: t.software_at,
            advisories_at: loaded_at,
        };
        let Some(release) = Release::from_os_name(&t.os) else {
            scan.problem = Some(format!("release not recognised: {}", t.os));
            return Ok(scan);
        };
        let installed: Vec<Installed> = packages.iter().map(Installed::from).collect();
        let today = now.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
        let result = leitstand_vuln::scan(db, &release, &installed, &today);
        scan.release = Some(release.label());
        scan.end_of_support = release.end_of_support().map(str::to_owned);
        scan.out_of_support = result.out_of_support;
        scan.findings = result
            .findings
            .into_iter()
            .map(|f| NewFinding {
                title: db.title(&f.cve).unwrap_or_default().to_owned(),
                cve: f.cve.to_string(),
                package: f.package,
                binaries: f.binaries.join(", "),
                installed: f.installed,
                fixed: f.fixed,
                state: f.state.name().to_owned(),
                note: f.note,
                advisory: f.advisory.map(|a| a.to_string()),
                score_tenths: f.score.as_ref().map(|s| (s.score * 10.0).round() as u32),
                vector: f.score.as_ref().map(|s| s.vector.clone()),
                severity: f.score.as_ref().map_or("unknown", |s| s.severity).to_owned(),
            })
            .collect();
        Ok(scan)
    }

    /// Findings in the actor's scope.
    pub async fn vuln_findings(&self, actor: &Actor, mut q: FindingQuery) -> Result<FindingPage> {
        actor.require(Permission::HostsRead)?;
        if let Some(t) = q.tenant {
            actor.require_tenant(t)?;
        }
        q.now = Some(self.now());
        Ok(self.store.vuln_findings(actor.scope(), &q).await?)
    }

    pub async fn vuln_finding(&self, actor: &Actor, id: i64) -> Result<VulnFinding> {
        actor.require(Permission::HostsRead)?;
        Ok(self.store.vuln_finding(actor.scope(), id, self.now()).await?)
    }

    /// Scan state of the hosts in scope.
    pub async fn vuln_hosts(&self, actor: &Actor, tenant: Option<TenantId>) -> Result<Vec<VulnHost>> {
        actor.require(Permission::HostsRead)?;
        if let Some(t) = tenant {
            actor.require_tenant(t)?;
        }
        Ok(self.store.vuln_hosts(actor.scope(), tenant).await?)
    }

    /// Accepts a finding's risk until a day, with a reason (audited).
    pub async fn accept_vuln_risk(&self, actor: &Actor, id: i64, input: &AcceptInput) -> Result<VulnFinding> {
        actor.require(Permission::HostsManage)?;
        let mut errors = vec![];
        let reason = input.reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            errors.push(FieldError::new("reason", "error-accept-reason"));
        }
        let f = self.store.vuln_finding(actor.scope(), id, self.now()).await?;
        let tz = self.tenant_zone(f.tenant).await;
        let now = self.now();
        let today = now.to_zoned(tz.clone()).date();
        let until = input
            .until
            .trim()
            .parse::<jiff::civil::Date>()
            .ok()
            .filter(|d| *d >= today && d.since(today).is_ok_and(|s| s.get_days() <= MAX_ACCEPT_DAYS as i32));
        let Some(until) = until else {
            errors.push(FieldError::new("until", "error-accept-until"));
            return Err(ServiceError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        // The acceptance holds to the end of that day.
        let end = until.tomorrow().ok().and_then(|d| d.to_zoned(tz).ok()).map_or(now, |z| z.timestamp())
            - jiff::SignedDuration::from_millis(1);
        let acceptance = Acceptance { reason: reason.to_owned(), until: end, by: actor.user.name.to_string() };
        let detail =
            serde_json::json!({"cve": f.cve, "package": f.package, "reason": reason, "until": until.to_string()});
        let audit = actor.audit(now, "vuln.accept_risk", Some(f.tenant), format!("vuln_finding:{id}"), detail);
        Ok(self.store.accept_vuln_risk(actor.scope(), id, Some(&acceptance), &audit).await?)
    }

    /// Withdraws a risk acceptance.
    pub async fn withdraw_vuln_acceptance(&self, actor: &Actor, id: i64) -> Result<VulnFinding> {
        actor.require(Permission::HostsManage)?;
        let f = self.store.vuln_finding(actor.scope(), id, self.now()).await?;
        let detail = serde_json::json!({"cve": f.cve, "package": f.package});
        let audit =
            actor.audit(self.now(), "vuln.withdraw_acceptance", Some(f.tenant), format!("vuln_finding:{id}"), detail);
        Ok(self.store.accept_vuln_risk(actor.scope(), id, None, &audit).await?)
    }

    /// The tenant's alarm threshold (tenths).
    pub async fn vuln_min_score(&self, actor: &Actor, tenant: TenantId) -> Result<u32> {
        actor.require(Permission::HostsRead)?;
        actor.require_tenant(tenant)?;
        Ok(self.store.vuln_min_score(actor.scope(), tenant).await?)
    }

    /// Sets the tenant's alarm threshold from a person's text (`7.5`, `7,5`).
    pub async fn set_vuln_min_score(&self, actor: &Actor, tenant: TenantId, text: &str) -> Result<u32> {
        actor.require(Permission::HostsManage)?;
        actor.require_tenant(tenant)?;
        let tenths = parse_score(text).ok_or_else(|| ServiceError::field("min_score", "error-min-score"))?;
        let detail = serde_json::json!({"min_score": score_text(tenths)});
        let audit = actor.audit(self.now(), "vuln.min_score", Some(tenant), format!("tenant:{}", tenant.0), detail);
        self.store.set_vuln_min_score(actor.scope(), tenant, tenths, &audit).await?;
        Ok(tenths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_read_in_both_notations_and_bounded() {
        assert_eq!(parse_score("7"), Some(70));
        assert_eq!(parse_score("7.5"), Some(75));
        assert_eq!(parse_score(" 9,8 "), Some(98));
        assert_eq!(parse_score("0"), Some(0));
        assert_eq!(parse_score("10.1"), None);
        assert_eq!(parse_score("-1"), None);
        assert_eq!(parse_score("hoch"), None);
        assert_eq!(score_text(81), "8.1");
    }
}
