//! The real install script against the real server, into a prefix, with the
//! agent started directly (no systemd here): the host appears and delivers;
//! running the script again is harmless; the uninstall script removes it all.

mod common;

use common::TestApp;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn sh(script: &str, prefix: &Path) -> std::process::Output {
    Command::new("sh").arg("-c").arg(script).env("LEITSTAND_PREFIX", prefix).output().expect("sh")
}

/// Stops the agent the installer started, whatever happens in the test.
struct Reaper(std::path::PathBuf);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.0.join("var/lib/leitstand/agent.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_install_script_installs_enrols_and_starts_the_agent() {
    let exe = std::env::current_exe().expect("exe");
    if !exe.parent().and_then(Path::parent).is_some_and(|d| d.join("leitstand-agent").is_file()) {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "leitstand-agent not built next to the tests");
        eprintln!("SKIPPED: build leitstand-agent first");
        return;
    }
    let app = TestApp::spawn().await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Kunde A").await;
    let token = app.services.create_enroll_token(&admin, tenant).await.expect("token").token;
    let prefix = tempfile::tempdir().expect("prefix");
    let p = prefix.path().to_owned();
    let _reaper = Reaper(p.clone());
    let install = format!("curl -fsSL '{}/install.sh?token={token}' | sh", app.url);

    let out = tokio::task::spawn_blocking({
        let (install, p) = (install.clone(), p.clone());
        move || sh(&install, &p)
    })
    .await
    .expect("join");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for f in [
        "usr/local/bin/leitstand-agent",
        "etc/leitstand/agent.toml",
        "etc/systemd/system/leitstand-agent.service",
        "var/lib/leitstand/identity.toml",
        "var/lib/leitstand/agent.pid",
    ] {
        assert!(p.join(f).exists(), "{f} installed");
    }
    let unit = std::fs::read_to_string(p.join("etc/systemd/system/leitstand-agent.service")).expect("unit");
    assert!(unit.contains("ExecStart=") && unit.contains(" run"));

    // The host appears and its samples arrive.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let hosts = app.services.hosts(&admin, Some(tenant)).await.expect("hosts");
        if hosts.len() == 1 && hosts[0].last_seen.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the installed agent did not report");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Again: harmless (same identity, no second host).
    let out = tokio::task::spawn_blocking({
        let (install, p) = (install.clone(), p.clone());
        move || sh(&install, &p)
    })
    .await
    .expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("already enrolled"));
    assert_eq!(app.services.hosts(&admin, Some(tenant)).await.expect("hosts").len(), 1);

    // A link without a token fails with a message, before touching anything.
    let bad = sh(&format!("curl -sS '{}/install.sh' | sh", app.url), &p);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("lacks a valid token"));

    let pid = std::fs::read_to_string(p.join("var/lib/leitstand/agent.pid")).expect("pid");
    let out = sh(&format!("curl -fsSL '{}/uninstall.sh' | sh", app.url), &p);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!p.join("usr/local/bin/leitstand-agent").exists() && !p.join("etc/leitstand").exists());
    assert!(!p.join("var/lib/leitstand").exists());
    let deadline = Instant::now() + Duration::from_secs(10);
    while Command::new("kill").args(["-0", pid.trim()]).status().expect("kill").success() {
        assert!(Instant::now() < deadline, "the agent was not stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_debian_package_reads_with_dpkg_deb_and_enrols_with_its_token() {
    let exe = std::env::current_exe().expect("exe");
    if !exe.parent().and_then(Path::parent).is_some_and(|d| d.join("leitstand-agent").is_file()) {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "leitstand-agent not built next to the tests");
        eprintln!("SKIPPED: build leitstand-agent first");
        return;
    }
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "dpkg-deb is needed");
        eprintln!("SKIPPED: dpkg-deb not installed");
        return;
    }
    let app = TestApp::spawn().await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Kunde A").await;
    let token = app.services.create_enroll_token(&admin, tenant).await.expect("token").token;
    let resp =
        app.api().get(app.at(&format!("/downloads/leitstand-agent.deb?token={token}"))).send().await.expect("deb");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-disposition"].to_str().expect("ascii").contains("leitstand-agent_"));
    let bytes = resp.bytes().await.expect("bytes");
    let dir = tempfile::tempdir().expect("dir");
    let deb = dir.path().join("leitstand-agent.deb");
    std::fs::write(&deb, &bytes).expect("write");

    let info = Command::new("dpkg-deb").arg("--info").arg(&deb).output().expect("dpkg-deb");
    let info_text = String::from_utf8_lossy(&info.stdout);
    assert!(info.status.success(), "{info_text}{}", String::from_utf8_lossy(&info.stderr));
    for want in ["Package: leitstand-agent", "Architecture: amd64", "postinst", "conffiles"] {
        assert!(info_text.contains(want), "{want} in {info_text}");
    }
    let contents = Command::new("dpkg-deb").arg("--contents").arg(&deb).output().expect("dpkg-deb");
    let listing = String::from_utf8_lossy(&contents.stdout);
    for want in ["usr/bin/leitstand-agent", "lib/systemd/system/leitstand-agent.service", "etc/leitstand/agent.toml"] {
        assert!(listing.contains(want), "{want} in {listing}");
    }
    assert!(listing.contains("root/root"), "files belong to root: {listing}");
    let root = dir.path().join("root");
    let x = Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root).output().expect("extract");
    assert!(x.status.success(), "{}", String::from_utf8_lossy(&x.stderr));

    // What postinst does, with the package's own files: enrol with the
    // baked-in token against the server named in the packaged config.
    let baked = std::fs::read_to_string(root.join("etc/leitstand/enroll.token")).expect("token");
    assert_eq!(baked.trim(), token);
    let state = dir.path().join("state");
    let out = tokio::task::spawn_blocking({
        let (root, state) = (root.clone(), state.clone());
        move || {
            Command::new(root.join("usr/bin/leitstand-agent"))
                .arg("--config")
                .arg(root.join("etc/leitstand/agent.toml"))
                .arg("--state")
                .arg(&state)
                .args(["enroll", "--token", baked.trim()])
                .output()
                .expect("agent")
        }
    })
    .await
    .expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(state.join("identity.toml").is_file());
    let hosts = app.services.host_list(&admin, Some(tenant), Default::default()).await.expect("hosts");
    assert_eq!(hosts.total, 1, "the packaged agent enrolled into the token's tenant");
    let bad = app.api().get(app.at("/downloads/leitstand-agent.deb?token=x;rm")).send().await.expect("bad");
    assert_eq!(bad.status(), 400);
}
