//! Alarm rules and alerts: rules per tenant, alerts raised by the events and
//! threshold crossings of an ingest (in its transaction), grouped per rule
//! and host while active, and each alert's timeline.

use crate::{map_err, ms, ts, tx::scope_sql, SqlStore};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::alert::{next_state, AlertAction, AlertState, Crossing, Evaluator, RuleKind, Severity, Tracker};
use leitstand_domain::soc::Verdict;
use leitstand_domain::{HostId, TenantId, UserId};
use leitstand_store::{
    Alert, AlertFlag, AlertNote, AlertQuery, AlertRule, AlertStore, AuditDraft, NewAlertRule, NoteKind, Result,
    StoreError, StoredSample, TenantScope,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, HashMap};

const RULE_COLUMNS: &str = "id, tenant_id, rule_key, name, severity, kind, enabled, notify, imminent";

/// Alerts with their host's and rule's names.
pub(crate) const ALERT_SELECT: &str = "SELECT a.id, a.tenant_id, a.rule_id, a.host_id, a.severity, a.state, a.count, \
     a.first_at, a.last_at, a.muted_until, a.resolved_at, a.notify, a.detail, a.assignee_id, a.flag, a.flagged_at, \
     a.notified_level, h.name AS host_name, r.name AS rule_name, r.rule_key, a.soc_rule, a.soc_group, \
     a.soc_verdict, a.soc_class, a.triaged_at \
     FROM alerts a JOIN alert_rules r ON r.id = a.rule_id LEFT JOIN hosts h ON h.id = a.host_id";

type RuleRow = (i64, i64, Option<String>, String, String, String, i64, i64, i64);

fn bad_row(what: &str) -> StoreError {
    StoreError::Backend(format!("unreadable {what} in the database"))
}

fn rule((id, tenant, key, name, severity, kind, enabled, notify, imminent): RuleRow) -> Result<AlertRule> {
    Ok(AlertRule {
        id,
        tenant: TenantId(tenant),
        key,
        name,
        severity: Severity::parse(&severity).ok_or_else(|| bad_row("rule severity"))?,
        kind: serde_json::from_str(&kind).map_err(|_| bad_row("rule kind"))?,
        enabled: enabled != 0,
        notify: notify != 0,
        imminent: imminent != 0,
    })
}

fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col).map_err(|e| StoreError::Backend(format!("column {col}: {e}")))
}

pub(crate) fn alert(row: &AnyRow) -> Result<Alert> {
    let severity: String = get(row, "severity")?;
    let state: String = get(row, "state")?;
    let flag: Option<String> = get(row, "flag")?;
    Ok(Alert {
        id: get(row, "id")?,
        tenant: TenantId(get(row, "tenant_id")?),
        rule: get(row, "rule_id")?,
        host: get::<Option<i64>>(row, "host_id")?.map(HostId),
        severity: Severity::parse(&severity).ok_or_else(|| bad_row("alert severity"))?,
        state: AlertState::parse(&state).ok_or_else(|| bad_row("alert state"))?,
        count: get::<i64>(row, "count")? as u64,
        first_at: ts(get(row, "first_at")?),
        last_at: ts(get(row, "last_at")?),
        muted_until: get::<Option<i64>>(row, "muted_until")?.map(ts),
        resolved_at: get::<Option<i64>>(row, "resolved_at")?.map(ts),
        notify: get::<i64>(row, "notify")? != 0,
        detail: get(row, "detail")?,
        assignee: get::<Option<i64>>(row, "assignee_id")?.map(UserId),
        flag: flag.as_deref().map(|f| AlertFlag::parse(f).ok_or_else(|| bad_row("alert flag"))).transpose()?,
        flagged_at: get::<Option<i64>>(row, "flagged_at")?.map(ts),
        notified_level: get::<i64>(row, "notified_level")? as i32,
        host_name: get(row, "host_name")?,
        rule_name: get(row, "rule_name")?,
        rule_key: get(row, "rule_key")?,
        soc_rule: get(row, "soc_rule")?,
        soc_group: get(row, "soc_group")?,
        soc_verdict: get::<Option<String>>(row, "soc_verdict")?
            .map(|v| Verdict::parse(&v).ok_or_else(|| bad_row("alert verdict")))
            .transpose()?,
        soc_class: get(row, "soc_class")?,
        triaged_at: get::<Option<i64>>(row, "triaged_at")?.map(ts),
    })
}

/// Writes one entry of an alert's timeline.
pub(crate) async fn note(
    conn: &mut AnyConnection,
    tenant: i64,
    alert: i64,
    at: i64,
    kind: &str,
    author: Option<i64>,
    body: &str,
) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO alert_notes (tenant_id, alert_id, at, kind, author_id, body) VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id",
    )
    .bind(tenant)
    .bind(alert)
    .bind(at)
    .bind(kind)
    .bind(author)
    .bind(body)
    .fetch_one(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(id)
}

/// A tenant's enabled rules, read once per ingest for thresholds and events.
pub(crate) async fn enabled_rules(conn: &mut AnyConnection, tenant: i64) -> Result<Vec<AlertRule>> {
    let rules: Vec<RuleRow> =
        sqlx::query_as(&format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE tenant_id = $1 AND enabled = 1"))
            .bind(tenant)
            .fetch_all(&mut *conn)
            .await
            .map_err(map_err)?;
    Ok(rules.into_iter().filter_map(|r| rule(r).ok()).collect())
}

/// The active alert of a rule on a host counts one more occurrence (a mute
/// that ran out opens it again), or a new one opens; an imminent-danger
/// rule's new alert is flagged at once.
async fn raise(conn: &mut AnyConnection, tenant: i64, host: i64, r: &AlertRule, at: i64, detail: &str) -> Result<()> {
    let active = sqlx::query(&format!(
        "{ALERT_SELECT} WHERE a.rule_id = $1 AND a.host_id = $2 AND a.state <> 'resolved' ORDER BY a.id DESC LIMIT 1"
    ))
    .bind(r.id)
    .bind(host)
    .fetch_optional(&mut *conn)
    .await
    .map_err(map_err)?;
    match active.as_ref().map(alert).transpose()? {
        Some(a) => {
            let state = next_state(a.state, a.muted_until, AlertAction::Repeat, ts(at)).unwrap_or(a.state);
            sqlx::query("UPDATE alerts SET count = count + 1, last_at = $1, detail = $2, state = $3 WHERE id = $4")
                .bind(at.max(ms(a.last_at)))
                .bind(detail)
                .bind(state.as_str())
                .bind(a.id)
                .execute(&mut *conn)
                .await
                .map_err(map_err)?;
            if state != a.state {
                note(conn, tenant, a.id, at, "reopened", None, "").await?;
            }
        }
        None => {
            let flag = r.imminent.then_some(AlertFlag::Imminent.as_str());
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO alerts (tenant_id, rule_id, host_id, severity, state, count, first_at, last_at, \
                 notify, detail, flag, flagged_at) VALUES ($1, $2, $3, $4, 'open', 1, $5, $5, $6, $7, $8, $9) \
                 RETURNING id",
            )
            .bind(tenant)
            .bind(r.id)
            .bind(host)
            .bind(r.severity.as_str())
            .bind(at)
            .bind(i64::from(r.notify))
            .bind(detail)
            .bind(flag)
            .bind(r.imminent.then_some(at))
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err)?;
            note(conn, tenant, id, at, "opened", None, detail).await?;
            if r.imminent {
                note(conn, tenant, id, at, "flagged", None, AlertFlag::Imminent.as_str()).await?;
            }
        }
    }
    Ok(())
}

/// Resolves the active alert of a rule on a host by itself (recovered,
/// host back), with a timeline note.
async fn resolve(conn: &mut AnyConnection, tenant: i64, host: i64, rule: i64, at: i64, why: &str) -> Result<()> {
    let open: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM alerts WHERE rule_id = $1 AND host_id = $2 AND state <> 'resolved'")
            .bind(rule)
            .bind(host)
            .fetch_all(&mut *conn)
            .await
            .map_err(map_err)?;
    for (id,) in open {
        sqlx::query("UPDATE alerts SET state = 'resolved', resolved_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
        note(conn, tenant, id, at, "resolved", None, why).await?;
    }
    Ok(())
}

/// Runs the tenant's threshold rules over the samples of an ingest (in its
/// transaction): each rule keeps a tracker per series of the host, written
/// only when it changes; a firing tracker raises the alert, and the alert
/// resolves once no series of its rule fires any more.
pub(crate) async fn evaluate_thresholds(
    conn: &mut AnyConnection,
    tenant: i64,
    host: i64,
    rules: &[AlertRule],
    samples: &[&StoredSample],
) -> Result<()> {
    let ev = Evaluator::new(rules.iter().map(|r| (r.id, r.kind.clone())));
    if ev.is_empty() {
        return Ok(());
    }
    if !samples.iter().any(|s| ev.watches(&s.name)) {
        return Ok(());
    }
    let rows: Vec<(i64, String, Option<i64>, i64)> =
        sqlx::query_as("SELECT rule_id, series, beyond_since, firing FROM alert_trackers WHERE host_id = $1")
            .bind(host)
            .fetch_all(&mut *conn)
            .await
            .map_err(map_err)?;
    let mut trackers: HashMap<(i64, String), Tracker> = rows
        .into_iter()
        .map(|(rule, series, since, firing)| {
            ((rule, series), Tracker { beyond_since: since.map(ts), firing: firing != 0 })
        })
        .collect();
    let mut changed: Vec<(i64, String)> = vec![];
    let mut crossings: Vec<(i64, Crossing, i64, String)> = vec![];
    let mut labels_of: HashMap<&str, BTreeMap<String, String>> = HashMap::new();
    for s in samples.iter().filter(|s| ev.watches(&s.name)) {
        let labels =
            labels_of.entry(s.labels.as_str()).or_insert_with(|| serde_json::from_str(&s.labels).unwrap_or_default());
        for (id, kind) in ev.matching(&s.name, labels) {
            let key = (id, s.labels.clone());
            let t = trackers.entry(key.clone()).or_default();
            let before = *t;
            if let Some(c) = t.observe(kind, s.value, s.at) {
                let RuleKind::Threshold { value, .. } = kind else { continue };
                let detail = serde_json::json!({
                    "metric": s.name, "labels": labels, "value": s.value, "threshold": value,
                });
                crossings.push((id, c, ms(s.at), detail.to_string()));
            }
            if *t != before && !changed.contains(&key) {
                changed.push(key);
            }
        }
    }
    for key in &changed {
        let t = trackers[key];
        sqlx::query(
            "INSERT INTO alert_trackers (tenant_id, rule_id, host_id, series, beyond_since, firing) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (host_id, rule_id, series) \
             DO UPDATE SET beyond_since = excluded.beyond_since, firing = excluded.firing",
        )
        .bind(tenant)
        .bind(key.0)
        .bind(host)
        .bind(&key.1)
        .bind(t.beyond_since.map(ms))
        .bind(i64::from(t.firing))
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    }
    for (id, crossing, at, detail) in crossings {
        let Some(r) = rules.iter().find(|r| r.id == id) else { continue };
        match crossing {
            Crossing::Fire => raise(conn, tenant, host, r, at, &detail).await?,
            Crossing::Recover if !trackers.iter().any(|((rule, _), t)| *rule == id && t.firing) => {
                resolve(conn, tenant, host, id, at, &detail).await?
            }
            Crossing::Recover => {}
        }
    }
    Ok(())
}

/// Raises or counts alerts for the events an ingest made: every enabled
/// event rule of the tenant that matches raises (or counts on) its alert.
pub(crate) async fn raise_for_events(
    conn: &mut AnyConnection,
    tenant: i64,
    host: i64,
    rules: &[AlertRule],
    events: &[(i64, String, String)],
) -> Result<()> {
    for (at, kind, detail) in events {
        for r in rules.iter().filter(|r| r.kind.matches_event(kind)) {
            raise(conn, tenant, host, r, *at, detail).await?;
        }
    }
    Ok(())
}

/// A host is heard again: its host-down alert resolves by itself.
pub(crate) async fn resolve_host_down(conn: &mut AnyConnection, tenant: i64, host: i64, at: i64) -> Result<()> {
    let host_down = serde_json::to_string(&RuleKind::HostDown).map_err(|e| StoreError::Backend(e.to_string()))?;
    let rules: Vec<(i64,)> = sqlx::query_as("SELECT id FROM alert_rules WHERE tenant_id = $1 AND kind = $2")
        .bind(tenant)
        .bind(host_down)
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err)?;
    for (rule,) in rules {
        resolve(conn, tenant, host, rule, at, "{\"host\":\"up\"}").await?;
    }
    Ok(())
}

pub(crate) async fn alert_in(conn: &mut AnyConnection, scope: &TenantScope, id: i64) -> Result<Alert> {
    let row = sqlx::query(&format!("{ALERT_SELECT} WHERE a.id = $1{}", scope_sql("a.tenant_id", scope)))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err)?;
    alert(&row)
}

async fn rule_in(conn: &mut AnyConnection, scope: &TenantScope, id: i64) -> Result<AlertRule> {
    let row: RuleRow = sqlx::query_as(&format!(
        "SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1{}",
        scope_sql("tenant_id", scope)
    ))
    .bind(id)
    .fetch_one(&mut *conn)
    .await
    .map_err(map_err)?;
    rule(row)
}

impl SqlStore {
    /// Rows per day (midnight `offset_ms` east of UTC) and `key` since a
    /// time; table and columns are fixed names from this file.
    async fn day_counts(
        &self,
        scope: &TenantScope,
        table: &str,
        time: &str,
        key: &str,
        since: Timestamp,
        offset_ms: i64,
    ) -> Result<Vec<(i64, String, u64)>> {
        let mut tx = self.read(scope).await?;
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(&format!(
            "SELECT ({time} + $1) / 86400000 AS day, {key}, COUNT(*) FROM {table} \
             WHERE {time} >= $2{} GROUP BY day, {key} ORDER BY day",
            scope_sql("tenant_id", scope)
        ))
        .bind(offset_ms)
        .bind(ms(since))
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        Ok(rows.into_iter().map(|(d, k, n)| (d, k, n as u64)).collect())
    }
}

async fn insert_rule(conn: &mut AnyConnection, tenant: TenantId, r: &NewAlertRule, at: Timestamp) -> Result<u64> {
    let kind = serde_json::to_string(&r.kind).map_err(|e| StoreError::Backend(e.to_string()))?;
    let done = sqlx::query(
        "INSERT INTO alert_rules (tenant_id, rule_key, name, severity, kind, enabled, notify, imminent, created_at) \
         VALUES ($1, $2, $3, $4, $5, 1, 1, $6, $7) ON CONFLICT (tenant_id, rule_key) DO NOTHING",
    )
    .bind(tenant.0)
    .bind(r.key.as_deref())
    .bind(&r.name)
    .bind(r.severity.as_str())
    .bind(&kind)
    .bind(i64::from(r.imminent))
    .bind(ms(at))
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(done.rows_affected())
}

/// The audit draft of a change, with the tenant and target it touched.
pub(crate) fn audited(audit: &AuditDraft, tenant: TenantId, target: String) -> AuditDraft {
    let mut audit = audit.clone();
    audit.tenant = Some(tenant);
    audit.target = target;
    audit
}

#[async_trait]
impl AlertStore for SqlStore {
    async fn ensure_rules(&self, tenant: TenantId, rules: &[NewAlertRule], at: Timestamp) -> Result<u64> {
        let mut tx = self.write(&TenantScope::one(tenant)).await?;
        let mut added = 0;
        for r in rules {
            added += insert_rule(&mut tx.conn, tenant, r, at).await?;
        }
        tx.finish().await?;
        Ok(added)
    }

    async fn alert_rules(&self, scope: &TenantScope, tenant: TenantId) -> Result<Vec<AlertRule>> {
        let mut tx = self.read(scope).await?;
        let rows: Vec<RuleRow> = sqlx::query_as(&format!(
            "SELECT {RULE_COLUMNS} FROM alert_rules WHERE tenant_id = $1{} ORDER BY id",
            scope_sql("tenant_id", scope)
        ))
        .bind(tenant.0)
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        rows.into_iter().map(rule).collect()
    }

    async fn alert_rule(&self, scope: &TenantScope, id: i64) -> Result<AlertRule> {
        let mut tx = self.read(scope).await?;
        let r = rule_in(&mut tx.conn, scope, id).await;
        tx.finish().await?;
        r
    }

    async fn set_rule_flags(
        &self,
        scope: &TenantScope,
        id: i64,
        enabled: bool,
        notify: bool,
        audit: &AuditDraft,
    ) -> Result<AlertRule> {
        let mut tx = self.write(scope).await?;
        let before = rule_in(&mut tx.conn, scope, id).await?;
        sqlx::query("UPDATE alert_rules SET enabled = $1, notify = $2 WHERE id = $3")
            .bind(i64::from(enabled))
            .bind(i64::from(notify))
            .bind(id)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        let after = rule_in(&mut tx.conn, scope, id).await?;
        tx.commit(&audited(audit, before.tenant, format!("alert_rule:{id}"))).await?;
        Ok(after)
    }

    async fn create_rule(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        r: &NewAlertRule,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<AlertRule> {
        let mut tx = self.write(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, tenant).await?;
        insert_rule(&mut tx.conn, tenant, &NewAlertRule { key: None, ..r.clone() }, at).await?;
        let (id,): (i64,) = sqlx::query_as("SELECT MAX(id) FROM alert_rules WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_one(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        let made = rule_in(&mut tx.conn, scope, id).await?;
        tx.commit(&audited(audit, tenant, format!("alert_rule:{id}"))).await?;
        Ok(made)
    }

    async fn update_rule(
        &self,
        scope: &TenantScope,
        id: i64,
        r: &NewAlertRule,
        audit: &AuditDraft,
    ) -> Result<AlertRule> {
        let mut tx = self.write(scope).await?;
        let before = rule_in(&mut tx.conn, scope, id).await?;
        let kind = serde_json::to_string(&r.kind).map_err(|e| StoreError::Backend(e.to_string()))?;
        sqlx::query("UPDATE alert_rules SET name = $1, severity = $2, kind = $3, imminent = $4 WHERE id = $5")
            .bind(&r.name)
            .bind(r.severity.as_str())
            .bind(&kind)
            .bind(i64::from(r.imminent))
            .bind(id)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        // What the old rule tracked means nothing to the new one.
        sqlx::query("DELETE FROM alert_trackers WHERE rule_id = $1")
            .bind(id)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        let after = rule_in(&mut tx.conn, scope, id).await?;
        tx.commit(&audited(audit, before.tenant, format!("alert_rule:{id}"))).await?;
        Ok(after)
    }

    async fn alerts(&self, scope: &TenantScope, q: &AlertQuery) -> Result<Vec<Alert>> {
        // Only numbers and fixed words are formatted in.
        let mut filter = scope_sql("a.tenant_id", scope);
        if let Some(h) = q.host {
            filter.push_str(&format!(" AND a.host_id = {}", h.0));
        }
        if !q.states.is_empty() {
            let list = q.states.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(",");
            filter.push_str(&format!(" AND a.state IN ({list})"));
        }
        if let Some(min) = q.min_severity {
            let list = Severity::ALL
                .iter()
                .filter(|s| **s >= min)
                .map(|s| format!("'{}'", s.as_str()))
                .collect::<Vec<_>>()
                .join(",");
            filter.push_str(&format!(" AND a.severity IN ({list})"));
        }
        if q.flagged {
            filter.push_str(" AND a.flag IS NOT NULL AND a.state <> 'resolved'");
        }
        if let Some(r) = q.rule {
            filter.push_str(&format!(" AND a.rule_id = {r}"));
        }
        if q.soc {
            filter.push_str(" AND a.soc_rule IS NOT NULL");
        }
        if let Some(after) = q.noted_after {
            filter.push_str(&format!(" AND a.id IN (SELECT alert_id FROM alert_notes WHERE id > {after})"));
        }
        let order = "CASE a.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, \
                     a.last_at DESC, a.id DESC";
        let mut tx = self.read(scope).await?;
        let rows = sqlx::query(&format!(
            "{ALERT_SELECT} WHERE 1 = 1{filter} ORDER BY {order} LIMIT {}",
            q.limit.clamp(1, 10_000)
        ))
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        rows.iter().map(alert).collect()
    }

    async fn alert(&self, scope: &TenantScope, id: i64) -> Result<Alert> {
        let mut tx = self.read(scope).await?;
        let a = alert_in(&mut tx.conn, scope, id).await;
        tx.finish().await?;
        a
    }

    async fn set_alert_state(
        &self,
        scope: &TenantScope,
        id: i64,
        state: AlertState,
        muted_until: Option<Timestamp>,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<Alert> {
        let mut tx = self.write(scope).await?;
        let before = alert_in(&mut tx.conn, scope, id).await?;
        let resolved_at = (state == AlertState::Resolved).then(|| ms(at));
        sqlx::query("UPDATE alerts SET state = $1, muted_until = $2, resolved_at = $3 WHERE id = $4")
            .bind(state.as_str())
            .bind(muted_until.map(ms))
            .bind(resolved_at)
            .bind(id)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        let body = muted_until.map(|t| t.to_string()).unwrap_or_default();
        let author = audit.actor_user.map(|u| u.0);
        note(&mut tx.conn, before.tenant.0, id, ms(at), state.as_str(), author, &body).await?;
        let after = alert_in(&mut tx.conn, scope, id).await?;
        tx.commit(&audited(audit, before.tenant, format!("alert:{id}"))).await?;
        Ok(after)
    }

    async fn add_note(
        &self,
        scope: &TenantScope,
        alert: i64,
        kind: NoteKind,
        body: &str,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<AlertNote> {
        let mut tx = self.write(scope).await?;
        let a = alert_in(&mut tx.conn, scope, alert).await?;
        let author = audit.actor_user.map(|u| u.0);
        let id = note(&mut tx.conn, a.tenant.0, alert, ms(at), kind.as_str(), author, body).await?;
        let made =
            notes_in(&mut tx.conn, scope, alert).await?.into_iter().find(|n| n.id == id).ok_or(StoreError::NotFound)?;
        tx.commit(&audited(audit, a.tenant, format!("alert:{alert}"))).await?;
        Ok(made)
    }

    async fn assign_alert(
        &self,
        scope: &TenantScope,
        alert: i64,
        user: Option<UserId>,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<Alert> {
        let mut tx = self.write(scope).await?;
        let a = alert_in(&mut tx.conn, scope, alert).await?;
        let mut name = String::new();
        if let Some(u) = user {
            // Only a user of the alert's tenant, or staff of the provider.
            let found: Option<(String,)> = sqlx::query_as(
                "SELECT display_name FROM users WHERE id = $1 AND (tenant_id = $2 OR tenant_id IN \
                 (SELECT id FROM tenants WHERE kind = 'provider'))",
            )
            .bind(u.0)
            .bind(a.tenant.0)
            .fetch_optional(&mut *tx.conn)
            .await
            .map_err(map_err)?;
            name = found.ok_or(StoreError::NotFound)?.0;
        }
        sqlx::query("UPDATE alerts SET assignee_id = $1 WHERE id = $2")
            .bind(user.map(|u| u.0))
            .bind(alert)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        note(&mut tx.conn, a.tenant.0, alert, ms(at), "assigned", audit.actor_user.map(|u| u.0), &name).await?;
        let after = alert_in(&mut tx.conn, scope, alert).await?;
        tx.commit(&audited(audit, a.tenant, format!("alert:{alert}"))).await?;
        Ok(after)
    }

    async fn alert_trend(
        &self,
        scope: &TenantScope,
        since: Timestamp,
        offset_ms: i64,
    ) -> Result<Vec<(i64, Severity, u64)>> {
        let rows = self.day_counts(scope, "alerts", "first_at", "severity", since, offset_ms).await?;
        Ok(rows.into_iter().filter_map(|(d, s, n)| Some((d, Severity::parse(&s)?, n))).collect())
    }

    async fn event_trend(
        &self,
        scope: &TenantScope,
        since: Timestamp,
        offset_ms: i64,
    ) -> Result<Vec<(i64, String, u64)>> {
        self.day_counts(scope, "host_events", "at", "kind", since, offset_ms).await
    }

    async fn latest_note(&self, scope: &TenantScope) -> Result<i64> {
        let mut tx = self.read(scope).await?;
        let (id,): (Option<i64>,) =
            sqlx::query_as(&format!("SELECT MAX(id) FROM alert_notes WHERE 1 = 1{}", scope_sql("tenant_id", scope)))
                .fetch_one(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        tx.finish().await?;
        Ok(id.unwrap_or(0))
    }

    async fn alert_notes(&self, scope: &TenantScope, alert: i64) -> Result<Vec<AlertNote>> {
        let mut tx = self.read(scope).await?;
        alert_in(&mut tx.conn, scope, alert).await?;
        let notes = notes_in(&mut tx.conn, scope, alert).await?;
        tx.finish().await?;
        Ok(notes)
    }
}

type NoteRow = (i64, i64, i64, String, Option<i64>, Option<String>, String);

async fn notes_in(conn: &mut AnyConnection, scope: &TenantScope, alert: i64) -> Result<Vec<AlertNote>> {
    let rows: Vec<NoteRow> = sqlx::query_as(&format!(
        "SELECT n.id, n.alert_id, n.at, n.kind, n.author_id, u.display_name, n.body FROM alert_notes n \
         LEFT JOIN users u ON u.id = n.author_id WHERE n.alert_id = $1{} ORDER BY n.at, n.id",
        scope_sql("n.tenant_id", scope)
    ))
    .bind(alert)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(rows
        .into_iter()
        .map(|(id, alert, at, kind, author, author_name, body)| AlertNote {
            id,
            alert,
            at: ts(at),
            kind,
            author: author.map(UserId),
            author_name,
            body,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn rule_kinds_round_trip_as_stored() {
        let k = leitstand_domain::alert::RuleKind::Event { kinds: vec!["user.created".into()] };
        let json = serde_json::to_string(&k).expect("json");
        assert_eq!(serde_json::from_str::<leitstand_domain::alert::RuleKind>(&json).expect("back"), k);
    }
}
