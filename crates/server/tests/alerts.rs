//! Alarm rules and alerts (issue 6, first part): every tenant has the
//! default rules; system and change events raise alerts grouped per rule
//! and host; people move them through the lifecycle, audited.

mod common;

use common::TestApp;
use leitstand_domain::alert::{AlertAction, AlertState, Severity};
use leitstand_proto::{Batch, Record, Sequenced, SystemEvent};
use leitstand_store::AlertQuery;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_raise_one_alert_that_counts_and_can_be_acknowledged() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Kunde A").await;
    let rules = app.services.alert_rules(&admin, tenant).await.expect("rules");
    assert_eq!(rules.len(), 20, "a new tenant has the default rules");
    assert_eq!(app.services.ensure_default_rules(tenant).await.expect("again"), 0);

    let (id, _) = app.host(&admin, tenant, "web-01").await;
    let host = app.store.host_for_agent(leitstand_domain::HostId(id)).await.expect("host");
    let now = app.now().as_millisecond();
    let invalid = |n: i64| SystemEvent {
        at_ms: now + n,
        kind: "auth.invalid_user".into(),
        service: "sshd".into(),
        user: format!("admin{n}"),
        source: "203.0.113.5".into(),
        ..SystemEvent::default()
    };
    let record = Record::Events { events: vec![invalid(1), invalid(2), invalid(3)] };
    app.services.ingest_batch(&host, Batch::new(vec![Sequenced { seq: 1, record }]), None).await.expect("ingest");

    let alerts = app.services.alerts(&admin, Some(tenant), AlertQuery::default()).await.expect("alerts");
    assert_eq!(alerts.len(), 1, "grouped per rule and host");
    let a = &alerts[0];
    assert_eq!((a.severity, a.count, a.state, a.host), (Severity::Medium, 3, AlertState::Open, Some(host.id)));
    assert!(a.detail.contains("admin3"), "the newest occurrence: {}", a.detail);

    let acked = app.services.act_on_alert(&admin, a.id, AlertAction::Acknowledge).await.expect("acknowledge");
    assert_eq!(acked.state, AlertState::Acknowledged);
    let again = app.services.act_on_alert(&admin, a.id, AlertAction::Acknowledge).await;
    assert!(again.is_err_and(|e| e.to_string().contains("already acknowledged")));
    app.user(&admin, tenant, "leser", "customer_member").await;
    let reader = app.actor("leser").await;
    assert!(app.services.act_on_alert(&reader, a.id, AlertAction::Resolve).await.is_err(), "members only read");
    assert_eq!(app.services.alerts(&reader, None, AlertQuery::default()).await.expect("read").len(), 1);

    let filter = leitstand_store::AuditFilter { action: Some("alert.".into()), limit: 10, ..Default::default() };
    let audit = app.store.audit_entries(&leitstand_store::TenantScope::All, &filter).await.expect("audit");
    assert_eq!(audit.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["alert.acknowledge"]);
    assert_eq!(audit[0].target, format!("alert:{}", a.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_host_raises_a_host_down_alarm_that_resolves_when_it_is_heard() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Kunde A").await;
    let (id, _) = app.host(&admin, tenant, "db-01").await;
    let host = app.store.host_for_agent(leitstand_domain::HostId(id)).await.expect("host");
    let heartbeat = |seq: u64| {
        let record = Record::Heartbeat { at_ms: app.now().as_millisecond() };
        Batch::new(vec![Sequenced { seq, record }])
    };
    app.services.ingest_batch(&host, heartbeat(1), None).await.expect("heard");
    app.clock.advance(jiff::SignedDuration::from_secs(120));
    assert_eq!(app.services.sweep_hosts().await.expect("sweep").len(), 1, "down");
    let alerts = app.services.alerts(&admin, Some(tenant), AlertQuery::default()).await.expect("alerts");
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0].severity, alerts[0].state), (Severity::High, AlertState::Open));
    app.services.ingest_batch(&host, heartbeat(2), None).await.expect("heard again");
    let q = AlertQuery { states: vec![AlertState::Resolved], ..AlertQuery::default() };
    let resolved = app.services.alerts(&admin, Some(tenant), q).await.expect("alerts");
    assert_eq!(resolved.len(), 1, "resolved when heard");
    assert!(resolved[0].resolved_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_rule_is_refused_with_what_is_wrong_and_a_valid_one_is_added() {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Kunde A").await;
    let token = app.token("admin").await;
    let post = |body: serde_json::Value| {
        app.api()
            .post(app.at(&format!("/api/v1/tenants/{}/alert-rules", tenant.0)))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let rule = |recover: f64| {
        serde_json::json!({ "name": "Backup-Platte", "severity": "high", "rule": { "kind": "threshold",
            "metric": "fs_used_percent", "labels": { "mount": "/backup" }, "direction": "above",
            "value": 90.0, "for_secs": 300, "recover": recover } })
    };
    let refused = post(rule(95.0)).await.expect("send");
    assert!(refused.status().is_client_error());
    let text = refused.text().await.expect("body");
    assert!(text.contains("recover 95 must be at or below the threshold 90"), "{text}");
    let bad_kind =
        post(serde_json::json!({ "name": "x", "severity": "low", "rule": { "kind": "event", "kinds": [] } }));
    assert!(bad_kind.await.expect("send").text().await.expect("body").contains("at least one event kind"));
    let before = app.services.alert_rules(&admin, tenant).await.expect("rules").len();
    let made = post(rule(85.0)).await.expect("send");
    assert!(made.status().is_success());
    assert_eq!(app.services.alert_rules(&admin, tenant).await.expect("rules").len(), before + 1);
}
