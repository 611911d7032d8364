//! The conformance suite on SQLite, plus SQLite's own promises.

use leitstand_store::conformance::new_tenant;
use leitstand_store::{AuditDraft, Store, TenantStore};

fn draft() -> AuditDraft {
    leitstand_store::conformance::draft("tenant.create", None)
}

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = leitstand_store_sqlite::open_dir(dir.path()).await.expect("open");
    leitstand_store::conformance::run(&store).await;
}

#[tokio::test]
async fn sqlite_runs_in_wal_with_full_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = leitstand_store_sqlite::open_dir(dir.path()).await.expect("open");
    assert_eq!(leitstand_store_sqlite::pragma(&store, "journal_mode").await.expect("pragma"), "wal");
    // FULL is 2.
    assert_eq!(leitstand_store_sqlite::pragma(&store, "synchronous").await.expect("pragma"), "2");
    assert_eq!(store.backend(), "sqlite");
}

#[tokio::test]
async fn reopening_keeps_data_and_applies_no_migration_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = leitstand_store_sqlite::open_dir(dir.path()).await.expect("open");
    store.create_tenant(&new_tenant("Kunde A"), &draft()).await.expect("tenant");
    drop(store);
    let store = leitstand_store_sqlite::open_dir(dir.path()).await.expect("reopen");
    let all = store.tenants(&leitstand_store::TenantScope::All).await.expect("list");
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn a_change_whose_audit_entry_fails_does_not_happen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = leitstand_store_sqlite::open_dir(dir.path()).await.expect("open");
    // Break the audit log the way a full disk or a damaged table would.
    sqlx::raw_sql("DROP TABLE audit_head").execute(store.pool()).await.expect("drop");
    assert!(store.create_tenant(&new_tenant("Kunde A"), &draft()).await.is_err());
    let all = store.tenants(&leitstand_store::TenantScope::All).await.expect("list");
    assert!(all.is_empty(), "the tenant must not exist without its audit entry");
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = leitstand_store_sqlite::open_dir(dir.path()).await.expect("open");
    store.create_tenant(&new_tenant("Kunde A"), &draft()).await.expect("tenant");
    for sql in ["UPDATE audit_log SET actor_name = 'x'", "DELETE FROM audit_log"] {
        let err = sqlx::query(sql).execute(store.pool()).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{err}");
    }
}
