//! Alarm benchmarks (issue 6), `cargo bench -p leitstand-server --bench alerts`:
//!
//! 1. Rule evaluation cost per sample with 1,000 threshold rules: the
//!    evaluator alone, and whole batches through the real ingest (SQLite)
//!    with 1,000 rules beside the same batches with the default rules.
//! 2. From an event arriving at the server to the mail accepted by a real
//!    SMTP server (aiosmtpd): p50 and p99 at a steady load of events, with
//!    the notifier running as in the server.

use jiff::Timestamp;
use leitstand_domain::alert::{Direction, Evaluator, RuleKind, Tracker};
use leitstand_domain::SystemClock;
use leitstand_proto::{Batch, Record, Sample, Sequenced, SystemEvent};
use leitstand_service::{ContactInput, RuleInput, SecretKey, ServiceConfig, Services};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn threshold(metric: &str, mount: Option<&str>, value: f64) -> RuleKind {
    RuleKind::Threshold {
        metric: metric.into(),
        labels: mount.map(|m| [("mount".to_owned(), m.to_owned())].into()).unwrap_or_default(),
        direction: Direction::Above,
        value,
        for_secs: 300,
        recover: value - 5.0,
    }
}

/// 1,000 rules: 200 metrics with five rules each (different mounts and lines).
fn thousand_rules() -> Vec<RuleKind> {
    (0..1000).map(|i| threshold(&format!("metric_{}", i / 5), Some(&format!("/m{}", i % 5)), 90.0)).collect()
}

fn evaluator_alone() {
    let ev = Evaluator::new(thousand_rules().into_iter().enumerate().map(|(i, k)| (i as i64, k)));
    let labels: Vec<BTreeMap<String, String>> =
        (0..5).map(|m| [("mount".to_owned(), format!("/m{m}"))].into()).collect();
    let names: Vec<String> = (0..400).map(|i| format!("metric_{i}")).collect();
    let mut trackers: std::collections::HashMap<(i64, usize), Tracker> = Default::default();
    let n = 2_000_000usize;
    let t0 = Instant::now();
    let mut fired = 0;
    for i in 0..n {
        // Half the samples are of watched metrics, half of others.
        let name = &names[i % 400];
        if !ev.watches(name) {
            continue;
        }
        let l = &labels[i % 5];
        for (id, kind) in ev.matching(name, l) {
            let t = trackers.entry((id, i % 5)).or_default();
            let at = Timestamp::from_second(1_700_000_000 + (i / 1000) as i64).expect("time");
            fired += usize::from(t.observe(kind, (i % 100) as f64, at).is_some());
        }
    }
    let per = t0.elapsed().as_nanos() as f64 / n as f64;
    println!("evaluator, 1000 rules: {per:.0} ns per sample ({n} samples, {fired} crossings)");
}

async fn services(dir: &std::path::Path) -> Services {
    let store = Arc::new(leitstand_store_sqlite::open_dir(dir).await.expect("sqlite"));
    let config =
        ServiceConfig { agent_batches_per_second: 1e6, agent_batch_burst: 1_000_000, ..ServiceConfig::default() };
    Services::new(store, Arc::new(SystemClock), SecretKey::generate(), config)
}

async fn host(
    s: &Services,
    admin: &leitstand_service::Actor,
    tenant: leitstand_domain::TenantId,
    name: &str,
) -> leitstand_store::Host {
    let token = s.create_enroll_token(admin, tenant).await.expect("token");
    let key = leitstand_agent::identity::new_key();
    let req = leitstand_proto::EnrollRequest {
        token: token.token,
        name: name.into(),
        os: "Debian 12".into(),
        public_key: leitstand_agent::identity::public_hex(&key),
        protocol: leitstand_proto::PROTOCOL_VERSION,
    };
    let (h, _) = s.enroll_host(&req, "bench").await.expect("enrol");
    s.store().host_for_agent(h.id).await.expect("host")
}

async fn tenant(s: &Services, admin: &leitstand_service::Actor, name: &str) -> leitstand_domain::TenantId {
    let input = leitstand_service::NewTenantInput {
        name: name.into(),
        plan: leitstand_service::PlanInput { security: "basic".into(), soc: "none".into(), managed_service: false },
        time_zone: None,
    };
    s.create_tenant(admin, &input).await.expect("tenant").id
}

async fn setup(s: &Services) -> (leitstand_service::Actor, leitstand_domain::TenantId) {
    s.bootstrap("Provider", "admin").await.expect("bootstrap");
    let admin = s.cli_actor().await.expect("admin");
    let t = tenant(s, &admin, "Kunde").await;
    (admin, t)
}

/// Batches of 1,000 samples (200 watched metrics × 5 mounts) through the
/// real ingest; returns µs per batch.
async fn ingest_cost(extra_rules: bool) -> f64 {
    let dir = tempfile::tempdir().expect("dir");
    let s = services(dir.path()).await;
    let (admin, tenant) = setup(&s).await;
    if extra_rules {
        for (i, kind) in thousand_rules().into_iter().enumerate() {
            let input = RuleInput {
                name: format!("r{i}"),
                severity: leitstand_domain::alert::Severity::Low,
                kind,
                imminent: false,
            };
            s.create_rule(&admin, tenant, input).await.expect("rule");
        }
    }
    let h = host(&s, &admin, tenant, "bench-01").await;
    let batches = 200u64;
    let mut total = Duration::ZERO;
    for seq in 1..=batches {
        let samples = (0..1000)
            .map(|i| {
                Sample::new(&format!("metric_{}", i / 5), ((seq + i) % 95) as f64)
                    .with("mount", &format!("/m{}", i % 5))
            })
            .collect();
        let record = Record::Metrics { at_ms: Timestamp::now().as_millisecond(), samples };
        let batch = Batch::new(vec![Sequenced { seq, record }]);
        let t0 = Instant::now();
        s.ingest_batch(&h, batch, None).await.expect("ingest");
        total += t0.elapsed();
    }
    total.as_micros() as f64 / batches as f64
}

async fn event_to_mail() {
    let dir = tempfile::tempdir().expect("dir");
    let maildir = dir.path().join("mail");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut smtp = std::process::Command::new("/usr/bin/python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .spawn()
        .expect("aiosmtpd (apt install python3-aiosmtpd)");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = services(dir.path()).await;
    let (admin, _) = setup(&s).await;
    let config = leitstand_server::config::Config {
        smtp: Some(leitstand_server::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(port),
            security: "none".into(),
            username: None,
            password: None,
            from: "Leitstand <alarm@provider.example>".into(),
            ca_file: None,
        }),
        ..Default::default()
    };
    leitstand_server::notify::spawn(Arc::new(leitstand_server::notify::Notifier::new(s.clone(), &config).expect("n")));
    // One event a second, each of another customer with a contact of its
    // own: every event makes a new alert and one mail (one recipient would
    // meet the rate limit after five).
    let n = 60;
    let mut sent_at = BTreeMap::new();
    for i in 0..n {
        let t = tenant(&s, &admin, &format!("Kunde {i:03}")).await;
        let c = ContactInput {
            name: format!("c{i}"),
            channel: "email".into(),
            address: format!("c{i}@kunde.example"),
            language: "de".into(),
            min_severity: "low".into(),
            rules: vec![],
            level: 0,
            enabled: true,
        };
        s.save_contact(&admin, t, None, c).await.expect("contact");
        let h = host(&s, &admin, t, &format!("node-{i:03}")).await;
        let e = SystemEvent {
            at_ms: Timestamp::now().as_millisecond(),
            kind: "auth.invalid_user".into(),
            service: "sshd".into(),
            user: format!("bench{i:03}"),
            ..Default::default()
        };
        let batch = Batch::new(vec![Sequenced { seq: 1, record: Record::Events { events: vec![e] } }]);
        let t0 = std::time::SystemTime::now();
        s.ingest_batch(&h, batch, None).await.expect("event");
        sent_at.insert(format!("node-{i:03}"), t0);
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut lat = vec![];
    for f in std::fs::read_dir(maildir.join("new")).expect("maildir").flatten() {
        let text = std::fs::read_to_string(f.path()).unwrap_or_default();
        let arrived = f.metadata().and_then(|m| m.modified()).expect("mtime");
        for (host, t0) in &sent_at {
            if text.contains(host.as_str()) {
                lat.push(arrived.duration_since(*t0).unwrap_or_default().as_secs_f64() * 1000.0);
            }
        }
    }
    let _ = smtp.kill();
    let _ = smtp.wait();
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "event → mail accepted, {} events at 1/s: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        lat.len(),
        q(0.5),
        q(0.99),
        lat.last().copied().unwrap_or_default()
    );
}

fn main() {
    evaluator_alone();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let base = ingest_cost(false).await;
        let with = ingest_cost(true).await;
        println!(
            "ingest of 1000-sample batches (SQLite): default rules {base:.0} µs, with 1000 more rules {with:.0} µs \
             → {:.2} µs per sample for the rules",
            (with - base) / 1000.0
        );
        event_to_mail().await;
    });
}
