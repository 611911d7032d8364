//! Pending updates (PATCH-1) read from a root that real dpkg and apt
//! prepared: the test builds two versions of a small package with
//! `dpkg-deb`, installs the first into a root of its own with `dpkg --root`,
//! serves the second from a local file repository, lets `apt-get update`
//! write its lists there, and the agent's collector must report the update;
//! after `apt-get install` in that root, none. Nothing outside the temporary
//! directory is touched.

use leitstand_agent::inventory::{InventoryCollector, Updates};
use leitstand_proto::inventory::Item;
use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Builds `leitstand-demo_<version>_all.deb` in `dir`.
fn build(dir: &Path, version: &str) -> std::path::PathBuf {
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

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

#[test]
fn a_newer_version_in_a_real_apt_repository_is_a_pending_update() {
    if !is_root() || Command::new("apt-get").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and apt-get (CI has both)");
        return;
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
    let old = build(dir.path(), "1.0-1");
    let new = build(dir.path(), "1.1-1");
    std::fs::copy(&new, repo.join(new.file_name().expect("name"))).expect("copy");
    std::fs::write(repo.join("Packages"), stanza(&repo.join(new.file_name().expect("name")))).expect("index");
    std::fs::write(root.join("etc/apt/sources.list"), format!("deb [trusted=yes] file:{} ./\n", repo.display()))
        .expect("sources");

    let rootarg = format!("--root={}", root.display());
    run(Command::new("dpkg").arg(&rootarg).arg("--force-script-chrootless").arg("-i").arg(&old));
    let apt = |args: &[&str]| {
        let mut c = Command::new("apt-get");
        c.arg("-y")
            .arg(format!("-oDir={}", root.display()))
            .arg(format!("-oDir::State::status={}", root.join("var/lib/dpkg/status").display()))
            .args(["-oDir::Etc::SourceParts=/dev/null", "-oDir::Etc::trustedparts=/dev/null"])
            .args(["-oAPT::Sandbox::User=root", "-oDebug::NoLocking=1"])
            .arg(format!("-oDPkg::Options::={rootarg}"))
            .arg("-oDPkg::Options::=--force-script-chrootless")
            .args(args);
        run(&mut c)
    };
    apt(&["update"]);

    let mut updates = Updates::default();
    let items = updates.collect(&root).expect("updates");
    let [Item::Update(u)] = &items[..] else { panic!("one pending update: {items:?}") };
    assert_eq!((u.name.as_str(), u.installed.as_str(), u.candidate.as_str()), ("leitstand-demo", "1.0-1", "1.1-1"));
    assert!(!u.security, "a plain repository is not a security suite");
    let simulated = apt(&["-s", "dist-upgrade"]);
    assert!(simulated.contains("Inst leitstand-demo [1.0-1] (1.1-1"), "apt agrees: {simulated}");

    apt(&["install", "leitstand-demo"]);
    let installed = std::fs::read_to_string(root.join("usr/share/leitstand-demo/VERSION")).expect("file");
    assert_eq!(installed, "1.1-1");
    assert!(updates.collect(&root).expect("updates").is_empty(), "nothing pending after the upgrade");
}
