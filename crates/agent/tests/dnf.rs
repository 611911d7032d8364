//! Real rpm and dnf in a root of the test's own (PATCH-1, PATCH-2, PATCH-4
//! on the RHEL family): the test builds versions of two small packages with
//! `rpmbuild` (one whose `%pre` scriptlet fails, so rpm refuses it), serves
//! them from a local repository made with `createrepo_c` (with a security
//! advisory in its updateinfo), reads the pending updates from dnf's cache,
//! and lets signed `apply_updates` actions update, fail and roll back
//! through `dnf --installroot`. Nothing outside the temporary directory is touched.
//!
//! Debian's rpm keeps its database in `~/.rpmdb` (inside the root:
//! `root/.rpmdb`), not in `/var/lib/rpm`; the test makes that directory so
//! the root reads as an rpm host, as a RHEL-family host does.

use leitstand_agent::actions::{execute, package_tool};
use leitstand_agent::inventory::{InventoryCollector, Software, Updates};
use leitstand_proto::actions::{Outcome, SignedAction};
use leitstand_proto::inventory::Item;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{is_root, run};

struct Lab {
    dir: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
}

impl Lab {
    /// A root with a repository configured; `None` (skipped) without root
    /// or where rpm, dnf or createrepo_c are missing, outside CI.
    fn new() -> Option<Lab> {
        if !is_root() {
            eprintln!("SKIPPED: dnf in a prepared root needs root (as the apt test)");
            return None;
        }
        let missing: Vec<&str> = ["dnf", "rpmbuild", "createrepo_c"]
            .into_iter()
            .filter(|tool| Command::new(tool).arg("--version").output().is_err())
            .collect();
        if !missing.is_empty() {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{missing:?} are installed by scripts/test.sh");
            eprintln!("SKIPPED: install {} (Debian: dnf rpm createrepo-c)", missing.join(", "));
            return None;
        }
        let dir = tempfile::tempdir().expect("dir");
        let (root, repo) = (dir.path().join("root"), dir.path().join("repo"));
        std::fs::create_dir_all(root.join("etc/yum.repos.d")).expect("root");
        std::fs::create_dir_all(root.join("var/lib/rpm")).expect("rpm marker");
        std::fs::create_dir_all(&repo).expect("repo");
        std::fs::write(
            root.join("etc/yum.repos.d/lab.repo"),
            format!(
                "[lab]\nname=Leitstand test repository\nbaseurl=file://{}\ngpgcheck=0\nmetadata_expire=0\n",
                repo.display()
            ),
        )
        .expect("repo file");
        Some(Lab { dir, root, repo })
    }

    /// Builds `name-version-1.noarch.rpm`; with `refuse`, its `%pre`
    /// scriptlet fails (a Lua one: the root has no shell).
    fn build(&self, name: &str, version: &str, refuse: bool) -> PathBuf {
        let pre = if refuse {
            format!("%pre -p <lua>\nerror(\"{name} {version} refuses to install\")\n")
        } else {
            String::new()
        };
        let spec = self.dir.path().join(format!("{name}-{version}.spec"));
        std::fs::write(
            &spec,
            format!(
                "Name: {name}\nVersion: {version}\nRelease: 1\nSummary: demo package for update tests\nLicense: MIT\n\
                 BuildArch: noarch\nAutoReqProv: no\n%description\nDemo package for Leitstand's update tests.\n{pre}\
                 %install\nmkdir -p %{{buildroot}}/usr/share/{name}\necho {version} > %{{buildroot}}/usr/share/{name}/VERSION\n\
                 %files\n/usr/share/{name}/VERSION\n"
            ),
        )
        .expect("spec");
        let out = self.dir.path().join("rpms");
        run(Command::new("rpmbuild")
            .arg("--define")
            .arg(format!("_topdir {}", self.dir.path().join("build").display()))
            .arg("--define")
            .arg(format!("_rpmdir {}", out.display()))
            .arg("-bb")
            .arg(&spec));
        out.join(format!("noarch/{name}-{version}-1.noarch.rpm"))
    }

    /// The repository holds exactly these packages.
    fn publish(&self, rpms: &[&Path]) {
        for f in std::fs::read_dir(&self.repo).expect("repo").filter_map(Result::ok) {
            let p = f.path();
            if p.is_dir() { std::fs::remove_dir_all(p) } else { std::fs::remove_file(p) }.expect("clean");
        }
        for rpm in rpms {
            std::fs::copy(rpm, self.repo.join(rpm.file_name().expect("name"))).expect("copy");
        }
        run(Command::new("createrepo_c").arg("-q").arg(&self.repo));
        // Within the same second the new repomd.xml looks as fresh as the
        // cached one; a host sees the change once its metadata expired.
        let _ = std::fs::remove_dir_all(self.root.join("var/cache/dnf"));
    }

    /// A security advisory for a package version, in the repository's
    /// updateinfo (as the RHEL family's errata are), and dnf's cache made,
    /// as a host's `dnf makecache` timer does.
    fn advise_and_cache(&self, name: &str, version: &str) {
        let xml = self.dir.path().join("updateinfo.xml");
        std::fs::write(
            &xml,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<updates>\n\
                 <update from=\"tests@leitstand.invalid\" status=\"final\" type=\"security\" version=\"1\">\n\
                 <id>LEITSTAND-2026:0001</id><title>{name} security update</title>\n\
                 <issued date=\"2026-11-24 00:00:00\"/><severity>Important</severity><description>test</description>\n\
                 <pkglist><collection short=\"lab\"><name>lab</name>\n\
                 <package name=\"{name}\" version=\"{version}\" release=\"1\" epoch=\"0\" arch=\"noarch\">\
                 <filename>{name}-{version}-1.noarch.rpm</filename></package>\n\
                 </collection></pkglist></update>\n</updates>\n"
            ),
        )
        .expect("updateinfo");
        run(Command::new("modifyrepo_c").arg("--mdtype=updateinfo").arg(&xml).arg(self.repo.join("repodata")));
        run(Command::new("dnf").arg("-q").arg(format!("--installroot={}", self.root.display())).arg("makecache"));
    }

    fn dnf_install(&self, specs: &[&str]) {
        run(Command::new("dnf")
            .args(["-y", "-q", "--releasever=9"])
            .arg(format!("--installroot={}", self.root.display()))
            .arg("install")
            .args(specs));
    }

    fn installed(&self, name: &str) -> String {
        let tool = package_tool(&self.root);
        tool.versions(&[name.to_owned()]).remove(name).flatten().unwrap_or_default()
    }
}

fn signed(key: &ed25519_dalek::SigningKey, id: i64, packages: &[&str]) -> SignedAction {
    common::signed_update(key, id, 5, 1_800_000_060_000, packages)
}

#[test]
fn signed_updates_apply_fail_and_roll_back_through_dnf() {
    let Some(lab) = Lab::new() else { return };
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let key_hex = hex::encode(key.verifying_key().as_bytes());
    let allow = vec!["apply_updates".to_owned()];
    let now = 1_800_000_000_000;
    let demo: Vec<PathBuf> =
        ["1.0", "1.1", "1.2", "1.3"].iter().map(|v| lab.build("leitstand-demo", v, false)).collect();
    let fail_ok = lab.build("leitstand-fail", "1.0", false);
    let fail_bad = lab.build("leitstand-fail", "1.1", true);
    lab.publish(&[&demo[0], &fail_ok]);
    lab.dnf_install(&["leitstand-demo", "leitstand-fail"]);
    let tool = package_tool(&lab.root);
    let act = |id: i64, packages: &[&str]| {
        execute(&signed(&key, id, packages), Some(&key_hex), 5, now, &allow, tool.as_ref())
    };

    // The inventory reads the same database: both packages, from rpm.
    let software = Software::default().collect(&lab.root).expect("software");
    let demo_item = software.iter().find_map(|i| match i {
        Item::Package(p) if p.name == "leitstand-demo" => Some(p),
        _ => None,
    });
    assert_eq!(demo_item.map(|p| (p.version.as_str(), p.manager.as_str())), Some(("1.0-1", "rpm")), "{software:?}");

    // A newer version with a security advisory is a pending security update.
    lab.publish(&[&demo[0], &demo[1], &fail_ok]);
    lab.advise_and_cache("leitstand-demo", "1.1");
    let pending = Updates::default().collect(&lab.root).expect("updates");
    let update = pending
        .iter()
        .find_map(|i| match i {
            Item::Update(u) if u.name == "leitstand-demo" => Some(u),
            _ => None,
        })
        .unwrap_or_else(|| panic!("pending: {pending:?}"));
    assert_eq!((update.installed.as_str(), update.candidate.as_str(), update.security), ("1.0-1", "1.1-1", true));

    // The update works.
    let report = act(1, &["leitstand-demo"]);
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.detail);
    assert_eq!(
        (report.packages[0].before.as_deref(), report.packages[0].after.as_deref()),
        (Some("1.0-1"), Some("1.1-1"))
    );
    assert_eq!(lab.installed("leitstand-demo"), "1.1-1");

    // Two at once: rpm takes the demo's 1.2 and refuses leitstand-fail 1.1
    // (its %pre fails); dnf fails the job and the demo goes back to 1.1.
    lab.publish(&[&demo[0], &demo[1], &demo[2], &fail_ok, &fail_bad]);
    let report = act(2, &["leitstand-demo", "leitstand-fail"]);
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.detail);
    assert!(report.detail.contains("Error in PREIN scriptlet"), "rpm's reason is in the report: {}", report.detail);
    assert!(report.detail.contains("previous versions restored"), "{}", report.detail);
    let versions: Vec<(Option<&str>, Option<&str>)> =
        report.packages.iter().map(|p| (p.before.as_deref(), p.after.as_deref())).collect();
    assert_eq!(versions, [(Some("1.1-1"), Some("1.1-1")), (Some("1.0-1"), Some("1.0-1"))]);
    assert_eq!((lab.installed("leitstand-demo"), lab.installed("leitstand-fail")), ("1.1-1".into(), "1.0-1".into()));

    // The repository no longer has 1.1: the report says what is installed now.
    lab.publish(&[&demo[3], &fail_bad]);
    let report = act(3, &["leitstand-demo", "leitstand-fail"]);
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.detail);
    assert!(report.detail.contains("could not restore"), "{}", report.detail);
    assert_eq!(report.packages[0].after.as_deref(), Some("1.3-1"));
    assert_eq!(lab.installed("leitstand-demo"), "1.3-1");
}
