//! Vulnerabilities end to end: advisory feeds from files (the fixtures of
//! the vuln crate), hosts' software lists from agent batches, scans, the
//! "new vulnerability" alarm with the tenant's threshold, fixes, risk
//! acceptance, the findings file, end of support, and a damaged feed that is
//! refused while the data before stays in use.

mod common;

use common::TestApp;
use leitstand_domain::HostId;
use leitstand_proto::inventory::{Item, Package, Section};
use leitstand_service::FeedSpec;
use leitstand_vuln::FeedKind;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vuln/tests/fixtures")
}

/// The fixture feeds, copied so the test can damage one.
fn feeds(dir: &Path) -> Vec<FeedSpec> {
    std::fs::copy(fixtures().join("debian-tracker.json"), dir.join("debian.json")).expect("copy");
    vec![
        FeedSpec {
            name: "debian".into(),
            kind: FeedKind::DebianTracker,
            location: dir.join("debian.json").display().to_string(),
        },
        FeedSpec { name: "osv".into(), kind: FeedKind::Osv, location: fixtures().join("osv").display().to_string() },
    ]
}

fn package(name: &str, version: &str, source: &str) -> Item {
    Item::Package(Package {
        name: name.into(),
        version: version.into(),
        arch: "amd64".into(),
        source: source.into(),
        source_version: String::new(),
        origin: String::new(),
        manager: "dpkg".into(),
    })
}

/// Sends a software list (whole) as the host's agent would.
async fn software(app: &TestApp, host: i64, seq: u64, items: Vec<Item>) {
    common::send_section(app, host, seq, Section::Software, items).await;
}

async fn enrol(
    app: &TestApp,
    admin: &leitstand_service::Actor,
    tenant: leitstand_domain::TenantId,
    name: &str,
    os: &str,
) -> i64 {
    app.host_on(admin, tenant, name, os).await.0
}

/// A server with the fixture feeds, a customer with its administrator anna,
/// and a bookworm host `web-01`.
async fn lab() -> (tempfile::TempDir, TestApp, leitstand_service::Actor, leitstand_domain::TenantId, i64) {
    let dir = tempfile::tempdir().expect("dir");
    let specs = feeds(dir.path());
    let app = TestApp::spawn_tuned(|c| c.vuln.feeds = specs).await;
    let admin = app.bootstrap().await;
    let t = app.tenant(&admin, "Kunde A GmbH").await;
    app.user(&admin, t, "anna", "customer_admin").await;
    let web = enrol(&app, &admin, t, "web-01", "Debian GNU/Linux 12 (bookworm)").await;
    (dir, app, admin, t, web)
}

#[tokio::test]
async fn hosts_are_scanned_alarmed_fixed_and_accepted() {
    let (dir, app, admin, t, web) = lab().await;
    app.user(&admin, t, "arne", "customer_member").await;
    let old = enrol(&app, &admin, t, "old-01", "Debian GNU/Linux 11 (bullseye)").await;
    let odd = enrol(&app, &admin, t, "odd-01", "Arch Linux").await;
    software(
        &app,
        web,
        1,
        vec![
            package("openssh-server", "1:9.2p1-2+deb12u2", "openssh"),
            package("libc6", "2.36-9+deb12u3", "glibc"),
            package("xz-utils", "5.4.1-0.2", ""),
            package("tar", "1.34+dfsg-1.2+deb12u1", ""),
        ],
    )
    .await;
    software(&app, old, 1, vec![package("openssh-server", "1:8.4p1-5+deb11u2", "openssh")]).await;
    software(&app, odd, 1, vec![package("openssh", "9.8p1-1", "")]).await;

    // Nothing is scanned before the feeds are loaded.
    assert_eq!(app.services.scan_due_hosts().await.expect("scan").hosts, 0);
    assert!(app.services.load_feeds(&dir.path().join("cache")), "both feeds load");
    assert!(!app.services.load_feeds(&dir.path().join("cache")), "unchanged files are not read again");
    let round = app.services.scan_due_hosts().await.expect("scan");
    assert_eq!(round.hosts, 3);
    assert_eq!(app.services.scan_due_hosts().await.expect("again").hosts, 0, "nothing changed since");

    let anna = app.token("anna").await;
    let list = app.get_json(&anna, "/api/v1/vulnerabilities?status=all").await;
    let rows: Vec<(String, String, String)> = list["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["host_name"].as_str().unwrap_or("").to_owned(),
                f["cve"].as_str().unwrap_or("").to_owned(),
                f["state"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let has = |h: &str, c: &str, s: &str| rows.iter().any(|r| r.0 == h && r.1 == c && r.2 == s);
    assert!(has("web-01", "CVE-2024-6387", "fix_available"), "{rows:?}");
    assert!(has("web-01", "CVE-2005-2541", "ignored"), "{rows:?}");
    assert!(has("old-01", "CVE-2023-48795", "fix_available"), "{rows:?}");
    assert!(!rows.iter().any(|r| r.1 == "CVE-2023-4911" || r.1 == "CVE-2024-3094"), "fixed/not affected: {rows:?}");
    assert_eq!(list["total"], 3, "{rows:?}");
    let top = &list["findings"][0];
    assert_eq!(
        (top["cve"].as_str(), top["cvss_score"].as_str()),
        (Some("CVE-2024-6387"), Some("8.1")),
        "highest first"
    );
    assert_eq!(top["fixed_version"], "1:9.2p1-2+deb12u3");

    // Hosts: release, end of support, the host whose release is unknown.
    let hosts = app.get_json(&anna, "/api/v1/vulnerabilities/hosts").await;
    let host = |n: &str| hosts.as_array().expect("hosts").iter().find(|h| h["host_name"] == n).cloned().expect(n);
    assert_eq!(host("web-01")["release"], "Debian 12 (bookworm)");
    assert_eq!(host("web-01")["high"], 1);
    assert_eq!(host("old-01")["out_of_support"], true, "bullseye's support ended 2026-08-31");
    assert!(host("odd-01")["problem"].as_str().expect("problem").contains("Arch Linux"));

    // VULN-2: the 8.1 finding raised the alarm on web-01; the 5.9 (no score
    // in the fixtures for Terrapin) and ignored ones did not.
    let alerts = app.services.alerts(&admin, Some(t), Default::default()).await.expect("alerts");
    let vuln_alerts: Vec<_> = alerts.iter().filter(|a| a.rule_key.as_deref() == Some("new-vulnerability")).collect();
    assert_eq!(vuln_alerts.len(), 1, "{alerts:?}");
    assert_eq!(vuln_alerts[0].host, Some(HostId(web)));
    assert!(vuln_alerts[0].detail.contains("CVE-2024-6387"));
    let events = app.get_json(&anna, &format!("/api/v1/hosts/{web}/events?kind=vulnerability.")).await;
    assert!(events.to_string().contains("vulnerability.new"), "{events}");

    // The threshold: at 9.0 a new 8.1 finding stays quiet.
    let api = app.api();
    let resp = api
        .put(app.at(&format!("/api/v1/tenants/{}/vulnerability-threshold", t.0)))
        .bearer_auth(&anna)
        .json(&serde_json::json!({ "min_score": "9,0" }))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 200);
    let other = enrol(&app, &admin, t, "web-02", "Debian GNU/Linux 12 (bookworm)").await;
    software(&app, other, 1, vec![package("openssh-server", "1:9.2p1-2+deb12u2", "openssh")]).await;
    let round = app.services.scan_due_hosts().await.expect("scan");
    assert_eq!((round.hosts, round.new, round.alarmed), (1, 1, 0));

    // The update arrives a minute later: the finding is fixed.
    app.clock.advance(jiff::SignedDuration::from_mins(1));
    software(
        &app,
        web,
        2,
        vec![package("openssh-server", "1:9.2p1-2+deb12u3", "openssh"), package("tar", "1.34+dfsg-1.2+deb12u1", "")],
    )
    .await;
    let round = app.services.scan_due_hosts().await.expect("rescan");
    assert_eq!((round.hosts, round.fixed), (1, 1));
    let fixed = app.get_json(&anna, &format!("/api/v1/vulnerabilities?host={web}&status=fixed")).await;
    assert_eq!(fixed["findings"][0]["cve"], "CVE-2024-6387");

    // Risk acceptance: the member may not, the admin may with reason and day.
    let id = app.get_json(&anna, &format!("/api/v1/vulnerabilities?host={old}")).await["findings"][0]["id"]
        .as_i64()
        .expect("id");
    let url = app.at(&format!("/api/v1/vulnerabilities/{id}/acceptance"));
    let arne = app.token("arne").await;
    let body = serde_json::json!({ "reason": "Host wird im Dezember ersetzt", "until": "2099-01-01" });
    let resp = api.put(&url).bearer_auth(&arne).json(&body).send().await.expect("put");
    assert_eq!(resp.status(), 403);
    let resp = api.put(&url).bearer_auth(&anna).json(&body).send().await.expect("put");
    assert_eq!(resp.status(), 422, "more than a year ahead");
    let until = (app.now() + jiff::SignedDuration::from_hours(24 * 30)).to_zoned(jiff::tz::TimeZone::UTC).date();
    let body = serde_json::json!({ "reason": "Host wird im Dezember ersetzt", "until": until.to_string() });
    let resp = api.put(&url).bearer_auth(&anna).json(&body).send().await.expect("put");
    assert_eq!(resp.status(), 200);
    let f: serde_json::Value = resp.json().await.expect("json");
    assert_eq!((f["status"].as_str(), f["accepted_by"].as_str()), (Some("accepted"), Some("anna")));
    // Past the day it is open again.
    app.clock.advance(jiff::SignedDuration::from_hours(24 * 32));
    let f = app.get_json(&anna, &format!("/api/v1/vulnerabilities/{id}")).await;
    assert_eq!(f["status"], "open", "the acceptance ran out");

    // The findings file.
    let csv = api
        .get(app.at("/api/v1/vulnerabilities/export?format=csv&status=all"))
        .bearer_auth(&anna)
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    assert!(csv.starts_with("tenant,host,cve,package"), "{csv}");
    assert!(csv.contains("\"Kunde A GmbH\",\"old-01\",\"CVE-2023-48795\",\"openssh\""), "{csv}");
    assert_eq!(csv.lines().count(), 5, "header, three open, one fixed: {csv}");

    // A damaged feed is refused with its error; the data before stays in use.
    let tracker = std::fs::read(dir.path().join("debian.json")).expect("read");
    std::fs::write(dir.path().join("debian.json"), &tracker[..tracker.len() / 3]).expect("cut");
    assert!(!app.services.load_feeds(&dir.path().join("cache")));
    let (status, _, entries) = app.services.feed_status(&admin).expect("status");
    let debian = status.iter().find(|f| f.spec.name == "debian").expect("debian");
    assert!(debian.error.as_deref().expect("error").contains("truncated"), "{debian:?}");
    assert!(debian.loaded_at.is_some() && debian.stats.records == 12, "the last good load stays");
    assert!(entries > 0);
    let feeds = app.get_json(&app.token("admin").await, "/api/v1/vulnerability-feeds").await;
    assert!(feeds.to_string().contains("truncated"), "{feeds}");
    let third = enrol(&app, &admin, t, "web-03", "Debian GNU/Linux 12 (bookworm)").await;
    software(&app, third, 1, vec![package("libc6", "2.36-9+deb12u1", "glibc")]).await;
    assert_eq!(app.services.scan_due_hosts().await.expect("scan").new, 1, "Debian's data still matches");
}

#[tokio::test]
async fn the_pages_show_findings_hosts_a_finding_and_the_feeds() {
    let (dir, app, _admin, _t, web) = lab().await;
    software(&app, web, 1, vec![package("openssh-server", "1:9.2p1-2+deb12u1", "openssh")]).await;
    let pending = |name: &str, candidate: &str, security: bool| {
        common::pending_update(name, "1:9.2p1-2+deb12u1", candidate, security)
    };
    let updates =
        vec![pending("openssh-server", "1:9.2p1-2+deb12u3", true), pending("tzdata", "2025b-0+deb12u1", false)];
    common::send_section(&app, web, 2, Section::Updates, updates).await;
    app.services.load_feeds(&dir.path().join("cache"));
    app.services.scan_due_hosts().await.expect("scan");

    // PATCH-1: the host's pending updates, security apart, on its tab and in the hosts' list.
    let anna = app.sign_in("anna").await;
    let tab = anna.get(app.at(&format!("/app/hosts/{web}/inventory/updates"))).send().await.expect("get");
    let tab = tab.text().await.expect("text");
    assert!(tab.contains("1:9.2p1-2+deb12u3") && tab.contains("bookworm-security"), "{tab}");
    let token = app.token("anna").await;
    let hosts = app.get_json(&token, "/api/v1/vulnerabilities/hosts").await;
    assert_eq!((hosts[0]["updates"].as_u64(), hosts[0]["security_updates"].as_u64()), (Some(2), Some(1)), "{hosts}");

    let page = anna.get(app.at("/app/vulnerabilities")).send().await.expect("get").text().await.expect("text");
    assert!(page.contains("CVE-2024-6387") && page.contains("CVE-2023-48795"), "{page}");
    assert!(page.contains("Debian 12 (bookworm)") && page.contains("Update verfügbar"));
    assert!(page.contains("id=\"vuln_chart\""));
    let id = page.split("<tr id=\"finding_").nth(1).and_then(|s| s.split('"').next()).expect("row");
    let id: i64 = id.parse().unwrap_or_else(|_| panic!("finding link {id}"));
    let detail =
        anna.get(app.at(&format!("/app/vulnerabilities/{id}"))).send().await.expect("get").text().await.expect("t");
    assert!(detail.contains("id=\"accept_form\""), "an admin of the customer may accept");
    let csrf = common::csrf_of(&anna, &app.at(&format!("/app/vulnerabilities/{id}"))).await;
    let form = [("_csrf", csrf.as_str()), ("reason", "Dienst nur intern erreichbar"), ("until", "2026-01-01")];
    let resp = anna.post(app.at(&format!("/app/vulnerabilities/{id}/accept"))).form(&form).send().await.expect("post");
    assert_eq!(resp.status(), 422, "a day in the past is refused");
    let until =
        (app.now() + jiff::SignedDuration::from_hours(24 * 10)).to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let form = [("_csrf", csrf.as_str()), ("reason", "Dienst nur intern erreichbar"), ("until", until.as_str())];
    let resp = anna.post(app.at(&format!("/app/vulnerabilities/{id}/accept"))).form(&form).send().await.expect("post");
    assert_eq!(resp.status(), 303);
    let detail =
        anna.get(app.at(&format!("/app/vulnerabilities/{id}"))).send().await.expect("get").text().await.expect("t");
    assert!(detail.contains("Dienst nur intern erreichbar") && detail.contains("Risiko akzeptiert"), "{detail}");
    let feeds = anna.get(app.at("/app/vulnerabilities/feeds")).send().await.expect("get");
    assert_eq!(feeds.status(), 403, "feeds are the provider's");
    let admin_web = app.sign_in("admin").await;
    let feeds = admin_web.get(app.at("/app/vulnerabilities/feeds")).send().await.expect("get").text().await.expect("t");
    assert!(feeds.contains("debian-tracker") && feeds.contains("id=\"feed_osv\""), "{feeds}");
    let csv = anna
        .get(app.at("/app/vulnerabilities/export.csv?status=all"))
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("t");
    assert!(csv.contains("CVE-2024-6387"), "{csv}");
}

/// A release upgrade is seen from the agent's system facts, not only at
/// enrollment: the host's OS follows, and the next scan uses the new release.
#[tokio::test]
async fn the_host_os_follows_what_the_agent_reads() {
    let (_dir, app, _admin, _t, web) = lab().await;
    let facts = |os: &str| {
        Item::System(leitstand_proto::inventory::SystemFacts {
            boot_id: "b1".into(),
            booted: 1,
            kernel: "6.12.0".into(),
            os: os.into(),
        })
    };
    common::send_section(&app, web, 1, Section::System, vec![facts("Debian GNU/Linux 13 (trixie)\u{7}")]).await;
    let host = app.store.host_for_agent(HostId(web)).await.expect("host");
    assert_eq!(host.os, "Debian GNU/Linux 13 (trixie)", "control characters dropped");
    // An agent that does not say keeps what is known.
    common::send_section(&app, web, 2, Section::System, vec![facts("")]).await;
    assert_eq!(app.store.host_for_agent(HostId(web)).await.expect("host").os, "Debian GNU/Linux 13 (trixie)");
    software(&app, web, 3, vec![package("openssh-server", "1:10.0p1-5", "openssh")]).await;
    let due = app.store.scan_targets(jiff::Timestamp::UNIX_EPOCH, 10).await.expect("targets");
    assert_eq!(due.iter().find(|t| t.host.0 == web).map(|t| t.os.as_str()), Some("Debian GNU/Linux 13 (trixie)"));
}
