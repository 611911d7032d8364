//! Notification policy, contacts and the outbox. Queuing happens in one
//! transaction with the alert's escalation level, so a level is queued once
//! even with several replicas; senders lease rows before they send.

use crate::alerts::{alert, audited, note, ALERT_SELECT};
use crate::{map_err, ms, ts, tx::scope_sql, SqlStore};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::alert::Severity;
use leitstand_domain::notify::{Channel, Policy};
use leitstand_domain::{Lang, TenantId};
use leitstand_store::{
    Alert, AlertFlag, AuditDraft, Contact, NewContact, Notification, NotificationQuery, NotificationState, NotifyStore,
    Result, StoreError, TenantScope,
};
use sqlx::AnyConnection;

const CONTACT_COLUMNS: &str =
    "id, tenant_id, name, channel, address, language, min_severity, rule_ids, level, secret, enabled";
type ContactRow = (i64, i64, String, String, String, String, String, String, i64, Option<String>, i64);

const NOTIFICATION_SELECT: &str = "SELECT n.id, n.tenant_id, n.alert_id, n.contact_id, n.level, n.state, n.attempts, \
     n.next_at, n.last_error, n.created_at, n.sent_at, c.name, c.channel, c.address, n.note_id \
     FROM notifications n JOIN notify_contacts c ON c.id = n.contact_id";
type NotificationRow =
    (i64, i64, i64, i64, i64, String, i64, i64, Option<String>, i64, Option<i64>, String, String, String, Option<i64>);

fn bad(what: &str) -> StoreError {
    StoreError::Backend(format!("unreadable {what} in the database"))
}

fn contact(r: ContactRow) -> Result<Contact> {
    let (id, tenant, name, channel, address, language, min_severity, rules, level, secret, enabled) = r;
    Ok(Contact {
        id,
        tenant: TenantId(tenant),
        name,
        channel: Channel::parse(&channel).ok_or_else(|| bad("contact channel"))?,
        address,
        language: Lang::parse(&language).ok_or_else(|| bad("contact language"))?,
        min_severity: Severity::parse(&min_severity).ok_or_else(|| bad("contact severity"))?,
        rules: serde_json::from_str(&rules).map_err(|_| bad("contact rules"))?,
        level: level as u32,
        secret,
        enabled: enabled != 0,
    })
}

fn notification(r: NotificationRow) -> Result<Notification> {
    let (
        id,
        tenant,
        alert,
        contact,
        level,
        state,
        attempts,
        next_at,
        last_error,
        created_at,
        sent_at,
        name,
        ch,
        addr,
        note,
    ) = r;
    Ok(Notification {
        id,
        tenant: TenantId(tenant),
        alert,
        contact,
        level: level as u32,
        state: NotificationState::parse(&state).ok_or_else(|| bad("notification state"))?,
        attempts: attempts as u32,
        next_at: ts(next_at),
        last_error,
        created_at: ts(created_at),
        sent_at: sent_at.map(ts),
        note,
        contact_name: name,
        channel: Channel::parse(&ch).ok_or_else(|| bad("contact channel"))?,
        address: addr,
    })
}

async fn contact_in(conn: &mut AnyConnection, scope: &TenantScope, id: i64) -> Result<Contact> {
    let row: ContactRow = sqlx::query_as(&format!(
        "SELECT {CONTACT_COLUMNS} FROM notify_contacts WHERE id = $1{}",
        scope_sql("tenant_id", scope)
    ))
    .bind(id)
    .fetch_one(&mut *conn)
    .await
    .map_err(map_err)?;
    contact(row)
}

/// `(1,2,3)` for an `IN` list of ids (integers formatted here).
fn id_list(ids: &[i64]) -> String {
    format!("({})", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
}

/// One timeline note per alert of the rows, saying what happened.
async fn note_rows(conn: &mut AnyConnection, ids: &[i64], at: Timestamp, kind: &str, body: &str) -> Result<()> {
    let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(&format!(
        "SELECT n.tenant_id, n.alert_id, c.channel, c.address FROM notifications n \
         JOIN notify_contacts c ON c.id = n.contact_id WHERE n.id IN {}",
        id_list(ids)
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?;
    for (tenant, alert, channel, address) in rows {
        let text =
            if body.is_empty() { format!("{channel}: {address}") } else { format!("{channel}: {address}: {body}") };
        note(conn, tenant, alert, ms(at), kind, None, &text).await?;
    }
    Ok(())
}

#[async_trait]
impl NotifyStore for SqlStore {
    async fn notify_policy(&self, scope: &TenantScope, tenant: TenantId) -> Result<Policy> {
        let mut tx = self.read(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, tenant).await?;
        let row: Option<(Option<i64>, Option<i64>, i64, i64)> = sqlx::query_as(
            "SELECT quiet_from, quiet_to, escalate_after_mins, unanswered_hours FROM notify_policies \
             WHERE tenant_id = $1",
        )
        .bind(tenant.0)
        .fetch_optional(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        Ok(match row {
            None => Policy::default(),
            Some((from, to, escalate, unanswered)) => Policy {
                quiet: from.zip(to).map(|(f, t)| (f as u16, t as u16)),
                escalate_after_mins: escalate as u32,
                unanswered_hours: unanswered as u32,
            },
        })
    }

    async fn set_notify_policy(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        p: &Policy,
        audit: &AuditDraft,
    ) -> Result<()> {
        let mut tx = self.write(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, tenant).await?;
        sqlx::query(
            "INSERT INTO notify_policies (tenant_id, quiet_from, quiet_to, escalate_after_mins, unanswered_hours) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id) DO UPDATE SET quiet_from = excluded.quiet_from, \
             quiet_to = excluded.quiet_to, escalate_after_mins = excluded.escalate_after_mins, \
             unanswered_hours = excluded.unanswered_hours",
        )
        .bind(tenant.0)
        .bind(p.quiet.map(|q| i64::from(q.0)))
        .bind(p.quiet.map(|q| i64::from(q.1)))
        .bind(i64::from(p.escalate_after_mins))
        .bind(i64::from(p.unanswered_hours))
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.commit(&audited(audit, tenant, format!("tenant:{}", tenant.0))).await
    }

    async fn contacts(&self, scope: &TenantScope, tenant: TenantId) -> Result<Vec<Contact>> {
        let mut tx = self.read(scope).await?;
        let rows: Vec<ContactRow> = sqlx::query_as(&format!(
            "SELECT {CONTACT_COLUMNS} FROM notify_contacts WHERE tenant_id = $1{} ORDER BY level, id",
            scope_sql("tenant_id", scope)
        ))
        .bind(tenant.0)
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        rows.into_iter().map(contact).collect()
    }

    async fn contact(&self, scope: &TenantScope, id: i64) -> Result<Contact> {
        let mut tx = self.read(scope).await?;
        let c = contact_in(&mut tx.conn, scope, id).await;
        tx.finish().await?;
        c
    }

    async fn save_contact(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        id: Option<i64>,
        c: &NewContact,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<Contact> {
        let mut tx = self.write(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, tenant).await?;
        let rules = serde_json::to_string(&c.rules).map_err(|e| StoreError::Backend(e.to_string()))?;
        let id = match id {
            Some(id) => {
                let before = contact_in(&mut tx.conn, scope, id).await?;
                if before.tenant != tenant {
                    return Err(StoreError::NotFound);
                }
                sqlx::query(
                    "UPDATE notify_contacts SET name = $1, channel = $2, address = $3, language = $4, \
                     min_severity = $5, rule_ids = $6, level = $7, enabled = $8 WHERE id = $9",
                )
                .bind(&c.name)
                .bind(c.channel.as_str())
                .bind(&c.address)
                .bind(c.language.code())
                .bind(c.min_severity.as_str())
                .bind(&rules)
                .bind(i64::from(c.level))
                .bind(i64::from(c.enabled))
                .bind(id)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
                id
            }
            None => {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO notify_contacts (tenant_id, name, channel, address, language, min_severity, \
                     rule_ids, level, enabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     RETURNING id",
                )
                .bind(tenant.0)
                .bind(&c.name)
                .bind(c.channel.as_str())
                .bind(&c.address)
                .bind(c.language.code())
                .bind(c.min_severity.as_str())
                .bind(&rules)
                .bind(i64::from(c.level))
                .bind(i64::from(c.enabled))
                .bind(ms(at))
                .fetch_one(&mut *tx.conn)
                .await
                .map_err(map_err)?;
                id
            }
        };
        if let Some(secret) = &c.secret {
            sqlx::query("UPDATE notify_contacts SET secret = $1 WHERE id = $2")
                .bind(secret)
                .bind(id)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        }
        let saved = contact_in(&mut tx.conn, scope, id).await?;
        tx.commit(&audited(audit, tenant, format!("notify_contact:{id}"))).await?;
        Ok(saved)
    }

    async fn open_alerts(&self, only_new: bool, limit: u32) -> Result<Vec<Alert>> {
        let filter = if only_new { " AND a.notified_level = -1" } else { "" };
        let mut tx = self.read(&TenantScope::All).await?;
        let rows = sqlx::query(&format!(
            "{ALERT_SELECT} WHERE a.state = 'open'{filter} ORDER BY a.first_at, a.id LIMIT {}",
            limit.clamp(1, 100_000)
        ))
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        rows.iter().map(alert).collect()
    }

    async fn queue_notifications(
        &self,
        a: &Alert,
        level: u32,
        to: &[(i64, Timestamp)],
        notes: &[(&str, String)],
        at: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.write(&TenantScope::All).await?;
        let claimed = sqlx::query("UPDATE alerts SET notified_level = $1 WHERE id = $2 AND notified_level < $1")
            .bind(i64::from(level))
            .bind(a.id)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        if claimed.rows_affected() == 0 {
            return Ok(false);
        }
        for (contact, send_at) in to {
            sqlx::query(
                "INSERT INTO notifications (tenant_id, alert_id, contact_id, level, state, attempts, next_at, \
                 created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6)",
            )
            .bind(a.tenant.0)
            .bind(a.id)
            .bind(*contact)
            .bind(i64::from(level))
            .bind(ms(*send_at))
            .bind(ms(at))
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        }
        for (kind, body) in notes {
            note(&mut tx.conn, a.tenant.0, a.id, ms(at), kind, None, body).await?;
        }
        tx.finish().await?;
        Ok(true)
    }

    async fn flag_alert(&self, a: &Alert, flag: AlertFlag, at: Timestamp) -> Result<bool> {
        let mut tx = self.write(&TenantScope::All).await?;
        let done = sqlx::query("UPDATE alerts SET flag = $1, flagged_at = $2 WHERE id = $3 AND flag IS NULL")
            .bind(flag.as_str())
            .bind(ms(at))
            .bind(a.id)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        let flagged = done.rows_affected() == 1;
        if flagged {
            note(&mut tx.conn, a.tenant.0, a.id, ms(at), "flagged", None, flag.as_str()).await?;
        }
        tx.finish().await?;
        Ok(flagged)
    }

    async fn claim_notifications(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        let mut tx = self.write(&TenantScope::All).await?;
        let due: Vec<(i64,)> = sqlx::query_as(&format!(
            "SELECT id FROM notifications WHERE state = 'pending' AND next_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_at, id LIMIT {}",
            limit.clamp(1, 10_000)
        ))
        .bind(ms(now))
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        let mut claimed = vec![];
        for (id,) in due {
            let done = sqlx::query(
                "UPDATE notifications SET lease_until = $1 WHERE id = $2 AND state = 'pending' \
                 AND (lease_until IS NULL OR lease_until < $3)",
            )
            .bind(ms(lease_until))
            .bind(id)
            .bind(ms(now))
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
            if done.rows_affected() == 1 {
                claimed.push(id);
            }
        }
        let rows: Vec<NotificationRow> = if claimed.is_empty() {
            vec![]
        } else {
            sqlx::query_as(&format!("{NOTIFICATION_SELECT} WHERE n.id IN {} ORDER BY n.id", id_list(&claimed)))
                .fetch_all(&mut *tx.conn)
                .await
                .map_err(map_err)?
        };
        tx.finish().await?;
        rows.into_iter().map(notification).collect()
    }

    async fn notifications_sent(&self, ids: &[i64], at: Timestamp) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.write(&TenantScope::All).await?;
        sqlx::query(&format!(
            "UPDATE notifications SET state = 'sent', sent_at = $1, lease_until = NULL, attempts = attempts + 1, \
             message_id = $2, last_error = NULL WHERE id IN {}",
            id_list(ids)
        ))
        .bind(ms(at))
        .bind(ids[0])
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        note_rows(&mut tx.conn, ids, at, "notified", "").await?;
        tx.finish().await
    }

    async fn notifications_failed(
        &self,
        ids: &[i64],
        error: &str,
        retry_at: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.write(&TenantScope::All).await?;
        let list = id_list(ids);
        match retry_at {
            Some(next) => {
                sqlx::query(&format!(
                    "UPDATE notifications SET attempts = attempts + 1, next_at = $1, lease_until = NULL, \
                     last_error = $2 WHERE id IN {list}"
                ))
                .bind(ms(next))
                .bind(error)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
            }
            None => {
                sqlx::query(&format!(
                    "UPDATE notifications SET attempts = attempts + 1, state = 'failed', lease_until = NULL, \
                     last_error = $1 WHERE id IN {list}"
                ))
                .bind(error)
                .execute(&mut *tx.conn)
                .await
                .map_err(map_err)?;
                note_rows(&mut tx.conn, ids, at, "notify_failed", error).await?;
            }
        }
        tx.finish().await
    }

    async fn notifications_held(&self, ids: &[i64], until: Timestamp) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.write(&TenantScope::All).await?;
        sqlx::query(&format!(
            "UPDATE notifications SET next_at = $1, lease_until = NULL, last_error = 'held back: rate limit' \
             WHERE id IN {}",
            id_list(ids)
        ))
        .bind(ms(until))
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await
    }

    async fn messages_sent_since(&self, contact: i64, since: Timestamp) -> Result<u32> {
        let mut tx = self.read(&TenantScope::All).await?;
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(DISTINCT message_id) FROM notifications WHERE contact_id = $1 AND sent_at >= $2",
        )
        .bind(contact)
        .bind(ms(since))
        .fetch_one(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        Ok(n as u32)
    }

    async fn notifications(&self, scope: &TenantScope, q: &NotificationQuery) -> Result<Vec<Notification>> {
        let mut filter = scope_sql("n.tenant_id", scope);
        if let Some(a) = q.alert {
            filter.push_str(&format!(" AND n.alert_id = {a}"));
        }
        if let Some(s) = q.state {
            filter.push_str(&format!(" AND n.state = '{}'", s.as_str()));
        }
        let mut tx = self.read(scope).await?;
        let rows: Vec<NotificationRow> = sqlx::query_as(&format!(
            "{NOTIFICATION_SELECT} WHERE 1 = 1{filter} ORDER BY n.created_at DESC, n.id DESC LIMIT {}",
            q.limit.clamp(1, 10_000)
        ))
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        rows.into_iter().map(notification).collect()
    }
}
