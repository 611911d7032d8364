//! Host inventories: applying snapshots and deltas inside the ingest
//! transaction (with the change events they make), and reading them back.

use crate::hosts::{insert_event, like_pattern};
use crate::{map_err, ms, ts, tx::scope_sql, SqlStore};
use async_trait::async_trait;
use leitstand_domain::{HostId, TenantId};
use leitstand_proto::inventory::{changes, Item, SectionReport};
use leitstand_store::{
    ChecklistUpdate, EventPage, EventQuery, HostChecklist, HostEvent, InventoryEntry, InventoryPage, InventoryQuery,
    InventorySearch, InventoryStore, InventoryUpdate, Result, SectionStatus, StoredCheck, TenantScope,
};
use sqlx::AnyConnection;
use std::collections::HashMap;

/// Keys per `IN (…)` list.
const KEYS_PER_STATEMENT: usize = 500;

/// Applies one inventory record of a host. Change events are made only
/// against a section the server already had: the first report of a section
/// is its baseline, not a flood of "installed" events.
pub(crate) async fn apply(
    conn: &mut AnyConnection,
    tenant: i64,
    host: i64,
    upd: &InventoryUpdate,
    emitted: &mut Vec<(i64, String, String)>,
) -> Result<()> {
    let at = ms(upd.at);
    for r in &upd.reports {
        let section = r.section.as_str();
        let known: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT updated_at FROM inventory_sections WHERE host_id = $1 AND section = $2")
                .bind(host)
                .bind(section)
                .fetch_optional(&mut *conn)
                .await
                .map_err(map_err)?;
        if let Some(error) = &r.error {
            sqlx::query(
                "INSERT INTO inventory_sections (tenant_id, host_id, section, error, error_at, truncated) \
                 VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (host_id, section) \
                 DO UPDATE SET error = excluded.error, error_at = excluded.error_at",
            )
            .bind(tenant)
            .bind(host)
            .bind(section)
            .bind(error.as_str())
            .bind(at)
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
            continue;
        }
        let baseline = known.and_then(|k| k.0).is_none();
        apply_report(conn, tenant, host, at, r, baseline, emitted).await?;
        // The OS the agent reads now replaces the one named at enrollment.
        for item in &r.items {
            if let leitstand_proto::inventory::Item::System(f) = item {
                if !f.os.is_empty() {
                    sqlx::query("UPDATE hosts SET os = $1 WHERE id = $2 AND os <> $1")
                        .bind(&f.os)
                        .bind(host)
                        .execute(&mut *conn)
                        .await
                        .map_err(map_err)?;
                }
            }
        }
        sqlx::query(
            "INSERT INTO inventory_sections (tenant_id, host_id, section, updated_at, truncated) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (host_id, section) \
             DO UPDATE SET updated_at = excluded.updated_at, truncated = excluded.truncated, error = NULL, error_at = NULL",
        )
        .bind(tenant)
        .bind(host)
        .bind(section)
        .bind(at)
        .bind(r.truncated as i64)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    }
    Ok(())
}

async fn apply_report(
    conn: &mut AnyConnection,
    tenant: i64,
    host: i64,
    at: i64,
    r: &SectionReport,
    baseline: bool,
    emitted: &mut Vec<(i64, String, String)>,
) -> Result<()> {
    let section = r.section.as_str();
    let current: HashMap<String, String> =
        sqlx::query_as("SELECT item_key, data FROM inventory_items WHERE host_id = $1 AND section = $2")
            .bind(host)
            .bind(section)
            .fetch_all(&mut *conn)
            .await
            .map_err(map_err)?
            .into_iter()
            .collect();
    let mut events: Vec<(&'static str, String)> = vec![];
    let mut note = |old: Option<&str>, new: Option<&Item>| {
        if baseline {
            return;
        }
        let old: Option<Item> = old.and_then(|o| serde_json::from_str(o).ok());
        for c in changes(old.as_ref(), new) {
            events.push((c.kind, c.detail.to_string()));
        }
    };
    let mut unchanged = vec![];
    for item in &r.items {
        let key = item.key();
        let data = serde_json::to_string(item).map_err(|e| leitstand_store::StoreError::Backend(e.to_string()))?;
        let old = current.get(&key);
        if old == Some(&data) {
            unchanged.push(key);
            continue;
        }
        note(old.map(String::as_str), Some(item));
        let port = match item {
            Item::Listener(l) => i64::from(l.port),
            _ => -1,
        };
        sqlx::query(
            "INSERT INTO inventory_items (tenant_id, host_id, section, item_key, name, port, data, seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (host_id, section, item_key) \
             DO UPDATE SET name = excluded.name, port = excluded.port, data = excluded.data, seen_at = excluded.seen_at",
        )
        .bind(tenant)
        .bind(host)
        .bind(section)
        .bind(&key)
        .bind(item.name().to_lowercase())
        .bind(port)
        .bind(&data)
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    }
    if r.full {
        // Unchanged items were seen by this snapshot too.
        for keys in unchanged.chunks(KEYS_PER_STATEMENT) {
            let list = (0..keys.len()).map(|i| format!("${}", i + 4)).collect::<Vec<_>>().join(",");
            let sql = format!(
                "UPDATE inventory_items SET seen_at = $1 WHERE host_id = $2 AND section = $3 AND item_key IN ({list})"
            );
            let q = sqlx::query(&sql).bind(at).bind(host).bind(section);
            keys.iter().fold(q, |q, k| q.bind(k)).execute(&mut *conn).await.map_err(map_err)?;
        }
    }
    let mut gone: Vec<&str> = r.removed.iter().map(String::as_str).filter(|k| current.contains_key(*k)).collect();
    if r.full && !r.more {
        // The last part of a snapshot: what it did not contain is gone.
        let stale: Vec<(String,)> =
            sqlx::query_as("SELECT item_key FROM inventory_items WHERE host_id = $1 AND section = $2 AND seen_at < $3")
                .bind(host)
                .bind(section)
                .bind(at)
                .fetch_all(&mut *conn)
                .await
                .map_err(map_err)?;
        for (k,) in stale {
            if let Some((key, _)) = current.get_key_value(&k) {
                gone.push(key.as_str());
            }
        }
    }
    for key in &gone {
        note(current.get(*key).map(String::as_str), None);
    }
    for keys in gone.chunks(KEYS_PER_STATEMENT) {
        let list = (0..keys.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(",");
        let sql = format!("DELETE FROM inventory_items WHERE host_id = $1 AND section = $2 AND item_key IN ({list})");
        let q = sqlx::query(&sql).bind(host).bind(section);
        keys.iter().fold(q, |q, k| q.bind(*k)).execute(&mut *conn).await.map_err(map_err)?;
    }
    for (kind, detail) in events {
        insert_event(conn, tenant, host, at, kind, &detail).await?;
        emitted.push((at, kind.to_owned(), detail));
    }
    Ok(())
}

/// Replaces a host's checklist results with the newest ones.
pub(crate) async fn replace_checklist(
    conn: &mut AnyConnection,
    tenant: i64,
    host: i64,
    c: &ChecklistUpdate,
) -> Result<()> {
    sqlx::query("DELETE FROM checklist_results WHERE host_id = $1")
        .bind(host)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    for r in &c.results {
        sqlx::query(
            "INSERT INTO checklist_results (tenant_id, host_id, check_id, result, evidence, checked_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant)
        .bind(host)
        .bind(&r.id)
        .bind(&r.result)
        .bind(&r.evidence)
        .bind(ms(c.at))
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    }
    Ok(())
}

/// A `host_events` row: host, tenant, at, kind, detail.
pub(crate) fn host_event((h, t, at, kind, detail): (i64, i64, i64, String, String)) -> HostEvent {
    HostEvent { host: HostId(h), tenant: TenantId(t), at: ts(at), kind, detail }
}

fn entry((host, host_name, key, data): (i64, String, String, String)) -> InventoryEntry {
    InventoryEntry { host: HostId(host), host_name, key, data }
}

#[async_trait]
impl InventoryStore for SqlStore {
    async fn inventory_page(&self, scope: &TenantScope, host: HostId, q: &InventoryQuery) -> Result<InventoryPage> {
        let mut filter = scope_sql("i.tenant_id", scope);
        let pattern = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(like_pattern);
        if pattern.is_some() {
            filter.push_str(" AND (i.name LIKE $3 ESCAPE '\\' OR LOWER(i.item_key) LIKE $3 ESCAPE '\\')");
        } else {
            filter.push_str(" AND $3 = ''");
        }
        let pattern = pattern.unwrap_or_default();
        let mut tx = self.read(scope).await?;
        let (total,): (i64,) = sqlx::query_as(&format!(
            "SELECT COUNT(*) FROM inventory_items i WHERE i.host_id = $1 AND i.section = $2{filter}"
        ))
        .bind(host.0)
        .bind(&q.section)
        .bind(&pattern)
        .fetch_one(&mut *tx.conn)
        .await
        .map_err(map_err)?;
        let limit = if q.per_page == u32::MAX {
            String::new()
        } else {
            let per_page = q.per_page.clamp(1, 1000);
            format!(" LIMIT {per_page} OFFSET {}", u64::from(q.page) * u64::from(per_page))
        };
        let sql = format!(
            "SELECT i.host_id, h.name, i.item_key, i.data FROM inventory_items i JOIN hosts h ON h.id = i.host_id \
             WHERE i.host_id = $1 AND i.section = $2{filter} ORDER BY i.name, i.item_key{limit}"
        );
        let found: Vec<(i64, String, String, String)> = sqlx::query_as(&sql)
            .bind(host.0)
            .bind(&q.section)
            .bind(&pattern)
            .fetch_all(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        tx.finish().await?;
        Ok(InventoryPage { total: total as u64, items: found.into_iter().map(entry).collect() })
    }

    async fn inventory_sections(&self, scope: &TenantScope, host: HostId) -> Result<Vec<SectionStatus>> {
        let mut tx = self.read(scope).await?;
        let sql = format!(
            "SELECT s.section, s.updated_at, s.error, s.error_at, s.truncated, \
             (SELECT COUNT(*) FROM inventory_items i WHERE i.host_id = s.host_id AND i.section = s.section) \
             FROM inventory_sections s WHERE s.host_id = $1{} ORDER BY s.section",
            scope_sql("s.tenant_id", scope)
        );
        type Row = (String, Option<i64>, Option<String>, Option<i64>, i64, i64);
        let found: Vec<Row> = sqlx::query_as(&sql).bind(host.0).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        Ok(found
            .into_iter()
            .map(|(section, updated_at, error, error_at, truncated, items)| SectionStatus {
                section,
                updated_at: updated_at.map(ts),
                error,
                error_at: error_at.map(ts),
                truncated: truncated as u64,
                items: items as u64,
            })
            .collect())
    }

    async fn find_inventory(&self, scope: &TenantScope, q: &InventorySearch) -> Result<Vec<InventoryEntry>> {
        let (cond, value) = match (&q.name, q.port) {
            (_, Some(port)) => ("i.port = CAST($2 AS BIGINT)", i64::from(port).to_string()),
            (Some(name), None) => ("i.name = $2", name.to_lowercase()),
            (None, None) => ("$2 = ''", String::new()),
        };
        let sql = format!(
            "SELECT i.host_id, h.name, i.item_key, i.data FROM inventory_items i JOIN hosts h ON h.id = i.host_id \
             WHERE i.section = $1 AND {cond}{} ORDER BY LOWER(h.name), h.id, i.item_key LIMIT {}",
            scope_sql("i.tenant_id", scope),
            q.limit.clamp(1, 100_000)
        );
        let mut tx = self.read(scope).await?;
        let found: Vec<(i64, String, String, String)> =
            sqlx::query_as(&sql).bind(&q.section).bind(&value).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        Ok(found.into_iter().map(entry).collect())
    }

    async fn checklist(&self, scope: &TenantScope, host: HostId) -> Result<Vec<StoredCheck>> {
        let mut tx = self.read(scope).await?;
        let sql = format!(
            "SELECT check_id, result, evidence, checked_at FROM checklist_results WHERE host_id = $1{} ORDER BY check_id",
            scope_sql("tenant_id", scope)
        );
        let found: Vec<(String, String, String, i64)> =
            sqlx::query_as(&sql).bind(host.0).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        Ok(found
            .into_iter()
            .map(|(id, result, evidence, at)| StoredCheck { id, result, evidence, checked_at: ts(at) })
            .collect())
    }

    async fn checklist_counts(&self, scope: &TenantScope) -> Result<Vec<HostChecklist>> {
        let n = |r: &str| format!("COALESCE(SUM(CASE WHEN c.result = '{r}' THEN 1 ELSE 0 END), 0)");
        let sql = format!(
            "SELECT c.host_id, h.name, c.tenant_id, {}, {}, {}, {}, MAX(c.checked_at) \
             FROM checklist_results c JOIN hosts h ON h.id = c.host_id WHERE 1 = 1{} \
             GROUP BY c.host_id, h.name, c.tenant_id ORDER BY LOWER(h.name), c.host_id",
            n("pass"),
            n("fail"),
            n("not_applicable"),
            n("error"),
            scope_sql("c.tenant_id", scope)
        );
        let mut tx = self.read(scope).await?;
        type Row = (i64, String, i64, i64, i64, i64, i64, i64);
        let found: Vec<Row> = sqlx::query_as(&sql).fetch_all(&mut *tx.conn).await.map_err(map_err)?;
        tx.finish().await?;
        Ok(found
            .into_iter()
            .map(|(host, host_name, tenant, pass, fail, na, error, at)| HostChecklist {
                host: HostId(host),
                host_name,
                tenant: TenantId(tenant),
                pass: pass as u64,
                fail: fail as u64,
                not_applicable: na as u64,
                error: error as u64,
                checked_at: ts(at),
            })
            .collect())
    }

    async fn events_page(&self, scope: &TenantScope, q: &EventQuery) -> Result<EventPage> {
        // Numbers are formatted in; texts are bound as $1, $2, …
        let mut filter = scope_sql("tenant_id", scope);
        if let Some(h) = q.host {
            filter.push_str(&format!(" AND host_id = {}", h.0));
        }
        if let Some(s) = q.since {
            filter.push_str(&format!(" AND at >= {}", ms(s)));
        }
        if let Some(u) = q.until {
            filter.push_str(&format!(" AND at < {}", ms(u)));
        }
        let mut texts = vec![];
        if !q.kinds.is_empty() {
            let mut alts = vec![];
            for k in &q.kinds {
                texts.push(if k.ends_with('.') { format!("{k}%") } else { k.clone() });
                alts.push(format!("kind LIKE ${}", texts.len()));
            }
            filter.push_str(&format!(" AND ({})", alts.join(" OR ")));
        }
        let mut tx = self.read(scope).await?;
        let count = format!("SELECT COUNT(*) FROM host_events WHERE 1 = 1{filter}");
        let (total,): (i64,) = texts
            .iter()
            .fold(sqlx::query_as(&count), |q, t| q.bind(t))
            .fetch_one(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        let per_page = q.per_page.clamp(1, 1000);
        let sql = format!(
            "SELECT host_id, tenant_id, at, kind, detail FROM host_events WHERE 1 = 1{filter} \
             ORDER BY at DESC, id DESC LIMIT {per_page} OFFSET {}",
            u64::from(q.page) * u64::from(per_page)
        );
        let found: Vec<(i64, i64, i64, String, String)> = texts
            .iter()
            .fold(sqlx::query_as(&sql), |q, t| q.bind(t))
            .fetch_all(&mut *tx.conn)
            .await
            .map_err(map_err)?;
        tx.finish().await?;
        Ok(EventPage { total: total as u64, events: found.into_iter().map(host_event).collect() })
    }
}
