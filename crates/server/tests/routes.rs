//! Deny by default and tenant isolation, for every route in the registry.
//! New routes join these tests automatically.

mod common;

use axum::http::Method;
use common::{csrf_of, world, Backend, TestApp, World, ROLE_USERS};
use leitstand_domain::{Permission, Role};
use leitstand_server::routes::{self, Kind};
use serde_json::json;

fn fill(path: &str, w: &World, own: bool) -> String {
    let (tenant, user, token, host, rule, alert, contact, source, finding, job) = if own {
        (w.a.0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    } else {
        (w.b.0, w.b_user.0, w.b_token_id, w.b_host, w.b_rule, w.b_alert, w.b_contact, w.b_source, w.b_finding, w.b_job)
    };
    let mut out = path.to_owned();
    for seg in path.split('/').filter(|s| s.starts_with('{')) {
        let v = match seg {
            "{tenant}" => tenant.to_string(),
            "{user}" => user.to_string(),
            "{token}" => token.to_string(),
            "{host}" => host.to_string(),
            "{file}" => "app.css".into(),
            "{code}" => "nonexistent".into(),
            "{section}" => "software".into(),
            "{rule}" => rule.to_string(),
            "{alert}" => alert.to_string(),
            "{contact}" => contact.to_string(),
            "{source}" => source.to_string(),
            "{finding}" => finding.to_string(),
            "{job}" => job.to_string(),
            // Provider-wide: no tenant owns one; an id that does not exist.
            "{indicator}" => "999999".into(),
            other => panic!("route {path}: the tests do not know the parameter {other}; add it here"),
        };
        out = out.replace(seg, &v);
    }
    out
}

/// A body that passes parsing, so the id check is what answers.
fn body_for(method: &Method, path: &str, w: &World) -> Option<serde_json::Value> {
    let b = match (method.as_str(), path) {
        ("PUT", "/api/v1/tenants/{tenant}/plan") => {
            json!({ "security": "advanced", "soc": "1", "managed_service": true })
        }
        ("PUT", "/api/v1/users/{user}/assignments") => json!({ "tenants": [w.a.0] }),
        ("POST", "/app/tenants/{tenant}/plan") => json!({ "security": "advanced", "soc": "1" }),
        ("POST", "/app/users/{user}/assignments") => json!({ "tenant": w.a.0.to_string() }),
        (
            "POST",
            "/api/v1/users/{user}/invitation" | "/api/v1/users/{user}/disable" | "/api/v1/users/{user}/enable",
        ) => {
            json!({})
        }
        (
            "POST",
            "/api/v1/hosts/{host}/revoke" | "/api/v1/hosts/{host}/approve" | "/api/v1/tenants/{tenant}/enroll-tokens",
        ) => {
            json!({})
        }
        ("PUT", "/api/v1/hosts/{host}/interval") => json!({ "interval_secs": 30 }),
        ("POST", "/api/v1/alerts/{alert}/acknowledge" | "/api/v1/alerts/{alert}/resolve") => json!({}),
        ("POST", "/api/v1/alerts/{alert}/mute") => json!({ "until": "2099-01-01T00:00:00Z" }),
        ("PUT", "/api/v1/alert-rules/{rule}") => json!({ "enabled": true, "notify": true }),
        ("PUT", "/api/v1/tenants/{tenant}/host-policy") => json!({ "interval_secs": 30, "require_approval": false }),
        ("POST", "/api/v1/hosts/{host}/metrics") => {
            json!({ "samples": [{ "name": "backup_age_seconds", "value": 1.0 }] })
        }
        ("POST", "/app/alerts/{alert}") => json!({ "action": "acknowledge" }),
        ("POST", "/app/alerts/{alert}/notes") => json!({ "text": "Hallo" }),
        ("POST", "/app/alerts/{alert}/assignee") => json!({ "user": "" }),
        ("POST", "/app/alert-rules/{rule}/edit") => rule_form(w),
        ("POST", "/app/notifications/contacts/{contact}") => contact_json(w),
        ("POST", "/api/v1/tenants/{tenant}/alert-rules") | ("PUT", "/api/v1/alert-rules/{rule}/definition") => {
            rule_json()
        }
        ("POST", "/api/v1/alerts/{alert}/comments" | "/api/v1/alerts/{alert}/provider-actions") => {
            json!({ "text": "Hallo" })
        }
        ("PUT", "/api/v1/alerts/{alert}/assignee") => json!({ "user": null }),
        ("PUT", "/api/v1/tenants/{tenant}/notify-policy") => {
            json!({ "quiet": null, "escalate_after_mins": 30, "unanswered_hours": 72 })
        }
        ("POST", "/api/v1/tenants/{tenant}/contacts") | ("PUT", "/api/v1/contacts/{contact}") => contact_json(w),
        ("POST", "/app/alert-rules/{rule}") => json!({ "tenant": w.a.0.to_string(), "enabled": "1" }),
        (
            "POST",
            "/app/alerts/{alert}/internal-notes"
            | "/app/alerts/{alert}/recommendation"
            | "/api/v1/alerts/{alert}/internal-notes"
            | "/api/v1/alerts/{alert}/recommendation",
        ) => json!({ "text": "Hallo" }),
        ("POST", "/api/v1/alerts/{alert}/triage") => json!({ "severity": "high" }),
        ("POST", "/app/soc/rules/{rule}") => json!({ "tenant": w.a.0.to_string(), "enabled": "1" }),
        ("POST", "/app/soc/sources/{source}") => source_json(w),
        ("POST", "/api/v1/tenants/{tenant}/syslog-sources")
        | ("PUT", "/api/v1/tenants/{tenant}/syslog-sources/{source}") => {
            json!({ "name": "Firewall", "address": "192.0.2.1" })
        }
        ("POST", "/api/v1/tenants/{tenant}/soc-rules") => json!({ "yaml": custom_sigma_rule() }),
        ("PUT", "/api/v1/tenants/{tenant}/soc-rules/{rule}") => json!({ "enabled": false }),
        ("PUT", "/api/v1/tenants/{tenant}/soc-retention") => json!({ "days": 30 }),
        ("PUT", "/api/v1/vulnerabilities/{finding}/acceptance") => {
            json!({ "reason": "isolated", "until": "2099-01-01" })
        }
        ("PUT", "/api/v1/tenants/{tenant}/vulnerability-threshold") => json!({ "min_score": "7.5" }),
        ("POST", "/app/vulnerabilities/{finding}/accept") => json!({ "reason": "isolated", "until": "2099-01-01" }),
        ("PUT", "/api/v1/tenants/{tenant}/maintenance-window") => json!({ "window": "Tue 22:00-02:00" }),
        ("POST", "/api/v1/patch-jobs/{job}/order" | "/api/v1/patch-jobs/{job}/cancel") => json!({}),
        ("POST", p) if p.starts_with("/app/") => json!({}),
        ("DELETE", _) => json!({}),
        _ => return None,
    };
    Some(b)
}

fn rule_json() -> serde_json::Value {
    json!({ "name": "Disk", "severity": "high", "rule": { "kind": "threshold", "metric": "fs_used_percent",
            "direction": "above", "value": 90.0, "for_secs": 60, "recover": 85.0 } })
}

/// The rule form as the web sends it (tenant A in the body).
fn rule_form(w: &World) -> serde_json::Value {
    json!({ "tenant": w.a.0.to_string(), "name": "Disk", "severity": "high", "kind": "threshold",
            "metric": "fs_used_percent", "direction": "above", "value": "90", "for_mins": "1", "recover": "85" })
}

fn source_json(w: &World) -> serde_json::Value {
    json!({ "tenant": w.a.0.to_string(), "name": "Firewall", "address": "192.0.2.1", "hostname": "", "enabled": "1" })
}

fn custom_sigma_rule() -> &'static str {
    "title: Backup user\nid: 6c1d2c52-8f1e-4d3a-9d0b-0c0ffee0aaaa\nlogsource:\n  product: linux\n\
     detection:\n  sel:\n    user.name: backup\n  condition: sel\nlevel: high\n"
}

fn contact_json(w: &World) -> serde_json::Value {
    json!({ "tenant": w.a.0.to_string(), "name": "Ops", "channel": "email", "address": "ops@example.org",
            "language": "de", "min_severity": "low", "level": 0 })
}

/// Who sends: a browser with its CSRF token, or a program with a token.
struct Caller {
    client: reqwest::Client,
    token: Option<String>,
    csrf: String,
}

impl Caller {
    fn anonymous(app: &TestApp) -> Caller {
        Caller { client: app.api(), token: None, csrf: String::new() }
    }

    async fn browser(app: &TestApp, name: &str) -> Caller {
        let client = app.sign_in(name).await;
        let csrf = csrf_of(&client, &app.at("/app")).await;
        Caller { client, token: None, csrf }
    }

    async fn program(app: &TestApp, name: &str) -> Caller {
        Caller { client: app.api(), token: Some(app.token(name).await), csrf: String::new() }
    }
}

async fn send(
    app: &TestApp,
    who: &Caller,
    kind: Kind,
    method: &Method,
    url: &str,
    body: Option<&serde_json::Value>,
) -> reqwest::Response {
    let (client, token, csrf) = (&who.client, who.token.as_deref(), who.csrf.as_str());
    let m = reqwest::Method::from_bytes(method.as_str().as_bytes()).expect("method");
    let mut req = client.request(m, app.at(url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if *method != Method::GET {
        match kind {
            Kind::Web => {
                let mut form: Vec<(String, String)> = vec![("_csrf".into(), csrf.into())];
                if let Some(serde_json::Value::Object(m)) = body {
                    for (k, v) in m {
                        form.push((k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)));
                    }
                }
                req = req.form(&form);
            }
            _ => {
                if let Some(b) = body {
                    req = req.json(b);
                }
            }
        }
    }
    req.send().await.expect("send")
}

#[tokio::test]
async fn every_route_denies_anonymous_callers_unless_public() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let nobody = Caller::anonymous(&app);
    for r in routes::all() {
        let url = fill(r.path, &w, true);
        let resp = send(&app, &nobody, r.kind, &r.method, &url, body_for(&r.method, r.path, &w).as_ref()).await;
        let status = resp.status().as_u16();
        if r.permission == Permission::Public {
            if r.method == Method::GET {
                assert!(![401, 403].contains(&status), "{} {} is public but answered {status}", r.method, r.path);
            }
            continue;
        }
        match r.kind {
            Kind::Web => {
                assert_eq!(status, 303, "{} {} must send anonymous people to sign in", r.method, r.path);
                let to = resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("");
                assert!(to.starts_with("/login"), "{} {} redirected to {to}", r.method, r.path);
            }
            _ => assert_eq!(status, 401, "{} {} must refuse anonymous callers", r.method, r.path),
        }
    }
}

#[tokio::test]
async fn every_route_refuses_roles_without_its_permission() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    for (role, name) in ROLE_USERS {
        let role = Role::parse(role).expect("role");
        let browser = Caller::browser(&app, name).await;
        let program = Caller::program(&app, name).await;
        for r in routes::all().into_iter().filter(|r| !r.permission.granted_to(role)) {
            let url = fill(r.path, &w, true);
            let body = body_for(&r.method, r.path, &w);
            let who = if r.kind == Kind::Web { &browser } else { &program };
            let resp = send(&app, who, r.kind, &r.method, &url, body.as_ref()).await;
            assert_eq!(resp.status(), 403, "{role:?} must get 403 from {} {}", r.method, r.path);
        }
    }
}

#[tokio::test]
async fn routes_are_registered_once_each() {
    let mut seen = std::collections::HashSet::new();
    for r in routes::all() {
        assert!(seen.insert((r.method.clone(), r.path)), "{} {} registered twice", r.method, r.path);
        assert!(!r.summary.is_empty(), "{} {} has no summary", r.method, r.path);
    }
}

#[tokio::test]
async fn a_route_outside_the_registry_is_refused() {
    // A handler wired past the registry still passes the gate, which knows
    // no permission for it and refuses.
    let app = TestApp::spawn().await;
    let state = leitstand_server::app::AppState::new(app.services.clone(), Default::default());
    let router = axum::Router::new()
        .route("/sneaky", axum::routing::get(|| async { "secret" }))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), leitstand_server::http::gate))
        .with_state(state);
    let resp = tower::ServiceExt::oneshot(
        router,
        axum::http::Request::builder().uri("/sneaky").body(axum::body::Body::empty()).expect("request"),
    )
    .await
    .expect("response");
    assert_eq!(resp.status(), 403);
}

async fn cross_tenant(app: TestApp) {
    let w = world(&app).await;
    // Customer admin of A, and a SOC analyst assigned to A only.
    for name in ["anna", "arne", "soc", "noc"] {
        let actor = app.actor(name).await;
        let role = actor.role();
        let browser = Caller::browser(&app, name).await;
        let program = Caller::program(&app, name).await;
        for r in routes::all().into_iter().filter(|r| r.path.contains('{') && r.permission != Permission::Public) {
            if r.path.contains("{file}") {
                continue;
            }
            let body = body_for(&r.method, r.path, &w);
            assert!(
                r.method == Method::GET || body.is_some(),
                "{} {}: add a sample body to the cross-tenant test",
                r.method,
                r.path
            );
            let url = fill(r.path, &w, false);
            let who = if r.kind == Kind::Web { &browser } else { &program };
            let resp = send(&app, who, r.kind, &r.method, &url, body.as_ref()).await;
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            let expected = if r.permission.granted_to(role) { 404 } else { 403 };
            assert_eq!(status, expected, "{name} ({role:?}) with tenant B's ids: {} {url}", r.method);
            assert!(!text.contains("Kunde B") && !text.contains("berta"), "{} {url} leaked tenant B data", r.method);
        }
    }
    // Nothing of B changed.
    let b = app.store.tenant(&leitstand_store::TenantScope::All, w.b).await.expect("b");
    assert_eq!(b.plan, Default::default());
    let berta = app.store.user_for_auth(w.b_user).await.expect("berta");
    assert!(!berta.disabled);
    assert_eq!(app.store.tokens(w.b_user).await.expect("tokens").len(), 2, "B's tokens are untouched");
    let host = app.store.host_for_agent(leitstand_domain::HostId(w.b_host)).await.expect("b host");
    assert!(!host.revoked, "B's host is untouched");
    let all = leitstand_store::TenantScope::All;
    let finding = app.store.vuln_finding(&all, w.b_finding, app.now()).await.expect("b finding");
    assert_eq!((finding.status.as_str(), finding.accepted_reason), ("open", None), "B's finding is untouched");
    assert_eq!(
        app.store.vuln_min_score(&all, w.b).await.expect("threshold"),
        leitstand_store::DEFAULT_MIN_SCORE_TENTHS
    );
    let (job, _) = app.store.patch_job(&all, w.b_job).await.expect("b job");
    assert_eq!((job.state, job.ordered_by), (leitstand_domain::patch::JobState::AwaitingOrder, None), "B's job");
    assert_eq!(app.store.patch_window(&all, w.b).await.expect("window"), "", "B's window is untouched");
}

#[tokio::test]
async fn no_route_lets_tenant_a_reach_tenant_b_on_sqlite() {
    cross_tenant(TestApp::spawn().await).await;
}

#[tokio::test]
async fn no_route_lets_tenant_a_reach_tenant_b_on_postgres() {
    let Some(app) = TestApp::spawn_on(Backend::Postgres).await else { return };
    cross_tenant(app).await;
}

#[tokio::test]
async fn lists_show_only_the_callers_tenants() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let token = app.token("anna").await;
    let tenants: serde_json::Value = app.get_json(&token, "/api/v1/tenants").await;
    assert_eq!(ids_of(&tenants), vec![w.a.0]);
    let users: serde_json::Value = app.get_json(&token, "/api/v1/users").await;
    assert!(users.as_array().expect("array").iter().all(|u| u["tenant"] == w.a.0));
    let audit: serde_json::Value = app.get_json(&token, "/api/v1/audit").await;
    assert!(audit["entries"].as_array().expect("array").iter().all(|e| e["tenant"] == w.a.0));
    let admin = app.token("admin").await;
    let all_alerts = app.get_json(&admin, "/api/v1/alerts").await;
    assert!(all_alerts.as_array().expect("array").iter().any(|x| x["tenant"] == w.b.0), "B has an alert");
    for list in ["/api/v1/alerts", "/api/v1/checklist", "/api/v1/inventory?port=22"] {
        let seen = app.get_json(&token, list).await;
        let rows = seen.as_array().cloned().or_else(|| seen["hosts"].as_array().cloned()).unwrap_or_default();
        assert!(rows.iter().all(|x| x["tenant"] != w.b.0 && x["host"] != w.b_host), "{list}: {seen}");
    }
    let findings = app.get_json(&token, "/api/v1/vulnerabilities?status=all").await;
    assert_eq!(findings["total"], 0, "A has no findings; B's stay hidden: {findings}");
    let all_findings = app.get_json(&admin, "/api/v1/vulnerabilities").await;
    assert_eq!(all_findings["total"], 1, "the provider sees B's finding");
    let hosts = app.get_json(&token, "/api/v1/vulnerabilities/hosts").await;
    assert!(hosts.as_array().expect("array").iter().all(|h| h["tenant"] != w.b.0), "{hosts}");
    let filtered = app
        .api()
        .get(app.at(&format!("/api/v1/users?tenant={}", w.b.0)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(filtered.status(), 404);
    let soc = app.token("soc").await;
    let seen: serde_json::Value = app.get_json(&soc, "/api/v1/tenants").await;
    assert_eq!(ids_of(&seen), vec![w.a.0], "a SOC analyst sees only assigned tenants");
}

fn ids_of(list: &serde_json::Value) -> Vec<i64> {
    list.as_array().expect("array").iter().map(|t| t["id"].as_i64().expect("id")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_ids_in_form_bodies_are_checked_too() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let anna = Caller::browser(&app, "anna").await;
    let b = w.b.0.to_string();
    let posts = [
        ("/app/alert-rules/new", rule_form(&w)),
        ("/app/notifications/policy", json!({ "escalate_after_mins": "30", "unanswered_hours": "72" })),
        ("/app/notifications/contacts", contact_json(&w)),
    ];
    for (path, mut body) in posts {
        body["tenant"] = json!(b);
        let resp = send(&app, &anna, Kind::Web, &Method::POST, path, Some(&body)).await;
        assert_eq!(resp.status().as_u16(), 404, "{path} with tenant B in the body");
    }
    for path in [format!("/app/notifications?tenant={b}"), format!("/app/alert-rules?tenant={b}")] {
        let resp = send(&app, &anna, Kind::Web, &Method::GET, &path, None).await;
        let text = resp.text().await.expect("page");
        assert!(!text.contains("Kunde B") && !text.contains("bereitschaft@kunde-b"), "{path} leaked tenant B");
    }
    let rules = app.store.alert_rules(&leitstand_store::TenantScope::All, w.b).await.expect("rules");
    assert!(rules.iter().all(|r| r.key.is_some()), "no rule added to B");
    // The SOC's forms, sent by an analyst assigned to A only.
    let soc = Caller::browser(&app, "soc").await;
    let posts = [
        ("/app/soc/rules", json!({ "yaml": custom_sigma_rule(), "action": "save" })),
        ("/app/soc/rules/a343a22d-9ce1-4227-8390-48b0c9e0abe7", json!({ "enabled": "" })),
        ("/app/soc/sources", source_json(&w)),
        ("/app/soc/retention", json!({ "days": "5" })),
    ];
    for (path, mut body) in posts {
        body["tenant"] = json!(b);
        let resp = send(&app, &soc, Kind::Web, &Method::POST, path, Some(&body)).await;
        assert_eq!(resp.status().as_u16(), 404, "{path} with tenant B in the body");
    }
    for path in [format!("/app/soc/rules?tenant={b}"), format!("/app/soc/sources?tenant={b}")] {
        let resp = send(&app, &soc, Kind::Web, &Method::GET, &path, None).await;
        let text = resp.text().await.expect("page");
        assert!(!text.contains("Kunde B") && !text.contains("192.0.2.200"), "{path} leaked tenant B");
    }
    let choices = app.store.soc_rule_choices(&leitstand_store::TenantScope::All, w.b).await.expect("choices");
    assert!(choices.choices.is_empty() && choices.custom.is_empty(), "no SOC rule of B changed");
    assert_eq!(choices.retention_days, leitstand_store::DEFAULT_RETENTION_DAYS);
    let sources = app.store.syslog_sources(&leitstand_store::TenantScope::All, Some(w.b)).await.expect("sources");
    assert_eq!(sources.len(), 1, "no sender added to B");
    // The vulnerability threshold form, sent by A's administrator.
    let body = json!({ "tenant": b, "min_score": "1" });
    let resp = send(&app, &anna, Kind::Web, &Method::POST, "/app/vulnerabilities/threshold", Some(&body)).await;
    assert_eq!(resp.status().as_u16(), 404, "threshold with tenant B in the body");
    // A patch job for B's host, planned by A's administrator.
    let body = json!({ "tenant": b, format!("host_{}", w.b_host): "1", "pkg_openssl": "1" });
    let resp = send(&app, &anna, Kind::Web, &Method::POST, "/app/patches", Some(&body)).await;
    assert_eq!(resp.status().as_u16(), 404, "patch job with tenant B in the body");
    let jobs = app.store.patch_jobs(&leitstand_store::TenantScope::All, Some(w.b)).await.expect("jobs");
    assert_eq!(jobs.len(), 1, "no job added to B");
    let min = app.store.vuln_min_score(&leitstand_store::TenantScope::All, w.b).await.expect("threshold");
    assert_eq!(min, leitstand_store::DEFAULT_MIN_SCORE_TENTHS);
}
