//! Syslog over UDP (issue 7), `cargo bench -p leitstand-server --bench syslog`:
//! the highest steady rate of lines per second the receiver takes without
//! losing one, end to end (socket → intake → parse → detect → SQLite).
//!
//! For each rate a sender paces firewall and sshd lines over two seconds
//! (in 1 ms slices) to the receiver as the server runs it; the run counts
//! what the receiver got and what was stored. The socket's receive buffer is
//! the kernel default (`net.core.rmem_default`).

use leitstand_domain::SystemClock;
use leitstand_server::config::SyslogConfig;
use leitstand_server::syslog::{start, SyslogCounters};
use leitstand_service::{SecretKey, ServiceConfig, Services, SocConfig, SourceInput};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECONDS: u64 = 2;

async fn services(dir: &std::path::Path) -> Services {
    let store = Arc::new(leitstand_store_sqlite::open_dir(dir).await.expect("sqlite"));
    let soc = SocConfig { lines_per_second: 1e7, burst: 100_000_000, ..SocConfig::default() };
    Services::new(
        store,
        Arc::new(SystemClock),
        SecretKey::generate(),
        ServiceConfig { soc, ..ServiceConfig::default() },
    )
}

fn line(i: u64) -> String {
    if i.is_multiple_of(2) {
        format!(
            "<4>Nov 24 08:16:00 gw kernel: IPTABLES-DROP: IN=eth0 OUT= SRC=203.0.{}.{} DST=192.0.2.20 LEN=60 PROTO=TCP SPT=40000 DPT={}",
            (i / 250) % 250,
            i % 250,
            1 + i % 1000
        )
    } else {
        format!(
            "<38>Nov 24 08:20:00 web-01 sshd[812]: Failed password for root from 198.51.{}.{} port {} ssh2",
            (i / 250) % 250,
            i % 250,
            i % 60000
        )
    }
}

/// Sends `rate` lines per second for `SECONDS`; returns (sent, received, stored).
async fn run(rate: u64) -> (u64, u64, u64) {
    let dir = tempfile::tempdir().expect("dir");
    let s = services(dir.path()).await;
    s.bootstrap("Provider", "admin").await.expect("bootstrap");
    let admin = s.cli_actor().await.expect("admin");
    let input = leitstand_service::NewTenantInput {
        name: "Kunde".into(),
        plan: leitstand_service::PlanInput { security: "basic".into(), soc: "1".into(), managed_service: false },
        time_zone: None,
    };
    let tenant = s.create_tenant(&admin, &input).await.expect("tenant").id;
    let source = SourceInput { name: "fw".into(), address: "127.0.0.1".into(), enabled: true, ..Default::default() };
    s.save_syslog_source(&admin, tenant, None, &source).await.expect("source");
    let counters = Arc::new(SyslogCounters::default());
    let config = SyslogConfig { udp: Some("127.0.0.1:0".parse().expect("addr")), ..SyslogConfig::default() };
    let at = start(s.clone(), &config, None, counters.clone()).await.expect("receiver");
    let to = at.udp.expect("udp");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let total = rate * SECONDS;
    let per_slice = (rate / 1000).max(1);
    let begin = Instant::now();
    let mut sent = 0;
    while sent < total {
        for _ in 0..per_slice.min(total - sent) {
            let _ = socket.send_to(line(sent).as_bytes(), to);
            sent += 1;
        }
        let due = begin + Duration::from_micros(sent * 1_000_000 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    // Let the intake finish: until the stored count stops growing.
    let mut last = u64::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stored = counters.stored.load(Ordering::Relaxed);
        if stored == last {
            break;
        }
        last = stored;
    }
    (sent, counters.received.load(Ordering::Relaxed), counters.stored.load(Ordering::Relaxed))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        println!("rate (lines/s)   sent   received   stored   lost");
        let mut best = 0;
        for rate in [5_000, 10_000, 20_000, 40_000, 60_000, 80_000] {
            let (sent, received, stored) = run(rate).await;
            let lost = sent - stored;
            println!("{rate:>14} {sent:>7} {received:>10} {stored:>8} {lost:>6}");
            if lost == 0 {
                best = rate;
            }
        }
        println!("highest rate without loss: {best} lines/s");
    });
}
