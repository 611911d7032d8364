//! `TestApp`: the real server on port 0 with a fresh store, and a fixture of
//! two customer tenants with users of every role, spoken to over HTTP.
#![allow(dead_code)]

pub mod smtp;

use jiff::Timestamp;
use leitstand_domain::{Clock, ManualClock, TenantId, UserId};
use leitstand_server::app::AppState;
use leitstand_server::config::Config;
use leitstand_service::{Actor, NewTenantInput, NewUserInput, PlanInput, SecretKey, ServiceConfig, Services};
use leitstand_store::Store;
use std::sync::Arc;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub url: String,
    pub services: Services,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
    _pg: Option<leitstand_store_postgres::testing::TestDb>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub enum Backend {
    Sqlite,
    Postgres,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_on(Backend::Sqlite).await.expect("sqlite is always there")
    }

    /// `None` when PostgreSQL is unreachable outside CI (the test then returns).
    pub async fn spawn_on(backend: Backend) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, pg): (Arc<dyn Store>, _) = match backend {
            Backend::Sqlite => (Arc::new(leitstand_store_sqlite::open_dir(dir.path()).await.expect("sqlite")), None),
            Backend::Postgres => {
                let db = leitstand_store_postgres::testing::TestDb::create().await?;
                (Arc::new(leitstand_store_postgres::open(&db.url).await.expect("postgres")), Some(db))
            }
        };
        Some(Self::spawn_with(store, dir, pg).await)
    }

    /// The server on a store the test opened itself.
    pub async fn spawn_with(
        store: Arc<dyn Store>,
        dir: tempfile::TempDir,
        pg: Option<leitstand_store_postgres::testing::TestDb>,
    ) -> TestApp {
        Self::spawn_full(store, dir, pg, |_| {}, |_| {}).await
    }

    /// SQLite, with the use-case settings changed by `tune`.
    pub async fn spawn_tuned(tune: impl FnOnce(&mut ServiceConfig)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(leitstand_store_sqlite::open_dir(dir.path()).await.expect("sqlite"));
        Self::spawn_full(store, dir, None, tune, |_| {}).await
    }

    /// SQLite, with the use-case settings and the server configuration changed.
    pub async fn spawn_configured(
        tune: impl FnOnce(&mut ServiceConfig),
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(leitstand_store_sqlite::open_dir(dir.path()).await.expect("sqlite"));
        Self::spawn_full(store, dir, None, tune, configure).await
    }

    async fn spawn_full(
        store: Arc<dyn Store>,
        dir: tempfile::TempDir,
        pg: Option<leitstand_store_postgres::testing::TestDb>,
        tune: impl FnOnce(&mut ServiceConfig),
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        // Server warnings and errors show up in the output of a failing test.
        let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("warn").try_init();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let url = format!("http://{addr}");
        let clock = Arc::new(ManualClock::new(Timestamp::now()));
        let mut sc = ServiceConfig { base_url: url.clone(), ..ServiceConfig::default() };
        tune(&mut sc);
        let services = Services::new(store.clone(), clock.clone(), SecretKey::generate(), sc);
        let mut config =
            Config { listen: addr, base_url: Some(url.clone()), data_dir: dir.path().into(), ..Config::default() };
        configure(&mut config);
        let state = AppState::new(services.clone(), config);
        let app = leitstand_server::app::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestApp { url, services, clock, store, _dir: dir, _pg: pg, server }
    }

    /// The PostgreSQL database of an app spawned on it (for a second replica).
    pub fn postgres_url(&self) -> Option<&str> {
        self._pg.as_ref().map(|db| db.url.as_str())
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A browser-like client: keeps cookies, does not follow redirects.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    pub fn api(&self) -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
    }

    /// GET `path` with an API token; the answer as JSON.
    pub async fn get_json(&self, token: &str, path: &str) -> serde_json::Value {
        let r = self.api().get(self.at(path)).bearer_auth(token).send().await.expect("get");
        r.json().await.expect("json")
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The provider admin from the first start, with a password set.
    pub async fn bootstrap(&self) -> Actor {
        let inv = self.services.bootstrap("Provider GmbH", "admin").await.expect("bootstrap").expect("first");
        self.redeem(&inv.link).await;
        self.services.cli_actor().await.expect("admin")
    }

    pub async fn redeem(&self, link: &str) {
        let token = link.rsplit('/').next().expect("token");
        self.services.redeem_invitation(token, PASSWORD, PASSWORD, "test").await.expect("redeem");
    }

    pub async fn tenant(&self, admin: &Actor, name: &str) -> TenantId {
        let input = NewTenantInput {
            name: name.into(),
            plan: PlanInput { security: "basic".into(), soc: "none".into(), managed_service: false },
            time_zone: None,
        };
        self.services.create_tenant(admin, &input).await.expect("tenant").id
    }

    pub async fn user(&self, admin: &Actor, tenant: TenantId, name: &str, role: &str) -> UserId {
        let input = NewUserInput {
            tenant,
            name: name.into(),
            display_name: String::new(),
            email: Some(format!("{name}@example.de")),
            role: role.into(),
        };
        let (user, inv) = self.services.create_user(admin, &input).await.expect("user");
        self.redeem(&inv.link).await;
        user.id
    }

    /// A signed-in browser session for `name`.
    pub async fn sign_in(&self, name: &str) -> reqwest::Client {
        let c = self.browser();
        let csrf = csrf_of(&c, &self.at("/login")).await;
        let r = c
            .post(self.at("/login"))
            .form(&[("name", name), ("password", PASSWORD), ("_csrf", &csrf)])
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 303, "sign-in of {name} failed");
        c
    }

    /// An API token for `name`.
    pub async fn token(&self, name: &str) -> String {
        let n = leitstand_domain::UserName::parse("n", name).expect("name");
        let u = self.store.user_for_sign_in(&n).await.expect("user");
        self.services.create_api_token(&Actor::cli(u), "test", None).await.expect("token").token
    }

    pub async fn actor(&self, name: &str) -> Actor {
        let n = leitstand_domain::UserName::parse("n", name).expect("name");
        let u = self.store.user_for_sign_in(&n).await.expect("user");
        // A real actor, made the way a request makes one: through a token.
        let tok = self.services.create_api_token(&Actor::cli(u.clone()), "actor", None).await.expect("token");
        self.services.actor_from_api_token(&tok.token, "test").await.expect("actor")
    }
}

/// Reads the CSRF token from a page's `<meta name="csrf-token">`.
pub async fn csrf_of(c: &reqwest::Client, url: &str) -> String {
    let body = c.get(url).send().await.expect("get").text().await.expect("body");
    let marker = "name=\"csrf-token\" content=\"";
    let start = body.find(marker).map(|i| i + marker.len()).expect("csrf meta");
    body[start..].split('"').next().expect("csrf").to_owned()
}

/// The fixture of the route tests: tenants A and B, a user of every role,
/// and ids of everything that belongs to B.
pub struct World {
    pub a: TenantId,
    pub b: TenantId,
    pub b_user: UserId,
    pub b_token_id: i64,
    pub b_host: i64,
    pub b_rule: i64,
    pub b_alert: i64,
    pub b_contact: i64,
    pub b_source: i64,
    pub b_finding: i64,
    pub b_job: i64,
}

impl TestApp {
    /// Enrols a host into `tenant` the way an agent does; returns its id and key.
    pub async fn host(&self, admin: &Actor, tenant: TenantId, name: &str) -> (i64, ed25519_dalek::SigningKey) {
        self.host_on(admin, tenant, name, "Debian GNU/Linux 12 (bookworm)").await
    }

    /// Enrols a host that runs `os` (its `PRETTY_NAME`).
    pub async fn host_on(
        &self,
        admin: &Actor,
        tenant: TenantId,
        name: &str,
        os: &str,
    ) -> (i64, ed25519_dalek::SigningKey) {
        let token = self.services.create_enroll_token(admin, tenant).await.expect("token");
        let key = leitstand_agent::identity::new_key();
        let req = leitstand_proto::EnrollRequest {
            token: token.token,
            name: name.into(),
            os: os.into(),
            public_key: leitstand_agent::identity::public_hex(&key),
            protocol: leitstand_proto::PROTOCOL_VERSION,
        };
        let (host, _) = self.services.enroll_host(&req, "test").await.expect("enrol");
        (host.id.0, key)
    }
}

pub async fn world(app: &TestApp) -> World {
    let admin = app.bootstrap().await;
    let provider = app.store.provider().await.expect("provider").expect("exists").id;
    let a = app.tenant(&admin, "Kunde A GmbH").await;
    let b = app.tenant(&admin, "Kunde B AG").await;
    let soc = app.user(&admin, provider, "soc", "soc_analyst").await;
    app.user(&admin, provider, "noc", "support_agent").await;
    app.services.assign_staff(&admin, soc, &[a]).await.expect("assign");
    let noc = app.actor("noc").await;
    app.services.assign_staff(&admin, noc.id(), &[a]).await.expect("assign");
    app.user(&admin, a, "anna", "customer_admin").await;
    app.user(&admin, a, "arne", "customer_member").await;
    let b_user = app.user(&admin, b, "berta", "customer_admin").await;
    app.user(&admin, b, "bodo", "customer_member").await;
    let berta = app.actor("berta").await;
    let tok = app.services.create_api_token(&berta, "b-secret", None).await.expect("token");
    app.host(&admin, a, "a-web-01").await;
    let (b_host, _) = app.host(&admin, b, "b-db-01").await;
    let b_rule = app.services.alert_rules(&admin, b).await.expect("rules")[0].id;
    // An alert of B: a failed sign-in on its host.
    let host = app.store.host_for_agent(leitstand_domain::HostId(b_host)).await.expect("host");
    let failed = leitstand_proto::SystemEvent {
        at_ms: app.now().as_millisecond(),
        kind: "auth.login_failed".into(),
        service: "sshd".into(),
        user: "root".into(),
        ..Default::default()
    };
    let record = leitstand_proto::Record::Events { events: vec![failed] };
    let batch = leitstand_proto::Batch::new(vec![leitstand_proto::Sequenced { seq: 1, record }]);
    app.services.ingest_batch(&host, batch, None).await.expect("event");
    let b_alert = app.services.alerts(&admin, Some(b), Default::default()).await.expect("alerts")[0].id;
    let contact = leitstand_service::ContactInput {
        name: "B Bereitschaft".into(),
        channel: "email".into(),
        address: "bereitschaft@kunde-b.example".into(),
        language: "de".into(),
        min_severity: "low".into(),
        level: 0,
        enabled: true,
        rules: vec![],
    };
    let b_contact = app.services.save_contact(&admin, b, None, contact).await.expect("contact").id;
    let source = leitstand_service::SourceInput {
        name: "B Firewall".into(),
        address: "192.0.2.200".into(),
        enabled: true,
        ..Default::default()
    };
    let b_source = app.services.save_syslog_source(&admin, b, None, &source).await.expect("source").0.id;
    let b_finding = vuln_finding(app, b, b_host).await;
    let job = leitstand_store::NewPatchJob {
        tenant: b,
        title: "B openssl".into(),
        packages: vec!["openssl".into()],
        hosts: vec![(leitstand_domain::HostId(b_host), 1, vec!["openssl".into()])],
        appointment: None,
        created_by: "admin".into(),
        at: app.services.now(),
    };
    let draft = leitstand_store::conformance::draft("patch.job_create", Some(b));
    let b_job = app.store.create_patch_job(&leitstand_store::TenantScope::All, &job, &draft).await.expect("job").id;
    World { a, b, b_user, b_token_id: tok.info.id.0, b_host, b_rule, b_alert, b_contact, b_source, b_finding, b_job }
}

/// A stored scan of a host with one finding (CVE-2024-6387 in openssh, CVSS
/// 8.1); returns the finding's id.
pub async fn vuln_finding(app: &TestApp, tenant: TenantId, host: i64) -> i64 {
    let finding = leitstand_store::NewFinding {
        cve: "CVE-2024-6387".into(),
        package: "openssh".into(),
        binaries: "openssh-server".into(),
        installed: "1:9.2p1-2+deb12u2".into(),
        fixed: Some("1:9.2p1-2+deb12u3".into()),
        state: "fix_available".into(),
        note: String::new(),
        advisory: None,
        score_tenths: Some(81),
        vector: Some("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
        severity: "high".into(),
        title: "regreSSHion".into(),
    };
    let scan = leitstand_store::HostScan {
        host: leitstand_domain::HostId(host),
        tenant,
        release: Some("Debian 12 (bookworm)".into()),
        end_of_support: Some("2028-06-30".into()),
        out_of_support: false,
        packages: 1,
        problem: None,
        findings: vec![finding],
        at: app.now(),
        software_at: app.now(),
        advisories_at: app.now(),
    };
    app.store.save_scan(&scan).await.expect("scan");
    let q = leitstand_store::FindingQuery { host: Some(scan.host), ..Default::default() };
    app.store.vuln_findings(&leitstand_store::TenantScope::All, &q).await.expect("findings").findings[0].id
}

/// Every role with the name of a user who holds it in the fixture.
pub const ROLE_USERS: [(&str, &str); 5] = [
    ("provider_admin", "admin"),
    ("soc_analyst", "soc"),
    ("support_agent", "noc"),
    ("customer_admin", "anna"),
    ("customer_member", "arne"),
];

/// A TCP relay that a test can cut (abort the task) and restore (bind again).
pub async fn relay(listener: tokio::net::TcpListener, target: String) {
    let mut conns = tokio::task::JoinSet::new();
    while let Ok((mut inbound, _)) = listener.accept().await {
        let target = target.clone();
        conns.spawn(async move {
            if let Ok(mut out) = tokio::net::TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
            }
        });
    }
}

/// The status of a POST that announces a body of `len` bytes, read before
/// any of the body is sent (so a server that refuses at once cannot break
/// the pipe under a client still writing).
pub async fn announced_post_status(app: &TestApp, path: &str, headers: &[(&str, &str)], len: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len}\r\n{extra}\r\n");
    s.write_all(head.as_bytes()).await.expect("write head");
    let mut buf = vec![0u8; 64];
    let n = s.read(&mut buf).await.expect("read");
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status in {line:?}"))
}

/// A syslog line as the receiver hands it to the service, from `peer`.
pub fn datagram(peer: &str, line: &str) -> leitstand_service::Datagram {
    leitstand_service::Datagram {
        peer: peer.parse().expect("ip"),
        bytes: line.as_bytes().to_vec(),
        truncated: false,
        tls: false,
    }
}

/// The agent binary built next to the tests, if it is.
pub fn agent_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?; // target/debug/deps/.. → target/debug
    let bin = dir.join("leitstand-agent");
    bin.exists().then_some(bin)
}

/// Runs the agent binary with its configuration and state directory.
pub async fn run_agent(
    bin: &std::path::Path,
    config: &std::path::Path,
    state: &std::path::Path,
    args: Vec<String>,
) -> std::process::Output {
    let (bin, config, state) = (bin.to_owned(), config.to_owned(), state.to_owned());
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .arg("--config")
            .arg(config)
            .arg("--state")
            .arg(state)
            .args(args)
            .output()
            .expect("run agent")
    })
    .await
    .expect("agent task")
}

/// One inventory section, whole, as an agent reports it.
pub fn whole_section(
    section: leitstand_proto::inventory::Section,
    items: Vec<leitstand_proto::inventory::Item>,
) -> leitstand_proto::inventory::SectionReport {
    leitstand_proto::inventory::SectionReport {
        section,
        full: true,
        items,
        removed: vec![],
        error: None,
        truncated: 0,
        more: false,
    }
}

/// Sends one inventory section (whole) as the host's agent would, with
/// this sequence number.
pub async fn send_section(
    app: &TestApp,
    host: i64,
    seq: u64,
    section: leitstand_proto::inventory::Section,
    items: Vec<leitstand_proto::inventory::Item>,
) {
    use leitstand_proto::{Batch, Record, Sequenced};
    let host = app.store.host_for_agent(leitstand_domain::HostId(host)).await.expect("host");
    let record = Record::Inventory { at_ms: app.now().as_millisecond(), sections: vec![whole_section(section, items)] };
    app.services.ingest_batch(&host, Batch::new(vec![Sequenced { seq, record }]), None).await.expect("ingest");
}

/// A pending update from bookworm's security suite (or its main suite).
pub fn pending_update(
    name: &str,
    installed: &str,
    candidate: &str,
    security: bool,
) -> leitstand_proto::inventory::Item {
    leitstand_proto::inventory::Item::Update(leitstand_proto::inventory::Update {
        name: name.into(),
        arch: "amd64".into(),
        installed: installed.into(),
        candidate: candidate.into(),
        origin: if security {
            "deb.debian.org/debian-security bookworm-security/main"
        } else {
            "deb.debian.org/debian bookworm/main"
        }
        .into(),
        security,
        manager: "dpkg".into(),
    })
}

/// Stores a scan that found the host's release past its end of support.
pub async fn out_of_support(app: &TestApp, tenant: TenantId, host: i64, release: &str, end: &str) {
    let scan = leitstand_store::HostScan {
        host: leitstand_domain::HostId(host),
        tenant,
        release: Some(release.into()),
        end_of_support: Some(end.into()),
        out_of_support: true,
        packages: 0,
        problem: None,
        findings: vec![],
        at: app.now(),
        software_at: app.now(),
        advisories_at: app.now(),
    };
    app.store.save_scan(&scan).await.expect("scan");
}
