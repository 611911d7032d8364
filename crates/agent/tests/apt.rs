//! Real dpkg and apt in a root of the test's own (PATCH-1, PATCH-2, PATCH-4):
//! the tests build versions of a small package with `dpkg-deb` (one whose
//! `postinst` fails), install the first into the root with `dpkg --root`,
//! serve the others from a local file repository, and run apt there. Pending
//! updates are read from the lists apt wrote; signed `apply_updates` actions
//! update, fail, and roll back for real. Nothing outside the temporary
//! directory is touched.

use leitstand_agent::actions::{execute, Apt};
use leitstand_agent::inventory::{InventoryCollector, Updates};
use leitstand_proto::actions::{Action, Outcome, SignedAction};
use leitstand_proto::inventory::Item;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{is_root, run};

/// Builds `leitstand-demo_<version>_all.deb` in `dir`.
fn build(dir: &Path, version: &str) -> std::path::PathBuf {
    build_with(dir, version, None)
}

/// The same, with a `postinst` script.
fn build_with(dir: &Path, version: &str, postinst: Option<&str>) -> std::path::PathBuf {
    let tree = dir.join(format!("tree-{version}"));
    std::fs::create_dir_all(tree.join("DEBIAN")).expect("dir");
    std::fs::create_dir_all(tree.join("usr/share/leitstand-demo")).expect("dir");
    std::fs::write(
        tree.join("DEBIAN/control"),
        format!(
            "Package: leitstand-demo\nVersion: {version}\nArchitecture: all\n\
             Maintainer: Leitstand Tests <tests@leitstand.invalid>\nDescription: demo package for update tests\n"
        ),
    )
    .expect("control");
    std::fs::write(tree.join("usr/share/leitstand-demo/VERSION"), version).expect("file");
    if let Some(script) = postinst {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(tree.join("DEBIAN/postinst"), script).expect("postinst");
        std::fs::set_permissions(tree.join("DEBIAN/postinst"), std::fs::Permissions::from_mode(0o755)).expect("mode");
    }
    let deb = dir.join(format!("leitstand-demo_{version}_all.deb"));
    run(Command::new("dpkg-deb").args(["--root-owner-group", "-Zgzip", "--build"]).arg(&tree).arg(&deb));
    deb
}

/// A `Packages` stanza for a .deb, as a repository index has it.
fn stanza(deb: &Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(deb).expect("deb");
    let control = run(Command::new("dpkg-deb").arg("-f").arg(deb));
    let name = deb.file_name().and_then(|n| n.to_str()).expect("name");
    format!(
        "{}Filename: ./{name}\nSize: {}\nSHA256: {}\n\n",
        control.trim_end().to_owned() + "\n",
        bytes.len(),
        hex::encode(sha2::Sha256::digest(&bytes))
    )
}

/// A root with the first version installed and a local repository.
struct Lab {
    dir: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
}

impl Lab {
    /// `None` without root or apt-get (CI has both).
    fn new() -> Option<Lab> {
        if !is_root() || Command::new("apt-get").arg("--version").output().is_err() {
            eprintln!("skipped: needs root and apt-get");
            return None;
        }
        let dir = tempfile::tempdir().expect("dir");
        let (root, repo) = (dir.path().join("root"), dir.path().join("repo"));
        for d in ["var/lib/dpkg/updates", "var/lib/dpkg/info", "etc/apt/preferences.d", "var/lib/apt/lists/partial"]
            .iter()
            .chain(&["var/cache/apt/archives/partial", "var/log/apt"])
        {
            std::fs::create_dir_all(root.join(d)).expect("dir");
        }
        std::fs::write(root.join("var/lib/dpkg/status"), "").expect("status");
        std::fs::create_dir_all(&repo).expect("repo");
        std::fs::write(root.join("etc/apt/sources.list"), format!("deb [trusted=yes] file:{} ./\n", repo.display()))
            .expect("sources");
        let first = build(dir.path(), "1.0-1");
        run(Command::new("dpkg")
            .arg(format!("--root={}", root.display()))
            .arg("--force-script-chrootless")
            .arg("-i")
            .arg(&first));
        Some(Lab { dir, root, repo })
    }

    /// Puts exactly these packages into the repository and runs `apt-get update`.
    fn publish(&self, debs: &[&Path]) {
        let mut index = String::new();
        for deb in debs {
            let to = self.repo.join(deb.file_name().expect("name"));
            std::fs::copy(deb, &to).expect("copy");
            index.push_str(&stanza(&to));
        }
        std::fs::write(self.repo.join("Packages"), index).expect("index");
        self.apt(&["update"]);
    }

    fn apt(&self, args: &[&str]) -> String {
        let mut c = Command::new("apt-get");
        let r = self.root.display();
        c.arg("-y")
            .arg(format!("-oDir={r}"))
            .arg(format!("-oDir::State::status={r}/var/lib/dpkg/status"))
            .args(["-oDir::Etc::SourceParts=/dev/null", "-oDir::Etc::trustedparts=/dev/null"])
            .args(["-oAPT::Sandbox::User=root", "-oDebug::NoLocking=1"])
            .arg(format!("-oDPkg::Options::=--root={r}"))
            .arg("-oDPkg::Options::=--force-script-chrootless")
            .args(args);
        run(&mut c)
    }

    fn installed(&self) -> String {
        std::fs::read_to_string(self.root.join("usr/share/leitstand-demo/VERSION")).expect("file")
    }
}

#[test]
fn a_newer_version_in_a_real_apt_repository_is_a_pending_update() {
    let Some(lab) = Lab::new() else { return };
    let new = build(lab.dir.path(), "1.1-1");
    lab.publish(&[&new]);
    let mut updates = Updates::default();
    let items = updates.collect(&lab.root).expect("updates");
    let [Item::Update(u)] = &items[..] else { panic!("one pending update: {items:?}") };
    assert_eq!((u.name.as_str(), u.installed.as_str(), u.candidate.as_str()), ("leitstand-demo", "1.0-1", "1.1-1"));
    assert!(!u.security, "a plain repository is not a security suite");
    let simulated = lab.apt(&["-s", "dist-upgrade"]);
    assert!(simulated.contains("Inst leitstand-demo [1.0-1] (1.1-1"), "apt agrees: {simulated}");
    lab.apt(&["install", "leitstand-demo"]);
    assert_eq!(lab.installed(), "1.1-1");
    assert!(updates.collect(&lab.root).expect("updates").is_empty(), "nothing pending after the upgrade");
}

fn signed(key: &ed25519_dalek::SigningKey, id: i64, host: i64, not_after_ms: i64) -> SignedAction {
    common::signed_update(key, id, host, not_after_ms, &["leitstand-demo"])
}

#[test]
fn signed_updates_apply_fail_and_roll_back_for_real() {
    let Some(lab) = Lab::new() else { return };
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let key_hex = hex::encode(key.verifying_key().as_bytes());
    let allow = vec!["apply_updates".to_owned()];
    let apt = Apt::new(&lab.root);
    let now = 1_800_000_000_000;
    let ok = build(lab.dir.path(), "1.1-1");
    let broken = build_with(lab.dir.path(), "1.2-1", Some("#!/bin/sh\necho 'postinst fails on purpose' >&2\nexit 1\n"));
    lab.publish(&[&ok]);

    // Refused before anything runs: each check, and nothing changes.
    let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let refusals = [
        (execute(&signed(&other, 1, 5, now + 60_000), Some(&key_hex), 5, now, &allow, &apt), "signature"),
        (execute(&signed(&key, 2, 6, now + 60_000), Some(&key_hex), 5, now, &allow, &apt), "host 6"),
        (execute(&signed(&key, 3, 5, now - 1), Some(&key_hex), 5, now, &allow, &apt), "expired"),
        (execute(&signed(&key, 4, 5, now + 60_000), Some(&key_hex), 5, now, &[], &apt), "allow_actions"),
        (execute(&signed(&key, 5, 5, now + 60_000), None, 5, now, &allow, &apt), "enrol again"),
    ];
    for (report, why) in refusals {
        assert_eq!(report.outcome, Outcome::Refused, "{why}");
        assert!(report.detail.contains(why), "{why}: {}", report.detail);
    }
    let mut tampered = signed(&key, 6, 5, now + 60_000);
    tampered.action = Action::ApplyUpdates { packages: vec!["openssh-server".into()] };
    let report = execute(&tampered, Some(&key_hex), 5, now, &allow, &apt);
    assert_eq!(report.outcome, Outcome::Refused, "a changed action breaks the signature");
    assert_eq!(lab.installed(), "1.0-1");

    // The update works.
    let report = execute(&signed(&key, 7, 5, now + 60_000), Some(&key_hex), 5, now, &allow, &apt);
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.detail);
    assert_eq!(report.packages[0].before.as_deref(), Some("1.0-1"));
    assert_eq!(report.packages[0].after.as_deref(), Some("1.1-1"));
    assert_eq!(lab.installed(), "1.1-1");

    // The next one's postinst fails: 1.1-1 comes back from the repository.
    lab.publish(&[&ok, &broken]);
    let report = execute(&signed(&key, 8, 5, now + 60_000), Some(&key_hex), 5, now, &allow, &apt);
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.detail);
    assert!(report.detail.contains("postinst fails on purpose"), "{}", report.detail);
    assert!(report.detail.contains("previous versions restored"), "{}", report.detail);
    assert_eq!(
        (report.packages[0].before.as_deref(), report.packages[0].after.as_deref()),
        (Some("1.1-1"), Some("1.1-1"))
    );
    assert_eq!(lab.installed(), "1.1-1");

    // The repository has only the broken one now: apt's cache still has 1.1-1.
    for f in std::fs::read_dir(&lab.repo).expect("repo").filter_map(Result::ok) {
        std::fs::remove_file(f.path()).expect("clean");
    }
    lab.publish(&[&broken]);
    let cache = lab.root.join("var/cache/apt/archives/leitstand-demo_1.1-1_all.deb");
    std::fs::copy(&ok, &cache).expect("cache");
    let report = execute(&signed(&key, 9, 5, now + 60_000), Some(&key_hex), 5, now, &allow, &apt);
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.detail);
    assert_eq!(lab.installed(), "1.1-1");

    // Neither has it: the report says so and what is installed now.
    std::fs::remove_file(&cache).expect("uncache");
    let report = execute(&signed(&key, 10, 5, now + 60_000), Some(&key_hex), 5, now, &allow, &apt);
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.detail);
    assert!(report.detail.contains("could not restore"), "{}", report.detail);
    assert_eq!(report.packages[0].before.as_deref(), Some("1.1-1"));
    assert_eq!(report.packages[0].after, None, "half-configured 1.2-1 is not counted as installed");
}
