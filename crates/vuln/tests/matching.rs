//! The matcher against the fixture table of known true and false positives
//! (backports, binNMUs, epochs, not-affected releases, rpm order), and feed
//! files that are refused.

use std::path::PathBuf;

use leitstand_vuln::feed::{self, FeedKind};
use leitstand_vuln::{scan, Db, Installed, Release};
use serde::Deserialize;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture_db() -> Db {
    let (mut db, stats) =
        feed::load_path(FeedKind::DebianTracker, &fixtures().join("debian-tracker.json")).expect("tracker fixture");
    assert_eq!(stats.records, 12, "{stats:?}");
    let (osv, stats) = feed::load_path(FeedKind::Osv, &fixtures().join("osv")).expect("osv fixtures");
    assert_eq!(stats.records, 7, "{stats:?}");
    db.merge(osv);
    // The verbatim extract: 6 records in 18 release entries; the two for sid
    // (no release a host runs) are skipped, jessie (Debian 8) is read.
    let (extract, stats) = feed::load_path(FeedKind::DebianTracker, &fixtures().join("debian-tracker-extract.json"))
        .expect("verbatim tracker extract");
    assert_eq!((stats.records, stats.entries, stats.skipped), (6, 16, 2), "{stats:?}");
    db.merge(extract);
    // Ubuntu's own OSV records, verbatim: two withdrawn (skipped whole).
    let (ubuntu, stats) = feed::load_path(FeedKind::Osv, &fixtures().join("osv-ubuntu")).expect("ubuntu records");
    assert_eq!((stats.records, stats.entries, stats.skipped), (6, 13, 2), "{stats:?}");
    db.merge(ubuntu);
    db
}

#[derive(Deserialize)]
struct Table {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    os: String,
    #[serde(default = "today")]
    today: String,
    packages: Vec<Package>,
    expect: Vec<String>,
    #[serde(default)]
    out_of_support: bool,
}

fn today() -> String {
    "2026-11-24".into()
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    source_version: String,
}

#[test]
fn the_fixture_table_of_true_and_false_positives_holds() {
    let db = fixture_db();
    let table: Table = toml::from_str(&std::fs::read_to_string(fixtures().join("matching.toml")).unwrap()).unwrap();
    assert!(table.case.len() >= 15);
    let mut failures = vec![];
    for case in &table.case {
        let release = Release::from_os_name(&case.os).unwrap_or_else(|| panic!("{}: unknown os", case.name));
        let packages: Vec<Installed> = case
            .packages
            .iter()
            .map(|p| Installed {
                name: &p.name,
                version: &p.version,
                source: &p.source,
                source_version: &p.source_version,
            })
            .collect();
        let result = scan(&db, &release, &packages, &case.today);
        let got: Vec<String> = result
            .findings
            .iter()
            .map(|f| {
                let line = format!("{} {} {}", f.cve, f.package, f.state.name());
                match &f.fixed {
                    Some(v) => format!("{line} {v}"),
                    None => line,
                }
            })
            .collect();
        let (mut want, mut got_sorted) = (case.expect.clone(), got.clone());
        want.sort();
        got_sorted.sort();
        if want != got_sorted {
            failures.push(format!("{}:\n  want {want:?}\n  got  {got_sorted:?}", case.name));
        }
        if result.out_of_support != case.out_of_support {
            failures.push(format!("{}: out_of_support {}", case.name, result.out_of_support));
        }
        assert_eq!(result.unreadable, 0, "{}", case.name);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn findings_carry_scores_titles_advisories_and_every_binary() {
    let db = fixture_db();
    let release = Release::from_os_name("Debian GNU/Linux 12 (bookworm)").unwrap();
    let packages = [
        Installed { name: "openssh-server", version: "1:9.2p1-2+deb12u2", source: "openssh", source_version: "" },
        Installed { name: "openssh-client", version: "1:9.2p1-2+deb12u1", source: "openssh", source_version: "" },
    ];
    let s = scan(&db, &release, &packages, "2026-11-24");
    let f = s.findings.iter().find(|f| &*f.cve == "CVE-2024-6387").unwrap();
    assert_eq!(f.binaries, ["openssh-server", "openssh-client"]);
    assert_eq!(f.installed, "1:9.2p1-2+deb12u1", "the lowest installed version");
    let score = f.score.as_ref().expect("score from the Ubuntu OSV record of the same CVE");
    assert_eq!((score.score, score.severity), (8.1, "high"));
    assert!(db.title("CVE-2024-6387").unwrap().contains("regression"));

    let alma = Release::from_os_name("AlmaLinux 9.4").unwrap();
    let s = scan(&db, &alma, &[Installed::new("openssh-server", "8.7p1-38.el9")], "2026-11-24");
    assert_eq!(s.findings[0].advisory.as_deref(), Some("ALSA-2024:4312"));
    let s = scan(&db, &alma, &[Installed::new("leitstand-fixture", "2.0-2.el9")], "2026-11-24");
    assert_eq!(s.findings[0].score.as_ref().unwrap().vector.get(..8), Some("CVSS:4.0"));
}

/// Ubuntu states universe packages (and releases past standard support)
/// in its Pro stream only: the flaw counts, marked; the release's own
/// statement wins where a record has both. Priority and scores as Ubuntu's
/// export writes them.
#[test]
fn ubuntu_pro_statements_priorities_and_scores_are_read() {
    let db = fixture_db();
    let jammy = Release::from_os_name("Ubuntu 22.04.5 LTS").unwrap();
    let s = scan(&db, &jammy, &[Installed::new("trafficserver", "9.1.1+ds-2build1")], "2026-11-24");
    assert_eq!(s.findings[0].note, leitstand_vuln::matching::PRO_ONLY);
    let focal = Release::from_os_name("Ubuntu 20.04.6 LTS").unwrap();
    let mongo = Installed::new("mongodb", "1:3.6.9+really3.6.8+90~g8e540c0b6d-0ubuntu5.3");
    let s = scan(&db, &focal, &[mongo], "2025-01-15");
    let score = s.findings[0].score.as_ref().expect("score");
    assert_eq!(score.vector, "CVSS:3.1/AV:N/AC:H/PR:L/UI:N/S:U/C:L/I:L/A:N", "the first v3.1 vector of the record");
    assert_eq!(s.findings[0].note, "", "stated for 20.04 itself");

    let dir = tempfile::tempdir().unwrap();
    let record = r#"{"id": "UBUNTU-CVE-2099-0001", "upstream": ["CVE-2099-0001"],
      "severity": [{"type": "Ubuntu", "score": "negligible"}],
      "affected": [{"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "quiet"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}"#;
    std::fs::write(dir.path().join("negligible.json"), record).unwrap();
    let record = r#"{"id": "UBUNTU-CVE-2099-0002", "upstream": ["CVE-2099-0002"], "affected": [
      {"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "both"},
       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2-1"}]}]},
      {"package": {"ecosystem": "Ubuntu:Pro:22.04:LTS", "name": "both"},
       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2-1~esm1"}]}]},
      {"package": {"ecosystem": "Ubuntu:Pro:22.04:LTS", "name": "esm-only"},
       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0-1ubuntu0.1~esm1"}]}]},
      {"package": {"ecosystem": "Ubuntu:Pro:FIPS:22.04:LTS", "name": "openssl"},
       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}"#;
    std::fs::write(dir.path().join("streams.json"), record).unwrap();
    let (db, stats) = feed::load_path(FeedKind::Osv, dir.path()).expect("records");
    assert_eq!((stats.entries, stats.skipped), (3, 2), "the Pro twin and the FIPS stream are not taken");
    let found = |name: &str, version: &str| {
        let s = scan(&db, &jammy, &[Installed::new(name, version)], "2026-11-24");
        s.findings.iter().map(|f| (f.state.name(), f.fixed.clone(), f.note.clone())).collect::<Vec<_>>()
    };
    assert_eq!(found("quiet", "1.0-1"), [("ignored", None, "negligible".into())]);
    assert_eq!(found("both", "1.1-1"), [("fix_available", Some("1.2-1".into()), String::new())]);
    assert_eq!(
        found("esm-only", "1.0-1"),
        [("fix_available", Some("1.0-1ubuntu0.1~esm1".into()), leitstand_vuln::matching::PRO_ONLY.into())]
    );
    assert!(found("openssl", "3.0.2-0ubuntu1").is_empty());
}

#[test]
fn corrupt_truncated_and_wrong_feeds_are_refused_with_a_message() {
    let tracker = std::fs::read(fixtures().join("debian-tracker.json")).unwrap();
    let cut = &tracker[..tracker.len() / 2];
    let e = feed::parse(FeedKind::DebianTracker, "tracker.json", cut).unwrap_err();
    assert!(e.to_string().contains("tracker.json") && e.message.contains("truncated"), "{e}");

    let e = feed::parse(
        FeedKind::DebianTracker,
        "t.json",
        b"{\"pkg\": {\"CVE-1\": {\"releases\": {\"bookworm\": {\"status\": \"maybe\"}}}}}",
    )
    .unwrap_err();
    assert!(e.message.contains("unknown status \"maybe\""), "{e}");

    let e = feed::parse(FeedKind::DebianTracker, "t.json", b"[]").unwrap_err();
    assert!(e.message.contains("line 1"), "{e}");
    let e = feed::parse(FeedKind::DebianTracker, "t.json", b"{}").unwrap_err();
    assert!(e.message.contains("no packages"), "{e}");

    let e = feed::parse(FeedKind::Osv, "x.json", b"{\"summary\": \"no id\"}").unwrap_err();
    assert!(e.message.contains("not an OSV record"), "{e}");
    let e = feed::parse(FeedKind::Osv, "x.json", b"\xff\xfe").unwrap_err();
    assert!(e.message.contains("not valid JSON"), "{e}");

    // One bad file in an OSV directory refuses the directory, naming the file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixtures().join("osv/ALSA-2024-4312.json"), dir.path().join("a.json")).unwrap();
    std::fs::write(dir.path().join("b.json"), b"{\"id\": \"X\", \"affected\": [").unwrap();
    let e = feed::load_path(FeedKind::Osv, dir.path()).unwrap_err();
    assert!(e.what.ends_with("b.json"), "{e}");
    let e = feed::load_path(FeedKind::DebianTracker, dir.path()).unwrap_err();
    assert!(e.message.contains("directory"), "{e}");
    let e = feed::load_path(FeedKind::Osv, &dir.path().join("missing")).unwrap_err();
    assert!(e.what.ends_with("missing"), "{e}");
}
