//! SOC use cases (SOC-1 … SOC-4, SOC-8, SOC-11, SOC-13): syslog lines and
//! the agents' authentication lines go through parse → normalise → detect
//! into stored events and SOC alerts; senders, rule choices, custom rules,
//! exports and retention. Only provider security staff administer the SOC;
//! customers see their results.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;

use jiff::Timestamp;
use leitstand_detect::engine::Detectors;
use leitstand_detect::parse::{normalise, Origin};
use leitstand_detect::rules::{check, RuleProblem, RuleSet, RuleSummary};
use leitstand_detect::syslog::{self, SyslogLine};
use leitstand_detect::{Detector, Hit, HitKind, SecEvent};
use leitstand_domain::alert::AlertState;
use leitstand_domain::{FieldError, HostId, Permission, TenantId};
use leitstand_store::{
    Alert, AlertQuery, CustomRule, Host, NewSocEvent, NewSocHit, NewSyslogSource, SocEvent, SocEventQuery, SocIntake,
    SyslogSource, TenantScope,
};

use crate::rate::Buckets;
use crate::{Actor, Result, ServiceError, Services};

/// How often the receiver's table of senders is read again.
const SOURCES_TTL_MS: i64 = 10_000;
/// Longest retention a tenant may agree (SOC-11 allows longer by contract).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// Settings of the SOC intake.
#[derive(Clone, Debug)]
pub struct SocConfig {
    /// Directories of extra Sigma rules (e.g. SigmaHQ's Linux and firewall
    /// rules), loaded at start next to the shipped ones.
    pub rule_dirs: Vec<std::path::PathBuf>,
    /// Syslog lines one tenant may send per second, sustained and in a burst;
    /// lines beyond are counted (`over_quota`) and dropped, so one tenant's
    /// flood does not starve the others.
    pub lines_per_second: f64,
    pub burst: u32,
}

impl Default for SocConfig {
    fn default() -> Self {
        Self { rule_dirs: Vec::new(), lines_per_second: 5_000.0, burst: 50_000 }
    }
}

/// Detection state of this replica.
pub(crate) struct SocState {
    rules: RuleSet,
    detectors: Mutex<Detectors<TenantId>>,
    sources: Mutex<(i64, Vec<SyslogSource>)>,
    quotas: Mutex<Buckets<TenantId>>,
}

impl SocState {
    pub(crate) fn new(config: &SocConfig) -> SocState {
        let mut rules = RuleSet::shipped();
        for dir in &config.rule_dirs {
            rules.add_dir(dir);
        }
        for p in rules.problems() {
            tracing::warn!(problem = %p, "Sigma rule not loaded");
        }
        tracing::info!(rules = rules.len(), problems = rules.problems().len(), "Sigma rules loaded");
        SocState {
            rules,
            detectors: Mutex::new(Detectors::default()),
            sources: Mutex::new((i64::MIN, Vec::new())),
            quotas: Mutex::new(Buckets::default()),
        }
    }
}

/// An event ready for detection, with the sender or host it came from.
type Item = (SecEvent, Option<i64>, Option<HostId>);

/// A syslog datagram or TCP frame as the receiver got it.
#[derive(Debug, Clone)]
pub struct Datagram {
    pub peer: IpAddr,
    pub bytes: Vec<u8>,
    /// The framer cut it at the size limit.
    pub truncated: bool,
    /// It came over TLS: the sender must name its token.
    pub tls: bool,
}

/// What one receive round did, for the receiver's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntakeReport {
    pub stored: u64,
    pub hits: u64,
    /// No registered sender matched (address, host name, token).
    pub unknown_source: u64,
    pub over_quota: u64,
    pub malformed: u64,
    /// Lines of a tenant whose share could not be stored.
    pub failed: u64,
}

/// The columns of the SOC alert file (SOC-4), in order.
pub const EXPORT_COLUMNS: [&str; 14] = [
    "id",
    "tenant",
    "severity",
    "state",
    "title",
    "sigma_rule",
    "group",
    "count",
    "first_seen",
    "last_seen",
    "host",
    "source_ip",
    "user",
    "verdict",
];

/// A rule as the rules page shows it: shipped or the tenant's own, on or off.
#[derive(Debug, Clone)]
pub struct SocRuleView {
    pub summary: RuleSummary,
    pub enabled: bool,
    pub custom: bool,
}

/// A tenant's SOC rules, with the problems of rules that did not load.
#[derive(Debug, Clone)]
pub struct SocRules {
    pub rules: Vec<SocRuleView>,
    pub problems: Vec<RuleProblem>,
    pub retention_days: u32,
}

/// A sender as a person wrote it.
#[derive(Debug, Clone, Default)]
pub struct SourceInput {
    pub name: String,
    pub address: String,
    pub hostname: String,
    pub enabled: bool,
    /// Make a (new) token for TLS senders.
    pub new_token: bool,
}

fn matches_source<'a>(
    sources: &'a [SyslogSource],
    peer: &str,
    line: &SyslogLine,
    tls: bool,
) -> Option<&'a SyslogSource> {
    if tls {
        let hash = crate::token_hash(line.token.as_deref()?);
        return sources.iter().find(|s| s.token_hash.as_deref() == Some(hash.as_str()));
    }
    sources.iter().find(|s| s.address.as_deref() == Some(peer)).or_else(|| {
        let host = line.hostname.as_deref()?;
        sources.iter().find(|s| s.hostname.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(host)))
    })
}

/// The hit's facts shown on the alert, JSON.
fn hit_detail(hit: &Hit, e: &SecEvent) -> String {
    let (count, window) = match hit.kind {
        HitKind::Correlation { count, window_secs } => (Some(count), Some(window_secs)),
        HitKind::Detection => (None, None),
    };
    let message: String = e.message.chars().take(500).collect();
    serde_json::json!({
        "title": hit.title,
        "rule_id": hit.rule_id,
        "group": hit.group,
        "correlation": count.is_some(),
        "count": count,
        "window_secs": window,
        "matched": hit.matched,
        "source_ip": e.source_ip,
        "user": e.user,
        "host": e.host,
        "message": message,
    })
    .to_string()
}

/// A correlation grouped by one field links the window's earlier events
/// with that field's value as evidence too.
fn related(hit: &Hit, e: &SecEvent) -> Option<(&'static str, String, Timestamp)> {
    let HitKind::Correlation { window_secs, .. } = hit.kind else { return None };
    let (field, value) = hit.group.split_once('=')?;
    let column = match field {
        "source.ip" => "source_ip",
        "user.name" => "user_name",
        "host.name" => "host_name",
        _ => return None,
    };
    let since = Timestamp::from_millisecond(e.at_ms - (window_secs as i64) * 1000).ok()?;
    Some((column, value.to_string(), since))
}

fn stored(e: &SecEvent, source: Option<i64>, host: Option<HostId>) -> NewSocEvent {
    NewSocEvent {
        source,
        host,
        at: Timestamp::from_millisecond(e.at_ms).unwrap_or(Timestamp::UNIX_EPOCH),
        dataset: e.dataset.clone(),
        category: e.category.as_str().into(),
        action: e.action.clone(),
        outcome: e.outcome.map(|o| o.as_str().to_string()),
        user: e.user.clone(),
        source_ip: e.source_ip.clone(),
        host_name: e.host.clone(),
        message: e.message.clone(),
        event: e.to_ecs().to_string(),
    }
}

/// The agent's typed sign-in event as the line it was read from.
fn agent_line(e: &leitstand_proto::SystemEvent) -> Option<SyslogLine> {
    if e.message.is_empty() {
        return None;
    }
    Some(SyslogLine {
        at_ms: Some(e.at_ms),
        app: Some(e.service.clone()),
        msg: e.message.chars().take(syslog::MAX_LINE).collect(),
        ..SyslogLine::default()
    })
}

/// Most audit-log lines in one record.
const MAX_AUDIT_LINES: usize = 5_000;

/// An agent's audit-log record, checked at the edge: bounded count and
/// lines no longer than a syslog line.
pub(crate) fn checked_audit(seq: u64, lines: &[String]) -> Result<()> {
    if lines.len() > MAX_AUDIT_LINES {
        return Err(ServiceError::BadInput(format!(
            "record {seq}: {} audit lines; at most {MAX_AUDIT_LINES}",
            lines.len()
        )));
    }
    if let Some(long) = lines.iter().find(|l| l.len() > leitstand_proto::MAX_AUDIT_LINE) {
        return Err(ServiceError::BadInput(format!(
            "record {seq}: an audit line of {} bytes; at most {} (the agent cuts longer ones)",
            long.len(),
            leitstand_proto::MAX_AUDIT_LINE
        )));
    }
    Ok(())
}

/// The lines of a batch the SOC reads, with their record's sequence: the
/// sign-ins the agent read from the journal or auth log, and the audit
/// log's records (which carry their own time).
pub(crate) fn agent_lines(batch: &leitstand_proto::Batch) -> Vec<(u64, SyslogLine)> {
    use leitstand_proto::Record;
    let mut out = Vec::new();
    for r in &batch.records {
        match &r.record {
            Record::Events { events } => out.extend(events.iter().filter_map(agent_line).map(|l| (r.seq, l))),
            Record::Audit { lines } => out.extend(lines.iter().map(|l| {
                let line = SyslogLine { app: Some("auditd".into()), msg: l.clone(), ..SyslogLine::default() };
                (r.seq, line)
            })),
            _ => {}
        }
    }
    out
}

impl Services {
    /// The loaded rule set (shipped and extra directories).
    pub fn soc_rule_set(&self) -> &RuleSet {
        &self.soc.rules
    }

    /// Senders of every tenant, read again every few seconds.
    async fn sources(&self) -> Result<Vec<SyslogSource>> {
        let now = self.now().as_millisecond();
        if let Ok(cache) = self.soc.sources.lock() {
            if now.saturating_sub(cache.0) < SOURCES_TTL_MS {
                return Ok(cache.1.clone());
            }
        }
        let fresh = self.store.all_syslog_sources().await?;
        if let Ok(mut cache) = self.soc.sources.lock() {
            *cache = (now, fresh.clone());
        }
        Ok(fresh)
    }

    /// One receive round of syslog: each line is matched to its sender's
    /// tenant, checked against the tenant's quota, read into our schema and
    /// run through the tenant's rules; every tenant's share is stored in one
    /// transaction. Bad lines are stored raw and counted; a line of no known
    /// sender is counted and dropped.
    pub async fn ingest_syslog(&self, lines: Vec<Datagram>) -> Result<IntakeReport> {
        let sources = self.sources().await?;
        let now = self.now().as_millisecond();
        let offset =
            jiff::tz::TimeZone::get("Europe/Berlin").map(|tz| tz.to_offset(self.now()).seconds()).unwrap_or_default();
        let mut report = IntakeReport::default();
        let mut per_tenant: HashMap<TenantId, Vec<Item>> = HashMap::new();
        let mut counters: HashMap<TenantId, HashMap<&'static str, u64>> = HashMap::new();
        let mut seen: HashMap<TenantId, HashSet<i64>> = HashMap::new();
        for d in lines {
            let mut line = syslog::parse(&d.bytes, now, offset);
            line.problems.truncated |= d.truncated;
            let peer = d.peer.to_canonical().to_string();
            let Some(source) = matches_source(&sources, &peer, &line, d.tls) else {
                report.unknown_source += 1;
                continue;
            };
            let tenant = source.tenant;
            let count = counters.entry(tenant).or_default();
            *count.entry("received").or_default() += 1;
            let allowed = self.soc.quotas.lock().map_or(true, |mut q| {
                q.take(tenant, now, self.config.soc.lines_per_second, self.config.soc.burst).is_ok()
            });
            if !allowed {
                *count.entry("over_quota").or_default() += 1;
                report.over_quota += 1;
                continue;
            }
            for (flag, name) in [
                (line.problems.malformed, "malformed"),
                (line.problems.invalid_utf8, "invalid_utf8"),
                (line.problems.truncated, "truncated"),
            ] {
                if flag {
                    *count.entry(name).or_default() += 1;
                }
            }
            report.malformed += u64::from(line.problems.malformed);
            seen.entry(tenant).or_default().insert(source.id);
            let origin = Origin { received_ms: now, host: Some(source.name.clone()), linux: false };
            per_tenant.entry(tenant).or_default().push((normalise(&line, &origin), Some(source.id), None));
        }
        if report.unknown_source > 0 {
            tracing::debug!(lines = report.unknown_source, "syslog lines from unknown senders dropped");
        }
        let tenants: HashSet<TenantId> = per_tenant.keys().chain(counters.keys()).copied().collect();
        for tenant in tenants {
            let events = per_tenant.remove(&tenant).unwrap_or_default();
            let mut counted: Vec<(String, u64)> =
                counters.remove(&tenant).unwrap_or_default().into_iter().map(|(k, n)| (k.to_string(), n)).collect();
            counted.push(("stored".into(), events.len() as u64));
            let sources: Vec<i64> = seen.remove(&tenant).unwrap_or_default().into_iter().collect();
            let n = events.len() as u64;
            // One tenant's failure (its transaction) costs only its own lines.
            match self.detect_and_store(tenant, events, counted, sources).await {
                Ok((stored, hits)) => {
                    report.stored += stored;
                    report.hits += hits;
                }
                Err(e) => {
                    tracing::warn!(tenant = tenant.0, lines = n, error = %e, "syslog lines of a tenant not stored");
                    report.failed += n;
                }
            }
        }
        Ok(report)
    }

    /// The lines an agent sent (new records only): sign-ins and audit
    /// records, read by the same parsers and rules as syslog, on the host's
    /// tenant.
    pub(crate) async fn soc_agent_lines(&self, host: &Host, lines: &[SyslogLine]) -> Result<()> {
        if !self.soc_booked(host.tenant).await? {
            return Ok(()); // no SOC package: sign-ins stay host events only
        }
        let origin = Origin { received_ms: self.now().as_millisecond(), host: Some(host.name.clone()), linux: true };
        let items: Vec<_> = lines.iter().map(|line| (normalise(line, &origin), None, Some(host.id))).collect();
        if items.is_empty() {
            return Ok(());
        }
        let counted = vec![("agent".to_string(), items.len() as u64), ("stored".to_string(), items.len() as u64)];
        self.detect_and_store(host.tenant, items, counted, vec![]).await.map(|_| ())
    }

    /// Whether the tenant booked a SOC package (SOC alerts need package 1).
    async fn soc_booked(&self, tenant: TenantId) -> Result<bool> {
        let t = self.store.tenant(&TenantScope::All, tenant).await?;
        Ok(t.plan.allows(leitstand_domain::plan::Feature::SocAlerts))
    }

    /// Runs a tenant's events through its detector (rebuilt when its rule
    /// choices changed) and stores events, hits and counters together. A
    /// tenant without a SOC package gets its events stored, no detection.
    async fn detect_and_store(
        &self,
        tenant: TenantId,
        items: Vec<Item>,
        counters: Vec<(String, u64)>,
        seen_sources: Vec<i64>,
    ) -> Result<(u64, u64)> {
        let booked = self.soc_booked(tenant).await?;
        let version = self.store.soc_rules_version(tenant).await?;
        let stale = self.soc.detectors.lock().map_or(true, |d| !d.is_current(&tenant, version));
        let choices = if stale && !items.is_empty() {
            Some(self.store.soc_rule_choices(&TenantScope::All, tenant).await?)
        } else {
            None
        };
        let mut intake = SocIntake {
            tenant: Some(tenant),
            counters,
            seen_sources,
            received_at: Some(self.now()),
            ..SocIntake::default()
        };
        {
            let mut detectors =
                self.soc.detectors.lock().map_err(|_| ServiceError::Internal("detector lock".into()))?;
            let detector = detectors.get(&tenant, version, || {
                let choices = choices.unwrap_or_default();
                let off: HashSet<String> =
                    choices.choices.iter().filter(|(_, on)| !on).map(|(id, _)| id.clone()).collect();
                let custom: Vec<(String, String)> = choices
                    .custom
                    .iter()
                    .filter(|c| c.enabled)
                    .map(|c| (format!("custom:{}", c.rule_id), c.yaml.clone()))
                    .collect();
                let (detector, problems) = Detector::build(&self.soc.rules, &off, &custom);
                for p in problems {
                    tracing::warn!(tenant = tenant.0, problem = %p, "tenant rule not loaded");
                }
                detector
            });
            for (i, (event, source, host)) in items.iter().enumerate() {
                let hits = if booked { detector.process(event) } else { vec![] };
                for hit in hits {
                    intake.hits.push(NewSocHit {
                        event: i,
                        rule_id: hit.rule_id.clone(),
                        title: hit.title.clone(),
                        severity: hit.severity,
                        group: hit.group.clone(),
                        detail: hit_detail(&hit, event),
                        related: related(&hit, event),
                    });
                }
                intake.events.push(stored(event, *source, *host));
            }
        }
        let (n, hits) = (intake.events.len() as u64, intake.hits.len() as u64);
        self.store.soc_intake(&intake).await?;
        Ok((n, hits))
    }

    /// SOC alerts, most critical first (SOC-4).
    pub async fn soc_alerts(
        &self,
        actor: &Actor,
        tenant: Option<TenantId>,
        states: Vec<AlertState>,
        limit: u32,
    ) -> Result<Vec<Alert>> {
        actor.require(Permission::SocRead)?;
        let scope = actor.narrowed(tenant)?;
        let q = AlertQuery { soc: true, states, limit, ..AlertQuery::default() };
        Ok(self.store.alerts(&scope, &q).await?)
    }

    /// The SOC alert file (SOC-4): every SOC alert of the scope, most
    /// critical first, as rows of [`EXPORT_COLUMNS`] (times in the reader's
    /// zone). The server writes them as CSV or JSON.
    pub async fn soc_export(
        &self,
        actor: &Actor,
        tenant: Option<TenantId>,
        zone: &jiff::tz::TimeZone,
    ) -> Result<Vec<Vec<String>>> {
        let alerts = self.soc_alerts(actor, tenant, vec![], 10_000).await?;
        let time = |t: Timestamp| t.to_zoned(zone.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
        Ok(alerts
            .iter()
            .map(|a| {
                let detail: serde_json::Value = serde_json::from_str(&a.detail).unwrap_or_default();
                let text = |k: &str| detail[k].as_str().unwrap_or_default().to_owned();
                vec![
                    a.id.to_string(),
                    a.tenant.0.to_string(),
                    a.severity.as_str().to_owned(),
                    a.state.as_str().to_owned(),
                    detail["title"].as_str().unwrap_or(&a.rule_name).to_owned(),
                    a.soc_rule.clone().unwrap_or_default(),
                    a.soc_group.clone().unwrap_or_default(),
                    a.count.to_string(),
                    time(a.first_at),
                    time(a.last_at),
                    a.host_name.clone().unwrap_or_default(),
                    text("source_ip"),
                    text("user"),
                    a.soc_verdict.map(|v| v.as_str().to_owned()).unwrap_or_default(),
                ]
            })
            .collect())
    }

    /// The events behind a SOC alert, newest first.
    pub async fn soc_evidence(&self, actor: &Actor, alert: i64) -> Result<Vec<SocEvent>> {
        actor.require(Permission::SocRead)?;
        self.store.alert(actor.scope(), alert).await?;
        let q = SocEventQuery { alert: Some(alert), limit: 200, ..SocEventQuery::default() };
        Ok(self.store.soc_events(actor.scope(), &q).await?)
    }

    /// Stored events of the scope, newest first, a page before `before`.
    pub async fn soc_events(
        &self,
        actor: &Actor,
        tenant: Option<TenantId>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<SocEvent>> {
        actor.require(Permission::SocRead)?;
        let scope = actor.narrowed(tenant)?;
        let q = SocEventQuery { tenant, before, limit, ..SocEventQuery::default() };
        Ok(self.store.soc_events(&scope, &q).await?)
    }

    pub async fn syslog_sources(&self, actor: &Actor, tenant: Option<TenantId>) -> Result<Vec<SyslogSource>> {
        actor.require(Permission::SocManage)?;
        let scope = actor.narrowed(tenant)?;
        Ok(self.store.syslog_sources(&scope, tenant).await?)
    }

    /// Registers or changes a sender. With `new_token`, returns the token
    /// once (only its hash is kept).
    pub async fn save_syslog_source(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Option<i64>,
        input: &SourceInput,
    ) -> Result<(SyslogSource, Option<String>)> {
        actor.require(Permission::SocManage)?;
        actor.require_tenant(tenant)?;
        let mut errors = Vec::new();
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push(FieldError::new("name", "error-source-name"));
        }
        let address = input.address.trim();
        let address = if address.is_empty() {
            None
        } else {
            match address.parse::<IpAddr>() {
                Ok(a) => Some(a.to_canonical().to_string()),
                Err(_) => {
                    errors.push(FieldError::new("address", "error-source-address"));
                    None
                }
            }
        };
        let hostname = input.hostname.trim();
        let hostname_ok =
            hostname.len() <= 253 && hostname.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
        if !hostname_ok {
            errors.push(FieldError::new("hostname", "error-source-hostname"));
        }
        let hostname = Some(hostname.to_string()).filter(|h| !h.is_empty());
        if address.is_none() && hostname.is_none() && !input.new_token && id.is_none() {
            errors.push(FieldError::new("address", "error-source-match"));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        let token = input.new_token.then(|| format!("lss_{}", crate::crypto::random_token()));
        let s = NewSyslogSource {
            name: name.to_string(),
            address,
            hostname,
            token_hash: token.as_deref().map(crate::token_hash),
            enabled: input.enabled,
        };
        let action = if id.is_some() { "syslog_source.update" } else { "syslog_source.create" };
        let detail = serde_json::json!({"name": name, "address": s.address, "hostname": s.hostname, "new_token": token.is_some()});
        let audit = actor.audit(self.now(), action, Some(tenant), format!("tenant:{}", tenant.0), detail);
        let saved = self.store.save_syslog_source(actor.scope(), tenant, id, &s, self.now(), &audit).await?;
        if let Ok(mut cache) = self.soc.sources.lock() {
            cache.0 = i64::MIN;
        }
        Ok((saved, token))
    }

    /// The rules a tenant runs: shipped ones (on unless switched off) and
    /// its own, with the problems of rules that did not load.
    pub async fn soc_rules(&self, actor: &Actor, tenant: TenantId) -> Result<SocRules> {
        actor.require(Permission::SocManage)?;
        actor.require_tenant(tenant)?;
        let choices = self.store.soc_rule_choices(actor.scope(), tenant).await?;
        let on: HashMap<&str, bool> = choices.choices.iter().map(|(id, on)| (id.as_str(), *on)).collect();
        let mut rules: Vec<SocRuleView> = self
            .soc
            .rules
            .summaries()
            .iter()
            .map(|s| SocRuleView {
                summary: s.clone(),
                enabled: on.get(s.id.as_str()).copied().unwrap_or(true),
                custom: false,
            })
            .collect();
        let mut problems = self.soc.rules.problems().to_vec();
        for c in &choices.custom {
            match check(&format!("custom:{}", c.title), &c.yaml) {
                Ok((_, summaries)) => rules.extend(summaries.into_iter().map(|summary| SocRuleView {
                    summary,
                    enabled: c.enabled,
                    custom: true,
                })),
                Err(p) => problems.extend(p),
            }
        }
        rules.sort_by(|a, b| b.summary.severity.cmp(&a.summary.severity).then(a.summary.title.cmp(&b.summary.title)));
        Ok(SocRules { rules, problems, retention_days: choices.retention_days })
    }

    /// Switches a rule on or off for a tenant.
    pub async fn set_soc_rule(&self, actor: &Actor, tenant: TenantId, rule_id: &str, enabled: bool) -> Result<()> {
        actor.require(Permission::SocManage)?;
        actor.require_tenant(tenant)?;
        let known = self.soc.rules.summaries().iter().any(|s| s.id == rule_id)
            || self.store.soc_rule_choices(actor.scope(), tenant).await?.custom.iter().any(|c| c.rule_id == rule_id);
        if !known {
            return Err(ServiceError::NotFound);
        }
        let action = if enabled { "soc_rule.enable" } else { "soc_rule.disable" };
        let audit = actor.audit(self.now(), action, Some(tenant), format!("soc_rule:{rule_id}"), serde_json::json!({}));
        Ok(self.store.set_soc_rule(actor.scope(), tenant, rule_id, enabled, &audit).await?)
    }

    /// Checks a custom rule: what it is, or every problem with its line.
    pub fn check_soc_rule(&self, yaml: &str) -> std::result::Result<Vec<RuleSummary>, Vec<RuleProblem>> {
        let (_, summaries) = check("rule", yaml)?;
        let clash: Vec<RuleProblem> = summaries
            .iter()
            .filter(|s| self.soc.rules.summaries().iter().any(|shipped| shipped.id == s.id))
            .map(|s| RuleProblem {
                origin: "rule".into(),
                line: yaml.lines().position(|l| l.contains(&s.id)).map(|i| i as u32 + 1),
                cause: format!("id {} belongs to a shipped rule; give the rule an id of its own", s.id),
            })
            .collect();
        if summaries.len() != 1 {
            return Err(vec![RuleProblem {
                origin: "rule".into(),
                line: None,
                cause: format!("one rule per entry, found {}", summaries.len()),
            }]);
        }
        if clash.is_empty() {
            Ok(summaries)
        } else {
            Err(clash)
        }
    }

    /// Saves a tenant's own rule after checking it (a rule with the same id
    /// is replaced).
    pub async fn save_soc_rule(&self, actor: &Actor, tenant: TenantId, yaml: &str) -> Result<CustomRule> {
        actor.require(Permission::SocManage)?;
        actor.require_tenant(tenant)?;
        let summary = match self.check_soc_rule(yaml) {
            Ok(mut s) => s.remove(0),
            Err(problems) => {
                return Err(ServiceError::BadInput(
                    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                ))
            }
        };
        let detail = serde_json::json!({"title": summary.title});
        let audit = actor.audit(self.now(), "soc_rule.save", Some(tenant), format!("soc_rule:{}", summary.id), detail);
        Ok(self
            .store
            .save_custom_rule(actor.scope(), tenant, &summary.id, &summary.title, yaml, true, self.now(), &audit)
            .await?)
    }

    /// How long a tenant's events are kept (SOC-11: 90 days unless agreed).
    pub async fn set_soc_retention(&self, actor: &Actor, tenant: TenantId, days: u32) -> Result<()> {
        actor.require(Permission::SocManage)?;
        actor.require_tenant(tenant)?;
        if !(1..=MAX_RETENTION_DAYS).contains(&days) {
            return Err(ServiceError::Invalid(vec![FieldError::new("days", "error-retention-days")]));
        }
        let detail = serde_json::json!({"retention_days": days});
        let audit =
            actor.audit(self.now(), "soc_settings.retention", Some(tenant), format!("tenant:{}", tenant.0), detail);
        Ok(self.store.set_soc_retention(actor.scope(), tenant, days, &audit).await?)
    }

    /// Deletes events past each tenant's retention (the worker's round).
    pub async fn soc_retention(&self) -> Result<u64> {
        Ok(self.store.soc_retention(self.now()).await?)
    }

    /// Intake counters of a tenant for the last `days` days.
    pub async fn soc_counters(&self, actor: &Actor, tenant: TenantId, days: i64) -> Result<Vec<(i64, String, u64)>> {
        actor.require(Permission::SocRead)?;
        actor.require_tenant(tenant)?;
        let today = self.now().as_millisecond().div_euclid(86_400_000);
        Ok(self.store.soc_counters(actor.scope(), tenant, today - days).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(id: i64, address: Option<&str>, hostname: Option<&str>, token: Option<&str>) -> SyslogSource {
        SyslogSource {
            id,
            tenant: TenantId(id),
            name: format!("s{id}"),
            address: address.map(str::to_string),
            hostname: hostname.map(str::to_string),
            token_hash: token.map(crate::token_hash),
            enabled: true,
            created_at: Timestamp::UNIX_EPOCH,
            last_seen_at: None,
        }
    }

    #[test]
    fn senders_match_by_address_then_host_name_and_tls_only_by_token() {
        let sources =
            [src(1, Some("192.0.2.1"), None, None), src(2, None, Some("FW01"), None), src(3, None, None, Some("t"))];
        let line = |host: Option<&str>, token: Option<&str>| SyslogLine {
            hostname: host.map(str::to_string),
            token: token.map(str::to_string),
            ..SyslogLine::default()
        };
        assert_eq!(matches_source(&sources, "192.0.2.1", &line(Some("fw01"), None), false).map(|s| s.id), Some(1));
        assert_eq!(matches_source(&sources, "192.0.2.9", &line(Some("fw01"), None), false).map(|s| s.id), Some(2));
        assert_eq!(matches_source(&sources, "192.0.2.9", &line(None, None), false).map(|s| s.id), None);
        assert_eq!(matches_source(&sources, "192.0.2.1", &line(None, None), true).map(|s| s.id), None);
        assert_eq!(matches_source(&sources, "192.0.2.9", &line(None, Some("t")), true).map(|s| s.id), Some(3));
        assert_eq!(matches_source(&sources, "192.0.2.9", &line(None, Some("x")), true).map(|s| s.id), None);
    }
}
