//! The conformance suite on PostgreSQL, plus row-level security as the second wall.

use leitstand_store::conformance::new_tenant;
use leitstand_store::{TenantScope, TenantStore};
use leitstand_store_postgres::testing::TestDb;

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    let Some(db) = TestDb::create().await else { return };
    let store = leitstand_store_postgres::open(&db.url).await.expect("open");
    leitstand_store::conformance::run(&store).await;
    store.pool().close().await;
}

#[tokio::test]
async fn row_level_security_hides_rows_outside_the_scope() {
    let Some(db) = TestDb::create().await else { return };
    let store = leitstand_store_postgres::open(&db.url).await.expect("open");
    let draft = leitstand_store::conformance::draft("tenant.create", None);
    let a = store.create_tenant(&new_tenant("Kunde A"), &draft).await.expect("a");
    store.create_tenant(&new_tenant("Kunde B"), &draft).await.expect("b");
    assert_eq!(store.tenants(&TenantScope::All).await.expect("all").len(), 2);

    // A query that forgets the scope sees nothing: no setting, no rows.
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tenants").fetch_one(store.pool()).await.expect("count");
    assert_eq!(n, 0, "without a scope, row-level security must hide every tenant");

    // A query that forgets its WHERE clause still sees only its scope.
    let mut tx = store.pool().begin().await.expect("begin");
    sqlx::query("SELECT set_config('leitstand.scope', $1, true)")
        .bind(a.id.0.to_string())
        .execute(&mut *tx)
        .await
        .expect("scope");
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tenants").fetch_one(&mut *tx).await.expect("count");
    assert_eq!(n, 1);
    // And the server role cannot rewrite history.
    let del = sqlx::query("DELETE FROM audit_log").execute(&mut *tx).await;
    assert!(del.is_err(), "the server role must not delete audit entries");
    drop(tx);

    let (owner,): (String,) = sqlx::query_as("SELECT current_user::text").fetch_one(store.pool()).await.expect("role");
    assert_eq!(owner, leitstand_store_postgres::APP_ROLE);
    store.pool().close().await;
}
