//! Monitoring beyond the uplink: approval of new hosts, intervals pushed to
//! agents, the per-agent rate, history from rollups, the host list with
//! filters and pages, and live events.

mod common;

use common::TestApp;
use leitstand_agent::identity::Identity;
use leitstand_agent::uplink::{self, SendError, Uplink};
use leitstand_domain::TenantId;
use leitstand_proto::{Record, Sample, Sequenced};
use serde_json::{json, Value};

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

/// An enrolled agent's uplink, through the real HTTP routes.
async fn agent(app: &TestApp, tenant: TenantId, name: &'static str) -> Uplink {
    let admin = app.services.cli_actor().await.expect("admin");
    let token = app.services.create_enroll_token(&admin, tenant).await.expect("token").token;
    let url = app.url.clone();
    let (identity, _) = blocking(move || uplink::enroll(&url, &token, name, "Debian 12")).await.expect("enrol");
    let dir = tempfile::tempdir().expect("dir");
    identity.save(dir.path()).expect("save");
    Uplink::new(Identity::load(dir.path()).expect("load").expect("saved"))
}

fn metrics(seq: u64, at_ms: i64, cpu: f64) -> Sequenced {
    Sequenced {
        seq,
        record: Record::Metrics {
            at_ms,
            samples: vec![
                Sample::new("cpu_usage_percent", cpu).with("cpu", "total"),
                Sample::new("mem_used_percent", 50.0),
                Sample::new("fs_used_percent", cpu / 2.0).with("mount", "/"),
            ],
        },
    }
}

async fn send(up: Uplink, records: Vec<Sequenced>) -> (Uplink, Result<leitstand_proto::Ack, SendError>) {
    blocking(move || {
        let r = up.send(records);
        (up, r)
    })
    .await
}

async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let r = app.api().put(app.at(path)).bearer_auth(token).json(&body).send().await.expect("put");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let r = app.api().post(app.at(path)).bearer_auth(token).json(&json!({})).send().await.expect("post");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn setup() -> (TestApp, TenantId, String) {
    let app = TestApp::spawn().await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Kunde A").await;
    let token = app.token("admin").await;
    (app, tenant, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_that_approves_new_hosts_keeps_them_pending_until_approved() {
    let (app, tenant, token) = setup().await;
    let (status, _) = put(
        &app,
        &token,
        &format!("/api/v1/tenants/{}/host-policy", tenant.0),
        json!({ "interval_secs": 10, "require_approval": true }),
    )
    .await;
    assert_eq!(status, 200);
    let up = agent(&app, tenant, "new-host").await;
    let id = up.identity().host_id;
    let now = app.now().as_millisecond();
    let (up, r) = send(up, vec![metrics(1, now, 10.0)]).await;
    match r {
        Err(SendError::Wait { status: 409, message }) => assert!(message.contains("approval"), "{message}"),
        other => panic!("a pending host must be told to wait: {other:?}"),
    }
    let list = app.get_json(&token, "/api/v1/hosts?status=pending").await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["hosts"][0]["status"], "pending");
    let page = app.sign_in("admin").await.get(app.at("/app/hosts")).send().await.expect("page");
    let html = page.text().await.expect("html");
    assert!(html.contains("id=\"pending\"") && html.contains("new-host"), "the pending list shows it");

    let (status, host) = post(&app, &token, &format!("/api/v1/hosts/{id}/approve")).await;
    assert_eq!((status, host["status"].as_str()), (200, Some("waiting")));
    let (_, r) = send(up, vec![metrics(1, now, 10.0)]).await;
    assert_eq!(r.expect("accepted after approval").up_to, 1);
    let (status, _) = post(&app, &token, &format!("/api/v1/hosts/{id}/approve")).await;
    assert_eq!(status, 404, "approved once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intervals_set_per_tenant_and_host_reach_the_agent_with_its_acknowledgement() {
    let (app, tenant, token) = setup().await;
    let up = agent(&app, tenant, "web-01").await;
    let id = up.identity().host_id;
    let now = app.now().as_millisecond();
    let (up, r) = send(up, vec![metrics(1, now, 10.0)]).await;
    assert_eq!(r.expect("ack").settings.expect("settings").interval_secs, 10);
    let policy = format!("/api/v1/tenants/{}/host-policy", tenant.0);
    assert_eq!(put(&app, &token, &policy, json!({ "interval_secs": 30, "require_approval": false })).await.0, 200);
    let (up, r) = send(up, vec![metrics(2, now + 1, 10.0)]).await;
    assert_eq!(r.expect("ack").settings.expect("settings").interval_secs, 30, "the tenant's interval");
    let interval = format!("/api/v1/hosts/{id}/interval");
    let (status, host) = put(&app, &token, &interval, json!({ "interval_secs": 5 })).await;
    assert_eq!((status, host["effective_interval_secs"].as_u64()), (200, Some(5)));
    let (up, r) = send(up, vec![metrics(3, now + 2, 10.0)]).await;
    assert_eq!(r.expect("ack").settings.expect("settings").interval_secs, 5, "the host's own wins");
    let (status, body) = put(&app, &token, &interval, json!({ "interval_secs": 1 })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["fields"][0]["message"].as_str().unwrap_or("").contains("5 and 3600"), "{body}");
    let (status, _) = put(&app, &token, &interval, json!({ "interval_secs": null })).await;
    assert_eq!(status, 200);
    let (_, r) = send(up, vec![metrics(4, now + 3, 10.0)]).await;
    assert_eq!(r.expect("ack").settings.expect("settings").interval_secs, 30, "back to the tenant's");
    let p = app.get_json(&token, &policy).await;
    assert_eq!(p, json!({ "interval_secs": 30, "require_approval": false }));
    // A longer interval allows a longer silence before the host is down.
    app.clock.advance(jiff::SignedDuration::from_secs(100));
    assert!(app.services.sweep_hosts().await.expect("sweep").is_empty(), "3 × 30 s + 30 s not yet passed");
    app.clock.advance(jiff::SignedDuration::from_secs(21));
    assert_eq!(app.services.sweep_hosts().await.expect("sweep").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sending_too_fast_is_told_to_wait_and_others_go_on() {
    let app = TestApp::spawn_tuned(|c| {
        c.agent_batches_per_second = 1.0;
        c.agent_batch_burst = 3;
    })
    .await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Kunde A").await;
    let mut fast = agent(&app, tenant, "fast").await;
    let now = app.now().as_millisecond();
    for seq in 1..=3 {
        let (up, r) = send(fast, vec![metrics(seq, now + seq as i64, 1.0)]).await;
        assert_eq!(r.expect("within the burst").up_to, seq);
        fast = up;
    }
    let (_, r) = send(fast, vec![metrics(4, now + 4, 1.0)]).await;
    match r {
        Err(SendError::Wait { status: 429, message }) => assert!(message.contains("batches per second"), "{message}"),
        other => panic!("expected 429: {other:?}"),
    }
    let calm = agent(&app, tenant, "calm").await;
    let (_, r) = send(calm, vec![metrics(1, now, 1.0)]).await;
    assert_eq!(r.expect("another agent is unaffected").up_to, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_ranges_are_served_from_rollups() {
    let (app, tenant, token) = setup().await;
    let admin = app.services.cli_actor().await.expect("admin");
    let (id, _) = app.host(&admin, tenant, "db-01").await;
    let host = app.store.host_for_agent(leitstand_domain::HostId(id)).await.expect("host");
    // Two days of samples every 5 minutes.
    let now = app.now().as_millisecond();
    let records: Vec<Sequenced> =
        (0..576).map(|i| metrics(i + 1, now - (576 - i as i64) * 300_000, (i % 100) as f64)).collect();
    let batch = leitstand_proto::Batch::new(records);
    app.services.ingest_batch(&host, batch, None).await.expect("ingest");
    assert!(app.services.roll_up().await.expect("roll up") >= 1);

    let path = |q: &str| format!("/api/v1/hosts/{id}/history?name=cpu_usage_percent&{q}");
    let hour = app.get_json(&token, &path("minutes=60")).await;
    assert_eq!(hour["resolution"], "raw");
    let day = app.get_json(&token, &path("minutes=1440")).await;
    assert_eq!(day["resolution"], "minute");
    let points = day["points"].as_array().expect("points");
    assert!((287..=289).contains(&points.len()), "one bucket per 5-minute sample: {}", points.len());
    let week = app.get_json(&token, &path("minutes=10080")).await;
    assert_eq!(week["resolution"], "hour");
    let hours = week["points"].as_array().expect("points");
    assert!((48..=50).contains(&hours.len()), "{}", hours.len());
    let full = hours.iter().find(|p| p["count"] == 12).expect("a full hour has 12 samples");
    assert!(full["min"].as_f64() <= full["value"].as_f64() && full["value"].as_f64() <= full["max"].as_f64());
    let r = app.api().get(app.at(&path("from=yesterday&to=now"))).bearer_auth(&token).send().await.expect("bad range");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("RFC 3339"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_list_filters_sorts_and_pages_in_the_database() {
    let (app, tenant, token) = setup().await;
    let admin = app.services.cli_actor().await.expect("admin");
    let now = app.now().as_millisecond();
    for i in 0..12 {
        let (id, _) = app.host(&admin, tenant, &format!("node-{i:02}")).await;
        if i % 3 == 0 {
            continue; // never heard: waiting
        }
        let host = app.store.host_for_agent(leitstand_domain::HostId(id)).await.expect("host");
        let batch = leitstand_proto::Batch::new(vec![metrics(1, now, i as f64 * 8.0)]);
        app.services.ingest_batch(&host, batch, Some("192.0.2.7")).await.expect("ingest");
    }
    let page = app.get_json(&token, "/api/v1/hosts?per_page=5&page=1").await;
    assert_eq!((page["total"].as_u64(), page["hosts"].as_array().map(Vec::len)), (Some(12), Some(5)));
    assert_eq!(page["hosts"][0]["name"], "node-05");
    assert_eq!(page["counts"]["waiting"], 4);
    assert_eq!(page["counts"]["up"], 8);
    let busy = app.get_json(&token, "/api/v1/hosts?sort=cpu&status=up&per_page=2").await;
    let names: Vec<&str> = busy["hosts"].as_array().expect("hosts").iter().filter_map(|h| h["name"].as_str()).collect();
    assert_eq!(names, vec!["node-11", "node-10"]);
    assert_eq!(busy["hosts"][0]["cpu_percent"], 88.0);
    assert_eq!(busy["hosts"][0]["address"], "192.0.2.7");
    let found = app.get_json(&token, "/api/v1/hosts?q=NODE-0").await;
    assert_eq!(found["total"], 10);
    let r = app.api().get(app.at("/api/v1/hosts?status=sleepy")).bearer_auth(&token).send().await.expect("bad");
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("body").contains("up, down, waiting, pending or revoked"));
    let html = app
        .sign_in("admin")
        .await
        .get(app.at("/app/hosts?sort=cpu&status=up"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let first = html.find("node-11").expect("listed");
    assert!(first < html.find("node-01").expect("listed"), "highest CPU first");
    assert!(!html.contains("node-03"), "waiting hosts filtered out");
}

/// Server-sent events as they arrive.
struct Events {
    resp: reqwest::Response,
    text: String,
}

impl Events {
    /// The next `host` event; keep-alive comments are skipped.
    async fn next(&mut self) -> String {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let event: String = self.text.drain(..end + 2).collect();
                if event.contains("event: host") {
                    return event;
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await.expect("an event in time");
            self.text.push_str(&String::from_utf8_lossy(&chunk.expect("open").expect("bytes")));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_follow_each_delivery() {
    let (app, tenant, token) = setup().await;
    let admin = app.services.cli_actor().await.expect("admin");
    let (id, _) = app.host(&admin, tenant, "web-07").await;
    let host = app.store.host_for_agent(leitstand_domain::HostId(id)).await.expect("host");
    let resp =
        app.api().get(app.at(&format!("/api/v1/hosts/{id}/live"))).bearer_auth(&token).send().await.expect("live");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut events = Events { resp, text: String::new() };
    let first = events.next().await;
    assert!(first.contains("\"status\":\"waiting\""), "{first}");
    let now = app.now().as_millisecond();
    let batch = leitstand_proto::Batch::new(vec![metrics(1, now, 42.0)]);
    app.services.ingest_batch(&host, batch, None).await.expect("ingest");
    let second = events.next().await;
    assert!(second.contains("\"status\":\"up\"") && second.contains("\"cpu_percent\":42.0"), "{second}");
    // The same millisecond on the server's clock: still news.
    let batch = leitstand_proto::Batch::new(vec![metrics(2, now, 43.0)]);
    app.services.ingest_batch(&host, batch, None).await.expect("ingest");
    assert!(events.next().await.contains("\"cpu_percent\":43.0"));
    let other = app.tenant(&admin, "Kunde B").await;
    let (b_host, _) = app.host(&admin, other, "b-01").await;
    let anna = {
        app.user(&admin, tenant, "anna", "customer_admin").await;
        app.token("anna").await
    };
    let r = app.api().get(app.at(&format!("/api/v1/hosts/{b_host}/live"))).bearer_auth(&anna).send().await.expect("b");
    assert_eq!(r.status(), 404, "another tenant's host has no stream");
}
