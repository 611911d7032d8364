//! The audit log: every change is recorded with who, what, when, where and
//! for which tenant; `leitstand audit verify` finds a changed or removed entry.

mod common;

use common::{world, TestApp};
use std::process::Command;

#[tokio::test]
async fn changes_and_sign_ins_are_audited_with_actor_tenant_and_source() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let c = app.sign_in("admin").await;
    let csrf = common::csrf_of(&c, &app.at("/app")).await;
    c.post(app.at(&format!("/app/tenants/{}/plan", w.a.0)))
        .form(&[("security", "professional"), ("soc", "3"), ("_csrf", &csrf)])
        .send()
        .await
        .expect("post");
    let t = app.token("admin").await;
    let audit: serde_json::Value =
        app.get_json(&t, &format!("/api/v1/audit?tenant={}&action=tenant.plan", w.a.0)).await;
    let e = &audit["entries"][0];
    assert_eq!(e["action"], "tenant.plan_change");
    assert_eq!(e["actor_name"], "admin");
    assert_eq!(e["tenant"], w.a.0);
    assert_eq!(e["source"], "127.0.0.1");
    assert!(e["detail"].as_str().expect("detail").contains("professional"));
    // The CSV export carries the same entries.
    let csv = c.get(app.at("/app/audit.csv?action=auth.")).send().await.expect("csv");
    assert!(csv.headers()["content-type"].to_str().expect("type").starts_with("text/csv"));
    let text = csv.text().await.expect("body");
    assert!(text.starts_with("seq,time_utc,actor"));
    assert!(text.contains("\"auth.sign_in\""));
    // The customer sees its own audit trail only.
    let anna = app.sign_in("anna").await;
    let page = anna.get(app.at("/app/audit")).send().await.expect("get").text().await.expect("html");
    assert!(page.contains("tenant.plan_change"));
    let csv = anna.get(app.at("/app/audit.csv")).send().await.expect("get").text().await.expect("body");
    assert!(!csv.contains(&format!(",\"{}\",", w.b.0)), "no entry of tenant B");
    // The provider admin checks the chain from the API and from the settings page.
    let chain = app.get_json(&t, "/api/v1/audit/verify").await;
    assert_eq!(chain["intact"], true);
    assert!(chain["entries"].as_u64().expect("entries") > 20);
    let page = c.get(app.at("/app/settings?verify=1")).send().await.expect("get").text().await.expect("html");
    assert!(page.contains("Die Kette ist vollständig und unverändert"));
}

fn leitstand(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_leitstand"))
        .args(args)
        .arg("--data")
        .arg(dir)
        .env_remove("LEITSTAND_DATABASE")
        .output()
        .expect("run leitstand")
}

#[tokio::test]
async fn audit_verify_detects_changed_and_removed_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // Set up through the command line, as an operator would.
    let out = leitstand(d, &["migrate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    {
        let store = leitstand_store_sqlite::open_dir(d).await.expect("open");
        let services = leitstand_service::Services::new(
            std::sync::Arc::new(store),
            std::sync::Arc::new(leitstand_domain::SystemClock),
            leitstand_service::SecretKey::generate(),
            Default::default(),
        );
        services.bootstrap("Provider GmbH", "admin").await.expect("bootstrap");
    }
    for name in ["Kunde A", "Kunde B", "Kunde C"] {
        let out = leitstand(d, &["admin", "tenant", "create", name, "--plan", "advanced"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = leitstand(d, &["admin", "user", "create", "anna", "--tenant", "Kunde A", "--role", "customer_admin"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("/invite/"), "the CLI prints a one-time link");
    let ok = leitstand(d, &["audit", "verify"]);
    assert!(ok.status.success());
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("intact: 6 entries"),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    // Someone with file access edits an entry (past the append-only triggers).
    let store = leitstand_store_sqlite::open_dir(d).await.expect("open");
    sqlx::raw_sql(
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; \
         UPDATE audit_log SET target = target || 'x' WHERE seq = 3;",
    )
    .execute(store.pool())
    .await
    .expect("tamper");
    let bad = leitstand(d, &["audit", "verify"]);
    assert_eq!(bad.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("entry 3: its content was changed"));

    // Put it back, then remove an entry instead.
    sqlx::raw_sql("UPDATE audit_log SET target = substr(target, 1, length(target) - 1) WHERE seq = 3;")
        .execute(store.pool())
        .await
        .expect("restore");
    assert!(leitstand(d, &["audit", "verify"]).status.success());
    sqlx::raw_sql("DELETE FROM audit_log WHERE seq = 2;").execute(store.pool()).await.expect("remove");
    let bad = leitstand(d, &["audit", "verify"]);
    assert_eq!(bad.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("entry 2 is missing"));
}
