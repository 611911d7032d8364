//! Hosts: enrollment with single-use tokens, signed agent requests, metric
//! ingest, and reading hosts and samples.

use crate::crypto::{random_token, token_hash};
use crate::{Actor, Result, ServiceError, Services};
use ed25519_dalek::Signer;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use jiff::{SignedDuration, Timestamp};
use leitstand_domain::audit::AuditDraft;
use leitstand_domain::host::{HostStatus, INTERVAL_RANGE};
use leitstand_domain::{HostId, Permission, TenantId};
use leitstand_proto::{signing, Ack, AgentSettings, AgentUpgrade, Batch, EnrollRequest, EnrollResponse, Record};
use leitstand_store::{
    Glance, Host, HostCounts, HostPolicy, HostQuery, IngestBatch, NewEnrollToken, NewHost, Resolution, Rolled,
    StoreError, StoredSample,
};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Bounds of one batch (DESIGN invariant 6).
pub const MAX_RECORDS_PER_BATCH: usize = 1000;
pub const MAX_SAMPLES_PER_RECORD: usize = 10_000;
const MAX_LABELS: usize = 16;
const MAX_NAME: usize = 200;
const MAX_LABEL_TEXT: usize = 256;
/// How long an enrollment token is valid.
pub const ENROLL_TOKEN_TTL: SignedDuration = SignedDuration::from_hours(24);

/// A single-use enrollment token, shown once.
#[derive(Debug, Clone)]
pub struct EnrollToken {
    pub token: String,
    pub expires_at: Timestamp,
}

/// The signature headers of an agent request, as they arrived.
#[derive(Debug, Clone, Default)]
pub struct AgentSignature {
    pub host: Option<String>,
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    pub signature: Option<String>,
}

fn refused(m: impl Into<String>) -> ServiceError {
    ServiceError::AgentRefused(m.into())
}

fn valid_metric_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= MAX_NAME
        && n.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || b == b':' || (i > 0 && b.is_ascii_digit()))
}

/// CPU, RAM and fullest disk from one record's samples, if it has them.
fn glance_of(samples: &[StoredSample]) -> Option<Glance> {
    let of = |name: &'static str| samples.iter().filter(move |s| s.name == name).map(|s| s.value);
    let g = Glance {
        cpu_percent: samples
            .iter()
            .find(|s| s.name == "cpu_usage_percent" && s.labels.contains("\"cpu\":\"total\""))
            .map(|s| s.value),
        mem_percent: of("mem_used_percent").next(),
        disk_percent: of("fs_used_percent").reduce(f64::max),
    };
    (g != Glance::default()).then_some(g)
}

/// Turns a batch into rows, refusing it whole with the first reason found.
fn to_rows(batch: Batch, host: HostId, at: Timestamp) -> Result<IngestBatch> {
    let agent = match batch.agent {
        Some(b) if b.version.len() <= 64 && b.sha256.len() == 64 && b.sha256.bytes().all(|c| c.is_ascii_hexdigit()) => {
            Some((b.version.chars().filter(|c| !c.is_control()).collect(), b.sha256.to_ascii_lowercase()))
        }
        Some(_) => {
            return Err(ServiceError::BadInput(
                "agent build: version of at most 64 characters and sha256 as 64 hex characters".into(),
            ))
        }
        None => None,
    };
    if batch.protocol != leitstand_proto::PROTOCOL_VERSION {
        return Err(ServiceError::BadInput(format!(
            "protocol {} is not spoken here (server speaks {}); upgrade the agent",
            batch.protocol,
            leitstand_proto::PROTOCOL_VERSION
        )));
    }
    if batch.records.len() > MAX_RECORDS_PER_BATCH {
        return Err(ServiceError::BadInput(format!(
            "{} records in one batch; at most {MAX_RECORDS_PER_BATCH}",
            batch.records.len()
        )));
    }
    let mut last = 0;
    let mut records = Vec::with_capacity(batch.records.len());
    let mut inventory = vec![];
    let mut events = vec![];
    let mut checklist = None;
    let mut action_reports = vec![];
    for r in batch.records {
        if r.seq <= last {
            return Err(ServiceError::BadInput(format!("sequence {} does not follow {last}", r.seq)));
        }
        last = r.seq;
        let samples = match r.record {
            Record::Metrics { at_ms, samples } => {
                if samples.len() > MAX_SAMPLES_PER_RECORD {
                    return Err(ServiceError::BadInput(format!(
                        "record {}: {} samples; at most {MAX_SAMPLES_PER_RECORD}",
                        r.seq,
                        samples.len()
                    )));
                }
                let at = Timestamp::from_millisecond(at_ms)
                    .map_err(|_| ServiceError::BadInput(format!("record {}: time {at_ms} out of range", r.seq)))?;
                let mut rows = Vec::with_capacity(samples.len());
                for s in samples {
                    if !valid_metric_name(&s.name) {
                        return Err(ServiceError::BadInput(format!(
                            "record {}: metric name {:?} must match [a-zA-Z_:][a-zA-Z0-9_:]* (at most {MAX_NAME})",
                            r.seq, s.name
                        )));
                    }
                    if s.labels.len() > MAX_LABELS
                        || s.labels.iter().any(|(k, v)| !valid_metric_name(k) || v.len() > MAX_LABEL_TEXT)
                    {
                        return Err(ServiceError::BadInput(format!(
                            "record {}: labels of {} must be at most {MAX_LABELS} names like metric names with values of at most {MAX_LABEL_TEXT} bytes",
                            r.seq, s.name
                        )));
                    }
                    if !s.value.is_finite() {
                        continue; // NaN and infinities carry no measurement
                    }
                    let labels = serde_json::to_string(&s.labels).unwrap_or_else(|_| "{}".into());
                    rows.push(StoredSample { name: s.name, labels, at, value: s.value });
                }
                rows
            }
            Record::Inventory { at_ms, sections } => {
                inventory.push(crate::inventory::checked(r.seq, at_ms, sections)?);
                vec![]
            }
            Record::Checklist { at_ms, results } => {
                checklist = Some(crate::inventory::checked_checklist(r.seq, at_ms, results)?);
                vec![]
            }
            Record::Events { events: list } => {
                events.push((r.seq, crate::inventory::checked_events(r.seq, list)?));
                vec![]
            }
            Record::Action { report } => {
                action_reports.push((r.seq, checked_report(r.seq, report)?));
                vec![]
            }
            // Read by the SOC once the batch is stored (`soc::agent_lines`).
            Record::Audit { lines } => {
                crate::soc::checked_audit(r.seq, &lines)?;
                vec![]
            }
            // Heartbeats, drop and damage reports carry no samples; their
            // sequence still counts as stored.
            _ => vec![],
        };
        records.push((r.seq, samples));
    }
    let glance = records.iter().rev().find_map(|(_, samples)| glance_of(samples));
    Ok(IngestBatch {
        host,
        records,
        at,
        sequenced: true,
        max_series: 0,
        glance,
        address: None,
        agent,
        inventory,
        events,
        checklist,
        action_reports,
    })
}

/// Longest account of an action kept, and most package changes.
const MAX_REPORT_DETAIL: usize = 64 * 1024;
const MAX_REPORT_PACKAGES: usize = 1000;

/// An action report as the store keeps it; an overlong account is cut,
/// not refused (the outcome matters more than the last lines).
fn checked_report(seq: u64, r: leitstand_proto::actions::ActionReport) -> Result<leitstand_store::ActionOutcome> {
    use leitstand_domain::patch::HostState;
    use leitstand_proto::actions::Outcome;
    if r.packages.len() > MAX_REPORT_PACKAGES {
        return Err(ServiceError::BadInput(format!(
            "record {seq}: {} package changes in an action report; at most {MAX_REPORT_PACKAGES}",
            r.packages.len()
        )));
    }
    let at = Timestamp::from_millisecond(r.finished_ms)
        .map_err(|_| ServiceError::BadInput(format!("record {seq}: time {} out of range", r.finished_ms)))?;
    let mut detail = r.detail;
    if detail.len() > MAX_REPORT_DETAIL {
        crate::inventory::truncate_text(&mut detail, MAX_REPORT_DETAIL);
        detail.push_str("\n…");
    }
    let state = match r.outcome {
        Outcome::Succeeded => HostState::Succeeded,
        Outcome::RolledBack => HostState::RolledBack,
        Outcome::Failed => HostState::Failed,
        Outcome::Refused => HostState::Refused,
    };
    let changes = serde_json::to_string(&r.packages).unwrap_or_else(|_| "[]".into());
    Ok(leitstand_store::ActionOutcome { id: r.id, state, detail, changes, at })
}

/// A host with its state and newest figures, for lists.
#[derive(Debug, Clone)]
pub struct HostOverview {
    pub host: Host,
    pub status: HostStatus,
    pub cpu_percent: Option<f64>,
    pub mem_percent: Option<f64>,
    /// The fullest file system.
    pub disk_percent: Option<f64>,
}

/// One page of the host list, with the counts per state of the whole scope.
#[derive(Debug, Clone)]
pub struct HostList {
    pub rows: Vec<HostOverview>,
    /// Hosts that match the filter, on all pages.
    pub total: u64,
    pub counts: HostCounts,
    pub page: u32,
    pub per_page: u32,
}

impl HostList {
    pub fn pages(&self) -> u32 {
        page_count(self.total, self.per_page)
    }
}

/// Pages needed for `total` rows, at least one.
pub(crate) fn page_count(total: u64, per_page: u32) -> u32 {
    total.div_ceil(u64::from(per_page.max(1))).clamp(1, u64::from(u32::MAX)) as u32
}

/// Samples of one metric over a range, at the resolution that suits it.
#[derive(Debug, Clone)]
pub struct History {
    pub resolution: Resolution,
    pub points: Vec<Rolled>,
}

/// The resolution a chart of `span` is served from: raw up to 6 hours,
/// 1-minute buckets up to 3 days, 1-hour buckets beyond.
pub fn resolution_for(span: SignedDuration) -> Resolution {
    if span <= SignedDuration::from_hours(6) {
        Resolution::Raw
    } else if span <= SignedDuration::from_hours(72) {
        Resolution::Minute
    } else {
        Resolution::Hour
    }
}

fn check_interval(secs: u32) -> Result<()> {
    if INTERVAL_RANGE.contains(&secs) {
        Ok(())
    } else {
        Err(ServiceError::field("interval_secs", "error-interval"))
    }
}

impl Services {
    /// One page of hosts with status and CPU, RAM and disk at a glance,
    /// filtered, ordered and counted in the database.
    pub async fn host_list(&self, actor: &Actor, tenant: Option<TenantId>, mut q: HostQuery) -> Result<HostList> {
        actor.require(Permission::HostsRead)?;
        let scope = actor.narrowed(tenant)?;
        q.now = Some(self.now());
        // No page size given: 50; at most 500.
        q.per_page = if q.per_page == 0 { 50 } else { q.per_page.min(500) };
        let page = self.store.host_page(&scope, &q).await?;
        let counts = self.store.host_counts(&scope, self.now()).await?;
        Ok(HostList {
            rows: page.hosts.into_iter().map(|h| self.overview(h)).collect(),
            total: page.total,
            counts,
            page: q.page,
            per_page: q.per_page,
        })
    }

    /// One host with its status and newest figures.
    pub async fn host_overview(&self, actor: &Actor, id: HostId) -> Result<HostOverview> {
        let host = self.host(actor, id).await?;
        Ok(self.overview(host))
    }

    fn overview(&self, host: Host) -> HostOverview {
        let interval = SignedDuration::from_secs(i64::from(host.effective_interval_secs));
        HostOverview {
            status: leitstand_domain::host::host_status(
                host.last_seen,
                host.revoked,
                host.pending,
                self.now(),
                interval,
            ),
            cpu_percent: host.glance.cpu_percent,
            mem_percent: host.glance.mem_percent,
            disk_percent: host.glance.disk_percent,
            host,
        }
    }

    /// A single-use token that enrols one host into `tenant`.
    pub async fn create_enroll_token(&self, actor: &Actor, tenant: TenantId) -> Result<EnrollToken> {
        actor.require(Permission::HostsManage)?;
        actor.require_tenant(tenant)?;
        self.store.tenant(actor.scope(), tenant).await?;
        let token = random_token();
        let expires_at = self.now() + ENROLL_TOKEN_TTL;
        let t = NewEnrollToken { tenant, token_hash: token_hash(&token), created_at: self.now(), expires_at };
        let draft = actor.audit(self.now(), "host.enroll_token", Some(tenant), format!("tenant:{tenant}"), json!({}));
        self.store.create_enroll_token(&t, &draft).await?;
        Ok(EnrollToken { token, expires_at })
    }

    /// An agent enrols with its token and public key.
    pub async fn enroll_host(&self, req: &EnrollRequest, source: &str) -> Result<(Host, EnrollResponse)> {
        let key_ok = hex::decode(&req.public_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .is_some_and(|b| VerifyingKey::from_bytes(&b).is_ok());
        if !key_ok {
            return Err(ServiceError::BadInput("public_key must be an Ed25519 public key as 64 hex characters".into()));
        }
        let name = req.name.trim();
        if name.is_empty() || name.len() > 253 || name.chars().any(char::is_control) {
            return Err(ServiceError::BadInput("name must be 1 to 253 printable characters".into()));
        }
        let os = req.os.trim().chars().filter(|c| !c.is_control()).take(200).collect::<String>();
        let host = NewHost { name: name.to_owned(), os, public_key: req.public_key.clone(), at: self.now() };
        let draft = AuditDraft {
            at: self.now(),
            actor_user: None,
            actor_name: format!("agent:{name}"),
            tenant: None,
            action: "host.enroll".into(),
            target: String::new(),
            source: source.to_owned(),
            detail: json!({ "name": name, "os": host.os }).to_string(),
        };
        let created = self.store.enroll(&token_hash(&req.token), &host, &draft).await.map_err(|e| match e {
            StoreError::NotFound => {
                refused("the enrollment token is unknown, used or expired; create a new one in the dashboard")
            }
            StoreError::Conflict(_) => refused("this key is enrolled already"),
            e => e.into(),
        })?;
        let resp = EnrollResponse {
            host_id: created.id.0,
            interval_secs: u64::from(created.effective_interval_secs),
            release_key: Some(hex::encode(self.key.release_key().verifying_key().as_bytes())),
            action_key: Some(self.action_public_key()),
        };
        Ok((created, resp))
    }

    /// Checks a signed agent request: known, not revoked host; timestamp in
    /// the window; nonce not seen; signature over method, path, time, nonce
    /// and body digest valid for the host's key.
    pub async fn authenticate_agent(
        &self,
        sig: &AgentSignature,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Host> {
        let (Some(host), Some(ts), Some(nonce), Some(signature)) =
            (&sig.host, &sig.timestamp, &sig.nonce, &sig.signature)
        else {
            return Err(ServiceError::Unauthenticated);
        };
        let id: i64 = host.parse().map_err(|_| refused("the host header is not a host id"))?;
        let ts: i64 = ts.parse().map_err(|_| refused("the timestamp header is not a number"))?;
        let now = self.now().as_millisecond();
        let skew = ts - now;
        if skew.abs() > signing::WINDOW_MS {
            return Err(refused(format!(
                "the agent's clock is {} s {} the server's; fix the host's clock (NTP) — requests must be within {} s",
                skew.abs() / 1000,
                if skew > 0 { "ahead of" } else { "behind" },
                signing::WINDOW_MS / 1000
            )));
        }
        if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refused("the nonce must be 16 bytes as hex"));
        }
        let host = match self.store.host_for_agent(HostId(id)).await {
            Ok(h) => h,
            Err(StoreError::NotFound) => return Err(refused("this host is not enrolled (deleted?); enrol it again")),
            Err(e) => return Err(e.into()),
        };
        if host.revoked {
            return Err(refused("this host was revoked in the dashboard; enrol it again to resume"));
        }
        let key = hex::decode(&host.public_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .and_then(|b| VerifyingKey::from_bytes(&b).ok())
            .ok_or_else(|| ServiceError::Internal(format!("host {id}: stored key unreadable")))?;
        let sig_bytes = hex::decode(signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or_else(|| refused("the signature must be 64 bytes as hex"))?;
        let digest = hex::encode(Sha256::digest(body));
        let input = signing::signing_input(method, path, ts, nonce, &digest);
        key.verify(input.as_bytes(), &Signature::from_bytes(&sig_bytes))
            .map_err(|_| refused("the signature does not match this host's key"))?;
        let window = SignedDuration::from_millis(signing::WINDOW_MS);
        let at = self.now();
        if !self.store.use_nonce(host.id, nonce, at, at - window - window).await? {
            return Err(refused("this request was sent before (replayed nonce)"));
        }
        Ok(host)
    }

    /// Stores a batch once and says up to where the host's records are
    /// stored, with the settings the agent should run with. Samples of new
    /// series beyond the host's limit are dropped (the batch still counts as
    /// stored, so the agent is not stuck) and returned as a count. A host
    /// waiting for approval, or one sending faster than its rate, is told to
    /// wait; its spool keeps the records meanwhile.
    pub async fn ingest_batch(&self, host: &Host, batch: Batch, address: Option<&str>) -> Result<(Ack, u64)> {
        if host.pending {
            return Err(ServiceError::AgentPending(
                "this host waits for approval in the dashboard (Hosts, pending); its data stays in the agent's spool until then"
                    .into(),
            ));
        }
        let taken = self.agent_buckets.lock().map_or(Ok(()), |mut b| {
            b.take(
                host.id,
                self.now().as_millisecond(),
                self.config.agent_batches_per_second,
                self.config.agent_batch_burst,
            )
        });
        if let Err(wait) = taken {
            return Err(ServiceError::AgentRateLimited(
                format!(
                    "this agent sends more than {} batches per second; wait {wait} s",
                    self.config.agent_batches_per_second
                ),
                wait,
            ));
        }
        let agent_lines = crate::soc::agent_lines(&batch);
        let mut rows = to_rows(batch, host.id, self.now())?;
        rows.max_series = self.config.max_series_per_host;
        rows.address = address.map(str::to_owned);
        let upgrade = self.upgrade_for(rows.agent.as_ref());
        let out = self.store.ingest(&rows).await?;
        if out.refused_series > 0 {
            tracing::warn!(
                host = host.id.0,
                refused = out.refused_series,
                limit = self.config.max_series_per_host,
                "host at its series limit; new series dropped"
            );
        }
        let fresh: Vec<_> = agent_lines.into_iter().filter(|(seq, _)| *seq > out.prior).map(|(_, l)| l).collect();
        if !fresh.is_empty() {
            // The batch is stored; a SOC failure costs only these lines' detection.
            if let Err(e) = self.soc_agent_lines(host, &fresh).await {
                tracing::warn!(host = host.id.0, error = %e, "agent lines not taken into the SOC");
            }
        }
        let _ = self.stored.send(host.id); // nobody watching is fine
        let settings = AgentSettings { interval_secs: u64::from(host.effective_interval_secs) };
        // The batch is stored; actions failing to load only wait for the next one.
        let actions = self.actions_for(host.id).await.unwrap_or_else(|e| {
            tracing::warn!(host = host.id.0, error = %e, "actions for the host not read");
            vec![]
        });
        Ok((Ack { up_to: out.up_to, settings: Some(settings), upgrade, actions }, out.refused_series))
    }

    /// The signed offer of the shipped build, for an agent that runs
    /// another one. Agents that do not say what they run get no offer.
    fn upgrade_for(&self, running: Option<&(String, String)>) -> Option<AgentUpgrade> {
        let release = self.config.agent_release.as_ref()?;
        let (_, sha) = running?;
        if *sha == release.sha256 {
            return None;
        }
        let input = leitstand_proto::release_input(&release.version, &release.sha256);
        let signature = hex::encode(self.key.release_key().sign(input.as_bytes()).to_bytes());
        Some(AgentUpgrade { version: release.version.clone(), sha256: release.sha256.clone(), signature })
    }

    /// Custom metrics pushed through the API for a host (MON-2), stored at
    /// the current time. Refused whole, with the reason, when a sample is
    /// malformed or the host's series limit would be passed.
    pub async fn push_samples(
        &self,
        actor: &Actor,
        id: HostId,
        samples: Vec<leitstand_proto::Sample>,
    ) -> Result<usize> {
        actor.require(Permission::HostsManage)?;
        let host = self.store.host(actor.scope(), id).await?;
        let n = samples.len();
        let at_ms = self.now().as_millisecond();
        let batch = Batch::new(vec![leitstand_proto::Sequenced { seq: 1, record: Record::Metrics { at_ms, samples } }]);
        let mut rows = to_rows(batch, host.id, self.now())?;
        rows.sequenced = false;
        rows.max_series = self.config.max_series_per_host;
        let out = self.store.ingest(&rows).await?;
        if out.refused_series > 0 {
            return Err(ServiceError::BadInput(format!(
                "host {} has reached its limit of {} series; {} new series were refused",
                host.name, self.config.max_series_per_host, out.refused_series
            )));
        }
        let _ = self.stored.send(host.id);
        Ok(n)
    }

    /// Marks hosts down that have been silent for longer than their
    /// interval allows and records the events (MON-4). Run periodically by
    /// every replica; each host is marked once.
    pub async fn sweep_hosts(&self) -> Result<Vec<leitstand_store::HostEvent>> {
        let events = self.store.mark_down(self.now()).await?;
        for e in &events {
            tracing::warn!(host = e.host.0, tenant = e.tenant.0, "host down");
        }
        Ok(events)
    }

    /// Rolls up what was ingested since the last call; returns how many
    /// ingest ranges were rolled up.
    pub async fn roll_up(&self) -> Result<u64> {
        let mut done = 0;
        for _ in 0..100 {
            let n = self.store.roll_up(500).await?;
            done += n;
            if n == 0 {
                break;
            }
        }
        Ok(done)
    }

    /// Deletes samples past their retention: raw, 1-minute, 1-hour.
    pub async fn apply_retention(&self) -> Result<u64> {
        let r = self.config.retention;
        let now = self.now();
        let mut gone = 0;
        for (res, keep) in [(Resolution::Raw, r.raw), (Resolution::Minute, r.minute), (Resolution::Hour, r.hour)] {
            gone += self.store.delete_samples_before(res, now - keep).await?;
        }
        Ok(gone)
    }

    pub async fn host_events(&self, actor: &Actor, id: HostId) -> Result<Vec<leitstand_store::HostEvent>> {
        actor.require(Permission::HostsRead)?;
        self.store.host(actor.scope(), id).await?;
        Ok(self.store.host_events(actor.scope(), id, 50).await?)
    }

    /// The metric names of a host, for its page.
    pub async fn metric_names(&self, actor: &Actor, id: HostId) -> Result<Vec<String>> {
        actor.require(Permission::HostsRead)?;
        self.store.host(actor.scope(), id).await?;
        Ok(self.store.metric_names(actor.scope(), id).await?)
    }

    pub async fn hosts(&self, actor: &Actor, tenant: Option<TenantId>) -> Result<Vec<Host>> {
        actor.require(Permission::HostsRead)?;
        let scope = actor.narrowed(tenant)?;
        Ok(self.store.hosts(&scope).await?)
    }

    pub async fn host(&self, actor: &Actor, id: HostId) -> Result<Host> {
        actor.require(Permission::HostsRead)?;
        Ok(self.store.host(actor.scope(), id).await?)
    }

    /// A change to one host: the actor may manage hosts, the host is in
    /// scope, and the audit entry names it (`detail` adds to its name).
    async fn host_change(
        &self,
        actor: &Actor,
        id: HostId,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<AuditDraft> {
        actor.require(Permission::HostsManage)?;
        let host = self.store.host(actor.scope(), id).await?;
        let mut d = json!({ "name": host.name });
        if let (Some(d), serde_json::Value::Object(more)) = (d.as_object_mut(), detail) {
            d.extend(more);
        }
        Ok(actor.audit(self.now(), action, Some(host.tenant), format!("host:{id}"), d))
    }

    /// Revoked hosts are refused at their next request.
    pub async fn revoke_host(&self, actor: &Actor, id: HostId) -> Result<()> {
        let draft = self.host_change(actor, id, "host.revoke", json!({})).await?;
        Ok(self.store.revoke_host(actor.scope(), id, &draft).await?)
    }

    pub async fn host_samples(
        &self,
        actor: &Actor,
        id: HostId,
        name: &str,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<StoredSample>> {
        actor.require(Permission::HostsRead)?;
        self.store.host(actor.scope(), id).await?;
        Ok(self.store.samples(actor.scope(), id, name, since, until).await?)
    }

    /// A metric over a range: raw samples for short ranges, rollups for
    /// longer ones (see [`resolution_for`]).
    pub async fn host_history(
        &self,
        actor: &Actor,
        id: HostId,
        name: &str,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<History> {
        actor.require(Permission::HostsRead)?;
        if until <= since {
            return Err(ServiceError::BadInput("the range must end after it starts".into()));
        }
        if until.duration_since(since) > SignedDuration::from_hours(2 * 366 * 24) {
            return Err(ServiceError::BadInput("a range spans at most two years".into()));
        }
        self.store.host(actor.scope(), id).await?;
        let resolution = resolution_for(until.duration_since(since));
        let points = self.store.rollups(actor.scope(), id, name, resolution, since, until).await?;
        Ok(History { resolution, points })
    }

    /// How a tenant's hosts are monitored.
    pub async fn host_policy(&self, actor: &Actor, tenant: TenantId) -> Result<HostPolicy> {
        actor.require(Permission::HostsRead)?;
        actor.require_tenant(tenant)?;
        Ok(self.store.host_policy(actor.scope(), tenant).await?)
    }

    /// Sets the tenant's interval and approval rule; agents get the new
    /// interval with their next acknowledgement.
    pub async fn set_host_policy(&self, actor: &Actor, tenant: TenantId, policy: HostPolicy) -> Result<()> {
        actor.require(Permission::HostsManage)?;
        actor.require_tenant(tenant)?;
        self.store.tenant(actor.scope(), tenant).await?;
        check_interval(policy.interval_secs)?;
        let detail = json!({ "interval_secs": policy.interval_secs, "require_approval": policy.require_approval });
        let draft = actor.audit(self.now(), "host.policy", Some(tenant), format!("tenant:{tenant}"), detail);
        Ok(self.store.set_host_policy(actor.scope(), tenant, &policy, &draft).await?)
    }

    /// Sets one host's interval; `None` follows the tenant's again.
    pub async fn set_host_interval(&self, actor: &Actor, id: HostId, secs: Option<u32>) -> Result<()> {
        let draft = self.host_change(actor, id, "host.interval", json!({ "interval_secs": secs })).await?;
        if let Some(s) = secs {
            check_interval(s)?;
        }
        Ok(self.store.set_host_interval(actor.scope(), id, secs, &draft).await?)
    }

    /// Lets a pending host deliver; its spooled data follows.
    pub async fn approve_host(&self, actor: &Actor, id: HostId) -> Result<()> {
        let draft = self.host_change(actor, id, "host.approve", json!({})).await?;
        Ok(self.store.approve_host(actor.scope(), id, &draft).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leitstand_proto::{Sample, Sequenced};

    #[test]
    fn action_reports_are_bounded_at_the_edge() {
        use leitstand_proto::actions::{ActionReport, Outcome, PackageChange};
        let report = |detail: String, packages: usize| ActionReport {
            id: 3,
            outcome: Outcome::RolledBack,
            detail,
            packages: (0..packages)
                .map(|i| PackageChange { name: format!("p{i}"), before: Some("1".into()), after: None })
                .collect(),
            finished_ms: 1_790_000_000_000,
        };
        let long = checked_report(1, report("ä".repeat(MAX_REPORT_DETAIL), 2)).unwrap();
        assert!(long.detail.len() <= MAX_REPORT_DETAIL + 4 && long.detail.ends_with('…'), "cut, not refused");
        assert_eq!(long.state, leitstand_domain::patch::HostState::RolledBack);
        assert!(long.changes.contains("\"name\":\"p1\""));
        let many = checked_report(1, report(String::new(), MAX_REPORT_PACKAGES + 1)).unwrap_err();
        assert!(many.to_string().contains("at most 1000"), "{many}");
        let mut bad_time = report(String::new(), 0);
        bad_time.finished_ms = i64::MAX;
        assert!(checked_report(1, bad_time).unwrap_err().to_string().contains("out of range"));
    }

    fn batch(records: Vec<Sequenced>) -> Batch {
        Batch::new(records)
    }

    fn metrics(seq: u64, samples: Vec<Sample>) -> Sequenced {
        Sequenced { seq, record: Record::Metrics { at_ms: 1_790_000_000_000, samples } }
    }

    #[test]
    fn malformed_batches_are_refused_with_the_reason() {
        let at = Timestamp::UNIX_EPOCH;
        let bad_name = batch(vec![metrics(1, vec![Sample::new("cpu usage", 1.0)])]);
        let e = to_rows(bad_name, HostId(1), at).unwrap_err().to_string();
        assert!(e.contains(r#"metric name "cpu usage""#), "{e}");
        let out_of_order = batch(vec![metrics(2, vec![]), metrics(2, vec![])]);
        assert!(to_rows(out_of_order, HostId(1), at).unwrap_err().to_string().contains("does not follow"));
        let mut too_many = batch(vec![]);
        too_many.records = (1..=1001).map(|i| metrics(i, vec![])).collect();
        assert!(to_rows(too_many, HostId(1), at).unwrap_err().to_string().contains("at most 1000"));
        let old = Batch { protocol: 99, ..Batch::new(vec![]) };
        assert!(to_rows(old, HostId(1), at).unwrap_err().to_string().contains("upgrade the agent"));
    }

    #[test]
    fn labels_are_stored_canonically_and_nan_is_skipped() {
        let s = Sample::new("fs_used_bytes", 5.0).with("mount", "/").with("device", "sda1");
        let rows =
            to_rows(batch(vec![metrics(1, vec![s, Sample::new("x", f64::NAN)])]), HostId(1), Timestamp::UNIX_EPOCH)
                .expect("rows");
        assert_eq!(rows.records[0].1.len(), 1);
        assert_eq!(rows.records[0].1[0].labels, r#"{"device":"sda1","mount":"/"}"#);
    }

    #[test]
    fn the_glance_comes_from_the_newest_record_with_figures() {
        let old = metrics(1, vec![Sample::new("mem_used_percent", 10.0)]);
        let new = metrics(
            2,
            vec![
                Sample::new("cpu_usage_percent", 5.0).with("cpu", "0"),
                Sample::new("cpu_usage_percent", 7.0).with("cpu", "total"),
                Sample::new("mem_used_percent", 40.0),
                Sample::new("fs_used_percent", 30.0).with("mount", "/"),
                Sample::new("fs_used_percent", 95.0).with("mount", "/var"),
            ],
        );
        let last = metrics(3, vec![Sample::new("custom_thing", 1.0)]);
        let rows = to_rows(batch(vec![old, new, last]), HostId(1), Timestamp::UNIX_EPOCH).expect("rows");
        let g = rows.glance.expect("figures");
        assert_eq!((g.cpu_percent, g.mem_percent, g.disk_percent), (Some(7.0), Some(40.0), Some(95.0)));
    }

    #[test]
    fn long_ranges_come_from_rollups() {
        assert_eq!(resolution_for(SignedDuration::from_hours(1)), Resolution::Raw);
        assert_eq!(resolution_for(SignedDuration::from_hours(24)), Resolution::Minute);
        assert_eq!(resolution_for(SignedDuration::from_hours(24 * 7)), Resolution::Hour);
    }
}
