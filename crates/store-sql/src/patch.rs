//! Patch job storage: the tenant's maintenance window, jobs with their
//! hosts, the customer's order, the planner's steps and the delivery of
//! sent actions.

use crate::alerts::audited;
use crate::{map_err, ms, ts, tx::scope_sql, SqlStore};
use async_trait::async_trait;
use jiff::Timestamp;
use leitstand_domain::patch::{HostState, JobState};
use leitstand_domain::{HostId, TenantId};
use leitstand_store::{
    ActiveJob, AuditDraft, JobAdvance, NewPatchJob, PatchJob, PatchJobHost, PatchOrder, PatchStore, PendingAction,
    Result, StoreError, TenantScope,
};
use sqlx::{AnyConnection, Row};

const JOB_COLUMNS: &str = "j.id, j.tenant_id, t.name, j.title, j.packages, j.state, j.created_by, j.created_at, \
     j.appointment_at, j.ordered_by, j.ordered_at, j.ordered_from, j.finished_at, \
     (SELECT COUNT(*) FROM patch_job_hosts p WHERE p.job_id = j.id), \
     (SELECT COUNT(*) FROM patch_job_hosts p WHERE p.job_id = j.id AND p.state = 'succeeded'), \
     (SELECT COUNT(*) FROM patch_job_hosts p WHERE p.job_id = j.id \
      AND p.state IN ('rolled_back', 'failed', 'refused', 'no_answer'))";

const HOST_COLUMNS: &str = "p.id, p.job_id, p.tenant_id, p.host_id, h.name, p.ring, p.packages, p.state, p.sent_at, \
     p.not_after, p.finished_at, p.detail, p.changes";

fn list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn job(row: &sqlx::any::AnyRow) -> Result<PatchJob> {
    let s = |i: usize| row.try_get::<String, _>(i).map_err(map_err);
    let os = |i: usize| row.try_get::<Option<String>, _>(i).map_err(map_err);
    let n = |i: usize| row.try_get::<i64, _>(i).map_err(map_err);
    let on = |i: usize| row.try_get::<Option<i64>, _>(i).map_err(map_err);
    let state = s(5)?;
    Ok(PatchJob {
        id: n(0)?,
        tenant: TenantId(n(1)?),
        tenant_name: s(2)?,
        title: s(3)?,
        packages: list(&s(4)?),
        state: JobState::parse(&state).ok_or_else(|| StoreError::Backend(format!("job state {state:?}")))?,
        created_by: s(6)?,
        created_at: ts(n(7)?),
        appointment: on(8)?.map(ts),
        ordered_by: os(9)?,
        ordered_at: on(10)?.map(ts),
        ordered_from: os(11)?,
        finished_at: on(12)?.map(ts),
        hosts: n(13)? as u32,
        succeeded: n(14)? as u32,
        failed: n(15)? as u32,
    })
}

fn job_host(row: &sqlx::any::AnyRow) -> Result<PatchJobHost> {
    let s = |i: usize| row.try_get::<String, _>(i).map_err(map_err);
    let n = |i: usize| row.try_get::<i64, _>(i).map_err(map_err);
    let on = |i: usize| row.try_get::<Option<i64>, _>(i).map_err(map_err);
    let state = s(7)?;
    Ok(PatchJobHost {
        id: n(0)?,
        job: n(1)?,
        tenant: TenantId(n(2)?),
        host: HostId(n(3)?),
        host_name: s(4)?,
        ring: n(5)?.clamp(1, 9) as u8,
        packages: list(&s(6)?),
        state: HostState::parse(&state).ok_or_else(|| StoreError::Backend(format!("host state {state:?}")))?,
        sent_at: on(8)?.map(ts),
        not_after: on(9)?.map(ts),
        finished_at: on(10)?.map(ts),
        detail: s(11)?,
        changes: s(12)?,
    })
}

async fn job_in(conn: &mut AnyConnection, scope: &TenantScope, id: i64) -> Result<PatchJob> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM patch_jobs j JOIN tenants t ON t.id = j.tenant_id WHERE j.id = $1{}",
        scope_sql("j.tenant_id", scope)
    );
    let row = sqlx::query(&sql).bind(id).fetch_one(&mut *conn).await.map_err(map_err)?;
    job(&row)
}

async fn hosts_of(conn: &mut AnyConnection, job_id: i64) -> Result<Vec<PatchJobHost>> {
    let sql = format!(
        "SELECT {HOST_COLUMNS} FROM patch_job_hosts p JOIN hosts h ON h.id = p.host_id WHERE p.job_id = $1 \
         ORDER BY p.ring, p.position"
    );
    let rows = sqlx::query(&sql).bind(job_id).fetch_all(&mut *conn).await.map_err(map_err)?;
    rows.iter().map(job_host).collect()
}

/// Moves hosts of a job from one state to another.
async fn set_hosts(conn: &mut AnyConnection, job_id: i64, ids: &[i64], from: &str, to: HostState) -> Result<bool> {
    for id in ids {
        let done = sqlx::query("UPDATE patch_job_hosts SET state = $1 WHERE id = $2 AND job_id = $3 AND state = $4")
            .bind(to.as_str())
            .bind(id)
            .bind(job_id)
            .bind(from)
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Stores an agent's report of an action, inside the ingest transaction
/// of its batch. A report for an action the host was not sent is ignored;
/// a late report after the host was given up still tells what happened.
pub(crate) async fn record_report(
    conn: &mut AnyConnection,
    host: i64,
    report: &leitstand_store::ActionOutcome,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE patch_job_hosts SET state = $1, detail = $2, changes = $3, finished_at = $4 \
         WHERE id = $5 AND host_id = $6 AND state IN ('sent', 'no_answer')",
    )
    .bind(report.state.as_str())
    .bind(&report.detail)
    .bind(&report.changes)
    .bind(ms(report.at))
    .bind(report.id)
    .bind(host)
    .execute(&mut *conn)
    .await
    .map_err(map_err)?;
    Ok(done.rows_affected() > 0)
}

#[async_trait]
impl PatchStore for SqlStore {
    async fn patch_window(&self, scope: &TenantScope, tenant: TenantId) -> Result<String> {
        let mut tx = self.read(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, tenant).await?;
        let found: Option<(String,)> =
            sqlx::query_as("SELECT maintenance_window FROM patch_settings WHERE tenant_id = $1")
                .bind(tenant.0)
                .fetch_optional(&mut *tx.conn)
                .await
                .map_err(map_err)?;
        tx.finish().await?;
        Ok(found.map(|(w,)| w).unwrap_or_default())
    }

    async fn set_patch_window(
        &self,
        scope: &TenantScope,
        tenant: TenantId,
        window: &str,
        audit: &AuditDraft,
    ) -> Result<()> {
        let mut tx = self.write(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, tenant).await?;
        sqlx::query(
            "INSERT INTO patch_settings (tenant_id, maintenance_window) VALUES ($1, $2) \
             ON CONFLICT (tenant_id) DO UPDATE SET maintenance_window = excluded.maintenance_window",
        )
        .bind(tenant.0)
        .bind(window)
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.commit(&audited(audit, tenant, "patch_settings".into())).await
    }

    async fn create_patch_job(&self, scope: &TenantScope, new: &NewPatchJob, audit: &AuditDraft) -> Result<PatchJob> {
        let mut tx = self.write(scope).await?;
        crate::tenants::tenant_in(&mut tx.conn, scope, new.tenant).await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO patch_jobs (tenant_id, title, packages, state, created_by, created_at, appointment_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(new.tenant.0)
        .bind(&new.title)
        .bind(serde_json::to_string(&new.packages).unwrap_or_default())
        .bind(JobState::AwaitingOrder.as_str())
        .bind(&new.created_by)
        .bind(ms(new.at))
        .bind(new.appointment.map(ms))
        .fetch_one(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        for (position, (host, ring, packages)) in new.hosts.iter().enumerate() {
            let owner: Option<(i64,)> = sqlx::query_as("SELECT tenant_id FROM hosts WHERE id = $1 AND tenant_id = $2")
                .bind(host.0)
                .bind(new.tenant.0)
                .fetch_optional(&mut *tx.conn)
                .await
                .map_err(map_err)?;
            if owner.is_none() {
                return Err(StoreError::NotFound);
            }
            sqlx::query(
                "INSERT INTO patch_job_hosts (job_id, tenant_id, host_id, ring, position, packages, state, detail, changes) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, '', '[]')",
            )
            .bind(id)
            .bind(new.tenant.0)
            .bind(host.0)
            .bind(i64::from(*ring))
            .bind(position as i64)
            .bind(serde_json::to_string(packages).unwrap_or_default())
            .bind(HostState::Waiting.as_str())
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        }
        let created = job_in(&mut tx.conn, scope, id).await?;
        tx.commit(&audited(audit, new.tenant, format!("patch_job:{id}"))).await?;
        Ok(created)
    }

    async fn patch_jobs(&self, scope: &TenantScope, tenant: Option<TenantId>) -> Result<Vec<PatchJob>> {
        let mut filter = scope_sql("j.tenant_id", scope);
        if let Some(t) = tenant {
            filter.push_str(&format!(" AND j.tenant_id = {}", t.0));
        }
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM patch_jobs j JOIN tenants t ON t.id = j.tenant_id WHERE 1 = 1{filter} \
             ORDER BY j.id DESC LIMIT 500"
        );
        let mut tx = self.read(scope).await?;
        let rows = sqlx::query(&sql).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        rows.iter().map(job).collect()
    }

    async fn patch_job(&self, scope: &TenantScope, id: i64) -> Result<(PatchJob, Vec<PatchJobHost>)> {
        let mut tx = self.read(scope).await?;
        let j = job_in(&mut tx.conn, scope, id).await?;
        let hosts = hosts_of(&mut tx.conn, id).await?;
        tx.finish().await?;
        Ok((j, hosts))
    }

    async fn order_patch_job(
        &self,
        scope: &TenantScope,
        id: i64,
        order: &PatchOrder,
        audit: &AuditDraft,
    ) -> Result<PatchJob> {
        let mut tx = self.write(scope).await?;
        let before = job_in(&mut tx.conn, scope, id).await?;
        if before.state != JobState::AwaitingOrder {
            return Err(StoreError::Conflict("job_state"));
        }
        sqlx::query(
            "UPDATE patch_jobs SET state = $1, ordered_user = $2, ordered_by = $3, ordered_at = $4, ordered_from = $5, \
             appointment_at = COALESCE($6, appointment_at) WHERE id = $7",
        )
        .bind(JobState::Ordered.as_str())
        .bind(order.user.0)
        .bind(&order.name)
        .bind(ms(order.at))
        .bind(&order.source)
        .bind(order.appointment.map(ms))
        .bind(id)
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        let after = job_in(&mut tx.conn, scope, id).await?;
        tx.commit(&audited(audit, before.tenant, format!("patch_job:{id}"))).await?;
        Ok(after)
    }

    async fn cancel_patch_job(
        &self,
        scope: &TenantScope,
        id: i64,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<PatchJob> {
        let mut tx = self.write(scope).await?;
        let before = job_in(&mut tx.conn, scope, id).await?;
        if before.state.is_final() {
            return Err(StoreError::Conflict("job_state"));
        }
        sqlx::query("UPDATE patch_job_hosts SET state = 'skipped' WHERE job_id = $1 AND state = 'waiting'")
            .bind(id)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        sqlx::query("UPDATE patch_jobs SET state = $1, finished_at = $2 WHERE id = $3")
            .bind(JobState::Cancelled.as_str())
            .bind(ms(at))
            .bind(id)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        let after = job_in(&mut tx.conn, scope, id).await?;
        tx.commit(&audited(audit, before.tenant, format!("patch_job:{id}"))).await?;
        Ok(after)
    }

    async fn active_patch_jobs(&self) -> Result<Vec<ActiveJob>> {
        let scope = TenantScope::All;
        let mut tx = self.read(&scope).await?;
        let sql = format!(
            "SELECT {JOB_COLUMNS}, COALESCE(s.maintenance_window, ''), t.time_zone FROM patch_jobs j \
             JOIN tenants t ON t.id = j.tenant_id LEFT JOIN patch_settings s ON s.tenant_id = j.tenant_id \
             WHERE j.state IN ('ordered', 'running') ORDER BY j.id"
        );
        let rows = sqlx::query(&sql).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let j = job(row)?;
            let hosts = hosts_of(&mut tx.conn, j.id).await?;
            out.push(ActiveJob {
                window: row.try_get(16).map_err(map_err)?,
                time_zone: row.try_get(17).map_err(map_err)?,
                job: j,
                hosts,
            });
        }
        tx.finish().await?;
        Ok(out)
    }

    async fn advance_patch_job(&self, step: &JobAdvance, audits: &[AuditDraft]) -> Result<bool> {
        let mut tx = self.write(&TenantScope::All).await?;
        // The job's row first: on PostgreSQL a second replica planning the
        // same step waits here for the first one's commit, then finds the
        // job moved on (or its hosts, below) and stores nothing.
        let job = sqlx::query(
            "UPDATE patch_jobs SET state = COALESCE($1, state), finished_at = COALESCE($2, finished_at) \
             WHERE id = $3 AND state = $4",
        )
        .bind(step.state.map(|s| s.as_str()))
        .bind(step.state.filter(|s| s.is_final()).map(|_| ms(step.at)))
        .bind(step.job)
        .bind(step.from.as_str())
        .execute(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        let mut still = job.rows_affected() == 1;
        for id in &step.send {
            if !still {
                break;
            }
            let sent = sqlx::query(
                "UPDATE patch_job_hosts SET state = 'sent', sent_at = $1, not_after = $2 \
                 WHERE id = $3 AND job_id = $4 AND state = 'waiting'",
            )
            .bind(ms(step.at))
            .bind(step.not_after.map(ms))
            .bind(id)
            .bind(step.job)
            .execute(&mut *tx.conn)
            .await
            .map_err(map_err)?;
            still = sent.rows_affected() == 1;
        }
        still = still && set_hosts(&mut tx.conn, step.job, &step.no_answer, "sent", HostState::NoAnswer).await?;
        still = still && set_hosts(&mut tx.conn, step.job, &step.skip, "waiting", HostState::Skipped).await?;
        if !still {
            tx.abandon().await?;
            return Ok(false);
        }
        let Some((last, rest)) = audits.split_last() else { return tx.finish().await.map(|_| true) };
        for a in rest {
            tx.audit(a).await?;
        }
        tx.commit(last).await.map(|_| true)
    }

    async fn pending_actions(&self, host: HostId, now: Timestamp) -> Result<Vec<PendingAction>> {
        let mut tx = self.read(&TenantScope::All).await?;
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT p.id, p.packages, p.not_after FROM patch_job_hosts p JOIN patch_jobs j ON j.id = p.job_id \
             WHERE p.host_id = $1 AND p.state = 'sent' AND p.not_after >= $2 AND j.state = 'running' ORDER BY p.id",
        )
        .bind(host.0)
        .bind(ms(now))
        .fetch_all(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        tx.finish().await?;
        Ok(rows
            .into_iter()
            .map(|(id, packages, not_after)| PendingAction {
                id,
                host,
                packages: list(&packages),
                not_after: ts(not_after),
            })
            .collect())
    }
}
