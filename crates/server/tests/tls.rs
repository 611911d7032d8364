//! HTTPS with the private CA made on first start (`tls = "auto"`): the real
//! server process, agents that pin the CA, one that trusts another CA or the
//! public roots and is refused by its own TLS check, and the install command
//! with curl pinning the server key.

use leitstand_agent::uplink::{self, SendError, Uplink};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    pin: String,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn leitstand(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_leitstand"))
        .args(args)
        .arg("--data")
        .arg(dir)
        .env_remove("LEITSTAND_DATABASE")
        .env("LEITSTAND_TLS", "auto")
        .output()
        .expect("leitstand");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn up(dir: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leitstand"))
        .args(["up", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir)
        .env_remove("LEITSTAND_DATABASE")
        .env("LEITSTAND_TLS", "auto")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Read stdout to its end in a thread: the server writes more after the pin.
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(p) = line.strip_prefix("server key pin: ") {
                let _ = tx.send(p.trim().to_owned());
            }
        }
    });
    let pin = rx.recv_timeout(Duration::from_secs(30)).expect("the server prints its key pin");
    Server { child, pin, url: format!("https://127.0.0.1:{port}") }
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl").args(args).output().expect("curl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_pin_the_private_ca_and_the_installer_pins_the_server_key() {
    let dir = tempfile::tempdir().expect("dir");
    let server = up(dir.path());
    let ca = std::fs::read(dir.path().join("tls/ca.pem")).expect("the CA is made on first start");
    leitstand(dir.path(), &["admin", "tenant", "create", "Kunde A"]);
    let token = || leitstand(dir.path(), &["admin", "enroll-token", "--tenant", "Kunde A"]);

    // Pinned to the server's CA: enrols and delivers over HTTPS.
    let (url, t, ca2) = (server.url.clone(), token(), ca.clone());
    let acked = tokio::task::spawn_blocking(move || {
        let http = uplink::http_trusting(Some(&ca2)).expect("client");
        let deadline = Instant::now() + Duration::from_secs(20);
        let (identity, _) = loop {
            match uplink::enroll_with(&http, &url, &t, "tls-01", "Debian 12") {
                Ok(r) => break r,
                Err(SendError::Unreachable(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("enrol over HTTPS: {e}"),
            }
        };
        let up = Uplink::new(identity).with_http(http);
        let at_ms = jiff::Timestamp::now().as_millisecond();
        let record = leitstand_proto::Record::Metrics {
            at_ms,
            samples: vec![leitstand_proto::Sample::new("cpu_usage_percent", 1.0).with("cpu", "total")],
        };
        up.send(vec![leitstand_proto::Sequenced { seq: 1, record }]).expect("send").up_to
    })
    .await
    .expect("join");
    assert_eq!(acked, 1);

    // Trusting another CA, or only the public roots: the agent's own TLS
    // check refuses the server before anything is sent.
    let other_key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["Other CA".to_owned()]).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let other = params.self_signed(&other_key).expect("other CA").pem();
    let (url, t) = (server.url.clone(), token());
    let refused = tokio::task::spawn_blocking(move || {
        let foreign = uplink::http_trusting(Some(other.as_bytes())).expect("client");
        let a = uplink::enroll_with(&foreign, &url, &t, "x", "y").map(|_| ()).unwrap_err().to_string();
        let public = uplink::http_trusting(None).expect("client");
        let b = uplink::enroll_with(&public, &url, &t, "x", "y").map(|_| ()).unwrap_err().to_string();
        (a, b)
    })
    .await
    .expect("join");
    for e in [&refused.0, &refused.1] {
        assert!(e.contains("certificate") || e.contains("Certificate"), "a TLS refusal: {e}");
    }

    // The install command: curl skips the chain but pins the server key.
    if Command::new("curl").arg("--version").output().is_err() {
        return;
    }
    let ca_page = curl(&["-fsSk", "--pinnedpubkey", &server.pin, &format!("{}/downloads/ca.pem", server.url)]);
    assert_eq!(ca_page.stdout, ca, "the CA is served to installers");
    let wrong = curl(&[
        "-fsSk",
        "--pinnedpubkey",
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        &format!("{}/downloads/ca.pem", server.url),
    ]);
    assert!(!wrong.status.success(), "another key is refused");
    let script =
        curl(&["-fsSk", "--pinnedpubkey", &server.pin, &format!("{}/install.sh?token={}", server.url, token())]);
    let text = String::from_utf8_lossy(&script.stdout);
    assert!(text.contains(&format!("CURL_OPTS=\"-k --pinnedpubkey {}\"", server.pin)), "{text}");
    assert!(text.contains("PRIVATE_CA=\"yes\""));
}

#[test]
fn a_bad_tls_setting_stops_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_leitstand"))
        .args(["up", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env_remove("LEITSTAND_DATABASE")
        .env("LEITSTAND_TLS", "files")
        .output()
        .expect("leitstand");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tls_cert and tls_key"), "{err}");
}
