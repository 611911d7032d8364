//! Alarm rules and alerts: rules per tenant, alerts raised by the events of
//! an ingest (in its transaction), grouped per rule and host while active.

use crate::{map_err, ms, ts, tx::scope_sql, SqlStore};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::alert::{next_state, AlertAction, AlertState, Severity};
use leitstand_domain::{HostId, TenantId};
use leitstand_store::{
    Alert, AlertQuery, AlertRule, AlertStore, AuditDraft, NewAlertRule, Result, StoreError, TenantScope,
};
use sqlx::AnyConnection;

const RULE_COLUMNS: &str = "id, tenant_id, rule_key, name, severity, kind, enabled, notify";
const ALERT_COLUMNS: &str =
    "id, tenant_id, rule_id, host_id, severity, state, count, first_at, last_at, muted_until, resolved_at, notify, detail";

type RuleRow = (i64, i64, Option<String>, String, String, String, i64, i64);
type AlertRow = (i64, i64, i64, Option<i64>, String, String, i64, i64, i64, Option<i64>, Option<i64>, i64, String);

fn bad_row(what: &str) -> StoreError {
    StoreError::Backend(format!("unreadable {what} in the database"))
}

fn rule((id, tenant, key, name, severity, kind, enabled, notify): RuleRow) -> Result<AlertRule> {
    Ok(AlertRule {
        id,
        tenant: TenantId(tenant),
        key,
        name,
        severity: Severity::parse(&severity).ok_or_else(|| bad_row("rule severity"))?,
        kind: serde_json::from_str(&kind).map_err(|_| bad_row("rule kind"))?,
        enabled: enabled != 0,
        notify: notify != 0,
    })
}

fn alert(r: AlertRow) -> Result<Alert> {
    let (id, tenant, rule, host, severity, state, count, first_at, last_at, muted_until, resolved_at, notify, detail) =
        r;
    Ok(Alert {
        id,
        tenant: TenantId(tenant),
        rule,
        host: host.map(HostId),
        severity: Severity::parse(&severity).ok_or_else(|| bad_row("alert severity"))?,
        state: AlertState::parse(&state).ok_or_else(|| bad_row("alert state"))?,
        count: count as u64,
        first_at: ts(first_at),
        last_at: ts(last_at),
        muted_until: muted_until.map(ts),
        resolved_at: resolved_at.map(ts),
        notify: notify != 0,
        detail,
    })
}

/// Raises or counts alerts for the events an ingest made: for every
/// enabled event rule of the tenant that matches, the active alert of that
/// rule on this host counts one more (a mute that ran out opens it again),
/// or a new one opens.
pub(crate) async fn raise_for_events(
    conn: &mut AnyConnection,
    tenant: i64,
    host: i64,
    events: &[(i64, String, String)],
) -> Result<()> {
    let rules: Vec<RuleRow> =
        sqlx::query_as(&format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE tenant_id = $1 AND enabled = 1"))
            .bind(tenant)
            .fetch_all(&mut *conn)
            .await
            .map_err(map_err)?;
    let rules: Vec<AlertRule> = rules.into_iter().filter_map(|r| rule(r).ok()).collect();
    for (at, kind, detail) in events {
        for r in rules.iter().filter(|r| r.kind.matches_event(kind)) {
            let active: Option<AlertRow> = sqlx::query_as(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE rule_id = $1 AND host_id = $2 AND state <> 'resolved' \
                 ORDER BY id DESC LIMIT 1"
            ))
            .bind(r.id)
            .bind(host)
            .fetch_optional(&mut *conn)
            .await
            .map_err(map_err)?;
            match active.map(alert).transpose()? {
                Some(a) => {
                    let now = ts(*at);
                    let state = next_state(a.state, a.muted_until, AlertAction::Repeat, now).unwrap_or(a.state);
                    sqlx::query(
                        "UPDATE alerts SET count = count + 1, last_at = $1, detail = $2, state = $3 WHERE id = $4",
                    )
                    .bind((*at).max(ms(a.last_at)))
                    .bind(detail)
                    .bind(state.as_str())
                    .bind(a.id)
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)?;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO alerts (tenant_id, rule_id, host_id, severity, state, count, first_at, last_at, \
                         notify, detail) VALUES ($1, $2, $3, $4, 'open', 1, $5, $5, $6, $7)",
                    )
                    .bind(tenant)
                    .bind(r.id)
                    .bind(host)
                    .bind(r.severity.as_str())
                    .bind(*at)
                    .bind(i64::from(r.notify))
                    .bind(detail)
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)?;
                }
            }
        }
    }
    Ok(())
}

/// A host is heard again: its host-down alert resolves by itself.
pub(crate) async fn resolve_host_down(conn: &mut AnyConnection, tenant: i64, host: i64, at: i64) -> Result<()> {
    let host_down = serde_json::to_string(&leitstand_domain::alert::RuleKind::HostDown)
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    sqlx::query(
        "UPDATE alerts SET state = 'resolved', resolved_at = $1 WHERE host_id = $2 AND state <> 'resolved' \
         AND rule_id IN (SELECT id FROM alert_rules WHERE tenant_id = $3 AND kind = $4)",
    )
    .bind(at)
    .bind(host)
    .bind(tenant)
    .bind(host_down)
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

async fn alert_in(conn: &mut AnyConnection, scope: &TenantScope, id: i64) -> Result<Alert> {
    let row: AlertRow =
        sqlx::query_as(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1{}", scope_sql("tenant_id", scope)))
            .bind(id)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err)?;
    alert(row)
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

#[async_trait]
impl AlertStore for SqlStore {
    async fn ensure_rules(&self, tenant: TenantId, rules: &[NewAlertRule], at: Timestamp) -> Result<u64> {
        let mut tx = self.write(&TenantScope::one(tenant)).await?;
        let mut added = 0;
        for r in rules {
            let kind = serde_json::to_string(&r.kind).map_err(|e| StoreError::Backend(e.to_string()))?;
            let done = sqlx::query(
                "INSERT INTO alert_rules (tenant_id, rule_key, name, severity, kind, enabled, notify, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 1, 1, $6) ON CONFLICT (tenant_id, rule_key) DO NOTHING",
            )
            .bind(tenant.0)
            .bind(r.key.as_deref())
            .bind(&r.name)
            .bind(r.severity.as_str())
            .bind(&kind)
            .bind(ms(at))
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
            added += done.rows_affected();
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
        let mut audit = audit.clone();
        audit.tenant = Some(before.tenant);
        audit.target = format!("alert_rule:{id}");
        tx.commit(&audit).await?;
        Ok(after)
    }

    async fn alerts(&self, scope: &TenantScope, q: &AlertQuery) -> Result<Vec<Alert>> {
        // Only numbers and fixed words are formatted in.
        let mut filter = scope_sql("tenant_id", scope);
        if let Some(h) = q.host {
            filter.push_str(&format!(" AND host_id = {}", h.0));
        }
        if !q.states.is_empty() {
            let list = q.states.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(",");
            filter.push_str(&format!(" AND state IN ({list})"));
        }
        if let Some(min) = q.min_severity {
            let list = Severity::ALL
                .iter()
                .filter(|s| **s >= min)
                .map(|s| format!("'{}'", s.as_str()))
                .collect::<Vec<_>>()
                .join(",");
            filter.push_str(&format!(" AND severity IN ({list})"));
        }
        let order = "CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, last_at DESC, id DESC";
        let mut tx = self.read(scope).await?;
        let rows: Vec<AlertRow> = sqlx::query_as(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE 1 = 1{filter} ORDER BY {order} LIMIT {}",
            q.limit.clamp(1, 10_000)
        ))
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        rows.into_iter().map(alert).collect()
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
        let after = alert_in(&mut tx.conn, scope, id).await?;
        let mut audit = audit.clone();
        audit.tenant = Some(before.tenant);
        audit.target = format!("alert:{id}");
        tx.commit(&audit).await?;
        Ok(after)
    }
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
