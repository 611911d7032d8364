//! Vulnerability storage: scan targets, storing a host's scan (findings
//! upserted, gone ones fixed, new ones over the tenant's threshold raising
//! the "new vulnerability" alarm through host events), the findings list,
//! risk acceptance and the threshold.

use crate::alerts::audited;
use crate::hosts::{insert_event, like_pattern};
use crate::{map_err, ms, ts, tx::scope_sql, SqlStore};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::{HostId, TenantId};
use leitstand_store::{
    Acceptance, AuditDraft, FindingPage, FindingQuery, HostScan, Result, ScanOutcome, ScanTarget, TenantScope,
    VulnFinding, VulnHost, VulnStore, DEFAULT_MIN_SCORE_TENTHS,
};
use sqlx::AnyConnection;
use std::collections::HashMap;

/// "New vulnerability" events one scan writes at most; the alarm counts
/// the rest in the last event's detail.
const MAX_ALARM_EVENTS: usize = 50;

const FINDING_COLUMNS: &str = "f.id, f.tenant_id, f.host_id, h.name, f.cve, f.package, f.binaries, f.installed, \
     f.fixed_version, f.state, f.note, f.advisory, f.score_tenths, f.vector, f.severity, f.title, f.status, \
     f.first_seen, f.last_seen, f.fixed_at, f.accepted_reason, f.accepted_until, f.accepted_by";

/// The status as people see it: an acceptance past its expiry is open again.
fn status_sql(now: i64) -> String {
    format!("(CASE WHEN f.status = 'accepted' AND f.accepted_until < {now} THEN 'open' ELSE f.status END)")
}

fn finding(row: &sqlx::any::AnyRow, now: i64) -> Result<VulnFinding> {
    use sqlx::Row;
    let get_s = |i: usize| row.try_get::<String, _>(i).map_err(map_err);
    let get_os = |i: usize| row.try_get::<Option<String>, _>(i).map_err(map_err);
    let get_i = |i: usize| row.try_get::<i64, _>(i).map_err(map_err);
    let get_oi = |i: usize| row.try_get::<Option<i64>, _>(i).map_err(map_err);
    let accepted_until = get_oi(21)?;
    let mut status = get_s(16)?;
    if status == "accepted" && accepted_until.is_some_and(|u| u < now) {
        status = "open".into();
    }
    Ok(VulnFinding {
        id: get_i(0)?,
        tenant: TenantId(get_i(1)?),
        host: HostId(get_i(2)?),
        host_name: get_s(3)?,
        cve: get_s(4)?,
        package: get_s(5)?,
        binaries: get_s(6)?,
        installed: get_s(7)?,
        fixed: get_os(8)?,
        state: get_s(9)?,
        note: get_s(10)?,
        advisory: get_os(11)?,
        score_tenths: get_oi(12)?.map(|s| s.clamp(0, 100) as u32),
        vector: get_os(13)?,
        severity: get_s(14)?,
        title: get_s(15)?,
        status,
        first_seen: ts(get_i(17)?),
        last_seen: ts(get_i(18)?),
        fixed_at: get_oi(19)?.map(ts),
        accepted_reason: get_os(20)?,
        accepted_until: accepted_until.map(ts),
        accepted_by: get_os(22)?,
    })
}

async fn finding_in(conn: &mut AnyConnection, scope: &TenantScope, id: i64, now: i64) -> Result<VulnFinding> {
    let row = sqlx::query(&format!(
        "SELECT {FINDING_COLUMNS} FROM vuln_findings f JOIN hosts h ON h.id = f.host_id WHERE f.id = $1{}",
        scope_sql("f.tenant_id", scope)
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(map_err)?
    .ok_or(leitstand_store::StoreError::NotFound)?;
    finding(&row, now)
}

async fn min_score(conn: &mut AnyConnection, tenant: i64) -> Result<u32> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT min_score_tenths FROM vuln_settings WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?;
    Ok(row.map_or(DEFAULT_MIN_SCORE_TENTHS, |(t,)| t.clamp(0, 100) as u32))
}

#[async_trait]
impl VulnStore for SqlStore {
    async fn scan_targets(&self, advisories_at: Timestamp, limit: u32) -> Result<Vec<ScanTarget>> {
        let mut tx = self.read(&TenantScope::All).await?;
        let rows: Vec<(i64, i64, String, i64)> = sqlx::query_as(
            "SELECT h.id, h.tenant_id, h.os, s.updated_at FROM hosts h \
             JOIN inventory_sections s ON s.host_id = h.id AND s.section = 'software' AND s.updated_at IS NOT NULL \
             LEFT JOIN vuln_hosts v ON v.host_id = h.id \
             WHERE h.revoked_at IS NULL \
             AND (v.host_id IS NULL OR v.software_at < s.updated_at OR v.advisories_at < $1) \
             ORDER BY COALESCE(v.scanned_at, 0), h.id LIMIT $2",
        )
        .bind(ms(advisories_at))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        Ok(rows
            .into_iter()
            .map(|(h, t, os, at)| ScanTarget { host: HostId(h), tenant: TenantId(t), os, software_at: ts(at) })
            .collect())
    }

    async fn save_scan(&self, scan: &HostScan) -> Result<ScanOutcome> {
        let (tenant, host, at) = (scan.tenant.0, scan.host.0, ms(scan.at));
        let mut tx = self.write(&TenantScope::All).await?;
        let threshold = min_score(&mut tx.conn, tenant).await?;
        let known: Vec<(i64, String, String, String)> =
            sqlx::query_as("SELECT id, cve, package, status FROM vuln_findings WHERE host_id = $1")
                .bind(host)
                .fetch_all(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        let mut known: HashMap<(String, String), (i64, String)> =
            known.into_iter().map(|(id, cve, package, status)| ((cve, package), (id, status))).collect();
        let mut outcome = ScanOutcome::default();
        let mut alarms = vec![];
        for f in &scan.findings {
            let prior = known.remove(&(f.cve.clone(), f.package.clone()));
            // One statement for new and known findings; a fixed one that
            // comes back is open again.
            sqlx::query(
                "INSERT INTO vuln_findings (tenant_id, host_id, cve, package, binaries, installed, \
                 fixed_version, state, note, advisory, score_tenths, vector, severity, title, status, \
                 first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                 $14, 'open', $15, $15) ON CONFLICT (host_id, cve, package) DO UPDATE SET \
                 binaries = excluded.binaries, installed = excluded.installed, \
                 fixed_version = excluded.fixed_version, state = excluded.state, note = excluded.note, \
                 advisory = excluded.advisory, score_tenths = excluded.score_tenths, vector = excluded.vector, \
                 severity = excluded.severity, title = excluded.title, last_seen = excluded.last_seen, \
                 fixed_at = CASE WHEN vuln_findings.status = 'fixed' THEN NULL ELSE vuln_findings.fixed_at END, \
                 status = CASE WHEN vuln_findings.status = 'fixed' THEN 'open' ELSE vuln_findings.status END",
            )
            .bind(tenant)
            .bind(host)
            .bind(&f.cve)
            .bind(&f.package)
            .bind(&f.binaries)
            .bind(&f.installed)
            .bind(&f.fixed)
            .bind(&f.state)
            .bind(&f.note)
            .bind(&f.advisory)
            .bind(f.score_tenths.map(i64::from))
            .bind(&f.vector)
            .bind(&f.severity)
            .bind(&f.title)
            .bind(at)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
            match prior {
                Some((_, status)) => outcome.reopened += u32::from(status == "fixed"),
                None => {
                    outcome.new += 1;
                    if f.state != "ignored" && f.score_tenths.is_some_and(|s| s >= threshold) {
                        outcome.alarmed += 1;
                        alarms.push(f);
                    }
                }
            }
        }
        for (id, status) in known.into_values() {
            if status == "fixed" {
                continue;
            }
            sqlx::query("UPDATE vuln_findings SET status = 'fixed', fixed_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
            outcome.fixed += 1;
        }
        sqlx::query(
            "INSERT INTO vuln_hosts (host_id, tenant_id, release, end_of_support, out_of_support, packages, problem, \
             software_at, scanned_at, advisories_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (host_id) DO UPDATE SET release = excluded.release, \
             end_of_support = excluded.end_of_support, out_of_support = excluded.out_of_support, \
             packages = excluded.packages, problem = excluded.problem, software_at = excluded.software_at, \
             scanned_at = excluded.scanned_at, advisories_at = excluded.advisories_at",
        )
        .bind(host)
        .bind(tenant)
        .bind(&scan.release)
        .bind(&scan.end_of_support)
        .bind(i64::from(scan.out_of_support))
        .bind(i64::from(scan.packages))
        .bind(&scan.problem)
        .bind(ms(scan.software_at))
        .bind(at)
        .bind(ms(scan.advisories_at))
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        if !alarms.is_empty() {
            // Highest scores first, so the alarm's detail names the worst.
            alarms.sort_by_key(|f| std::cmp::Reverse(f.score_tenths));
            let more = alarms.len().saturating_sub(MAX_ALARM_EVENTS);
            let mut events = vec![];
            for (i, f) in alarms.iter().take(MAX_ALARM_EVENTS).enumerate().rev() {
                let mut detail = serde_json::json!({
                    "cve": f.cve,
                    "package": f.package,
                    "score": f.score_tenths.map(|s| format!("{}.{}", s / 10, s % 10)),
                    "installed": f.installed,
                });
                if i == 0 && more > 0 {
                    detail["more"] = serde_json::json!(more);
                }
                let detail = detail.to_string();
                insert_event(&mut tx.conn, tenant, host, at, "vulnerability.new", &detail).await?;
                events.push((at, "vulnerability.new".to_owned(), detail));
            }
            let rules = crate::alerts::enabled_rules(&mut tx.conn, tenant).await?;
            crate::alerts::raise_for_events(&mut tx.conn, tenant, host, &rules, &events).await?;
        }
        tx.finish().await?;
        Ok(outcome)
    }

    async fn vuln_findings(&self, scope: &TenantScope, q: &FindingQuery) -> Result<FindingPage> {
        let now = q.now.map_or(i64::MIN, ms);
        let mut filter = scope_sql("f.tenant_id", scope);
        // Everything below is formatted from numbers or bound.
        if let Some(h) = q.host {
            filter.push_str(&format!(" AND f.host_id = {}", h.0));
        }
        if let Some(t) = q.tenant {
            filter.push_str(&format!(" AND f.tenant_id = {}", t.0));
        }
        if let Some(s) = q.min_score_tenths {
            filter.push_str(&format!(" AND f.score_tenths >= {s}"));
        }
        filter.push_str(" AND ($1 = '' OR ");
        filter.push_str(&status_sql(now));
        filter.push_str(" = $1) AND ($2 = '' OR f.state = $2) AND ($3 = '' OR LOWER(f.cve) LIKE $3 ESCAPE '\\' OR LOWER(f.package) LIKE $3 ESCAPE '\\')");
        let text = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(like_pattern).unwrap_or_default();
        let (status, state) = (q.status.clone().unwrap_or_default(), q.state.clone().unwrap_or_default());
        let mut tx = self.read(scope).await?;
        let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM vuln_findings f WHERE 1 = 1{filter}"))
            .bind(&status)
            .bind(&state)
            .bind(&text)
            .fetch_one(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        let per_page = match q.per_page {
            0 => 100,
            n => n,
        };
        let offset = i64::from(q.page).saturating_mul(i64::from(per_page));
        let rows = sqlx::query(&format!(
            "SELECT {FINDING_COLUMNS} FROM vuln_findings f JOIN hosts h ON h.id = f.host_id WHERE 1 = 1{filter} \
             ORDER BY CASE WHEN f.status = 'fixed' THEN 1 ELSE 0 END, COALESCE(f.score_tenths, -1) DESC, f.cve DESC, \
             h.name, f.package LIMIT $4 OFFSET $5"
        ))
        .bind(&status)
        .bind(&state)
        .bind(&text)
        .bind(i64::from(per_page))
        .bind(offset)
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        let findings = rows.iter().map(|r| finding(r, now)).collect::<Result<_>>()?;
        Ok(FindingPage { total: total as u64, findings })
    }

    async fn vuln_finding(&self, scope: &TenantScope, id: i64, now: Timestamp) -> Result<VulnFinding> {
        let mut tx = self.read(scope).await?;
        let f = finding_in(&mut tx.conn, scope, id, ms(now)).await?;
        tx.finish().await?;
        Ok(f)
    }

    async fn accept_vuln_risk(
        &self,
        scope: &TenantScope,
        id: i64,
        acceptance: Option<&Acceptance>,
        audit: &AuditDraft,
    ) -> Result<VulnFinding> {
        let mut tx = self.write(scope).await?;
        let f = finding_in(&mut tx.conn, scope, id, i64::MIN).await?;
        match acceptance {
            Some(a) => sqlx::query(
                "UPDATE vuln_findings SET status = CASE WHEN status = 'fixed' THEN 'fixed' ELSE 'accepted' END, \
                 accepted_reason = $1, accepted_until = $2, accepted_by = $3 WHERE id = $4",
            )
            .bind(&a.reason)
            .bind(ms(a.until))
            .bind(&a.by)
            .bind(id),
            None => sqlx::query(
                "UPDATE vuln_findings SET status = CASE WHEN status = 'accepted' THEN 'open' ELSE status END, \
                 accepted_reason = NULL, accepted_until = NULL, accepted_by = NULL WHERE id = $1",
            )
            .bind(id),
        }
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        let after = finding_in(&mut tx.conn, scope, id, i64::MIN).await?;
        tx.commit(&audited(audit, f.tenant, format!("vuln_finding:{id}"))).await?;
        Ok(after)
    }

    async fn vuln_hosts(&self, scope: &TenantScope, tenant: Option<TenantId>) -> Result<Vec<VulnHost>> {
        let mut filter = scope_sql("v.tenant_id", scope);
        if let Some(t) = tenant {
            filter.push_str(&format!(" AND v.tenant_id = {}", t.0));
        }
        let mut tx = self.read(scope).await?;
        type Row = (
            i64,
            i64,
            String,
            Option<String>,
            Option<String>,
            i64,
            i64,
            Option<String>,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        );
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT v.host_id, v.tenant_id, h.name, v.release, v.end_of_support, v.out_of_support, v.packages, \
             v.problem, v.scanned_at, \
             COUNT(CASE WHEN f.severity = 'critical' THEN 1 END), COUNT(CASE WHEN f.severity = 'high' THEN 1 END), \
             COUNT(CASE WHEN f.severity = 'medium' THEN 1 END), COUNT(CASE WHEN f.severity = 'low' THEN 1 END), \
             COUNT(CASE WHEN f.score_tenths IS NULL AND f.id IS NOT NULL THEN 1 END), \
             (SELECT COUNT(*) FROM inventory_items i WHERE i.host_id = v.host_id AND i.section = 'updates'), \
             (SELECT COUNT(*) FROM inventory_items i WHERE i.host_id = v.host_id AND i.section = 'updates' \
              AND i.data LIKE '%\"security\":true%') \
             FROM vuln_hosts v JOIN hosts h ON h.id = v.host_id \
             LEFT JOIN vuln_findings f ON f.host_id = v.host_id AND f.status = 'open' AND f.state <> 'ignored' \
             WHERE 1 = 1{filter} GROUP BY v.host_id, v.tenant_id, h.name, v.release, v.end_of_support, \
             v.out_of_support, v.packages, v.problem, v.scanned_at ORDER BY h.name"
        ))
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        let n = |v: i64| v.max(0) as u32;
        Ok(rows
            .into_iter()
            .map(|(host, tenant, name, release, eos, oos, packages, problem, scanned, c, h, m, l, u, up, sec)| {
                VulnHost {
                    host: HostId(host),
                    tenant: TenantId(tenant),
                    host_name: name,
                    release,
                    end_of_support: eos,
                    out_of_support: oos != 0,
                    packages: n(packages),
                    problem,
                    scanned_at: ts(scanned),
                    critical: n(c),
                    high: n(h),
                    medium: n(m),
                    low: n(l),
                    unscored: n(u),
                    updates: n(up),
                    security_updates: n(sec),
                }
            })
            .collect())
    }

    async fn vuln_min_score(&self, scope: &TenantScope, tenant: TenantId) -> Result<u32> {
        let mut tx = self.read(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, tenant).await?;
        let s = min_score(&mut tx.conn, tenant.0).await?;
        tx.finish().await?;
        Ok(s)
    }

    async fn set_vuln_min_score(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        tenths: u32,
        audit: &AuditDraft,
    ) -> Result<()> {
        let mut tx = self.write(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, tenant).await?;
        sqlx::query(
            "INSERT INTO vuln_settings (tenant_id, min_score_tenths) VALUES ($1, $2) \
             ON CONFLICT (tenant_id) DO UPDATE SET min_score_tenths = excluded.min_score_tenths",
        )
        .bind(tenant.0)
        .bind(i64::from(tenths.min(100)))
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.commit(&audited(audit, tenant, "vuln_settings".into())).await
    }
}
