//! A person in a real browser (Chromium through chromedriver): first sign-in
//! with the one-time link, password, sign-out, sign-in, password change,
//! TOTP set-up and sign-in with a code.
//!
//! With `LEITSTAND_SCREENSHOTS=<dir>` it also saves screenshots of the pages
//! at desktop and phone width (that is how `docs/screenshots/` is made).

mod common;

use base64::Engine;
use common::TestApp;
use jiff::SignedDuration;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // End the session first: chromedriver then closes its Chromium, so
        // no browser outlives the test (Drop cannot await: plain HTTP/1.1).
        if let Some(addr) = self.base.strip_prefix("http://") {
            use std::io::{Read, Write};
            if let Ok(mut c) = std::net::TcpStream::connect(addr) {
                let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
                let req = format!(
                    "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    self.session
                );
                let _ = c.write_all(req.as_bytes());
                let _ = c.read_to_end(&mut vec![]);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_binary(names: &[&str]) -> Option<String> {
    names.iter().find(|n| std::path::Path::new(n).exists()).map(|s| (*s).to_owned())
}

impl Driver {
    async fn start() -> Option<Driver> {
        let driver = find_binary(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
        let chromium = find_binary(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
        let (Some(driver), Some(chromium)) = (driver, chromium) else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("chromium and chromium-driver are needed (the README test command installs them)");
            }
            eprintln!("SKIPPED: chromium or chromedriver not installed");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile").keep();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--lang=de-DE", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.display())],
                "prefs": { "intl.accept_languages": "de-DE,de" }
            }
        }}});
        let r: Value =
            http.post(format!("{base}/session")).json(&caps).send().await.expect("session").json().await.expect("json");
        let session = r["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {r}")).to_owned();
        Some(Driver { child, base, session, http })
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.expect("webdriver").json().await.expect("json");
        if v["value"].get("error").is_some() {
            panic!("webdriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = format!("{}/session/{}/element", self.base, self.session);
            let v: Value = self
                .http
                .post(url)
                .json(&json!({ "using": "css selector", "value": css }))
                .send()
                .await
                .expect("find")
                .json()
                .await
                .expect("json");
            if let Some(id) = v["value"][ELEMENT].as_str() {
                return id.to_owned();
            }
            assert!(Instant::now() < deadline, "element {css} not found on {}", self.url().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{id}/clear"), Some(json!({}))).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({ "text": text }))).await;
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({}))).await;
    }

    async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.cmd(reqwest::Method::GET, &format!("/element/{id}/text"), None).await.as_str().unwrap_or("").to_owned()
    }

    async fn script(&self, js: &str) -> Value {
        self.cmd(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": js, "args": [] }))).await
    }

    async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or("").to_owned()
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None).await.as_str().unwrap_or("").to_owned()
    }

    /// Waits until the page's path (without origin and query) is `path`.
    async fn wait_for_path(&self, path: &str) {
        let path_of = |url: &str| -> String {
            let after = url.split_once("://").map_or(url, |(_, r)| r);
            let p = after.find('/').map_or("/", |i| &after[i..]);
            p.split('?').next().unwrap_or("/").to_owned()
        };
        self.wait_for(|url| path_of(url) == path, path).await;
    }

    /// Waits until the URL contains `part` (e.g. a query parameter).
    async fn wait_for_url(&self, part: &str) {
        self.wait_for(|url| url.contains(part), part).await;
    }

    async fn wait_for(&self, ok: impl Fn(&str) -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ok(&self.url().await) {
            assert!(Instant::now() < deadline, "expected {what}, at {}", self.url().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's source holds `needle`.
    async fn wait_for_source(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.source().await.contains(needle) {
            assert!(Instant::now() < deadline, "expected {needle:?} on {}", self.url().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn size(&self, width: u32, height: u32) {
        self.cmd(reqwest::Method::POST, "/window/rect", Some(json!({ "width": width, "height": height }))).await;
    }

    /// Signs in through the form as the bootstrapped admin.
    async fn sign_in_as_admin(&self, app: &TestApp) {
        self.sign_in_as(app, "admin").await;
    }

    /// Signs in through the form as `name`, after forgetting any session.
    async fn sign_in_as(&self, app: &TestApp, name: &str) {
        self.go(&app.at("/login")).await;
        self.cmd(reqwest::Method::DELETE, "/cookie", None).await;
        self.go(&app.at("/login")).await;
        self.fill("input[name=name]", name).await;
        self.fill("input[name=password]", common::PASSWORD).await;
        self.click("button.primary").await;
        self.wait_for_path("/app").await;
    }

    /// Saves a screenshot when `LEITSTAND_SCREENSHOTS` names a directory.
    async fn shot(&self, name: &str) {
        let Ok(dir) = std::env::var("LEITSTAND_SCREENSHOTS") else { return };
        let png = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap_or("")).expect("png");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(format!("{dir}/{name}.png"), bytes).expect("write");
    }
}

#[tokio::test]
async fn a_person_signs_in_sets_passwords_and_turns_on_totp() {
    let Some(d) = Driver::start().await else { return };
    let app = TestApp::spawn().await;
    let inv = app.services.bootstrap("Provider GmbH", "admin").await.expect("bootstrap").expect("first");

    // 1. The one-time link: set a password, land signed in.
    d.go(&inv.link).await;
    d.shot("invite").await;
    let first = "erstes langes Passwort";
    d.fill("input[name=password]", first).await;
    d.fill("input[name=repeat]", first).await;
    d.click("button[type=submit].primary").await;
    d.wait_for_path("/app").await;
    assert!(d.source().await.contains("Ihr Passwort ist gespeichert"));

    // 2. Sign out, sign in with the new password.
    d.click(".me button").await;
    d.wait_for_path("/login").await;
    d.shot("login").await;
    d.fill("input[name=name]", "admin").await;
    d.fill("input[name=password]", first).await;
    d.click("button.primary").await;
    d.wait_for_path("/app").await;

    // 3. Change the password.
    d.go(&app.at("/app/profile")).await;
    let second = "zweites langes Passwort";
    d.fill("input[name=current]", first).await;
    d.fill("input[name=new]", second).await;
    d.fill("input[name=repeat]", second).await;
    d.click("form[action='/app/profile/password'] button").await;
    d.wait_for_url("ok=msg-password-changed").await;

    // 4. Turn on TOTP with a code computed from the shown secret.
    d.go(&app.at("/app/profile/totp")).await;
    d.shot("totp").await;
    let secret = d.text("#totp-secret").await;
    let key = data_encoding::BASE32_NOPAD.decode(secret.trim().as_bytes()).expect("base32 secret");
    d.fill("input[name=code]", &leitstand_domain::totp::code(&key, app.now())).await;
    d.click("form[action='/app/profile/totp'] button").await;
    let codes = d.text("#recovery-codes").await;
    assert_eq!(codes.lines().filter(|l| !l.trim().is_empty()).count(), 10, "ten recovery codes: {codes}");

    // 5. Sign out and in again: password, then a fresh code.
    d.go(&app.at("/app")).await;
    d.click(".me button").await;
    d.wait_for_path("/login").await;
    d.fill("input[name=name]", "admin").await;
    d.fill("input[name=password]", second).await;
    d.click("button.primary").await;
    d.wait_for_path("/login/totp").await;
    app.clock.advance(SignedDuration::from_secs(30));
    d.fill("input[name=code]", &leitstand_domain::totp::code(&key, app.now())).await;
    d.click("button.primary").await;
    d.wait_for_path("/app").await;
    assert!(d.source().await.contains("Übersicht"));

    screenshots(&d, &app).await;
}

/// The pages of the console, filled with a little data, for `docs/screenshots`.
async fn screenshots(d: &Driver, app: &TestApp) {
    if std::env::var("LEITSTAND_SCREENSHOTS").is_err() {
        return;
    }
    let admin = app.services.cli_actor().await.expect("admin");
    let provider = app.store.provider().await.expect("provider").expect("exists").id;
    let mut first = None;
    for (name, sec, soc) in [
        ("Stadtwerke Musterstadt GmbH", "professional", "3"),
        ("Kanzlei Berger & Partner", "advanced", "1"),
        ("Bäckerei Sonnenschein", "basic", "none"),
    ] {
        let input = leitstand_service::NewTenantInput {
            name: name.into(),
            plan: leitstand_service::PlanInput {
                security: sec.into(),
                soc: soc.into(),
                managed_service: sec != "basic",
            },
            time_zone: None,
        };
        let t = app.services.create_tenant(&admin, &input).await.expect("tenant");
        first.get_or_insert(t.id);
    }
    let a = first.expect("tenant");
    app.user(&admin, provider, "m.keller", "soc_analyst").await;
    app.user(&admin, provider, "j.wolf", "support_agent").await;
    app.user(&admin, a, "it-leitung", "customer_admin").await;
    app.user(&admin, a, "s.yilmaz", "customer_member").await;
    let input = leitstand_service::NewUserInput {
        tenant: a,
        name: "neu.kollege".into(),
        display_name: "Neuer Kollege".into(),
        email: None,
        role: "customer_member".into(),
    };
    app.services.create_user(&admin, &input).await.expect("invited");
    for (w, h, suffix) in [(1280, 900, ""), (390, 844, "-phone")] {
        d.size(w, h).await;
        for (path, name) in [
            ("/app", "overview"),
            ("/app/tenants", "tenants"),
            (&format!("/app/tenants/{}", a.0) as &str, "tenant"),
            ("/app/users", "users"),
            ("/app/profile", "profile"),
            ("/app/audit", "audit"),
            ("/app/settings?verify=1", "settings"),
        ] {
            d.go(&app.at(path)).await;
            d.shot(&format!("{name}{suffix}")).await;
        }
    }
}

/// Points in each chart of the host page.
async fn points(d: &Driver) -> Vec<i64> {
    let v = d.script("return (window.leitstandCharts || []).map(c => c.plot ? c.plot.data[0].length : -1);").await;
    v.as_array().map(|a| a.iter().filter_map(Value::as_i64).collect()).unwrap_or_default()
}

#[tokio::test]
async fn a_new_host_appears_and_its_chart_updates_live() {
    let Some(d) = Driver::start().await else { return };
    let app = TestApp::spawn().await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Stadtwerke Musterstadt GmbH").await;
    d.sign_in_as_admin(&app).await;

    let (id, _) = app.host(&admin, tenant, "web-01.musterstadt.de").await;
    let host = app.store.host_for_agent(leitstand_domain::HostId(id)).await.expect("host");
    let now = jiff::Timestamp::now().as_millisecond();
    let record = |seq: u64, minutes_ago: i64, cpu: f64| leitstand_proto::Sequenced {
        seq,
        record: leitstand_proto::Record::Metrics {
            at_ms: now - minutes_ago * 60_000,
            samples: vec![
                leitstand_proto::Sample::new("cpu_usage_percent", cpu).with("cpu", "total"),
                leitstand_proto::Sample::new("mem_used_percent", 40.0 + cpu / 4.0),
                leitstand_proto::Sample::new("load1", cpu / 30.0),
                leitstand_proto::Sample::new("fs_used_percent", 63.0).with("mount", "/"),
                leitstand_proto::Sample::new("net_rx_bytes_per_second", 1000.0 * cpu).with("iface", "eth0"),
            ],
        },
    };
    let batch = |records| leitstand_proto::Batch::new(records);
    let history: Vec<_> = (0..30).map(|i| record(i + 1, 30 - i as i64, 20.0 + (i as f64 / 3.0).sin() * 15.0)).collect();
    app.services.ingest_batch(&host, batch(history), None).await.expect("ingest");

    // The tenant now approves new hosts: the next one waits in the pending list.
    let policy = leitstand_store::HostPolicy { interval_secs: 10, require_approval: true };
    app.services.set_host_policy(&admin, tenant, policy).await.expect("policy");
    app.host(&admin, tenant, "db-02.musterstadt.de").await;
    d.go(&app.at("/app/hosts")).await;
    let list = d.source().await;
    assert!(list.contains("web-01.musterstadt.de") && list.contains("Erreichbar"), "the new host is listed as up");
    assert!(list.contains("id=\"pending\"") && list.contains("db-02.musterstadt.de"), "the pending list");
    d.shot("hosts").await;
    d.go(&app.at(&format!("/app/hosts/{id}"))).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let before = loop {
        let p = points(&d).await;
        if p.first().is_some_and(|n| *n > 0) {
            break p[0];
        }
        assert!(Instant::now() < deadline, "charts did not load: {p:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(before, 30);
    d.shot("host").await;

    // A new measurement arrives; the chart shows it without a reload.
    app.services.ingest_batch(&host, batch(vec![record(31, 0, 55.0)]), None).await.expect("ingest");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = points(&d).await;
        if p.first().is_some_and(|n| *n > before) {
            break;
        }
        if Instant::now() > deadline {
            let live = d.script("return JSON.stringify(window.leitstandLive);").await;
            panic!("the chart did not update: {p:?}; live events: {live}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(d.url().await.ends_with(&format!("/app/hosts/{id}")), "no reload, no navigation");
}

#[tokio::test]
async fn the_inventory_tabs_show_this_machine_and_its_changes() {
    use leitstand_agent::inventory::{self, Inventory};
    use leitstand_proto::inventory::{Item, Listener, Section, SectionReport};
    let Some(d) = Driver::start().await else { return };
    let app = TestApp::spawn().await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Stadtwerke Musterstadt GmbH").await;
    d.sign_in_as_admin(&app).await;

    // This machine's real inventory, then a change: a new listening port.
    let (id, _) = app.host(&admin, tenant, "app-01.musterstadt.de").await;
    let host = app.store.host_for_agent(leitstand_domain::HostId(id)).await.expect("host");
    let now = jiff::Timestamp::now().as_millisecond();
    let reports = Inventory::new(inventory::standard()).run(std::path::Path::new("/"), now - 60_000);
    let records: Vec<_> = inventory::split_records(reports, now - 60_000)
        .into_iter()
        .enumerate()
        .map(|(i, record)| leitstand_proto::Sequenced { seq: i as u64 + 1, record })
        .collect();
    let next = records.len() as u64 + 1;
    app.services.ingest_batch(&host, leitstand_proto::Batch::new(records), None).await.expect("snapshot");
    let rdp = Item::Listener(Listener {
        protocol: "tcp".into(),
        address: "0.0.0.0".into(),
        port: 3389,
        pid: Some(4242),
        process: "xrdp".into(),
    });
    let delta = SectionReport {
        section: Section::Ports,
        full: false,
        items: vec![rdp],
        removed: vec![],
        error: None,
        truncated: 0,
        more: false,
    };
    let record = leitstand_proto::Record::Inventory { at_ms: now, sections: vec![delta] };
    let results = leitstand_agent::checklist::run(std::path::Path::new("/"));
    let checklist = leitstand_proto::Record::Checklist { at_ms: now, results };
    let batch = leitstand_proto::Batch::new(vec![
        leitstand_proto::Sequenced { seq: next, record },
        leitstand_proto::Sequenced { seq: next + 1, record: checklist },
    ]);
    app.services.ingest_batch(&host, batch, None).await.expect("delta");

    d.go(&app.at(&format!("/app/hosts/{id}/inventory/processes"))).await;
    let page = d.source().await;
    assert!(page.contains("class=\"tabs\"") && page.contains("aria-current=\"page\">Prozesse"), "the tab is marked");
    assert!(page.contains("└ "), "the process tree is drawn");
    d.shot("host-processes").await;
    d.go(&app.at(&format!("/app/hosts/{id}/inventory/ports"))).await;
    assert!(d.source().await.contains("xrdp"));
    d.shot("host-ports").await;
    if std::path::Path::new("/var/lib/dpkg/status").exists() {
        d.go(&app.at(&format!("/app/hosts/{id}/inventory/software"))).await;
        assert!(d.source().await.contains(">adduser<"), "the whole list first");
        d.fill("input[name=q]", "libc6").await;
        d.wait_for_url("q=libc6").await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while d.source().await.contains(">adduser<") {
            assert!(Instant::now() < deadline, "the search did not narrow the list");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(d.source().await.contains(">libc6<"));
        d.shot("host-software").await;
    }
    d.go(&app.at(&format!("/app/hosts/{id}/events"))).await;
    let page = d.source().await;
    assert!(page.contains("Neuer offener Port") && page.contains("port: 3389"), "the change event");
    d.shot("host-events").await;
    d.go(&app.at("/app/inventory?port=3389")).await;
    assert!(d.source().await.contains("app-01.musterstadt.de"));
    d.shot("inventory-ask").await;
    d.go(&app.at(&format!("/app/hosts/{id}/checklist"))).await;
    let page = d.source().await;
    assert!(page.contains("id=\"score\"") && page.contains("Bewertung"), "the score tile");
    d.click("#checks details summary").await;
    d.shot("host-checklist").await;
    d.go(&app.at("/app/checklist")).await;
    assert!(d.source().await.contains("Stadtwerke Musterstadt GmbH"));
    d.shot("checklist-scores").await;

    // Sign-ins of a non-existing user raise one alarm; acknowledge it.
    let invalid = |n: i64| leitstand_proto::SystemEvent {
        at_ms: now + n,
        kind: "auth.invalid_user".into(),
        service: "sshd".into(),
        user: format!("oracle{n}"),
        source: "203.0.113.5".into(),
        method: "password".into(),
        ..Default::default()
    };
    let record = leitstand_proto::Record::Events { events: (1..=4).map(invalid).collect() };
    let batch = leitstand_proto::Batch::new(vec![leitstand_proto::Sequenced { seq: next + 2, record }]);
    app.services.ingest_batch(&host, batch, None).await.expect("events");
    d.go(&app.at("/app/alerts")).await;
    let page = d.source().await;
    assert!(page.contains("Anmeldeversuch eines nicht vorhandenen Benutzers") && page.contains("data-state=\"open\""));
    d.shot("alerts").await;
    d.click("#alerts button[value=acknowledge]").await;
    d.wait_for_url("ok=").await;
    assert!(d.source().await.contains("data-state=\"acknowledged\""), "acknowledged");
    d.go(&app.at("/app/alert-rules")).await;
    assert!(d.source().await.contains("Ein gesperrtes Administratorkonto wurde aktiviert"));
    d.shot("alert-rules").await;
}

#[tokio::test]
async fn a_new_alert_appears_on_the_dashboard_live_is_acknowledged_and_mailed() {
    let Some(d) = Driver::start().await else { return };
    let Some(smtp) = common::smtp::Smtp::start().await else { return };
    let app = TestApp::spawn().await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Stadtwerke Musterstadt GmbH").await;
    app.tenant(&admin, "Praxis Dr. Weber").await;
    let contact = leitstand_service::ContactInput {
        name: "Bereitschaft".into(),
        channel: "email".into(),
        address: "bereitschaft@musterstadt.example".into(),
        language: "de".into(),
        min_severity: "medium".into(),
        rules: vec![],
        level: 0,
        enabled: true,
    };
    app.services.save_contact(&admin, tenant, None, contact).await.expect("contact");
    let mut hosts = vec![];
    for name in ["web-01.musterstadt.de", "db-02.musterstadt.de", "mail-03.musterstadt.de"] {
        let (id, _) = app.host(&admin, tenant, name).await;
        hosts.push(app.store.host_for_agent(leitstand_domain::HostId(id)).await.expect("host"));
    }
    // A month of history: failed sign-ins every day, some alerts along the way.
    let now = app.now().as_millisecond();
    let event = |at_ms: i64, kind: &str, user: &str| leitstand_proto::SystemEvent {
        at_ms,
        kind: kind.into(),
        service: "sshd".into(),
        user: user.into(),
        source: "203.0.113.9".into(),
        ..Default::default()
    };
    for (i, h) in hosts.iter().enumerate() {
        let mut events = vec![];
        for day in 0..30i64 {
            let n = (day * 7 + i as i64 * 3) % 9;
            for k in 0..n {
                events.push(event(now - (30 - day) * 86_400_000 + k * 60_000, "auth.login_failed", "root"));
            }
        }
        let record = leitstand_proto::Record::Events { events };
        let batch = leitstand_proto::Batch::new(vec![leitstand_proto::Sequenced { seq: 1, record }]);
        app.services.ingest_batch(h, batch, None).await.expect("history");
    }
    let record = leitstand_proto::Record::Metrics {
        at_ms: now,
        samples: vec![leitstand_proto::Sample::new("fs_used_percent", 100.0).with("mount", "/srv")],
    };
    let batch = leitstand_proto::Batch::new(vec![leitstand_proto::Sequenced { seq: 2, record }]);
    app.services.ingest_batch(&hosts[1], batch, None).await.expect("disk full");

    // The notifier runs as in the server: a round every 200 ms.
    let cfg = leitstand_server::config::Config {
        smtp: Some(smtp.config()),
        base_url: Some(app.url.clone()),
        ..Default::default()
    };
    let notifier = std::sync::Arc::new(leitstand_server::notify::Notifier::new(app.services.clone(), &cfg).expect("n"));
    let n = notifier.clone();
    let worker = tokio::spawn(async move {
        loop {
            let _ = n.round(false).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });

    d.size(1280, 1400).await;
    d.sign_in_as_admin(&app).await;
    d.go(&app.at("/app/dashboard")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.script("return window.leitstandDashboard && window.leitstandDashboard.connected;").await != json!(true) {
        assert!(Instant::now() < deadline, "the live stream did not connect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = d.source().await;
    assert!(page.contains("Dateisystem voll") && page.contains("Stadtwerke Musterstadt GmbH"), "tiles and tenants");

    // A sign-in attempt of a user that does not exist: on the page at once.
    let record = leitstand_proto::Record::Events {
        events: vec![event(app.now().as_millisecond(), "auth.invalid_user", "oracle")],
    };
    let batch = leitstand_proto::Batch::new(vec![leitstand_proto::Sequenced { seq: 2, record }]);
    app.services.ingest_batch(&hosts[0], batch, None).await.expect("event");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = d.text("#live").await;
        if live.contains("Anmeldeversuch eines nicht vorhandenen Benutzers") {
            break;
        }
        assert!(Instant::now() < deadline, "the alert did not appear live: {live}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(d.url().await.ends_with("/app/dashboard"), "no reload");
    d.shot("dashboard").await;

    // Open it and acknowledge it.
    let alert = app.services.alerts(&admin, Some(tenant), Default::default()).await.expect("alerts");
    let alert = alert.iter().find(|a| a.rule_key.as_deref() == Some("invalid-user-login")).expect("alert").clone();
    d.click(&format!("#live-{} a", alert.id)).await;
    d.wait_for_path(&format!("/app/alerts/{}", alert.id)).await;
    d.click("button[value=acknowledge]").await;
    d.wait_for_url("ok=msg-alert-updated").await;
    assert!(d.text("#alert-state").await.contains("Bestätigt"));

    // The mail arrived at the SMTP server.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mails = smtp.messages();
        if mails.iter().any(|m| m.contains("Anmeldeversuch eines nicht vorhandenen Benutzers")) {
            break;
        }
        assert!(Instant::now() < deadline, "no mail: {mails:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    d.go(&app.at(&format!("/app/alerts/{}", alert.id))).await;
    assert!(d.text("#timeline").await.contains("Benachrichtigt"), "the timeline tells of the mail");
    d.shot("alert").await;
    d.go(&app.at(&format!("/app/notifications?tenant={}", tenant.0))).await;
    d.shot("notifications").await;
    worker.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_soc_pages_show_firewall_alerts_check_a_rule_and_triage_one() {
    let Some(d) = Driver::start().await else { return };
    // A TLS receiver and the built-in CA, as the sources page tells rsyslog.
    let app = TestApp::spawn_configured(
        |_| {},
        |c| {
            c.syslog.tls = Some("127.0.0.1:6514".parse().expect("addr"));
            c.tls = "internal".into();
        },
    )
    .await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Stadtwerke Musterstadt GmbH").await;
    let plan = leitstand_service::PlanInput { security: "professional".into(), soc: "3".into(), managed_service: true };
    app.services.set_plan(&admin, tenant, &plan).await.expect("plan");
    let source = leitstand_service::SourceInput {
        name: "fw01.musterstadt.de".into(),
        address: "127.0.0.1".into(),
        enabled: true,
        ..Default::default()
    };
    app.services.save_syslog_source(&admin, tenant, None, &source).await.expect("source");
    let mut lines: Vec<String> = (0..24)
        .map(|i| format!("<4>Nov 24 08:16:{i:02} gw kernel: IPTABLES-DROP: IN=eth0 OUT= SRC=203.0.113.66 DST=192.0.2.20 LEN=60 PROTO=TCP SPT=40000 DPT={}", 20 + i * 7))
        .collect();
    lines.extend((0..12).map(|i| {
        format!("<38>Nov 24 08:20:{i:02} web-01 sshd[812]: Failed password for invalid user admin{i} from 198.51.100.23 port 42{i:02} ssh2")
    }));
    lines.push(
        "<38>Nov 24 08:21:00 web-01 sshd[816]: Accepted password for root from 198.51.100.44 port 4250 ssh2".into(),
    );
    lines.push("<85>Nov 24 08:22:00 web-01 sudo:      bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/bash".into());
    lines.push("<185>date=2026-11-24 time=08:23:00 devname=\"FGT60F\" devid=\"FGT60FTK2000\" logid=\"0419016384\" type=\"utm\" subtype=\"ips\" srcip=198.51.100.23 dstip=192.0.2.30 dstport=80 proto=6 attack=\"Apache.Log4j.Error.Log.Remote.Code.Execution\" action=\"dropped\"".into());
    lines.push("<30>Nov 24 08:24:00 web-01 systemd[1]: Started session-42.scope - Session 42 of User anna.".into());
    let datagrams = lines.iter().map(|l| common::datagram("127.0.0.1", l)).collect();
    app.services.ingest_syslog(datagrams).await.expect("intake");

    d.size(1280, 1100).await;
    d.sign_in_as_admin(&app).await;
    d.go(&app.at("/app/soc")).await;
    let page = d.source().await;
    for title in
        ["Portscan an der Firewall erkannt", "SSH-Brute-Force von einer Adresse", "Password Spraying von einer Adresse"]
    {
        assert!(page.contains(title), "{title} on the SOC page");
    }
    let order = d.text("#soc_alert_list tbody").await;
    assert!(order.find("Kritisch").is_none() || order.find("Kritisch") < order.find("Niedrig"), "by criticality");
    d.shot("soc").await;
    d.go(&app.at("/app/soc/events")).await;
    assert!(d.source().await.contains("IPTABLES-DROP"));
    d.shot("soc_events").await;

    // A custom rule with a typo: the check names the line and the cause.
    d.go(&app.at(&format!("/app/soc/rules?tenant={}", tenant.0))).await;
    let rule = "title: Backup-Konto angemeldet\nid: 6c1d2c52-8f1e-4d3a-9d0b-0c0ffee0cccc\nlogsource:\n  product: linux\ndetection:\n  sel:\n    user.name|endwith: backup\n  condition: sel\nlevel: high\n";
    d.fill("textarea[name=yaml]", rule).await;
    d.click("button[value=check]").await;
    d.wait_for_source("rule-check-problems").await;
    let problems = d.text("#rule-check-problems").await;
    assert!(problems.contains("Zeile 7") && problems.contains("endwith"), "{problems}");
    d.script("document.getElementById('custom-rule').scrollIntoView(); return true;").await;
    d.shot("soc_rules").await;

    // Triage the brute force: recommendation, close as a true positive.
    let alerts = app.services.soc_alerts(&admin, Some(tenant), vec![], 50).await.expect("alerts");
    let brute = alerts.iter().find(|a| a.detail.contains("SSH brute force")).expect("brute force");
    app.services.add_indicator(&admin, "ip", "198.51.100.23", "Scanner aus Threat-Feed").await.expect("indicator");
    d.go(&app.at(&format!("/app/alerts/{}", brute.id))).await;
    assert!(d.source().await.contains("indicator_hits"), "the indicator hit shows");
    d.fill("#recommendation_form textarea", "Bitte den SSH-Zugang auf das VPN beschränken und fail2ban aktivieren.")
        .await;
    d.click("#recommendation_form button").await;
    d.wait_for(|u| u.contains("ok=msg-recommendation"), "the recommendation saved").await;
    d.click("#triage_form button[value=true_positive]").await;
    d.wait_for_source("soc_verdict").await;
    d.size(1280, 2000).await;
    d.shot("alert_soc").await;
    d.size(1280, 1100).await;
    d.go(&app.at("/app/soc/queue")).await;
    d.shot("soc_queue").await;
    d.go(&app.at("/app/soc/indicators?check=198.51.100.23,evil.example")).await;
    assert!(d.text("#check_result").await.contains("Scanner aus Threat-Feed"));
    d.shot("soc_indicators").await;
    d.go(&app.at(&format!("/app/soc/sources?tenant={}", tenant.0))).await;
    d.fill("#new-source input[name=name]", "vpn.musterstadt.de").await;
    d.fill("#new-source input[name=hostname]", "vpn01").await;
    d.click("#new-source input[name=new_token]").await;
    d.click("#new-source button").await;
    d.wait_for_source("new-token").await;
    let token = d.text("#new-token code").await;
    assert!(token.starts_with("lss_"), "the token is shown once: {token}");
    let rsyslog = d.text("#rsyslog").await;
    assert!(rsyslog.contains(&format!("[leitstand token=\\\"{token}\\\"]")), "{rsyslog}");
    assert!(rsyslog.contains("port=\"6514\"") && rsyslog.contains("leitstand-ca.pem"), "{rsyslog}");
    d.shot("soc_sources").await;
    d.go(&app.at("/app/soc/fair-use")).await;
    assert!(d.source().await.contains("Stadtwerke Musterstadt GmbH"));
    d.shot("soc_fair_use").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vulnerability_pages_show_findings_by_severity_and_accept_one() {
    let Some(d) = Driver::start().await else { return };
    let fixtures = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vuln/tests/fixtures");
    let feeds = vec![
        leitstand_service::FeedSpec {
            name: "debian".into(),
            kind: leitstand_vuln::FeedKind::DebianTracker,
            location: fixtures.join("debian-tracker.json").display().to_string(),
        },
        leitstand_service::FeedSpec {
            name: "osv".into(),
            kind: leitstand_vuln::FeedKind::Osv,
            location: fixtures.join("osv").display().to_string(),
        },
    ];
    let app = TestApp::spawn_tuned(|c| c.vuln.feeds = feeds).await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Stadtwerke Musterstadt GmbH").await;
    let package = |name: &str, version: &str, source: &str| {
        leitstand_proto::inventory::Item::Package(leitstand_proto::inventory::Package {
            name: name.into(),
            version: version.into(),
            arch: "amd64".into(),
            source: source.into(),
            source_version: String::new(),
            origin: "Debian:bookworm/main".into(),
            manager: "dpkg".into(),
        })
    };
    let hosts = [
        (
            "web-01",
            vec![
                package("openssh-server", "1:9.2p1-2+deb12u1", "openssh"),
                package("openssh-client", "1:9.2p1-2+deb12u1", "openssh"),
                package("libc6", "2.36-9+deb12u1", "glibc"),
                package("libcurl4", "7.88.1-10+deb12u3", "curl"),
                package("tar", "1.34+dfsg-1.2+deb12u1", ""),
            ],
        ),
        ("mail-01", vec![package("libc6", "2.36-9+deb12u1", "glibc"), package("curl", "7.88.1-10+deb12u8", "")]),
        ("files-old", vec![package("openssh-server", "1:8.4p1-5+deb11u2", "openssh")]),
    ];
    let mut web = 0;
    for (name, items) in hosts {
        let os = if name == "files-old" { "Debian GNU/Linux 11 (bullseye)" } else { "Debian GNU/Linux 12 (bookworm)" };
        let (id, _) = app.host_on(&admin, tenant, name, os).await;
        let host = app.store.host_for_agent(leitstand_domain::HostId(id)).await.expect("host");
        let report = common::whole_section;
        let mut sections = vec![];
        if name == "web-01" {
            web = id;
            let update = |name: &str, installed: &str, candidate: &str, suite: &str| {
                leitstand_proto::inventory::Item::Update(leitstand_proto::inventory::Update {
                    name: name.into(),
                    arch: "amd64".into(),
                    installed: installed.into(),
                    candidate: candidate.into(),
                    origin: format!(
                        "deb.debian.org/debian{} {suite}/main",
                        if suite.contains("security") { "-security" } else { "" }
                    ),
                    security: suite.contains("security"),
                    manager: "dpkg".into(),
                })
            };
            let pending = vec![
                update("openssh-server", "1:9.2p1-2+deb12u1", "1:9.2p1-2+deb12u3", "bookworm-security"),
                update("openssh-client", "1:9.2p1-2+deb12u1", "1:9.2p1-2+deb12u3", "bookworm-security"),
                update("libc6", "2.36-9+deb12u1", "2.36-9+deb12u3", "bookworm-security"),
                update("tzdata", "2024a-0+deb12u1", "2025b-0+deb12u1", "bookworm"),
            ];
            sections.push(report(leitstand_proto::inventory::Section::Updates, pending));
        }
        sections.push(report(leitstand_proto::inventory::Section::Software, items));
        let record = leitstand_proto::Record::Inventory { at_ms: app.now().as_millisecond(), sections };
        let batch = leitstand_proto::Batch::new(vec![leitstand_proto::Sequenced { seq: 1, record }]);
        app.services.ingest_batch(&host, batch, None).await.expect("software");
    }
    assert!(app.services.load_feeds(std::path::Path::new("/nonexistent")));
    assert_eq!(app.services.scan_due_hosts().await.expect("scan").hosts, 3);

    d.size(1280, 1300).await;
    d.sign_in_as_admin(&app).await;
    d.go(&app.at("/app/vulnerabilities")).await;
    let list = d.text("#finding_list tbody").await;
    assert!(list.find("CVE-2024-6387").expect("8.1 first") < list.find("CVE-2005-2541").expect("ignored last"));
    assert!(d.source().await.contains("id=\"vuln_chart\""));
    assert!(d.text("#vuln_hosts").await.contains("ohne Support"), "bullseye is past its support");
    d.shot("vulnerabilities").await;

    // One finding: accept its risk for 30 days.
    d.click("#finding_list tbody tr:first-child td:nth-child(3) a").await;
    d.wait_for_source("accept_form").await;
    d.fill("#accept_form textarea", "Dienst nur im internen Netz erreichbar; Update im Wartungsfenster am Samstag.")
        .await;
    d.click("#accept_form button").await;
    d.wait_for(|u| u.contains("ok=msg-saved"), "the acceptance saved").await;
    assert!(d.text("#finding_status").await.contains("Risiko akzeptiert"));
    d.shot("vulnerability").await;
    d.go(&app.at("/app/vulnerabilities/feeds")).await;
    assert!(d.text("#feed_list").await.contains("debian-tracker"));
    d.shot("vulnerability_feeds").await;
    d.go(&app.at(&format!("/app/hosts/{web}/inventory/updates"))).await;
    assert!(d.source().await.contains("bookworm-security"));
    d.shot("host_updates").await;
}

#[tokio::test]
async fn a_patch_job_is_planned_ordered_by_the_customer_and_shows_each_hosts_outcome() {
    use leitstand_proto::actions::{ActionReport, Outcome, PackageChange};
    use leitstand_proto::inventory::Section;
    let Some(d) = Driver::start().await else { return };
    let app = TestApp::spawn().await;
    // Tuesday 24 November 2026, 12:00 in Berlin.
    let noon: jiff::Timestamp = "2026-11-24T11:00:00Z".parse().expect("time");
    app.clock.set(noon);
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Stadtwerke Musterstadt GmbH").await;
    app.user(&admin, tenant, "anna", "customer_admin").await;
    app.services.set_patch_window(&admin, tenant, "Di 22:00-02:00, Sa 06:00-10:00").await.expect("window");
    let update = common::pending_update;
    let mut ids = std::collections::HashMap::new();
    for name in ["web-01", "web-02", "db-01", "files-old"] {
        let os = if name == "files-old" { "Debian GNU/Linux 10 (buster)" } else { "Debian GNU/Linux 12 (bookworm)" };
        let (id, _) = app.host_on(&admin, tenant, name, os).await;
        ids.insert(name, id);
        let items = vec![
            update("openssl", "3.0.15-1~deb12u1", "3.0.17-1~deb12u2", true),
            update("libssl3", "3.0.15-1~deb12u1", "3.0.17-1~deb12u2", true),
            update("tzdata", "2024a-0+deb12u1", "2025b-0+deb12u1", false),
        ];
        common::send_section(&app, id, 1, Section::Updates, items).await;
    }
    common::out_of_support(&app, tenant, ids["files-old"], "Debian 10 (buster)", "2024-06-30").await;

    // The provider plans: security updates are preselected, the old release is flagged.
    d.size(1280, 1100).await;
    d.sign_in_as_admin(&app).await;
    d.script(&format!(
        "const s = document.querySelector('#tenant-switch'); s.value = '{}'; s.form.submit();",
        tenant.0
    ))
    .await;
    d.wait_for_source("selected=\"\">Stadtwerke Musterstadt GmbH").await;
    d.go(&app.at("/app/patches/new")).await;
    assert!(d.text("#hosts").await.contains("ohne Support"), "buster is flagged");
    assert!(d.source().await.contains(
        "name=\"host_{}\" id=\"host_{}\" value=\"1\" disabled".replace("{}", &ids["files-old"].to_string()).as_str()
    ));
    d.shot("patch_new").await;
    d.fill("#job_form input[name=title]", "OpenSSL-Sicherheitsupdate").await;
    d.click("#job_form button[type=submit]").await;
    d.wait_for(|u| u.contains("ok=msg-patch-planned"), "the job planned").await;
    assert!(d.text("#job_state").await.contains("wartet auf Beauftragung"));
    let job: i64 = d.url().await.rsplit('/').next().and_then(|s| s.split('?').next()?.parse().ok()).expect("job id");

    // The customer's administrator orders it.
    d.sign_in_as(&app, "anna").await;
    d.go(&app.at(&format!("/app/patches/{job}"))).await;
    d.wait_for_source("order_form").await;
    d.shot("patch_order").await;
    d.click("#order_form button").await;
    d.wait_for(|u| u.contains("ok=msg-patch-ordered"), "the order placed").await;
    assert!(d.text("#job_order").await.contains("anna"));

    // In the window: the pilot succeeds, then one host rolls back.
    app.clock.set("2026-11-24T21:10:00Z".parse().expect("time"));
    app.services.patch_round().await.expect("round");
    let mut seq = 1;
    let mut report = |name: &str, outcome: Outcome| {
        seq += 1;
        let app = &app;
        let ids = &ids;
        let name = name.to_owned();
        async move {
            let host = app.store.host_for_agent(leitstand_domain::HostId(ids[name.as_str()])).await.expect("host");
            let beat = leitstand_proto::Record::Heartbeat { at_ms: app.now().as_millisecond() };
            let batch = leitstand_proto::Batch::new(vec![leitstand_proto::Sequenced { seq, record: beat }]);
            let (ack, _) = app.services.ingest_batch(&host, batch, None).await.expect("beat");
            let action = ack.actions.first().expect("an action").clone();
            let after = if outcome == Outcome::Succeeded { "3.0.17-1~deb12u2" } else { "3.0.15-1~deb12u1" };
            let detail = if outcome == Outcome::Succeeded {
                "before: libssl3 3.0.15-1~deb12u1, openssl 3.0.15-1~deb12u1\n$ apt-get -y -q install --only-upgrade libssl3 openssl\n  Setting up openssl (3.0.17-1~deb12u2) ...\n  → exit 0\n"
            } else {
                "before: libssl3 3.0.15-1~deb12u1, openssl 3.0.15-1~deb12u1\n$ apt-get -y -q install --only-upgrade libssl3 openssl\n  dpkg: error processing package openssl (--configure):\n  → exit 100\nthe update failed; restoring the previous versions\n$ apt-get -y -q install --allow-downgrades libssl3=3.0.15-1~deb12u1 openssl=3.0.15-1~deb12u1\n  → exit 0\nprevious versions restored\n"
            };
            let packages = ["libssl3", "openssl"]
                .iter()
                .map(|p| PackageChange {
                    name: (*p).into(),
                    before: Some("3.0.15-1~deb12u1".into()),
                    after: Some(after.into()),
                })
                .collect();
            let r = ActionReport {
                id: action.id,
                outcome,
                detail: detail.into(),
                packages,
                finished_ms: app.now().as_millisecond(),
            };
            let record = leitstand_proto::Record::Action { report: r };
            let batch = leitstand_proto::Batch::new(vec![leitstand_proto::Sequenced { seq: seq + 100, record }]);
            app.services.ingest_batch(&host, batch, None).await.expect("report");
        }
    };
    report("db-01", Outcome::Succeeded).await;
    app.services.patch_round().await.expect("round");
    report("web-01", Outcome::RolledBack).await;
    report("web-02", Outcome::Succeeded).await;
    app.services.patch_round().await.expect("round");

    d.sign_in_as_admin(&app).await;
    d.go(&app.at(&format!("/app/patches/{job}"))).await;
    assert!(d.text("#job_state").await.contains("angehalten"));
    let hosts = d.text("#job_hosts").await;
    assert!(hosts.contains("zurückgerollt") && hosts.contains("aktualisiert"), "{hosts}");
    d.script("document.querySelectorAll('#job_hosts details').forEach(e => e.open = true)").await;
    d.shot("patch_job").await;
    d.go(&app.at("/app/patches")).await;
    assert!(d.text("#jobs").await.contains("OpenSSL-Sicherheitsupdate"));
    assert!(d.source().await.contains("class=\"pg-ok\""));
    d.shot("patches").await;
}
