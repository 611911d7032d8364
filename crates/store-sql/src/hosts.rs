//! Hosts, enrollment, request nonces and metric ingest.

use crate::{map_err, map_err_as, ms, rows, ts, tx::scope_sql, Dialect, SqlStore};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::host::HostStatus;
use leitstand_domain::{HostId, TenantId};
use leitstand_store::{
    AuditDraft, Host, HostCounts, HostEvent, HostPage, HostPolicy, HostQuery, HostSort, HostStore, IngestBatch,
    IngestOutcome, NewEnrollToken, NewHost, Resolution, Result, Rolled, StoreError, StoredSample, TenantScope,
};
use sqlx::AnyConnection;
use std::collections::HashMap;

async fn host_in(conn: &mut AnyConnection, scope: &TenantScope, id: HostId) -> Result<Host> {
    let sql = format!(
        "SELECT {} FROM {} WHERE h.id = $1{}",
        rows::host_columns(),
        rows::HOSTS,
        scope_sql("h.tenant_id", scope)
    );
    let row = sqlx::query(&sql).bind(id.0).fetch_one(&mut *conn).await.map_err(map_err)?;
    rows::host(&row)
}

#[async_trait]
impl HostStore for SqlStore {
    async fn create_enroll_token(&self, t: &NewEnrollToken, audit: &AuditDraft) -> Result<()> {
        let scope = TenantScope::one(t.tenant);
        let mut tx = self.write(&scope).await?;
        sqlx::query(
            "INSERT INTO enroll_tokens (token_hash, tenant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&t.token_hash)
        .bind(t.tenant.0)
        .bind(ms(t.created_at))
        .bind(ms(t.expires_at))
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.commit(audit).await
    }

    async fn enroll(&self, token_hash: &str, host: &NewHost, audit: &AuditDraft) -> Result<Host> {
        let mut tx = self.write(&TenantScope::All).await?;
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE enroll_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING tenant_id",
        )
        .bind(ms(host.at))
        .bind(token_hash)
        .fetch_optional(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        let (tenant,) = row.ok_or(StoreError::NotFound)?;
        // A tenant that approves new hosts gets them pending.
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO hosts (tenant_id, name, os, public_key, enrolled_at, pending) VALUES ($1, $2, $3, $4, $5, \
             COALESCE((SELECT require_approval FROM host_policies WHERE tenant_id = $1), 0)) RETURNING id",
        )
        .bind(tenant)
        .bind(&host.name)
        .bind(&host.os)
        .bind(&host.public_key)
        .bind(ms(host.at))
        .fetch_one(&mut *tx.conn)
        .await
        .map_err(|e| map_err_as(e, "host key"))?;
        let created = host_in(&mut tx.conn, &TenantScope::All, HostId(id)).await?;
        let mut audit = audit.clone();
        audit.tenant = Some(TenantId(tenant));
        audit.target = format!("host:{id}");
        tx.commit(&audit).await?;
        Ok(created)
    }

    async fn host_for_agent(&self, id: HostId) -> Result<Host> {
        self.host(&TenantScope::All, id).await
    }

    async fn host(&self, scope: &TenantScope, id: HostId) -> Result<Host> {
        let mut tx = self.read(scope).await?;
        let h = host_in(&mut tx.conn, scope, id).await;
        tx.finish().await?;
        h
    }

    async fn hosts(&self, scope: &TenantScope) -> Result<Vec<Host>> {
        let mut tx = self.read(scope).await?;
        let sql = format!(
            "SELECT {} FROM {} WHERE 1=1{} ORDER BY h.tenant_id, h.name, h.id",
            rows::host_columns(),
            rows::HOSTS,
            scope_sql("h.tenant_id", scope)
        );
        let found = sqlx::query(&sql).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        found.iter().map(rows::host).collect()
    }

    async fn host_page(&self, scope: &TenantScope, q: &HostQuery) -> Result<HostPage> {
        // $1 is the moment statuses are judged at, $2 the text pattern.
        let mut filter = scope_sql("h.tenant_id", scope);
        if let Some(status) = q.status {
            filter.push_str(&format!(" AND {}", status_sql(status)));
        }
        let pattern = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(like_pattern);
        if pattern.is_some() {
            filter.push_str(
                " AND (LOWER(h.name) LIKE $2 ESCAPE '\\' OR LOWER(h.os) LIKE $2 ESCAPE '\\' \
                 OR LOWER(COALESCE(h.address, '')) LIKE $2 ESCAPE '\\')",
            );
        } else {
            filter.push_str(" AND $2 = ''");
        }
        let order = match q.sort {
            HostSort::Name => "LOWER(h.name), h.id",
            HostSort::LastSeen => "(h.last_seen IS NULL), h.last_seen DESC, h.id",
            HostSort::Cpu => "(h.cpu_percent IS NULL), h.cpu_percent DESC, LOWER(h.name), h.id",
            HostSort::Mem => "(h.mem_percent IS NULL), h.mem_percent DESC, LOWER(h.name), h.id",
            HostSort::Disk => "(h.disk_percent IS NULL), h.disk_percent DESC, LOWER(h.name), h.id",
        };
        let per_page = q.per_page.clamp(1, 1000);
        let now = ms(q.now.unwrap_or_else(Timestamp::now));
        let pattern = pattern.unwrap_or_default();
        let mut tx = self.read(scope).await?;
        let count_sql = format!("SELECT COUNT(*) FROM {} WHERE $1 = $1{filter}", rows::HOSTS);
        let (total,): (i64,) =
            sqlx::query_as(&count_sql).bind(now).bind(&pattern).fetch_one(&mut *tx.conn).await.map_err(map_err)?;
        let sql = format!(
            "SELECT {} FROM {} WHERE $1 = $1{filter} ORDER BY {order} LIMIT {per_page} OFFSET {}",
            rows::host_columns(),
            rows::HOSTS,
            u64::from(q.page) * u64::from(per_page)
        );
        let found = sqlx::query(&sql).bind(now).bind(&pattern).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        Ok(HostPage { hosts: found.iter().map(rows::host).collect::<Result<_>>()?, total: total as u64 })
    }

    async fn host_counts(&self, scope: &TenantScope, now: Timestamp) -> Result<HostCounts> {
        let count = |s: HostStatus| format!("COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0)", status_sql(s));
        let sql = format!(
            "SELECT COUNT(*), {}, {}, {}, {}, {} FROM {} WHERE $1 = $1{}",
            count(HostStatus::Up),
            count(HostStatus::Down),
            count(HostStatus::Waiting),
            count(HostStatus::Pending),
            count(HostStatus::Revoked),
            rows::HOSTS,
            scope_sql("h.tenant_id", scope)
        );
        let mut tx = self.read(scope).await?;
        let (total, up, down, waiting, pending, revoked): (i64, i64, i64, i64, i64, i64) =
            sqlx::query_as(&sql).bind(ms(now)).fetch_one(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        let n = |v: i64| v.max(0) as u64;
        Ok(HostCounts {
            total: n(total),
            up: n(up),
            down: n(down),
            waiting: n(waiting),
            pending: n(pending),
            revoked: n(revoked),
        })
    }

    async fn approve_host(&self, scope: &TenantScope, id: HostId, audit: &AuditDraft) -> Result<()> {
        let mut tx = self.write(scope).await?;
        let sql = format!(
            "UPDATE hosts SET pending = 0 WHERE id = $1 AND pending = 1 AND revoked_at IS NULL{}",
            scope_sql("tenant_id", scope)
        );
        let done = sqlx::query(&sql).bind(id.0).execute(&mut *tx.conn).await.map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit(audit).await
    }

    async fn set_host_interval(
        &self,
        scope: &TenantScope,
        id: HostId,
        secs: Option<u32>,
        audit: &AuditDraft,
    ) -> Result<()> {
        let mut tx = self.write(scope).await?;
        let sql = format!("UPDATE hosts SET interval_secs = $1 WHERE id = $2{}", scope_sql("tenant_id", scope));
        let done =
            sqlx::query(&sql).bind(secs.map(i64::from)).bind(id.0).execute(&mut *tx.conn).await.map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit(audit).await
    }

    async fn host_policy(&self, scope: &TenantScope, tenant: TenantId) -> Result<HostPolicy> {
        let mut tx = self.read(scope).await?;
        let sql = format!(
            "SELECT interval_secs, require_approval FROM host_policies WHERE tenant_id = $1{}",
            scope_sql("tenant_id", scope)
        );
        let found: Option<(i64, i64)> =
            sqlx::query_as(&sql).bind(tenant.0).fetch_optional(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        Ok(found.map_or_else(HostPolicy::default, |(i, a)| HostPolicy {
            interval_secs: i as u32,
            require_approval: a != 0,
        }))
    }

    async fn set_host_policy(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        policy: &HostPolicy,
        audit: &AuditDraft,
    ) -> Result<()> {
        if !scope.contains(tenant) {
            return Err(StoreError::NotFound);
        }
        let mut tx = self.write(scope).await?;
        sqlx::query(
            "INSERT INTO host_policies (tenant_id, interval_secs, require_approval) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET interval_secs = excluded.interval_secs, \
             require_approval = excluded.require_approval",
        )
        .bind(tenant.0)
        .bind(i64::from(policy.interval_secs))
        .bind(i64::from(policy.require_approval))
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.commit(audit).await
    }

    async fn revoke_host(&self, scope: &TenantScope, id: HostId, audit: &AuditDraft) -> Result<()> {
        let mut tx = self.write(scope).await?;
        let sql = format!(
            "UPDATE hosts SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL{}",
            scope_sql("tenant_id", scope)
        );
        let done = sqlx::query(&sql).bind(ms(audit.at)).bind(id.0).execute(&mut *tx.conn).await.map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit(audit).await
    }

    async fn use_nonce(&self, host: HostId, nonce: &str, at: Timestamp, forget_before: Timestamp) -> Result<bool> {
        let mut tx = self.write(&TenantScope::All).await?;
        // Old nonces are forgotten at most once a minute, not per request.
        let last = self.nonces_forgotten_at.load(std::sync::atomic::Ordering::Relaxed);
        if ms(at) - last > 60_000 {
            sqlx::query("DELETE FROM agent_nonces WHERE at < $1")
                .bind(ms(forget_before))
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        }
        let done = sqlx::query(
            "INSERT INTO agent_nonces (host_id, nonce, at) VALUES ($1, $2, $3) ON CONFLICT (host_id, nonce) DO NOTHING",
        )
        .bind(host.0)
        .bind(nonce)
        .bind(ms(at))
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        if ms(at) - last > 60_000 {
            self.nonces_forgotten_at.store(ms(at), std::sync::atomic::Ordering::Relaxed);
        }
        Ok(done.rows_affected() == 1)
    }

    async fn ingest(&self, batch: &IngestBatch) -> Result<IngestOutcome> {
        let mut tx = self.write(&TenantScope::All).await?;
        let lock = if self.dialect == Dialect::Postgres { " FOR UPDATE" } else { "" };
        let (tenant, max_seq, down_since): (i64, i64, Option<i64>) =
            sqlx::query_as(&format!("SELECT tenant_id, max_seq, down_since FROM hosts WHERE id = $1{lock}"))
                .bind(batch.host.0)
                .fetch_one(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        let mut series: HashMap<(String, String), Option<i64>> = HashMap::new();
        // How many series the host has, counted only when one is new.
        let mut known: Option<i64> = None;
        let mut refused = 0;
        let mut top = max_seq as u64;
        // Sequences at or below what the host stored before were stored then.
        let fresh = |seq: u64| !batch.sequenced || seq > max_seq as u64;
        let mut rows: Vec<(i64, i64, f64)> = Vec::with_capacity(ROWS_PER_INSERT);
        // The time range of the samples written, for the rollup queue.
        let mut range: Option<(i64, i64)> = None;
        for (seq, samples) in batch.records.iter().filter(|(seq, _)| fresh(*seq)) {
            for s in samples {
                let key = (s.name.clone(), s.labels.clone());
                let cached = match series.get(&key) {
                    Some(id) => Some(*id),
                    None => self.series_cache.lock().ok().and_then(|c| c.get(batch.host, &key)).map(Some),
                };
                let id = match cached {
                    Some(id) => id,
                    None => {
                        let id = match find_series(&mut tx.conn, batch.host, &s.name, &s.labels).await? {
                            Some(id) => Some(id),
                            None => {
                                let count = match known {
                                    Some(k) => k,
                                    None => count_series(&mut tx.conn, batch.host).await?,
                                };
                                if (count as u64) < batch.max_series {
                                    known = Some(count + 1);
                                    Some(new_series(&mut tx.conn, tenant, batch.host, &s.name, &s.labels).await?)
                                } else {
                                    known = Some(count);
                                    refused += 1;
                                    None
                                }
                            }
                        };
                        series.insert(key, id);
                        id
                    }
                };
                let Some(id) = id else { continue };
                let at = ms(s.at);
                range = Some(range.map_or((at, at), |(lo, hi)| (lo.min(at), hi.max(at))));
                rows.push((id, at, s.value));
                if rows.len() == ROWS_PER_INSERT {
                    insert_samples(&mut tx.conn, self.dialect, tenant, &rows).await?;
                    rows.clear();
                }
            }
            if batch.sequenced {
                top = top.max(*seq);
            }
        }
        insert_samples(&mut tx.conn, self.dialect, tenant, &rows).await?;
        let mut fresh_samples: Vec<&StoredSample> = vec![];
        for (seq, samples) in &batch.records {
            if fresh(*seq) {
                fresh_samples.extend(samples);
            }
        }
        let rules = crate::alerts::enabled_rules(&mut tx.conn, tenant).await?;
        crate::alerts::evaluate_thresholds(&mut tx.conn, tenant, batch.host.0, &rules, &fresh_samples).await?;
        // Events this batch makes, for the alarm rules.
        let mut emitted: Vec<(i64, String, String)> = vec![];
        for upd in batch.inventory.iter().filter(|u| fresh(u.seq)) {
            crate::inventory::apply(&mut tx.conn, tenant, batch.host.0, upd, &mut emitted).await?;
            top = top.max(upd.seq);
        }
        if let Some(c) = batch.checklist.as_ref().filter(|c| fresh(c.seq)) {
            crate::inventory::replace_checklist(&mut tx.conn, tenant, batch.host.0, c).await?;
            top = top.max(c.seq);
        }
        for (seq, events) in batch.events.iter().filter(|(seq, _)| fresh(*seq)) {
            for e in events {
                insert_event(&mut tx.conn, tenant, batch.host.0, ms(e.at), &e.kind, &e.detail).await?;
                emitted.push((ms(e.at), e.kind.clone(), e.detail.clone()));
            }
            top = top.max(*seq);
        }
        for (seq, report) in batch.action_reports.iter().filter(|(seq, _)| fresh(*seq)) {
            crate::patch::record_report(&mut tx.conn, batch.host.0, report).await?;
            top = top.max(*seq);
        }
        if !emitted.is_empty() {
            crate::alerts::raise_for_events(&mut tx.conn, tenant, batch.host.0, &rules, &emitted).await?;
        }
        if refused > 0 && !batch.sequenced {
            // Pushed samples are taken whole or not at all.
            drop(tx);
            return Ok(IngestOutcome { up_to: max_seq as u64, refused_series: refused, prior: max_seq as u64 });
        }
        // Only the figures the batch has are set (no NULL binds: PostgreSQL
        // would fix a parameter's type at the first NULL it sees).
        let glance = batch.glance.unwrap_or_default();
        let mut sets = String::from("max_seq = $1, last_seen = $2, down_since = NULL");
        let mut values: Vec<f64> = vec![];
        for (col, v) in [
            ("cpu_percent", glance.cpu_percent),
            ("mem_percent", glance.mem_percent),
            ("disk_percent", glance.disk_percent),
        ] {
            if let Some(v) = v {
                values.push(v);
                sets.push_str(&format!(", {col} = ${}", 3 + values.len()));
            }
        }
        let mut texts: Vec<&str> = vec![];
        if let Some(a) = &batch.address {
            texts.push(a);
            sets.push_str(&format!(", address = ${}", 3 + values.len() + texts.len()));
        }
        if let Some((version, sha)) = &batch.agent {
            texts.push(version);
            sets.push_str(&format!(", agent_version = ${}", 3 + values.len() + texts.len()));
            texts.push(sha);
            sets.push_str(&format!(", agent_sha256 = ${}", 3 + values.len() + texts.len()));
        }
        let sql = format!("UPDATE hosts SET {sets} WHERE id = $3");
        let mut q = sqlx::query(&sql).bind(top as i64).bind(ms(batch.at)).bind(batch.host.0);
        for v in values {
            q = q.bind(v);
        }
        for t in texts {
            q = q.bind(t);
        }
        q.execute(&mut *tx.conn).await.map_err(map_err)?;
        if let Some((from, to)) = range {
            sqlx::query("INSERT INTO rollup_queue (host_id, from_at, to_at) VALUES ($1, $2, $3)")
                .bind(batch.host.0)
                .bind(from)
                .bind(to)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        }
        if let Some(since) = down_since {
            let silent = (ms(batch.at) - since).max(0) / 1000;
            let detail = format!("{{\"down_for_seconds\":{silent}}}");
            insert_event(&mut tx.conn, tenant, batch.host.0, ms(batch.at), "host.up", &detail).await?;
            crate::alerts::resolve_host_down(&mut tx.conn, tenant, batch.host.0, ms(batch.at)).await?;
        }
        tx.finish().await?;
        if let Ok(mut cache) = self.series_cache.lock() {
            for ((name, labels), id) in series {
                if let Some(id) = id {
                    cache.put(batch.host, name, labels, id);
                }
            }
        }
        Ok(IngestOutcome { up_to: top, refused_series: refused, prior: max_seq as u64 })
    }

    async fn mark_down(&self, now: Timestamp) -> Result<Vec<HostEvent>> {
        let at = now;
        let mut tx = self.write(&TenantScope::All).await?;
        let sql = format!(
            "UPDATE hosts SET down_since = $1 \
             WHERE down_since IS NULL AND revoked_at IS NULL AND pending = 0 AND last_seen IS NOT NULL \
             AND last_seen < $1 - ({}) RETURNING id, tenant_id, last_seen",
            silence_ms(&rows::effective_interval("hosts"))
        );
        let marked: Vec<(i64, i64, i64)> =
            sqlx::query_as(&sql).bind(ms(at)).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        let mut events = vec![];
        for (host, tenant, last_seen) in marked {
            let detail = format!("{{\"last_seen\":\"{}\"}}", ts(last_seen));
            insert_event(&mut tx.conn, tenant, host, ms(at), "host.down", &detail).await?;
            let rules = crate::alerts::enabled_rules(&mut tx.conn, tenant).await?;
            let down = [(ms(at), "host.down".to_owned(), detail.clone())];
            crate::alerts::raise_for_events(&mut tx.conn, tenant, host, &rules, &down).await?;
            events.push(HostEvent {
                host: HostId(host),
                tenant: TenantId(tenant),
                at,
                kind: "host.down".into(),
                detail,
            });
        }
        tx.finish().await?;
        Ok(events)
    }

    async fn host_events(&self, scope: &TenantScope, host: HostId, limit: u32) -> Result<Vec<HostEvent>> {
        let mut tx = self.read(scope).await?;
        let sql = format!(
            "SELECT host_id, tenant_id, at, kind, detail FROM host_events WHERE host_id = $1{} \
             ORDER BY at DESC, id DESC LIMIT {}",
            scope_sql("tenant_id", scope),
            limit.clamp(1, 1000)
        );
        let found: Vec<(i64, i64, i64, String, String)> =
            sqlx::query_as(&sql).bind(host.0).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        Ok(found.into_iter().map(crate::inventory::host_event).collect())
    }

    async fn delete_samples_before(&self, res: Resolution, before: Timestamp) -> Result<u64> {
        let mut tx = self.write(&TenantScope::All).await?;
        let done = match res {
            Resolution::Raw => sqlx::query("DELETE FROM metric_samples WHERE at < $1").bind(ms(before)),
            _ => {
                sqlx::query("DELETE FROM metric_rollups WHERE res = $2 AND at < $1").bind(ms(before)).bind(res.millis())
            }
        }
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        Ok(done.rows_affected())
    }

    async fn roll_up(&self, limit: u32) -> Result<u64> {
        let mut tx = self.write(&TenantScope::All).await?;
        let queued: Vec<(i64, i64, i64, i64)> =
            sqlx::query_as(&format!("SELECT id, host_id, from_at, to_at FROM rollup_queue ORDER BY id LIMIT {limit}"))
                .fetch_all(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        if queued.is_empty() {
            tx.finish().await?;
            return Ok(0);
        }
        let mut per_host: HashMap<i64, (i64, i64)> = HashMap::new();
        for (_, host, from, to) in &queued {
            let r = per_host.entry(*host).or_insert((*from, *to));
            *r = (r.0.min(*from), r.1.max(*to));
        }
        // Buckets touched are computed again in full, from raw samples for
        // minutes and from minutes for hours: repeating it changes nothing.
        for (host, (from, to)) in per_host {
            for (res, source) in [(Resolution::Minute, None), (Resolution::Hour, Some(Resolution::Minute))] {
                let w = res.millis();
                let (lo, hi) = (from.div_euclid(w) * w, to.div_euclid(w) * w + w);
                let sql = match source {
                    None => format!(
                        "INSERT INTO metric_rollups (series_id, tenant_id, res, at, n, total, low, high) \
                         SELECT m.series_id, m.tenant_id, {w}, (m.at / {w}) * {w}, COUNT(*), SUM(m.value), \
                         MIN(m.value), MAX(m.value) FROM metric_series s CROSS JOIN metric_samples m \
                         WHERE m.series_id = s.id AND s.host_id = $1 AND m.at >= $2 AND m.at < $3 \
                         GROUP BY m.series_id, m.tenant_id, (m.at / {w}) * {w} {UPSERT}"
                    ),
                    Some(src) => format!(
                        "INSERT INTO metric_rollups (series_id, tenant_id, res, at, n, total, low, high) \
                         SELECT r.series_id, r.tenant_id, {w}, (r.at / {w}) * {w}, SUM(r.n), SUM(r.total), \
                         MIN(r.low), MAX(r.high) FROM metric_series s CROSS JOIN metric_rollups r \
                         WHERE r.series_id = s.id AND s.host_id = $1 AND r.res = {} AND r.at >= $2 AND r.at < $3 \
                         GROUP BY r.series_id, r.tenant_id, (r.at / {w}) * {w} {UPSERT}",
                        src.millis()
                    ),
                };
                sqlx::query(&sql).bind(host).bind(lo).bind(hi).execute(&mut *tx.conn).await.map_err(map_err)?;
            }
        }
        let ids = queued.iter().map(|q| q.0.to_string()).collect::<Vec<_>>().join(",");
        sqlx::query(&format!("DELETE FROM rollup_queue WHERE id IN ({ids})"))
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        tx.finish().await?;
        Ok(queued.len() as u64)
    }

    async fn rollups(
        &self,
        scope: &TenantScope,
        host: HostId,
        name: &str,
        res: Resolution,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<Rolled>> {
        let sql = match res {
            Resolution::Raw => format!(
                "SELECT s.labels, m.at, 1, m.value, m.value, m.value FROM metric_series s \
                 CROSS JOIN metric_samples m \
                 WHERE m.series_id = s.id AND s.host_id = $1 AND s.name = $2 AND m.at >= $3 AND m.at < $4{} ORDER BY m.at, s.labels",
                scope_sql("s.tenant_id", scope)
            ),
            _ => format!(
                "SELECT s.labels, r.at, r.n, r.total, r.low, r.high FROM metric_series s \
                 CROSS JOIN metric_rollups r \
                 WHERE r.series_id = s.id AND s.host_id = $1 AND s.name = $2 AND r.at >= $3 AND r.at < $4 AND r.res = {}{} \
                 ORDER BY r.at, s.labels",
                res.millis(),
                scope_sql("s.tenant_id", scope)
            ),
        };
        let mut tx = self.read(scope).await?;
        let found: Vec<(String, i64, i64, f64, f64, f64)> = sqlx::query_as(&sql)
            .bind(host.0)
            .bind(name)
            .bind(ms(since))
            .bind(ms(until))
            .fetch_all(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        tx.finish().await?;
        Ok(found
            .into_iter()
            .map(|(labels, at, n, total, min, max)| Rolled {
                labels,
                at: ts(at),
                count: n.max(1) as u64,
                mean: total / n.max(1) as f64,
                min,
                max,
            })
            .collect())
    }

    async fn metric_names(&self, scope: &TenantScope, host: HostId) -> Result<Vec<String>> {
        let mut tx = self.read(scope).await?;
        let sql = format!(
            "SELECT DISTINCT name FROM metric_series WHERE host_id = $1{} ORDER BY name",
            scope_sql("tenant_id", scope)
        );
        let found: Vec<(String,)> =
            sqlx::query_as(&sql).bind(host.0).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        Ok(found.into_iter().map(|r| r.0).collect())
    }

    async fn samples(
        &self,
        scope: &TenantScope,
        host: HostId,
        name: &str,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<StoredSample>> {
        let raw = self.rollups(scope, host, name, Resolution::Raw, since, until).await?;
        Ok(raw
            .into_iter()
            .map(|r| StoredSample { name: name.to_owned(), labels: r.labels, at: r.at, value: r.mean })
            .collect())
    }
}

const UPSERT: &str = "ON CONFLICT (series_id, res, at) DO UPDATE SET n = excluded.n, total = excluded.total, \
     low = excluded.low, high = excluded.high";

/// The allowed silence in milliseconds for an interval expression: three
/// intervals and 30 s, as `leitstand_domain::host::allowed_silence` says.
fn silence_ms(interval: &str) -> String {
    format!("3 * {interval} * 1000 + 30000")
}

/// The condition that host row `h` of `rows::HOSTS` is in `status` at `$1`
/// (milliseconds); the same judgement as `leitstand_domain::host::host_status`.
fn status_sql(status: HostStatus) -> String {
    let live = "h.revoked_at IS NULL AND h.pending = 0";
    match status {
        HostStatus::Revoked => "h.revoked_at IS NOT NULL".into(),
        HostStatus::Pending => "(h.revoked_at IS NULL AND h.pending <> 0)".into(),
        HostStatus::Waiting => format!("({live} AND h.last_seen IS NULL)"),
        HostStatus::Down => format!("({live} AND h.last_seen < $1 - ({}))", silence_ms(&rows::joined_interval())),
        HostStatus::Up => format!("({live} AND h.last_seen >= $1 - ({}))", silence_ms(&rows::joined_interval())),
    }
}

/// A case-blind LIKE pattern that finds `text` anywhere, with `%`, `_` and
/// `\` taken literally.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Committed series ids, bounded: cleared when it grows past its limit.
#[derive(Default)]
pub(crate) struct SeriesCache {
    ids: HashMap<(i64, String, String), i64>,
}

impl SeriesCache {
    const MAX: usize = 200_000;

    fn get(&self, host: HostId, key: &(String, String)) -> Option<i64> {
        self.ids.get(&(host.0, key.0.clone(), key.1.clone())).copied()
    }

    fn put(&mut self, host: HostId, name: String, labels: String, id: i64) {
        if self.ids.len() >= Self::MAX {
            self.ids.clear();
        }
        self.ids.insert((host.0, name, labels), id);
    }
}

// Queries over samples name `metric_series s CROSS JOIN metric_samples m`:
// SQLite then walks the host's series and, for each, the (series_id, at)
// primary key range, instead of picking the `at` index and reading every
// host's samples in the range. PostgreSQL treats it as an inner join.

/// Samples per INSERT statement.
const ROWS_PER_INSERT: usize = 500;

/// Inserts samples with one multi-row statement; a sample already stored
/// for the same series and time is left as it is.
///
/// On SQLite the values go into the SQL text as numbers formatted here (ids,
/// milliseconds, finite floats in their shortest exact form), never outside
/// text: binding two thousand parameters costs more there than parsing them,
/// as each parameter's name is looked up by walking the list. Such a text is
/// used once, so it is not kept as a prepared statement. PostgreSQL binds
/// them, and keeps the statement prepared.
async fn insert_samples(
    conn: &mut AnyConnection,
    dialect: Dialect,
    tenant: i64,
    rows: &[(i64, i64, f64)],
) -> Result<()> {
    use std::fmt::Write;
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = String::with_capacity(96 + rows.len() * 48);
    sql.push_str("INSERT INTO metric_samples (series_id, tenant_id, at, value) VALUES ");
    for (i, (series, at, value)) in rows.iter().enumerate() {
        let sep = if i > 0 { "," } else { "" };
        let _ = match dialect {
            Dialect::Sqlite => write!(sql, "{sep}({series},{tenant},{at},{value:?})"),
            Dialect::Postgres => write!(sql, "{sep}(${},${},${},${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4),
        };
    }
    sql.push_str(" ON CONFLICT (series_id, at) DO NOTHING");
    let q = match dialect {
        Dialect::Sqlite => sqlx::query(&sql).persistent(false),
        Dialect::Postgres => rows
            .iter()
            .fold(sqlx::query(&sql), |q, (series, at, value)| q.bind(*series).bind(tenant).bind(*at).bind(*value)),
    };
    q.execute(&mut *conn).await.map_err(map_err)?;
    Ok(())
}

pub(crate) async fn insert_event(
    conn: &mut AnyConnection,
    tenant: i64,
    host: i64,
    at: i64,
    kind: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO host_events (tenant_id, host_id, at, kind, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(tenant)
        .bind(host)
        .bind(at)
        .bind(kind)
        .bind(detail)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    Ok(())
}

async fn count_series(conn: &mut AnyConnection, host: HostId) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM metric_series WHERE host_id = $1")
        .bind(host.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err)?;
    Ok(n)
}

async fn find_series(conn: &mut AnyConnection, host: HostId, name: &str, labels: &str) -> Result<Option<i64>> {
    let found: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM metric_series WHERE host_id = $1 AND name = $2 AND labels = $3")
            .bind(host.0)
            .bind(name)
            .bind(labels)
            .fetch_optional(&mut *conn)
            .await
            .map_err(map_err)?;
    Ok(found.map(|r| r.0))
}

async fn new_series(conn: &mut AnyConnection, tenant: i64, host: HostId, name: &str, labels: &str) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO metric_series (tenant_id, host_id, name, labels) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(tenant)
    .bind(host.0)
    .bind(name)
    .bind(labels)
    .fetch_one(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(id)
}
