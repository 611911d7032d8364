//! Records and the trait for vulnerabilities (VULN-1, VULN-2): each host's
//! scan state, its findings with their status (open, fixed, risk accepted),
//! and the tenant's alarm threshold.

use crate::{AuditDraft, Result, TenantScope};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::{HostId, TenantId};

/// A new finding's CVSS score at or above this raises the "new
/// vulnerability" alarm, unless the tenant set another (tenths: 70 = 7.0).
pub const DEFAULT_MIN_SCORE_TENTHS: u32 = 70;

/// A host whose software changed since its last scan, or that was scanned
/// before the advisories were last loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanTarget {
    pub host: HostId,
    pub tenant: TenantId,
    pub os: String,
    /// When its software list last changed.
    pub software_at: Timestamp,
}

/// One finding as the matcher made it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFinding {
    pub cve: String,
    pub package: String,
    /// Installed binaries of the source package, comma separated.
    pub binaries: String,
    pub installed: String,
    pub fixed: Option<String>,
    /// `fix_available`, `not_fixed`, `ignored`, `end_of_life`.
    pub state: String,
    pub note: String,
    pub advisory: Option<String>,
    /// CVSS base score in tenths (81 = 8.1).
    pub score_tenths: Option<u32>,
    pub vector: Option<String>,
    /// CVSS severity name, or `unknown` without a score.
    pub severity: String,
    pub title: String,
}

/// The result of one host's scan, stored in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct HostScan {
    pub host: HostId,
    pub tenant: TenantId,
    /// `Debian 12 (bookworm)`; `None` when the release is not one we know.
    pub release: Option<String>,
    pub end_of_support: Option<String>,
    pub out_of_support: bool,
    pub packages: u32,
    /// Why the host could not be scanned (unknown release, no software list).
    pub problem: Option<String>,
    pub findings: Vec<NewFinding>,
    pub at: Timestamp,
    /// The software list scanned (`ScanTarget::software_at`).
    pub software_at: Timestamp,
    /// When the advisories used were loaded.
    pub advisories_at: Timestamp,
}

/// What storing a scan changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanOutcome {
    /// Findings seen for the first time on this host.
    pub new: u32,
    /// Of those, how many reached the tenant's alarm threshold.
    pub alarmed: u32,
    /// Open findings gone (the package was updated or removed).
    pub fixed: u32,
    /// Fixed findings that came back (a downgrade, an older package again).
    pub reopened: u32,
}

/// A stored finding.
#[derive(Debug, Clone, PartialEq)]
pub struct VulnFinding {
    pub id: i64,
    pub tenant: TenantId,
    pub host: HostId,
    pub host_name: String,
    pub cve: String,
    pub package: String,
    pub binaries: String,
    pub installed: String,
    pub fixed: Option<String>,
    pub state: String,
    pub note: String,
    pub advisory: Option<String>,
    pub score_tenths: Option<u32>,
    pub vector: Option<String>,
    pub severity: String,
    pub title: String,
    /// `open`, `fixed`, `accepted` (an acceptance past its expiry reads as
    /// `open`).
    pub status: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub fixed_at: Option<Timestamp>,
    pub accepted_reason: Option<String>,
    pub accepted_until: Option<Timestamp>,
    pub accepted_by: Option<String>,
}

/// Filters of the findings list; empty fields filter nothing.
#[derive(Debug, Clone, Default)]
pub struct FindingQuery {
    pub host: Option<HostId>,
    pub tenant: Option<TenantId>,
    pub status: Option<String>,
    pub state: Option<String>,
    /// Only findings scored at least this (tenths).
    pub min_score_tenths: Option<u32>,
    /// Part of the CVE id or package name, any case.
    pub text: Option<String>,
    /// The time acceptances are judged at.
    pub now: Option<Timestamp>,
    pub page: u32,
    /// 0 gives 100; `u32::MAX` every row (exports).
    pub per_page: u32,
}

#[derive(Debug, Clone, Default)]
pub struct FindingPage {
    pub total: u64,
    pub findings: Vec<VulnFinding>,
}

/// A host's scan state with its open findings per severity.
#[derive(Debug, Clone, PartialEq)]
pub struct VulnHost {
    pub host: HostId,
    pub tenant: TenantId,
    pub host_name: String,
    pub release: Option<String>,
    pub end_of_support: Option<String>,
    pub out_of_support: bool,
    pub packages: u32,
    pub problem: Option<String>,
    pub scanned_at: Timestamp,
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    /// Open findings without a score.
    pub unscored: u32,
    /// Pending updates the agent reported (PATCH-1), and how many of them
    /// are security updates.
    pub updates: u32,
    pub security_updates: u32,
}

/// A risk acceptance: why, until when, by whom.
#[derive(Debug, Clone, PartialEq)]
pub struct Acceptance {
    pub reason: String,
    pub until: Timestamp,
    pub by: String,
}

#[async_trait]
pub trait VulnStore: Send + Sync {
    /// Hosts to scan (all tenants; the worker's call): software changed
    /// since the last scan, never scanned, or scanned before
    /// `advisories_at`. At most `limit`, oldest scan first.
    async fn scan_targets(&self, advisories_at: Timestamp, limit: u32) -> Result<Vec<ScanTarget>>;
    /// Stores a scan: findings upserted, missing ones fixed, new ones at or
    /// above the tenant's threshold recorded as `vulnerability.new` host
    /// events, which raise the tenant's "new vulnerability" alarm.
    async fn save_scan(&self, scan: &HostScan) -> Result<ScanOutcome>;
    async fn vuln_findings(&self, scope: &TenantScope, q: &FindingQuery) -> Result<FindingPage>;
    /// One finding; an acceptance past its expiry at `now` reads as open.
    async fn vuln_finding(&self, scope: &TenantScope, id: i64, now: Timestamp) -> Result<VulnFinding>;
    /// Accepts the risk of a finding (`Some`) or withdraws the acceptance.
    async fn accept_vuln_risk(
        &self,
        scope: &TenantScope,
        id: i64,
        acceptance: Option<&Acceptance>,
        audit: &AuditDraft,
    ) -> Result<VulnFinding>;
    async fn vuln_hosts(&self, scope: &TenantScope, tenant: Option<TenantId>) -> Result<Vec<VulnHost>>;
    /// The tenant's alarm threshold in tenths.
    async fn vuln_min_score(&self, scope: &TenantScope, tenant: TenantId) -> Result<u32>;
    async fn set_vuln_min_score(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        tenths: u32,
        audit: &AuditDraft,
    ) -> Result<()>;
}
