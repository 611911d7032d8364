//! Inventories end to end: the agent's collectors read two prepared file
//! trees (before and after a set of changes), the uplink delivers through
//! the real HTTP routes, and the server keeps the state and makes every
//! change event of INV-7; the web tabs, the questions across hosts and the
//! CSV exports show it.

mod common;

use common::TestApp;
use leitstand_agent::identity::Identity;
use leitstand_agent::inventory::{self, Inventory};
use leitstand_agent::uplink::{self, Uplink};
use leitstand_proto::{Record, Sequenced};
use serde_json::Value;
use std::path::Path;

mod testroot {
    /// Writes `files` (path relative to the root, content) under `root`.
    pub fn write(root: &std::path::Path, files: &[(&str, &str)]) {
        for (rel, content) in files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
            std::fs::write(p, content).expect("write");
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

const TCP_HEADER: &str =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

fn tcp_line(n: u32, port: u16, inode: u32) -> String {
    format!("   {n}: 00000000:{port:04X} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0 100 0 0 10 0\n")
}

fn dpkg(packages: &[(&str, &str)]) -> String {
    packages
        .iter()
        .map(|(n, v)| format!("Package: {n}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {v}\n"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A Debian-like host before the changes.
fn before(root: &Path) {
    let tcp = format!("{TCP_HEADER}{}", tcp_line(0, 22, 1111));
    let status = dpkg(&[("curl", "7.88.1-10+deb12u8"), ("vim", "2:9.0.1378-2"), ("openssl", "3.0.11-1~deb12u2")]);
    testroot::write(
        root,
        &[
            ("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nanna:x:1000:1000::/home/anna:/bin/bash\nbernd:x:1001:1001::/home/bernd:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n"),
            ("etc/group", "root:x:0:\nsudo:x:27:\nanna:x:1000:\nbernd:x:1001:\n"),
            ("etc/shadow", "root:$6$a:19000::::::\nanna:$6$b:19000::::::\nbernd:!$6$c:19000::::::\ntoor:!:19000::::::\n"),
            ("var/lib/dpkg/status", &status),
            ("lib/systemd/system/ssh.service", "[Unit]\nDescription=OpenBSD Secure Shell server\n[Service]\nExecStart=/usr/sbin/sshd -D\n[Install]\nWantedBy=multi-user.target\n"),
            ("proc/net/tcp", &tcp),
            ("proc/stat", "cpu 1 2 3\nbtime 1700000000\n"),
            ("proc/sys/kernel/random/boot_id", "boot-one\n"),
            ("proc/sys/kernel/osrelease", "6.1.0-26-amd64\n"),
            ("proc/1/stat", "1 (systemd) S 0 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 10 1000 100 0"),
            ("proc/1/status", "Uid:\t0\t0\t0\t0\n"),
            ("proc/1/cmdline", "/sbin/init\0"),
            ("proc/700/stat", "700 (sshd) S 1 700 700 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 20 1000 100 0"),
            ("proc/700/status", "Uid:\t0\t0\t0\t0\n"),
            ("proc/700/cmdline", "sshd: /usr/sbin/sshd -D\0"),
        ],
    );
}

/// Every change of INV-7 at once.
fn change(root: &Path) {
    let tcp = format!("{TCP_HEADER}{}{}", tcp_line(0, 22, 1111), tcp_line(1, 3389, 2222));
    let status = dpkg(&[("curl", "7.88.1-10+deb12u9"), ("openssl", "3.0.11-1~deb12u2"), ("xrdp", "0.9.21.1-1")]);
    testroot::write(
        root,
        &[
            // eve is new and an administrator; anna joins sudo; bernd and the
            // locked administrator toor get passwords.
            ("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nanna:x:1000:1000::/home/anna:/bin/bash\nbernd:x:1001:1001::/home/bernd:/bin/bash\ntoor:x:0:0::/root:/bin/sh\neve:x:1002:1002::/home/eve:/bin/bash\n"),
            ("etc/group", "root:x:0:\nsudo:x:27:anna,eve\nanna:x:1000:\nbernd:x:1001:\neve:x:1002:\n"),
            ("etc/shadow", "root:$6$a:19000::::::\nanna:$6$b:19000::::::\nbernd:$6$c:19000::::::\ntoor:$6$d:19000::::::\neve:$6$e:19000::::::\n"),
            ("var/lib/dpkg/status", &status),
            ("etc/cron.d/persist", "@reboot root /var/tmp/.cache/run\n"),
            ("lib/systemd/system/xrdp.service", "[Unit]\nDescription=xrdp daemon\n[Install]\nWantedBy=multi-user.target\n"),
            ("proc/net/tcp", &tcp),
            ("proc/sys/kernel/random/boot_id", "boot-two\n"),
        ],
    );
}

fn inventory_records(inv: &mut Inventory, root: &Path, first_seq: u64, at_ms: i64) -> Vec<Sequenced> {
    let reports = inv.run(root, at_ms);
    inventory::split_records(reports, at_ms)
        .into_iter()
        .enumerate()
        .map(|(i, record)| Sequenced { seq: first_seq + i as u64, record })
        .collect()
}

/// A host of tenant "Kunde A", enrolled through the real route: its id,
/// its uplink, and its state directory.
async fn enrolled(app: &TestApp, name: &'static str) -> (i64, Uplink, tempfile::TempDir) {
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Kunde A").await;
    let token = app.services.create_enroll_token(&admin, tenant).await.expect("token").token;
    let url = app.url.clone();
    let (identity, resp) = blocking(move || uplink::enroll(&url, &token, name, "Debian 12")).await.expect("enrol");
    let state = tempfile::tempdir().expect("state");
    identity.save(state.path()).expect("save");
    let up = Uplink::new(Identity::load(state.path()).expect("load").expect("saved"));
    (resp.host_id, up, state)
}

async fn deliver(up: Uplink, records: Vec<Sequenced>) -> Uplink {
    blocking(move || {
        up.send(records).expect("delivered");
        up
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_snapshots_make_every_change_event_and_the_pages_show_them() {
    let app = TestApp::spawn().await;
    let (host, up, _state) = enrolled(&app, "web-01").await;

    let tree = tempfile::tempdir().expect("tree");
    let root = tree.path();
    before(root);
    let mut inv = Inventory::new(inventory::standard());
    let t0 = app.now().as_millisecond();
    let first = inventory_records(&mut inv, root, 1, t0);
    let next = first.len() as u64 + 1;
    let up = deliver(up, first).await;

    let api = app.token("admin").await;
    let events = app.get_json(&api, &format!("/api/v1/hosts/{host}/events")).await;
    assert_eq!(events, Value::Array(vec![]), "the first snapshot is the baseline");

    change(root);
    let second = inventory_records(&mut inv, root, next, t0 + 60_000);
    assert!(second.iter().all(|s| match &s.record {
        Record::Inventory { sections, .. } => sections.iter().all(|r| !r.full),
        _ => false,
    }));
    let up = deliver(up, second).await;

    let events = app.get_json(&api, &format!("/api/v1/hosts/{host}/events?per_page=200")).await;
    let kinds: Vec<&str> = events.as_array().expect("list").iter().filter_map(|e| e["kind"].as_str()).collect();
    for want in [
        "software.installed",
        "software.removed",
        "software.updated",
        "autostart.added",
        "service.added",
        "port.opened",
        "user.created",
        "user.admin_created",
        "user.elevated",
        "user.unlocked",
        "user.admin_unlocked",
        "host.restarted",
    ] {
        assert!(kinds.contains(&want), "{want} missing from {kinds:?}");
    }
    let by_kind = |k: &str| events.as_array().expect("list").iter().find(|e| e["kind"] == k).cloned().expect(k);
    assert_eq!(by_kind("software.updated")["detail"]["to"], "7.88.1-10+deb12u9");
    assert_eq!(by_kind("user.elevated")["detail"]["name"], "anna");
    assert_eq!(by_kind("user.unlocked")["detail"]["name"], "bernd");
    assert_eq!(by_kind("user.admin_unlocked")["detail"]["name"], "toor");
    assert_eq!(by_kind("port.opened")["detail"]["port"], 3389);
    let users_only = app.get_json(&api, &format!("/api/v1/hosts/{host}/events?kind=user.")).await;
    assert!(users_only
        .as_array()
        .expect("list")
        .iter()
        .all(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("user."))));
    let none_before = app.get_json(&api, &format!("/api/v1/hosts/{host}/events?to=2000-01-01T00:00:00Z")).await;
    assert_eq!(none_before, Value::Array(vec![]));

    // The current state, per section and across hosts.
    let software = app.get_json(&api, &format!("/api/v1/hosts/{host}/inventory/software")).await;
    let names: Vec<&str> =
        software["items"].as_array().expect("items").iter().filter_map(|i| i["item"]["name"].as_str()).collect();
    assert_eq!(names, ["curl", "openssl", "xrdp"]);
    let procs = app.get_json(&api, &format!("/api/v1/hosts/{host}/inventory/processes")).await;
    let tree: Vec<(u64, u64)> = procs["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (i["depth"].as_u64().expect("depth"), i["item"]["pid"].as_u64().expect("pid")))
        .collect();
    assert_eq!(tree, [(0, 1), (1, 700)]);
    let port = app.get_json(&api, "/api/v1/inventory?port=3389").await;
    assert_eq!(port.as_array().expect("list").len(), 1);
    assert_eq!(port[0]["host_name"], "web-01");
    let old_ssl = app.get_json(&api, "/api/v1/inventory?section=software&name=openssl&below=3.0.13-1~deb12u1").await;
    assert_eq!(old_ssl.as_array().expect("list").len(), 1, "3.0.11 is below 3.0.13");
    let new_ssl = app.get_json(&api, "/api/v1/inventory?section=software&name=openssl&below=3.0.11-1~deb12u1").await;
    assert_eq!(new_ssl, Value::Array(vec![]));

    // The pages and their exports.
    let web = app.sign_in("admin").await;
    let html = |path: String| {
        let web = web.clone();
        let url = app.at(&path);
        async move {
            let r = web.get(url).send().await.expect("page");
            assert_eq!(r.status(), 200, "{path}");
            r.text().await.expect("html")
        }
    };
    let page = html(format!("/app/hosts/{host}/inventory/software")).await;
    assert!(page.contains("xrdp") && page.contains("7.88.1-10+deb12u9"), "software tab");
    let page = html(format!("/app/hosts/{host}/inventory/users")).await;
    assert!(page.contains("eve") && page.contains("toor"));
    let page = html(format!("/app/hosts/{host}/inventory/processes")).await;
    assert!(page.contains("└ sshd"), "children are drawn under their parent");
    let page = html(format!("/app/hosts/{host}/events?kind=user.")).await;
    assert!(page.contains("Neuer Administrator") || page.contains("New administrator"), "user events shown");
    assert!(!page.contains("data-kind=\"software."), "filtered by kind");
    let page = html("/app/inventory?section=software&name=openssl&below=3.0.13".into()).await;
    assert!(page.contains(&format!("/app/hosts/{host}")), "the answer links the host");
    let csv = html(format!("/app/hosts/{host}/inventory/software?format=csv")).await;
    assert!(csv.starts_with("name,version,arch"), "{csv}");
    assert!(csv.contains("\"xrdp\",\"0.9.21.1-1\""), "{csv}");
    let csv = html(format!("/app/hosts/{host}/events?format=csv&kind=port.")).await;
    assert_eq!(csv.lines().count(), 2, "header and the one port event: {csv}");

    // A collector that fails keeps the last state, shows its error, and
    // costs only its own section.
    std::fs::remove_file(root.join("etc/passwd")).expect("rm");
    let third = inventory_records(&mut inv, root, next + 10, t0 + 120_000);
    deliver(up, third).await;
    let sections = app.get_json(&api, &format!("/api/v1/hosts/{host}/inventory")).await;
    let users = sections.as_array().expect("list").iter().find(|s| s["section"] == "users").expect("users");
    assert!(users["error"].as_str().is_some_and(|e| e.contains("etc/passwd")), "{users}");
    assert_eq!(users["items"], 5, "the last good state stays");
    let page = html(format!("/app/hosts/{host}/inventory/users")).await;
    assert!(page.contains("id=\"collector-error\""));
    let page = html(format!("/app/hosts/{host}")).await;
    assert!(page.contains("etc/passwd"), "the host page names the failing collector");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_from_the_auth_log_arrive_typed_and_bad_events_are_refused() {
    use leitstand_agent::events::SystemEvents;
    use leitstand_agent::uplink::SendError;
    let app = TestApp::spawn().await;
    let (host, up, state) = enrolled(&app, "web-02").await;

    // A real auth.log, as rsyslog writes it on Debian.
    let tree = tempfile::tempdir().expect("tree");
    let now = jiff::Timestamp::now();
    let t = |ago_s: i64| (now - jiff::SignedDuration::from_secs(ago_s)).to_string();
    let log = [
        format!("{} web-02 sshd[901]: Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2\n", t(300)),
        format!("{} web-02 sshd[902]: Failed password for anna from 203.0.113.5 port 4243 ssh2\n", t(240)),
        format!("{} web-02 sshd[903]: Accepted publickey for anna from 192.0.2.10 port 52144 ssh2: ED25519 SHA256:x\n", t(180)),
        format!("{} web-02 sudo:     anna : TTY=pts/0 ; PWD=/home/anna ; USER=root ; COMMAND=/usr/bin/apt upgrade\n", t(120)),
        format!("{} web-02 su[990]: pam_unix(su:auth): authentication failure; logname=bernd uid=1001 euid=0 tty=/dev/pts/1 ruser=bernd rhost=  user=root\n", t(60)),
        format!("{} web-02 CRON[1000]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n", t(30)),
    ]
    .concat();
    testroot::write(tree.path(), &[("var/log/auth.log", &log)]);
    let mut events = SystemEvents::open(state.path());
    let read = events.read(tree.path(), now.as_millisecond()).expect("auth.log");
    assert_eq!(read.len(), 5, "the cron line is no sign-in");
    let record = Record::Events { events: read };
    let up = deliver(up, vec![Sequenced { seq: 1, record }]).await;
    events.commit().expect("commit");

    let api = app.token("admin").await;
    let got = app.get_json(&api, &format!("/api/v1/hosts/{host}/events?kind=auth.")).await;
    let list = got.as_array().expect("list");
    let kinds: Vec<&str> = list.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["auth.su_failed", "auth.sudo", "auth.login", "auth.login_failed", "auth.invalid_user"]);
    assert_eq!(list[4]["detail"]["user"], "admin");
    assert_eq!(list[4]["detail"]["source"], "203.0.113.5");
    assert_eq!(list[2]["detail"]["method"], "publickey");
    assert_eq!(list[1]["detail"]["command"], "/usr/bin/apt upgrade");
    let web = app.sign_in("admin").await;
    let page = web.get(app.at(&format!("/app/hosts/{host}/events?kind=auth."))).send().await.expect("page");
    let page = page.text().await.expect("html");
    assert!(page.contains("Anmeldeversuch eines nicht vorhandenen Benutzers") || page.contains("non-existing user"));

    // An event of an unknown kind is refused with the reason; nothing of
    // the batch is stored, and the agent's next good batch goes through.
    let bogus = leitstand_proto::SystemEvent {
        at_ms: now.as_millisecond(),
        kind: "auth.teleport".into(),
        ..Default::default()
    };
    let bad = vec![Sequenced { seq: 2, record: Record::Events { events: vec![bogus] } }];
    let (up, r) = blocking(move || {
        let r = up.send(bad);
        (up, r)
    })
    .await;
    match r {
        Err(SendError::Rejected { status: 400, message }) => assert!(message.contains("unknown kind"), "{message}"),
        other => panic!("expected 400, got {other:?}"),
    }
    let heartbeat = Record::Heartbeat { at_ms: now.as_millisecond() };
    deliver(up, vec![Sequenced { seq: 2, record: heartbeat }]).await;
    let got = app.get_json(&api, &format!("/api/v1/hosts/{host}/events?kind=auth.")).await;
    assert_eq!(got.as_array().expect("list").len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checklist_of_a_prepared_host_shows_score_evidence_and_remedy() {
    let app = TestApp::spawn().await;
    let (host, up, _state) = enrolled(&app, "db-01").await;

    let tree = tempfile::tempdir().expect("tree");
    testroot::write(
        tree.path(),
        &[
            ("etc/debian_version", "12.8\n"),
            ("usr/sbin/sshd", ""),
            ("etc/ssh/sshd_config", "PermitRootLogin yes\nPasswordAuthentication no\n"),
            ("etc/login.defs", "PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7\nUMASK 027\n"),
            ("etc/passwd", "root:x:0:0::/root:/bin/bash\n"),
            ("etc/shadow", "root:$6$a:1::::::\n"),
            ("proc/sys/net/ipv4/ip_forward", "0\n"),
        ],
    );
    let results = leitstand_agent::checklist::run(tree.path());
    let now = app.now().as_millisecond();
    deliver(up, vec![Sequenced { seq: 1, record: Record::Checklist { at_ms: now, results } }]).await;

    let api = app.token("admin").await;
    let got = app.get_json(&api, &format!("/api/v1/hosts/{host}/checklist")).await;
    let checks = got["checks"].as_array().expect("checks");
    assert!(checks.len() >= 40);
    let by_id = |id: &str| checks.iter().find(|c| c["id"] == id).cloned().unwrap_or_else(|| panic!("{id}"));
    assert_eq!(by_id("ssh-root-login")["result"], "fail");
    assert!(by_id("ssh-root-login")["evidence"].as_str().is_some_and(|e| e.contains("permitrootlogin = yes")));
    assert!(by_id("ssh-root-login")["remedy"].as_str().is_some_and(|r| r.contains("PermitRootLogin")));
    assert_eq!(by_id("ssh-password-auth")["result"], "pass");
    assert_eq!(by_id("password-max-age")["result"], "pass");
    assert_eq!(by_id("sysctl-ip-forward")["result"], "pass");
    assert_eq!(checks[0]["result"], "fail", "failures first");
    let (pass, fail) = (got["pass"].as_u64().expect("pass"), got["fail"].as_u64().expect("fail"));
    assert_eq!(got["score"].as_u64(), Some((pass * 100 + (pass + fail) / 2) / (pass + fail)));

    let scores = app.get_json(&api, "/api/v1/checklist").await;
    assert_eq!(scores["hosts"][0]["host_name"], "db-01");
    assert_eq!(scores["tenants"][0]["name"], "Kunde A");
    assert_eq!(scores["tenants"][0]["score"], got["score"], "one host: the tenant's score is the host's");

    let web = app.sign_in("admin").await;
    let page = web.get(app.at(&format!("/app/hosts/{host}/checklist?result=fail"))).send().await.expect("page");
    let page = page.text().await.expect("html");
    assert!(page.contains("id=\"check-ssh-root-login\""));
    assert!(!page.contains("id=\"check-ssh-password-auth\""), "filtered to failures");
    assert!(page.contains("PermitRootLogin no"), "the remedy in German: {}", page.len());
    let csv = web.get(app.at(&format!("/app/hosts/{host}/checklist?format=csv"))).send().await.expect("csv");
    let csv = csv.text().await.expect("csv");
    assert!(csv.starts_with("id,topic,title,result,evidence,remedy") && csv.contains("\"ssh-root-login\""));
    let page = web.get(app.at("/app/checklist")).send().await.expect("scores").text().await.expect("html");
    assert!(page.contains("db-01") && page.contains("Kunde A"));
}
