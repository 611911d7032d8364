//! The `leitstand` binary as an operator runs it: first start, second start,
//! an unreachable database, and `kill -9` in the middle of writes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

struct Server {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Server {
    fn up(dir: &std::path::Path, port: u16) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leitstand"))
            .args(["up", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(dir)
            .env_remove("LEITSTAND_DATABASE")
            // The agents here send as fast as they can.
            .env("LEITSTAND_AGENT_BATCHES_PER_SECOND", "100000")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn leitstand");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Server { child, lines: rx }
    }

    /// Lines printed until the server said it is ready (and a moment more).
    fn until_ready(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = vec![];
        while Instant::now() < deadline {
            if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
                seen.push(l);
                if seen.iter().any(|l| l.contains("is ready")) {
                    while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(300)) {
                        seen.push(l);
                    }
                    return seen;
                }
            }
        }
        panic!("server not ready; printed {seen:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn link_in(lines: &[String]) -> Option<String> {
    lines.iter().find(|l| l.contains("/invite/")).map(|l| l.trim().to_owned())
}

async fn csrf(c: &reqwest::Client, url: &str) -> String {
    let body = c.get(url).send().await.expect("get").text().await.expect("body");
    let m = "name=\"csrf-token\" content=\"";
    body[body.find(m).expect("meta") + m.len()..].split('"').next().expect("csrf").to_owned()
}

/// Redeems the first-start link and makes an API token through the web UI.
async fn admin_token(base: &str, link: &str) -> String {
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let t = csrf(&c, link).await;
    let pw = "correct horse battery staple";
    let r = c.post(link).form(&[("password", pw), ("repeat", pw), ("_csrf", &t)]).send().await.expect("redeem");
    assert_eq!(r.status(), 303);
    let t = csrf(&c, &format!("{base}/app/profile")).await;
    let page = c
        .post(format!("{base}/app/profile/tokens"))
        .form(&[("label", "crash test"), ("_csrf", &t)])
        .send()
        .await
        .expect("token")
        .text()
        .await
        .expect("page");
    page.split("id=\"new-token\">").nth(1).expect("token shown").split('<').next().expect("token").to_owned()
}

#[tokio::test]
async fn first_start_prints_a_one_time_link_and_the_second_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let first = Server::up(dir.path(), port);
    let lines = first.until_ready();
    let link = link_in(&lines).expect("a one-time link on first start");
    assert!(link.starts_with(&format!("http://127.0.0.1:{port}/invite/")));
    drop(first);
    let port = free_port();
    let second = Server::up(dir.path(), port);
    let lines = second.until_ready();
    assert!(link_in(&lines).is_none(), "the second start prints no secret: {lines:?}");
    // The link of the first start still works on the second.
    let link = link.replace(&link[7..link.find("/invite").expect("path")], &format!("127.0.0.1:{port}"));
    let status = reqwest::get(&link).await.expect("get").status();
    assert_eq!(status, 200);
    // The key that seals secrets stays in the data directory, private.
    let meta = std::fs::metadata(dir.path().join("secret.key")).expect("key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o077, 0, "secret.key must be private");
    }
}

#[test]
fn an_unreachable_database_is_one_clear_line_and_a_failure() {
    let out = Command::new(env!("CARGO_BIN_EXE_leitstand"))
        .args(["serve", "--database", "postgres://postgres:hunter2@127.0.0.1:1/leitstand", "--listen", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(
        lines[0].starts_with("error: cannot connect to PostgreSQL at postgres://postgres:***@127.0.0.1:1/"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "the password is never printed");
}

#[tokio::test]
async fn kill_9_during_writes_loses_nothing_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Server::up(dir.path(), port);
    let link = link_in(&server.until_ready()).expect("link");
    let token = admin_token(&base, &link).await;

    // Eight writers create tenants as fast as they can; each remembers what
    // the server acknowledged.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut writers = vec![];
    for w in 0..8 {
        let (acked, token, base) = (acked.clone(), token.clone(), base.clone());
        writers.push(tokio::spawn(async move {
            let c = reqwest::Client::new();
            for i in 0..10_000 {
                let name = format!("Kunde {w}-{i}");
                let r = c
                    .post(format!("{base}/api/v1/tenants"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({ "name": name, "security": "basic", "soc": "none" }))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => acked.lock().expect("lock").push(name),
                    _ => break,
                }
            }
        }));
    }
    while acked.lock().expect("lock").len() < 150 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().expect("kill -9"); // SIGKILL: no shutdown, no flush
    server.child.wait().expect("wait");
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().expect("lock").clone();
    drop(server);

    let store = leitstand_store_sqlite::open_dir(dir.path()).await.expect("reopen");
    use leitstand_store::{Store, TenantStore};
    store.integrity_check().await.expect("integrity_check is ok");
    let names: std::collections::HashSet<String> =
        store.tenants(&leitstand_store::TenantScope::All).await.expect("tenants").into_iter().map(|t| t.name).collect();
    let lost: Vec<&String> = acked.iter().filter(|n| !names.contains(*n)).collect();
    assert!(lost.is_empty(), "{} acknowledged tenants lost after kill -9: {lost:?}", lost.len());
    let services = leitstand_service::Services::new(
        std::sync::Arc::new(store),
        std::sync::Arc::new(leitstand_domain::SystemClock),
        leitstand_service::SecretKey::generate(),
        Default::default(),
    );
    let report = services.verify_audit(&leitstand_service::Actor::cli_system()).await.expect("verify");
    assert_eq!(report.error, None, "the audit chain survives a crash");

    // And the server starts again on the same data.
    let port = free_port();
    let again = Server::up(dir.path(), port);
    again.until_ready();
    let r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/tenants"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let n = r.json::<serde_json::Value>().await.expect("json").as_array().expect("list").len();
    assert!(n > acked.len(), "all {} acknowledged tenants are served (got {n})", acked.len());
}

fn leitstand_cli(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_leitstand"))
        .args(args)
        .arg("--data")
        .arg(dir)
        .env_remove("LEITSTAND_DATABASE")
        .output()
        .expect("run leitstand");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_server_mid_ingest_loses_no_acknowledged_sample() {
    use leitstand_agent::spool::{Spool, SpoolLimits};
    use leitstand_agent::uplink::{self, SendError, Uplink};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Server::up(dir.path(), port);
    server.until_ready();
    leitstand_cli(dir.path(), &["admin", "tenant", "create", "Kunde A"]);
    let token = leitstand_cli(dir.path(), &["admin", "enroll-token", "--tenant", "Kunde A"]);
    let b = base.clone();
    let (identity, resp) = tokio::task::spawn_blocking(move || uplink::enroll(&b, &token, "web-01", "Debian 12"))
        .await
        .expect("join")
        .expect("enrol");

    const RECORDS: u64 = 2000;
    let agent_dir = tempfile::tempdir().expect("agent");
    let mut spool = Spool::open(agent_dir.path(), SpoolLimits::default()).expect("spool");
    // Recent times: the restarted server applies retention at once.
    let start_ms = jiff::Timestamp::now().as_millisecond() - RECORDS as i64 * 1000;
    for i in 0..RECORDS {
        let samples = vec![leitstand_proto::Sample::new("cpu_usage_percent", i as f64).with("cpu", "total")];
        spool.append(&leitstand_proto::Record::Metrics { at_ms: start_ms + i as i64 * 1000, samples }).expect("append");
    }
    let acked = Arc::new(AtomicU64::new(0));
    let progress = acked.clone();
    let sender = tokio::task::spawn_blocking(move || {
        let mut up = Uplink::new(identity);
        up.max_records = 20;
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let batch = spool.pending(up.max_records, usize::MAX).expect("pending");
            if batch.is_empty() {
                return spool;
            }
            match up.send(batch) {
                Ok(ack) => {
                    spool.ack(ack.up_to).expect("ack");
                    progress.store(ack.up_to, Ordering::SeqCst);
                }
                Err(SendError::Unreachable(_)) | Err(SendError::Rejected { status: 503, .. }) => {
                    assert!(Instant::now() < deadline, "the server did not come back");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("unexpected answer: {e}"),
            }
        }
    });
    while acked.load(Ordering::SeqCst) < 300 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.child.kill().expect("kill -9");
    server.child.wait().expect("wait");
    let acked_before_crash = acked.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = Server::up(dir.path(), port);
    again.until_ready();
    let spool = sender.await.expect("sender");
    assert!(spool.pending(1, usize::MAX).expect("pending").is_empty(), "everything was delivered in the end");
    drop(again);

    let store = leitstand_store_sqlite::open_dir(dir.path()).await.expect("reopen");
    use leitstand_store::HostStore;
    let since = jiff::Timestamp::from_millisecond(start_ms - 1000).expect("ts");
    let until = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60);
    let host = leitstand_domain::HostId(resp.host_id);
    let stored = store
        .samples(&leitstand_store::TenantScope::All, host, "cpu_usage_percent", since, until)
        .await
        .expect("samples");
    assert!((300..RECORDS).contains(&acked_before_crash), "the crash came mid-ingest ({acked_before_crash})");
    let have: std::collections::BTreeSet<i64> = stored.iter().map(|s| s.value as i64).collect();
    let missing: Vec<i64> = (0..RECORDS as i64).filter(|v| !have.contains(v)).collect();
    assert_eq!(
        stored.len() as u64,
        RECORDS,
        "every sample stored exactly once; acked before crash {acked_before_crash}; missing {:?}..{:?} ({})",
        missing.first(),
        missing.last(),
        missing.len()
    );
    let values: Vec<f64> = stored.iter().map(|s| s.value).collect();
    assert_eq!(values, (0..RECORDS).map(|i| i as f64).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_closed_stdout_does_not_stop_the_server() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leitstand"))
        .args(["up", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir.path())
        .env_remove("LEITSTAND_DATABASE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take()); // nobody reads what it prints, the link included
    let c = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ready = false;
    while Instant::now() < deadline && !ready {
        tokio::time::sleep(Duration::from_millis(100)).await;
        ready = c.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok_and(|r| r.status() == 200);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let still = c.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok_and(|r| r.status() == 200);
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready && still, "the server runs on without its stdout");
}
