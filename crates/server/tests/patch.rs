//! Patch jobs end to end (PATCH-2, PATCH-3, PATCH-4): pending updates from
//! agent batches, the tenant's maintenance window, a job planned by the
//! provider and ordered by the customer's administrator (recorded; others
//! may not), nothing sent before the order or outside the window, the pilot
//! first and the rest after it, signed actions in the acknowledgement that
//! the agent's own check accepts, reports through batches, a failure that
//! stops the job, an appointment that replaces the window, a host that does
//! not answer, cancelling, and a release out of support that is refused.
//! The clock is the test's.

mod common;

use common::{Backend, TestApp};
use jiff::Timestamp;
use leitstand_domain::{HostId, TenantId};
use leitstand_proto::actions::{ActionReport, Outcome, PackageChange, SignedAction};
use leitstand_proto::inventory::{Item, Section};
use leitstand_proto::{Batch, Record, Sequenced};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Berlin wall time on a day of November 2026 (the 24th is a Tuesday).
fn berlin(day: u8, hour: i8, minute: i8) -> Timestamp {
    jiff::civil::date(2026, 11, day as i8)
        .at(hour, minute, 0, 0)
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").expect("zone"))
        .expect("time")
        .timestamp()
}

fn update(name: &str, security: bool) -> Item {
    common::pending_update(name, "3.0.15-1~deb12u1", "3.0.16-1~deb12u1", security)
}

/// The test's agents: each host's next sequence number.
struct Agents<'a> {
    app: &'a TestApp,
    seq: HashMap<i64, u64>,
}

impl Agents<'_> {
    /// Sends one record as the host's agent; the acknowledgement's actions.
    async fn send(&mut self, host: i64, record: Record) -> Vec<SignedAction> {
        let seq = self.seq.entry(host).or_insert(0);
        *seq += 1;
        let h = self.app.store.host_for_agent(HostId(host)).await.expect("host");
        let batch = Batch::new(vec![Sequenced { seq: *seq, record }]);
        let (ack, _) = self.app.services.ingest_batch(&h, batch, None).await.expect("ingest");
        ack.actions
    }

    async fn heartbeat(&mut self, host: i64) -> Vec<SignedAction> {
        self.send(host, Record::Heartbeat { at_ms: self.app.now().as_millisecond() }).await
    }

    async fn report(&mut self, host: i64, id: i64, outcome: Outcome) {
        let report = ActionReport {
            id,
            outcome,
            detail: format!("$ apt-get install --only-upgrade openssl\n  → {}\n", outcome.as_str()),
            packages: vec![PackageChange {
                name: "openssl".into(),
                before: Some("3.0.15-1~deb12u1".into()),
                after: Some(if outcome == Outcome::Succeeded { "3.0.16-1~deb12u1" } else { "3.0.15-1~deb12u1" }.into()),
            }],
            finished_ms: self.app.now().as_millisecond(),
        };
        self.send(host, Record::Action { report }).await;
    }
}

async fn call(app: &TestApp, token: &str, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let r = app.api().request(method, app.at(path)).bearer_auth(token).json(&body).send().await.expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The states of a job's hosts by name, and the job's state.
async fn states(app: &TestApp, token: &str, job: i64) -> (String, Vec<(String, String)>) {
    let d = app.get_json(token, &format!("/api/v1/patch-jobs/{job}")).await;
    let hosts = d["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| (h["host_name"].as_str().expect("name").to_owned(), h["state"].as_str().expect("state").to_owned()))
        .collect();
    (d["job"]["state"].as_str().expect("state").to_owned(), hosts)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_jobs_run_on_the_customers_order_in_the_window_ring_by_ring() {
    let app = TestApp::spawn().await;
    app.clock.set(berlin(24, 12, 0));
    let admin = app.bootstrap().await;
    let provider = app.store.provider().await.expect("provider").expect("exists").id;
    let t: TenantId = app.tenant(&admin, "Kunde A GmbH").await;
    app.user(&admin, t, "anna", "customer_admin").await;
    app.user(&admin, t, "arne", "customer_member").await;
    let noc = app.user(&admin, provider, "noc", "support_agent").await;
    app.services.assign_staff(&admin, noc, &[t]).await.expect("assign");
    let (root, anna, arne, noc) =
        (app.token("admin").await, app.token("anna").await, app.token("arne").await, app.token("noc").await);

    // The enrollment answer carries the action key the agent keeps.
    let token = app.services.create_enroll_token(&admin, t).await.expect("token");
    let key = leitstand_agent::identity::new_key();
    let req = leitstand_proto::EnrollRequest {
        token: token.token,
        name: "web-01".into(),
        os: "Debian GNU/Linux 12 (bookworm)".into(),
        public_key: leitstand_agent::identity::public_hex(&key),
        protocol: leitstand_proto::PROTOCOL_VERSION,
    };
    let (web1, enrolled) = app.services.enroll_host(&req, "test").await.expect("enrol");
    let action_key = enrolled.action_key.expect("action key at enrollment");
    assert_ne!(Some(&action_key), enrolled.release_key.as_ref(), "actions and releases have their own keys");
    let web1 = web1.id.0;
    let web2 = app.host(&admin, t, "web-02").await.0;
    let db1 = app.host(&admin, t, "db-01").await.0;
    let old = app.host_on(&admin, t, "old-01", "Debian GNU/Linux 9 (stretch)").await.0;
    let mut agents = Agents { app: &app, seq: HashMap::new() };
    for h in [web1, web2, db1, old] {
        let report = common::whole_section(Section::Updates, vec![update("openssl", true), update("tzdata", false)]);
        agents.send(h, Record::Inventory { at_ms: app.now().as_millisecond(), sections: vec![report] }).await;
    }
    // The scanner found old-01's release past its end of support.
    common::out_of_support(&app, t, old, "Debian 9 (stretch)", "2022-06-30").await;

    // The window from the SLA, in German; a bad one is refused with the reason.
    let put = reqwest::Method::PUT;
    let path = format!("/api/v1/tenants/{}/maintenance-window", t.0);
    let (status, body) = call(&app, &root, put.clone(), &path, json!({ "window": "Dienstag 22 Uhr" })).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("Tue 22:00-02:00"), "the error shows the format: {body}");
    let (status, body) = call(&app, &root, put.clone(), &path, json!({ "window": "Di 22:00-02:00" })).await;
    assert_eq!((status, body["window"].as_str()), (200, Some("Tue 22:00-02:00")), "{body}");
    let (status, _) = call(&app, &anna, put, &path, json!({ "window": "Mo-So 00:00-24:00" })).await;
    assert_eq!(status, 403, "the customer does not set the SLA's window");

    // What could be patched: old-01 is flagged.
    let c = app.get_json(&noc, &format!("/api/v1/tenants/{}/patch-candidates", t.0)).await;
    let flagged: Vec<&str> = c["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .filter(|h| h["out_of_support"] == true)
        .map(|h| h["name"].as_str().expect("name"))
        .collect();
    assert_eq!(flagged, vec!["old-01"]);
    assert_eq!(c["packages"][0], json!({ "name": "openssl", "hosts": 3, "security": true }), "{c}");

    // Planned by the provider's support agent; old-01 is refused.
    let post = reqwest::Method::POST;
    let plan = |hosts: Vec<i64>, pilot: i64, appointment: &str| json!({ "tenant": t.0, "hosts": hosts, "packages": ["openssl"], "pilot": pilot, "appointment": appointment });
    let (status, body) = call(&app, &noc, post.clone(), "/api/v1/patch-jobs", plan(vec![web1, old], web1, "")).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("no longer supports"), "{body}");
    let (status, body) =
        call(&app, &noc, post.clone(), "/api/v1/patch-jobs", plan(vec![web1, web2, db1], web2, "")).await;
    assert_eq!(status, 200, "{body}");
    let job = body["job"]["id"].as_i64().expect("id");
    assert_eq!(body["job"]["state"], "awaiting_order");
    let rings: Vec<(String, i64)> = body["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| (h["host_name"].as_str().expect("n").to_owned(), h["ring"].as_i64().expect("ring")))
        .collect();
    assert_eq!(rings, vec![("web-02".into(), 1), ("db-01".into(), 2), ("web-01".into(), 2)], "pilot first");

    // Not ordered: nothing runs, even in the window.
    app.clock.set(berlin(24, 22, 5));
    assert_eq!(app.services.patch_round().await.expect("round").sent, 0);
    assert!(agents.heartbeat(web2).await.is_empty());

    // Only the customer's administrator orders.
    let order = format!("/api/v1/patch-jobs/{job}/order");
    for who in [&noc, &arne, &root] {
        let (status, _) = call(&app, who, post.clone(), &order, json!({})).await;
        assert_eq!(status, 403, "only the customer's administrator orders");
    }
    app.clock.set(berlin(24, 12, 0));
    let (status, body) = call(&app, &anna, post.clone(), &order, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["job"]["state"].as_str(), body["job"]["ordered_by"].as_str()), (Some("ordered"), Some("anna")));
    assert!(body["job"]["ordered_from"].as_str().is_some_and(|f| !f.is_empty()), "where the order came from");
    let (status, _) = call(&app, &anna, post.clone(), &order, json!({})).await;
    assert_eq!(status, 422, "ordered once");

    // Outside the window nothing is sent.
    assert_eq!(app.services.patch_round().await.expect("round").sent, 0);
    assert!(agents.heartbeat(web2).await.is_empty());

    // In the window: the pilot gets a signed action the agent's own check accepts.
    app.clock.set(berlin(24, 22, 5));
    assert_eq!(app.services.patch_round().await.expect("round").sent, 1);
    assert!(agents.heartbeat(web1).await.is_empty(), "ring 2 waits for the pilot");
    let actions = agents.heartbeat(web2).await;
    assert_eq!(actions.len(), 1);
    let a = &actions[0];
    let allow = vec!["apply_updates".to_owned()];
    let now = app.now().as_millisecond();
    leitstand_agent::actions::verify(a, Some(&action_key), web2, now, &allow).expect("the agent accepts it");
    assert!(leitstand_agent::actions::verify(a, Some(&action_key), web1, now, &allow).is_err(), "not for web-01");
    assert_eq!(a.action, leitstand_proto::actions::Action::ApplyUpdates { packages: vec!["openssl".into()] });
    assert!(a.not_after_ms <= berlin(24, 23, 5).as_millisecond(), "expires within the hour");
    assert_eq!(agents.heartbeat(web2).await.len(), 1, "sent again until reported");

    // The pilot succeeds; the rest go; one rolls back: the job stops.
    agents.report(web2, a.id, Outcome::Succeeded).await;
    assert!(agents.heartbeat(web2).await.is_empty(), "reported: not sent again");
    assert_eq!(app.services.patch_round().await.expect("round").sent, 2);
    let for_db = agents.heartbeat(db1).await;
    let for_web = agents.heartbeat(web1).await;
    assert_eq!((for_db.len(), for_web.len()), (1, 1));
    agents.report(db1, for_db[0].id, Outcome::RolledBack).await;
    app.services.patch_round().await.expect("round");
    assert_eq!(states(&app, &anna, job).await.0, "running", "web-01 still runs");
    agents.report(web1, for_web[0].id, Outcome::Succeeded).await;
    app.services.patch_round().await.expect("round");
    let (state, hosts) = states(&app, &anna, job).await;
    assert_eq!(state, "stopped");
    assert_eq!(hosts, pairs(&[("web-02", "succeeded"), ("db-01", "rolled_back"), ("web-01", "succeeded")]));
    let d = app.get_json(&anna, &format!("/api/v1/patch-jobs/{job}")).await;
    assert_eq!(d["hosts"][1]["changes"][0]["before"], "3.0.15-1~deb12u1", "{d}");
    assert!(d["hosts"][1]["detail"].as_str().expect("detail").contains("rolled_back"));
    assert_eq!((d["job"]["succeeded"].as_i64(), d["job"]["failed"].as_i64()), (Some(2), Some(1)));

    // A failing pilot stops the job before anyone else is touched.
    let (_, body) = call(&app, &noc, post.clone(), "/api/v1/patch-jobs", plan(vec![web1, web2, db1], db1, "")).await;
    let job2 = body["job"]["id"].as_i64().expect("id");
    call(&app, &anna, post.clone(), &format!("/api/v1/patch-jobs/{job2}/order"), json!({})).await;
    app.services.patch_round().await.expect("round");
    let a = agents.heartbeat(db1).await.pop().expect("pilot action");
    agents.report(db1, a.id, Outcome::Failed).await;
    let r = app.services.patch_round().await.expect("round");
    assert_eq!((r.sent, r.skipped, r.finished), (0, 2, 1));
    let (state, hosts) = states(&app, &anna, job2).await;
    assert_eq!(state, "stopped");
    assert_eq!(hosts, pairs(&[("db-01", "failed"), ("web-01", "skipped"), ("web-02", "skipped")]));

    // An appointment replaces the window; a host that never answers stops the job.
    let appointment = "2026-11-26T10:00";
    let (status, body) =
        call(&app, &noc, post.clone(), "/api/v1/patch-jobs", plan(vec![web1, web2], web1, appointment)).await;
    assert_eq!(status, 200, "{body}");
    let job3 = body["job"]["id"].as_i64().expect("id");
    call(&app, &anna, post.clone(), &format!("/api/v1/patch-jobs/{job3}/order"), json!({})).await;
    app.clock.set(berlin(24, 22, 30));
    assert_eq!(app.services.patch_round().await.expect("round").sent, 0, "the window does not count now");
    app.clock.set(berlin(26, 10, 5));
    assert_eq!(app.services.patch_round().await.expect("round").sent, 1, "at the appointment");
    let a = agents.heartbeat(web1).await.pop().expect("action");
    assert_eq!(a.not_after_ms, berlin(26, 11, 5).as_millisecond());
    app.clock.set(berlin(26, 13, 6));
    let r = app.services.patch_round().await.expect("round");
    assert_eq!((r.no_answer, r.skipped, r.finished), (1, 1, 1));
    assert!(agents.heartbeat(web1).await.is_empty(), "expired: no longer delivered");
    // A late report still tells what happened.
    agents.report(web1, a.id, Outcome::Succeeded).await;
    let (state, hosts) = states(&app, &anna, job3).await;
    assert_eq!(state, "stopped");
    assert_eq!(hosts, pairs(&[("web-01", "succeeded"), ("web-02", "skipped")]));

    // An appointment that passed before the order needs a new one.
    let (_, body) =
        call(&app, &noc, post.clone(), "/api/v1/patch-jobs", plan(vec![web2], web2, "2026-11-26T14:00")).await;
    let job5 = body["job"]["id"].as_i64().expect("id");
    app.clock.set(berlin(26, 18, 10));
    let order5 = format!("/api/v1/patch-jobs/{job5}/order");
    let (status, _) = call(&app, &anna, post.clone(), &order5, json!({})).await;
    assert_eq!(status, 422, "the planned appointment is over");
    let (status, body) = call(&app, &anna, post.clone(), &order5, json!({ "appointment": "2026-11-27T09:00" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["job"]["appointment"].as_str(), Some(berlin(27, 9, 0).to_string().as_str()));

    // A host that manages its packages with rpm is patched too (through dnf).
    let alma = app.host_on(&admin, t, "alma-01", "AlmaLinux 9.4 (Seafoam Ocelot)").await.0;
    let mut rpm = update("openssl", true);
    if let Item::Update(u) = &mut rpm {
        u.manager = "rpm".into();
    }
    let report = common::whole_section(Section::Updates, vec![rpm]);
    agents.send(alma, Record::Inventory { at_ms: app.now().as_millisecond(), sections: vec![report] }).await;
    let (status, body) = call(&app, &noc, post.clone(), "/api/v1/patch-jobs", plan(vec![alma], alma, "")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["hosts"][0]["packages"], json!(["openssl"]), "{body}");

    // Appointments lie ahead; the customer may cancel a job it has not ordered.
    let (status, _) =
        call(&app, &noc, post.clone(), "/api/v1/patch-jobs", plan(vec![web1], web1, "2026-11-01T10:00")).await;
    assert_eq!(status, 422, "an appointment in the past");
    let (_, body) = call(&app, &noc, post.clone(), "/api/v1/patch-jobs", plan(vec![web1, web2], web2, "")).await;
    let job4 = body["job"]["id"].as_i64().expect("id");
    let (status, _) = call(&app, &arne, post.clone(), &format!("/api/v1/patch-jobs/{job4}/cancel"), json!({})).await;
    assert_eq!(status, 403, "a member may not cancel");
    let (status, body) = call(&app, &anna, post.clone(), &format!("/api/v1/patch-jobs/{job4}/cancel"), json!({})).await;
    assert_eq!((status, body["job"]["state"].as_str()), (200, Some("cancelled")));
    let (status, _) = call(&app, &anna, post, &format!("/api/v1/patch-jobs/{job4}/order"), json!({})).await;
    assert_eq!(status, 422, "a cancelled job cannot be ordered");

    // Every step is in the audit log.
    let audit = app.get_json(&root, "/api/v1/audit?per_page=200").await;
    let actions: Vec<&str> =
        audit["entries"].as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).collect();
    for a in [
        "patch.window",
        "patch.job_create",
        "patch.job_order",
        "patch.action_sent",
        "patch.no_answer",
        "patch.job_cancel",
    ] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
}

/// The real agent process: it enrols, receives the pilot's action with its
/// acknowledgement, runs it on its own thread against the root it was given
/// (an empty one here: nothing installed, nothing changed; the real apt run
/// is `crates/agent/tests/apt.rs`), and its report comes back in a batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_process_runs_the_action_it_is_sent_and_reports_it() {
    let Some(bin) = common::agent_binary() else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "leitstand-agent not built next to the tests");
        eprintln!("SKIPPED: build leitstand-agent first (cargo build -p leitstand-agent)");
        return;
    };
    let app = TestApp::spawn().await;
    let admin = app.bootstrap().await;
    let t = app.tenant(&admin, "Kunde A GmbH").await;
    app.user(&admin, t, "anna", "customer_admin").await;
    app.services.set_patch_window(&admin, t, "Mo-So 00:00-24:00").await.expect("window");
    let token = app.services.create_enroll_token(&admin, t).await.expect("token").token;
    let state = tempfile::tempdir().expect("state");
    let root = tempfile::tempdir().expect("root");
    let config = state.path().join("agent.toml");
    std::fs::write(&config, "interval_secs = 5\nallow_actions = [\"apply_updates\"]\n").expect("config");
    let run = |args: Vec<String>| common::run_agent(&bin, &config, state.path(), args);
    let out = run(vec!["enroll".into(), "--server".into(), app.url.clone(), "--token".into(), token]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let saved = std::fs::read_to_string(state.path().join("identity.toml")).expect("identity");
    assert!(saved.contains(&app.services.action_public_key()), "the action key is kept: {saved}");
    let host = app.services.hosts(&admin, Some(t)).await.expect("hosts")[0].id;
    let job = leitstand_store::NewPatchJob {
        tenant: t,
        title: "openssl".into(),
        packages: vec!["openssl".into()],
        hosts: vec![(host, 1, vec!["openssl".into()])],
        appointment: None,
        created_by: "admin".into(),
        at: app.now(),
    };
    let draft = leitstand_store::conformance::draft("patch.job_create", Some(t));
    let job = app.store.create_patch_job(&leitstand_store::TenantScope::All, &job, &draft).await.expect("job").id;
    app.services.order_patch_job(&app.actor("anna").await, job, "").await.expect("order");
    assert_eq!(app.services.patch_round().await.expect("round").sent, 1);
    let root_arg = root.path().display().to_string();
    let out = run(vec!["--root".into(), root_arg, "run".into(), "--rounds".into(), "3".into()]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, hosts) = app.store.patch_job(&leitstand_store::TenantScope::All, job).await.expect("job");
    assert_eq!(hosts[0].state, leitstand_domain::patch::HostState::RolledBack, "{:?}", hosts[0]);
    assert!(hosts[0].detail.contains("openssl: not installed"), "{}", hosts[0].detail);
    app.services.patch_round().await.expect("round");
    let (job, _) = app.store.patch_job(&leitstand_store::TenantScope::All, job).await.expect("job");
    assert_eq!(job.state, leitstand_domain::patch::JobState::Stopped);
    let ran: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.path().join("actions.json")).expect("actions.json")).expect("json");
    assert_eq!(ran[hosts[0].id.to_string()], "reported");
}

/// Two replicas on one PostgreSQL database run their patch rounds at the
/// same moment: each step (send the pilot, give it up, stop the job) is
/// taken once, with one audit entry, whoever wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_take_each_patch_step_once() {
    let Some(app) = TestApp::spawn_on(Backend::Postgres).await else { return };
    app.clock.set(berlin(24, 12, 0));
    let admin = app.bootstrap().await;
    let t = app.tenant(&admin, "Kunde A GmbH").await;
    app.user(&admin, t, "anna", "customer_admin").await;
    let mut hosts = vec![];
    for name in ["web-01", "web-02", "db-01"] {
        let host = app.host(&admin, t, name).await.0;
        common::send_section(&app, host, 1, Section::Updates, vec![update("openssl", true)]).await;
        hosts.push(HostId(host));
    }
    app.services.set_patch_window(&admin, t, "Tue 22:00-02:00").await.expect("window");
    let input = leitstand_service::JobInput {
        tenant: t,
        title: "openssl".into(),
        hosts: hosts.clone(),
        packages: vec!["openssl".into()],
        pilot: Some(hosts[0]),
        appointment: String::new(),
    };
    let job = app.services.create_patch_job(&admin, &input).await.expect("plan");
    app.services.order_patch_job(&app.actor("anna").await, job.id, "").await.expect("order");

    let url = app.postgres_url().expect("on postgres");
    let store = std::sync::Arc::new(leitstand_store_postgres::open(url).await.expect("second replica's store"));
    let second = leitstand_service::Services::new(
        store,
        app.clock.clone(),
        leitstand_service::SecretKey::generate(),
        leitstand_service::ServiceConfig::default(),
    );
    let both = || async {
        let (a, b) = tokio::join!(app.services.patch_round(), second.patch_round());
        let (a, b) = (a.expect("round"), b.expect("round"));
        (a.sent + b.sent, a.no_answer + b.no_answer, a.skipped + b.skipped, a.finished + b.finished)
    };
    app.clock.set(berlin(24, 22, 5));
    assert_eq!(both().await, (1, 0, 0, 0), "the pilot is sent once");
    app.clock.set(berlin(25, 3, 0)); // past the action's end and the grace for its report
    assert_eq!(both().await, (0, 1, 2, 1), "given up once; the rest skipped once; stopped once");
    assert_eq!(both().await, (0, 0, 0, 0), "nothing left");

    let filter = leitstand_store::AuditFilter { action: Some("patch.".into()), limit: 100, ..Default::default() };
    let mut actions: Vec<String> = app
        .store
        .audit_entries(&leitstand_store::TenantScope::All, &filter)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "patch.action_sent",
            "patch.hosts_skipped",
            "patch.job_create",
            "patch.job_order",
            "patch.job_state",
            "patch.job_state",
            "patch.no_answer",
            "patch.window"
        ],
        "one entry a step"
    );
}
