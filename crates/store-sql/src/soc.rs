//! SOC storage: syslog senders, security events, SOC alerts with their
//! evidence (raised in the intake's transaction, grouped per Sigma rule and
//! group while active), rule choices, retention and intake counters.

use crate::alerts::{alert, audited, note, ALERT_SELECT};
use crate::{map_err, ms, ts, tx::scope_sql, SqlStore};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::alert::{next_state, AlertAction, AlertState};
use leitstand_domain::soc::IndicatorKind;
use leitstand_domain::{TenantId, UserId};
use leitstand_store::{
    AuditDraft, CustomRule, Indicator, NewSocHit, NewSyslogSource, Result, SocEvent, SocEventQuery, SocIntake,
    SocRuleChoices, SocStore, SocUsage, StoreError, SyslogSource, TenantScope, Triage, DEFAULT_RETENTION_DAYS,
    MAX_EVIDENCE,
};
use sqlx::AnyConnection;

const SOURCE_COLUMNS: &str = "id, tenant_id, name, address, hostname, token_hash, enabled, created_at, last_seen_at";
type SourceRow = (i64, i64, String, Option<String>, Option<String>, Option<String>, i64, i64, Option<i64>);

const EVENT_COLUMNS: &str = "e.id, e.tenant_id, e.source_id, e.at, e.received_at, e.dataset, e.category, e.action, \
     e.outcome, e.user_name, e.source_ip, e.host_name, e.message, e.event";
type EventRow = (
    i64,
    i64,
    Option<i64>,
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
);

const CUSTOM_COLUMNS: &str = "id, tenant_id, rule_id, title, yaml, enabled, updated_at";
type CustomRow = (i64, i64, String, String, String, i64, i64);

const DAY_MS: i64 = 86_400_000;

fn source(
    (id, tenant, name, address, hostname, token_hash, enabled, created_at, last_seen_at): SourceRow,
) -> SyslogSource {
    SyslogSource {
        id,
        tenant: TenantId(tenant),
        name,
        address,
        hostname,
        token_hash,
        enabled: enabled != 0,
        created_at: ts(created_at),
        last_seen_at: last_seen_at.map(ts),
    }
}

fn event(r: EventRow) -> SocEvent {
    let (
        id,
        tenant,
        source,
        at,
        received_at,
        dataset,
        category,
        action,
        outcome,
        user,
        source_ip,
        host_name,
        message,
        event,
    ) = r;
    SocEvent {
        id,
        tenant: TenantId(tenant),
        source,
        at: ts(at),
        received_at: ts(received_at),
        dataset,
        category,
        action,
        outcome,
        user,
        source_ip,
        host_name,
        message,
        event,
    }
}

fn custom((id, tenant, rule_id, title, yaml, enabled, updated_at): CustomRow) -> CustomRule {
    CustomRule { id, tenant: TenantId(tenant), rule_id, title, yaml, enabled: enabled != 0, updated_at: ts(updated_at) }
}

async fn source_in(conn: &mut AnyConnection, scope: &TenantScope, id: i64) -> Result<SyslogSource> {
    let row: SourceRow = sqlx::query_as(&format!(
        "SELECT {SOURCE_COLUMNS} FROM syslog_sources WHERE id = $1{}",
        scope_sql("tenant_id", scope)
    ))
    .bind(id)
    .fetch_one(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(source(row))
}

/// The tenant's settings row, made with the defaults when missing.
async fn settings(conn: &mut AnyConnection, tenant: i64) -> Result<(u32, u64)> {
    sqlx::query(
        "INSERT INTO soc_settings (tenant_id, retention_days, rules_version) VALUES ($1, $2, 0) \
         ON CONFLICT (tenant_id) DO NOTHING",
    )
    .bind(tenant)
    .bind(i64::from(DEFAULT_RETENTION_DAYS))
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    let (days, version): (i64, i64) =
        sqlx::query_as("SELECT retention_days, rules_version FROM soc_settings WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err)?;
    Ok((days as u32, version as u64))
}

async fn bump_version(conn: &mut AnyConnection, tenant: i64) -> Result<()> {
    settings(conn, tenant).await?;
    sqlx::query("UPDATE soc_settings SET rules_version = rules_version + 1 WHERE tenant_id = $1")
        .bind(tenant)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// The tenant's SOC alert rule (`soc-detection`), if it has one switched on.
async fn soc_rule(conn: &mut AnyConnection, tenant: i64) -> Result<Option<(i64, i64)>> {
    sqlx::query_as(
        "SELECT id, notify FROM alert_rules WHERE tenant_id = $1 AND rule_key = 'soc-detection' AND enabled = 1",
    )
    .bind(tenant)
    .fetch_optional(&mut *conn)
    .await
    .map_err(map_err)
}

/// One hit: the active alert of its Sigma rule and group counts one more
/// (a mute that ran out opens it again), or a new one opens. The event is
/// linked as evidence while the alert has fewer than `MAX_EVIDENCE`.
async fn raise(
    conn: &mut AnyConnection,
    tenant: i64,
    (rule, notify): (i64, i64),
    hit: &NewSocHit,
    event: i64,
    host: Option<i64>,
    at: i64,
) -> Result<()> {
    let active = sqlx::query(&format!(
        "{ALERT_SELECT} WHERE a.tenant_id = $1 AND a.soc_rule = $2 AND a.soc_group = $3 AND a.state <> 'resolved' \
         ORDER BY a.id DESC LIMIT 1"
    ))
    .bind(tenant)
    .bind(&hit.rule_id)
    .bind(&hit.group)
    .fetch_optional(&mut *conn)
    .await
    .map_err(map_err)?;
    let id = match active.as_ref().map(alert).transpose()? {
        Some(a) => {
            let state = next_state(a.state, a.muted_until, AlertAction::Repeat, ts(at)).unwrap_or(a.state);
            sqlx::query("UPDATE alerts SET count = count + 1, last_at = $1, detail = $2, state = $3 WHERE id = $4")
                .bind(at.max(ms(a.last_at)))
                .bind(&hit.detail)
                .bind(state.as_str())
                .bind(a.id)
                .execute(&mut *conn)
                .await
                .map_err(map_err)?;
            if state != a.state {
                note(conn, tenant, a.id, at, "reopened", None, "").await?;
            }
            a.id
        }
        None => {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO alerts (tenant_id, rule_id, host_id, severity, state, count, first_at, last_at, \
                 notify, detail, soc_rule, soc_group) VALUES ($1, $2, $3, $4, 'open', 1, $5, $5, $6, $7, $8, $9) \
                 RETURNING id",
            )
            .bind(tenant)
            .bind(rule)
            .bind(host)
            .bind(hit.severity.as_str())
            .bind(at)
            .bind(notify)
            .bind(&hit.detail)
            .bind(&hit.rule_id)
            .bind(&hit.group)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err)?;
            note(conn, tenant, id, at, "opened", None, &hit.detail).await?;
            id
        }
    };
    let (linked,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM soc_evidence WHERE alert_id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err)?;
    if let Some((column, value, since)) = hit.related.as_ref().filter(|_| linked < MAX_EVIDENCE) {
        // Column names come from a fixed list, never from outside.
        let column = match *column {
            "source_ip" => "source_ip",
            "user_name" => "user_name",
            _ => "host_name",
        };
        sqlx::query(&format!(
            "INSERT INTO soc_evidence (tenant_id, alert_id, event_id) SELECT tenant_id, $1, id FROM soc_events \
             WHERE tenant_id = $2 AND {column} = $3 AND at >= $4 AND id <> $5 ORDER BY id DESC LIMIT $6 \
             ON CONFLICT DO NOTHING"
        ))
        .bind(id)
        .bind(tenant)
        .bind(value)
        .bind(ms(*since))
        .bind(event)
        .bind(MAX_EVIDENCE - linked - 1)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    }
    if linked < MAX_EVIDENCE {
        sqlx::query(
            "INSERT INTO soc_evidence (tenant_id, alert_id, event_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(id)
        .bind(event)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    }
    Ok(())
}

async fn count(conn: &mut AnyConnection, tenant: i64, day: i64, kind: &str, n: u64) -> Result<()> {
    sqlx::query(
        "INSERT INTO soc_counters (tenant_id, day, kind, count) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, day, kind) DO UPDATE SET count = soc_counters.count + excluded.count",
    )
    .bind(tenant)
    .bind(day)
    .bind(kind)
    .bind(n as i64)
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(())
}

type IndicatorRow = (i64, String, String, String, i64);

fn indicator((id, kind, value, note, added_at): IndicatorRow) -> Result<Indicator> {
    let kind = IndicatorKind::parse(&kind).ok_or_else(|| StoreError::Backend("unreadable indicator kind".into()))?;
    Ok(Indicator { id, kind, value, note, added_at: ts(added_at) })
}

#[async_trait]
impl SocStore for SqlStore {
    async fn syslog_sources(&self, scope: &TenantScope, tenant: Option<TenantId>) -> Result<Vec<SyslogSource>> {
        let mut filter = scope_sql("tenant_id", scope);
        if let Some(t) = tenant {
            filter.push_str(&format!(" AND tenant_id = {}", t.0));
        }
        let mut tx = self.read(scope).await?;
        let rows: Vec<SourceRow> = sqlx::query_as(&format!(
            "SELECT {SOURCE_COLUMNS} FROM syslog_sources WHERE 1 = 1{filter} ORDER BY name, id"
        ))
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        Ok(rows.into_iter().map(source).collect())
    }

    async fn save_syslog_source(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        id: Option<i64>,
        s: &NewSyslogSource,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<SyslogSource> {
        let mut tx = self.write(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, tenant).await?;
        let id = match id {
            Some(id) => {
                if source_in(&mut tx.conn, scope, id).await?.tenant != tenant {
                    return Err(StoreError::NotFound);
                }
                sqlx::query(
                    "UPDATE syslog_sources SET name = $1, address = $2, hostname = $3, enabled = $4 WHERE id = $5",
                )
                .bind(&s.name)
                .bind(&s.address)
                .bind(&s.hostname)
                .bind(i64::from(s.enabled))
                .bind(id)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
                id
            }
            None => {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO syslog_sources (tenant_id, name, address, hostname, enabled, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(tenant.0)
                .bind(&s.name)
                .bind(&s.address)
                .bind(&s.hostname)
                .bind(i64::from(s.enabled))
                .bind(ms(at))
                .fetch_one(&mut *tx.conn)
                .await
                .map_err(map_err)?;
                id
            }
        };
        if let Some(hash) = &s.token_hash {
            sqlx::query("UPDATE syslog_sources SET token_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(id)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        }
        let saved = source_in(&mut tx.conn, scope, id).await?;
        tx.commit(&audited(audit, tenant, format!("syslog_source:{id}"))).await?;
        Ok(saved)
    }

    async fn all_syslog_sources(&self) -> Result<Vec<SyslogSource>> {
        let mut tx = self.read(&TenantScope::All).await?;
        let rows: Vec<SourceRow> =
            sqlx::query_as(&format!("SELECT {SOURCE_COLUMNS} FROM syslog_sources WHERE enabled = 1 ORDER BY id"))
                .fetch_all(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        tx.finish().await?;
        Ok(rows.into_iter().map(source).collect())
    }

    async fn soc_intake(&self, intake: &SocIntake) -> Result<()> {
        let Some(tenant) = intake.tenant else { return Ok(()) };
        let received = intake.received_at.map(ms).unwrap_or_default();
        let mut tx = self.write(&TenantScope::All).await?;
        let mut ids = Vec::with_capacity(intake.events.len());
        for e in &intake.events {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO soc_events (tenant_id, source_id, host_id, at, received_at, dataset, category, action, \
                 outcome, user_name, source_ip, host_name, message, event) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
            )
            .bind(tenant.0)
            .bind(e.source)
            .bind(e.host.map(|h| h.0))
            .bind(ms(e.at))
            .bind(received)
            .bind(&e.dataset)
            .bind(&e.category)
            .bind(&e.action)
            .bind(&e.outcome)
            .bind(&e.user)
            .bind(&e.source_ip)
            .bind(&e.host_name)
            .bind(&e.message)
            .bind(&e.event)
            .fetch_one(&mut *tx.conn)
            .await
            .map_err(map_err)?;
            ids.push(id);
        }
        if !intake.hits.is_empty() {
            if let Some(rule) = soc_rule(&mut tx.conn, tenant.0).await? {
                for hit in &intake.hits {
                    let (Some(id), Some(e)) = (ids.get(hit.event), intake.events.get(hit.event)) else { continue };
                    raise(&mut tx.conn, tenant.0, rule, hit, *id, e.host.map(|h| h.0), ms(e.at)).await?;
                }
            }
        }
        let day = received.div_euclid(DAY_MS);
        for (kind, n) in intake.counters.iter().filter(|(_, n)| *n > 0) {
            count(&mut tx.conn, tenant.0, day, kind, *n).await?;
        }
        for s in &intake.seen_sources {
            sqlx::query("UPDATE syslog_sources SET last_seen_at = $1 WHERE id = $2 AND tenant_id = $3")
                .bind(received)
                .bind(s)
                .bind(tenant.0)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        }
        tx.finish().await
    }

    async fn soc_events(&self, scope: &TenantScope, q: &SocEventQuery) -> Result<Vec<SocEvent>> {
        let mut filter = scope_sql("e.tenant_id", scope);
        if let Some(t) = q.tenant {
            filter.push_str(&format!(" AND e.tenant_id = {}", t.0));
        }
        if let Some(a) = q.alert {
            filter.push_str(&format!(" AND e.id IN (SELECT event_id FROM soc_evidence WHERE alert_id = {a})"));
        }
        if let Some(b) = q.before {
            filter.push_str(&format!(" AND e.id < {b}"));
        }
        let mut tx = self.read(scope).await?;
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM soc_events e WHERE 1 = 1{filter} ORDER BY e.id DESC LIMIT {}",
            q.limit.clamp(1, 10_000)
        ))
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        Ok(rows.into_iter().map(event).collect())
    }

    async fn soc_rule_choices(&self, scope: &TenantScope, tenant: TenantId) -> Result<SocRuleChoices> {
        let mut tx = self.read(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, tenant).await?;
        let choices: Vec<(String, i64)> =
            sqlx::query_as("SELECT rule_id, enabled FROM soc_rule_choices WHERE tenant_id = $1 ORDER BY rule_id")
                .bind(tenant.0)
                .fetch_all(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        let rules: Vec<CustomRow> = sqlx::query_as(&format!(
            "SELECT {CUSTOM_COLUMNS} FROM soc_custom_rules WHERE tenant_id = $1 ORDER BY title"
        ))
        .bind(tenant.0)
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT retention_days, rules_version FROM soc_settings WHERE tenant_id = $1")
                .bind(tenant.0)
                .fetch_optional(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        tx.finish().await?;
        let (days, version) = row.unwrap_or((i64::from(DEFAULT_RETENTION_DAYS), 0));
        Ok(SocRuleChoices {
            choices: choices.into_iter().map(|(id, on)| (id, on != 0)).collect(),
            custom: rules.into_iter().map(custom).collect(),
            version: version as u64,
            retention_days: days as u32,
        })
    }

    async fn soc_rules_version(&self, tenant: TenantId) -> Result<u64> {
        let mut tx = self.read(&TenantScope::All).await?;
        let row: Option<(i64,)> = sqlx::query_as("SELECT rules_version FROM soc_settings WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_optional(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        tx.finish().await?;
        Ok(row.map_or(0, |(v,)| v as u64))
    }

    async fn set_soc_rule(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        rule_id: &str,
        enabled: bool,
        audit: &AuditDraft,
    ) -> Result<()> {
        let mut tx = self.write(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, tenant).await?;
        sqlx::query(
            "INSERT INTO soc_rule_choices (tenant_id, rule_id, enabled) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, rule_id) DO UPDATE SET enabled = excluded.enabled",
        )
        .bind(tenant.0)
        .bind(rule_id)
        .bind(i64::from(enabled))
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        sqlx::query("UPDATE soc_custom_rules SET enabled = $1 WHERE tenant_id = $2 AND rule_id = $3")
            .bind(i64::from(enabled))
            .bind(tenant.0)
            .bind(rule_id)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        bump_version(&mut tx.conn, tenant.0).await?;
        tx.commit(&audited(audit, tenant, format!("soc_rule:{rule_id}"))).await
    }

    async fn save_custom_rule(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        rule_id: &str,
        title: &str,
        yaml: &str,
        enabled: bool,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<CustomRule> {
        let mut tx = self.write(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, tenant).await?;
        sqlx::query(
            "INSERT INTO soc_custom_rules (tenant_id, rule_id, title, yaml, enabled, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, rule_id) DO UPDATE SET \
             title = excluded.title, yaml = excluded.yaml, enabled = excluded.enabled, updated_at = excluded.updated_at",
        )
        .bind(tenant.0)
        .bind(rule_id)
        .bind(title)
        .bind(yaml)
        .bind(i64::from(enabled))
        .bind(ms(at))
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        bump_version(&mut tx.conn, tenant.0).await?;
        let row: CustomRow = sqlx::query_as(&format!(
            "SELECT {CUSTOM_COLUMNS} FROM soc_custom_rules WHERE tenant_id = $1 AND rule_id = $2"
        ))
        .bind(tenant.0)
        .bind(rule_id)
        .fetch_one(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.commit(&audited(audit, tenant, format!("soc_custom_rule:{rule_id}"))).await?;
        Ok(custom(row))
    }

    async fn set_soc_retention(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        days: u32,
        audit: &AuditDraft,
    ) -> Result<()> {
        let mut tx = self.write(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, tenant).await?;
        settings(&mut tx.conn, tenant.0).await?;
        sqlx::query("UPDATE soc_settings SET retention_days = $1 WHERE tenant_id = $2")
            .bind(i64::from(days))
            .bind(tenant.0)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        tx.commit(&audited(audit, tenant, "soc_settings".into())).await
    }

    async fn soc_retention(&self, now: Timestamp) -> Result<u64> {
        let mut tx = self.write(&TenantScope::All).await?;
        let tenants: Vec<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT t.id, s.retention_days FROM tenants t LEFT JOIN soc_settings s ON s.tenant_id = t.id",
        )
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        let mut deleted = 0;
        for (tenant, days) in tenants {
            let cutoff = ms(now) - days.unwrap_or(i64::from(DEFAULT_RETENTION_DAYS)) * DAY_MS;
            sqlx::query(
                "DELETE FROM soc_evidence WHERE event_id IN \
                 (SELECT id FROM soc_events WHERE tenant_id = $1 AND received_at < $2)",
            )
            .bind(tenant)
            .bind(cutoff)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
            let done = sqlx::query("DELETE FROM soc_events WHERE tenant_id = $1 AND received_at < $2")
                .bind(tenant)
                .bind(cutoff)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
            deleted += done.rows_affected();
        }
        tx.finish().await?;
        Ok(deleted)
    }

    async fn triage_alert(
        &self,
        scope: &TenantScope,
        id: i64,
        t: &Triage,
        author: UserId,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        let mut tx = self.write(scope).await?;
        let a = crate::alerts::alert_in(&mut tx.conn, scope, id).await?;
        if a.soc_rule.is_none() {
            return Err(StoreError::NotFound);
        }
        let (tenant, at, by) = (a.tenant.0, ms(at), Some(author.0));
        if let Some(sev) = t.severity.filter(|s| *s != a.severity) {
            sqlx::query("UPDATE alerts SET severity = $1 WHERE id = $2")
                .bind(sev.as_str())
                .bind(id)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
            note(
                &mut tx.conn,
                tenant,
                id,
                at,
                "reprioritised",
                by,
                &format!("{} → {}", a.severity.as_str(), sev.as_str()),
            )
            .await?;
        }
        if let Some(class) = t.class.as_deref().filter(|c| Some(*c) != a.soc_class.as_deref()) {
            sqlx::query("UPDATE alerts SET soc_class = $1, triaged_at = $2 WHERE id = $3")
                .bind(class)
                .bind(at)
                .bind(id)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
            note(&mut tx.conn, tenant, id, at, "reclassified", by, class).await?;
        }
        if let Some(v) = t.verdict {
            sqlx::query(
                "UPDATE alerts SET soc_verdict = $1, triaged_at = $2, state = $3, resolved_at = $2 WHERE id = $4",
            )
            .bind(v.as_str())
            .bind(at)
            .bind(AlertState::Resolved.as_str())
            .bind(id)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
            note(&mut tx.conn, tenant, id, at, "closed", by, v.as_str()).await?;
        }
        tx.commit(&audited(audit, a.tenant, format!("alert:{id}"))).await
    }

    async fn recommend(
        &self,
        scope: &TenantScope,
        id: i64,
        author: UserId,
        text: &str,
        contacts: &[i64],
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<i64> {
        let mut tx = self.write(scope).await?;
        let a = crate::alerts::alert_in(&mut tx.conn, scope, id).await?;
        let note_id = note(&mut tx.conn, a.tenant.0, id, ms(at), "recommendation", Some(author.0), text).await?;
        for contact in contacts {
            sqlx::query(
                "INSERT INTO notifications (tenant_id, alert_id, contact_id, level, state, attempts, next_at, \
                 created_at, note_id) SELECT $1, $2, id, 0, 'pending', 0, $3, $3, $4 FROM notify_contacts \
                 WHERE id = $5 AND tenant_id = $1",
            )
            .bind(a.tenant.0)
            .bind(id)
            .bind(ms(at))
            .bind(note_id)
            .bind(contact)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        }
        tx.commit(&audited(audit, a.tenant, format!("alert:{id}"))).await?;
        Ok(note_id)
    }

    async fn indicators(&self) -> Result<Vec<Indicator>> {
        let mut tx = self.read(&TenantScope::All).await?;
        let rows: Vec<IndicatorRow> =
            sqlx::query_as("SELECT id, kind, value, note, added_at FROM soc_indicators ORDER BY kind, value")
                .fetch_all(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        tx.finish().await?;
        rows.into_iter().map(indicator).collect()
    }

    async fn add_indicator(
        &self,
        kind: IndicatorKind,
        value: &str,
        note: &str,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<Indicator> {
        let mut tx = self.write(&TenantScope::All).await?;
        sqlx::query(
            "INSERT INTO soc_indicators (kind, value, note, added_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, value) DO UPDATE SET note = excluded.note",
        )
        .bind(kind.as_str())
        .bind(value)
        .bind(note)
        .bind(ms(at))
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        let row: IndicatorRow =
            sqlx::query_as("SELECT id, kind, value, note, added_at FROM soc_indicators WHERE kind = $1 AND value = $2")
                .bind(kind.as_str())
                .bind(value)
                .fetch_one(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        tx.commit(audit).await?;
        indicator(row)
    }

    async fn remove_indicator(&self, id: i64, audit: &AuditDraft) -> Result<()> {
        let mut tx = self.write(&TenantScope::All).await?;
        let done = sqlx::query("DELETE FROM soc_indicators WHERE id = $1")
            .bind(id)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit(audit).await
    }

    async fn matching_indicators(&self, values: &[String]) -> Result<Vec<Indicator>> {
        let mut found = Vec::new();
        let mut tx = self.read(&TenantScope::All).await?;
        for v in values {
            let rows: Vec<IndicatorRow> =
                sqlx::query_as("SELECT id, kind, value, note, added_at FROM soc_indicators WHERE value = $1")
                    .bind(v)
                    .fetch_all(&mut *tx.conn)
                    .await
                    .map_err(map_err)?;
            for r in rows {
                found.push(indicator(r)?);
            }
        }
        tx.finish().await?;
        found.sort_by_key(|i| i.id);
        found.dedup_by_key(|i| i.id);
        Ok(found)
    }

    async fn soc_usage(&self, from: Timestamp, to: Timestamp) -> Result<Vec<SocUsage>> {
        let mut tx = self.read(&TenantScope::All).await?;
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT tenant_id, \
             SUM(CASE WHEN first_at >= $1 AND first_at < $2 THEN 1 ELSE 0 END), \
             SUM(CASE WHEN soc_verdict IS NOT NULL AND triaged_at >= $1 AND triaged_at < $2 THEN 1 ELSE 0 END) \
             FROM alerts WHERE soc_rule IS NOT NULL GROUP BY tenant_id ORDER BY tenant_id",
        )
        .bind(ms(from))
        .bind(ms(to))
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        Ok(rows
            .into_iter()
            .map(|(t, a, h)| SocUsage { tenant: TenantId(t), alerts: a as u64, handled: h as u64 })
            .collect())
    }

    async fn soc_counters(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        since_day: i64,
    ) -> Result<Vec<(i64, String, u64)>> {
        let mut tx = self.read(scope).await?;
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(&format!(
            "SELECT day, kind, count FROM soc_counters WHERE tenant_id = $1 AND day >= $2{} ORDER BY day, kind",
            scope_sql("tenant_id", scope)
        ))
        .bind(tenant.0)
        .bind(since_day)
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        Ok(rows.into_iter().map(|(d, k, n)| (d, k, n as u64)).collect())
    }
}
