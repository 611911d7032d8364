//! Hosts: enrollment with single-use tokens, signed agent requests, metric
//! ingest, and reading hosts and samples.

use crate::crypto::{random_token, token_hash};
use crate::{Actor, Result, ServiceError, Services};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use jiff::{SignedDuration, Timestamp};
use leitstand_domain::audit::AuditDraft;
use leitstand_domain::{HostId, Permission, TenantId};
use leitstand_proto::{signing, Ack, Batch, EnrollRequest, EnrollResponse, Record};
use leitstand_store::{Host, IngestBatch, NewEnrollToken, NewHost, StoreError, StoredSample};
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
/// How long raw samples are kept.
pub const RAW_RETENTION: SignedDuration = SignedDuration::from_hours(7 * 24);
/// The collection interval the server asks for.
pub const DEFAULT_INTERVAL_SECS: u64 = 10;

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

/// Turns a batch into rows, refusing it whole with the first reason found.
fn to_rows(batch: Batch, host: HostId, at: Timestamp) -> Result<IngestBatch> {
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
            // Heartbeats, drop and damage reports carry no samples; their
            // sequence still counts as stored.
            _ => vec![],
        };
        records.push((r.seq, samples));
    }
    Ok(IngestBatch { host, records, at, sequenced: true, max_series: 0 })
}

/// A host with its state and newest figures, for lists.
#[derive(Debug, Clone)]
pub struct HostOverview {
    pub host: Host,
    pub status: leitstand_domain::host::HostStatus,
    pub cpu_percent: Option<f64>,
    pub mem_percent: Option<f64>,
    /// The fullest file system.
    pub disk_percent: Option<f64>,
}

impl Services {
    /// Hosts with status and CPU, RAM and disk at a glance.
    pub async fn host_overviews(&self, actor: &Actor, tenant: Option<TenantId>) -> Result<Vec<HostOverview>> {
        let hosts = self.hosts(actor, tenant).await?;
        // Figures only for the hosts listed: a tenant filter narrows the query too.
        let latest = self.latest_figures(&actor.narrowed(tenant)?).await?;
        Ok(hosts.into_iter().map(|h| self.overview(h, &latest)).collect())
    }

    /// One host with its status and newest figures.
    pub async fn host_overview(&self, actor: &Actor, id: HostId) -> Result<HostOverview> {
        let host = self.host(actor, id).await?;
        let latest = self.latest_figures(&actor.narrowed(Some(host.tenant))?).await?;
        Ok(self.overview(host, &latest))
    }

    async fn latest_figures(&self, scope: &leitstand_store::TenantScope) -> Result<Vec<(HostId, StoredSample)>> {
        Ok(self.store.latest_samples(scope, &["cpu_usage_percent", "mem_used_percent", "fs_used_percent"]).await?)
    }

    fn overview(&self, host: Host, latest: &[(HostId, StoredSample)]) -> HostOverview {
        let interval = SignedDuration::from_secs(DEFAULT_INTERVAL_SECS as i64);
        let id = host.id;
        let of = |name: &'static str| latest.iter().filter(move |(h, s)| *h == id && s.name == name);
        HostOverview {
            status: leitstand_domain::host::host_status(host.last_seen, host.revoked, self.now(), interval),
            cpu_percent: of("cpu_usage_percent").find(|(_, s)| s.labels.contains("\"total\"")).map(|(_, s)| s.value),
            mem_percent: of("mem_used_percent").map(|(_, s)| s.value).next(),
            disk_percent: of("fs_used_percent").map(|(_, s)| s.value).reduce(f64::max),
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
        let resp = EnrollResponse { host_id: created.id.0, interval_secs: DEFAULT_INTERVAL_SECS };
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
    /// stored. Samples of new series beyond the host's limit are dropped
    /// (the batch still counts as stored, so the agent is not stuck) and
    /// returned as a count.
    pub async fn ingest_batch(&self, host: &Host, batch: Batch) -> Result<(Ack, u64)> {
        let mut rows = to_rows(batch, host.id, self.now())?;
        rows.max_series = self.config.max_series_per_host;
        let out = self.store.ingest(&rows).await?;
        if out.refused_series > 0 {
            tracing::warn!(
                host = host.id.0,
                refused = out.refused_series,
                limit = self.config.max_series_per_host,
                "host at its series limit; new series dropped"
            );
        }
        Ok((Ack { up_to: out.up_to }, out.refused_series))
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
        let batch = Batch {
            protocol: leitstand_proto::PROTOCOL_VERSION,
            records: vec![leitstand_proto::Sequenced { seq: 1, record: Record::Metrics { at_ms, samples } }],
        };
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
        Ok(n)
    }

    /// Marks hosts down that have been silent for longer than allowed and
    /// records the events (MON-4). Run periodically by every replica; each
    /// host is marked once.
    pub async fn sweep_hosts(&self) -> Result<Vec<leitstand_store::HostEvent>> {
        let interval = SignedDuration::from_secs(DEFAULT_INTERVAL_SECS as i64);
        let cutoff = self.now() - leitstand_domain::host::allowed_silence(interval);
        let events = self.store.mark_down(cutoff, self.now()).await?;
        for e in &events {
            tracing::warn!(host = e.host.0, tenant = e.tenant.0, "host down");
        }
        Ok(events)
    }

    /// Deletes raw samples past their retention (7 days).
    pub async fn apply_retention(&self) -> Result<u64> {
        Ok(self.store.delete_samples_before(self.now() - RAW_RETENTION).await?)
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

    /// Revoked hosts are refused at their next request.
    pub async fn revoke_host(&self, actor: &Actor, id: HostId) -> Result<()> {
        actor.require(Permission::HostsManage)?;
        let host = self.store.host(actor.scope(), id).await?;
        let draft = actor.audit(
            self.now(),
            "host.revoke",
            Some(host.tenant),
            format!("host:{id}"),
            json!({ "name": host.name }),
        );
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use leitstand_proto::{Sample, Sequenced};

    fn batch(records: Vec<Sequenced>) -> Batch {
        Batch { protocol: leitstand_proto::PROTOCOL_VERSION, records }
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
        let old = Batch { protocol: 99, records: vec![] };
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
}
