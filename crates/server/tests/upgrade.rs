//! Agent self-upgrade (AGT-4) with real processes: an agent running an older
//! build is offered the server's, checks and tries it, and restarts into it
//! under the same process id; a build that does not check in is removed and
//! the old one goes on delivering.

mod common;

use common::TestApp;
use leitstand_domain::HostId;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The agent binary the tests are built beside, if any.
fn built_agent() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("leitstand-agent");
    if p.is_file() {
        return Some(p);
    }
    assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "leitstand-agent not built next to the tests");
    eprintln!("SKIPPED: build leitstand-agent first");
    None
}

fn sha256_of(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).expect("read")))
}

struct Agent {
    child: Child,
    exe: PathBuf,
    state: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An agent installed as a copy of `binary` with bytes appended (another
/// build to the server), enrolled into `tenant` and running.
async fn older_agent(app: &TestApp, binary: &Path, tenant: leitstand_domain::TenantId) -> Agent {
    let dir = tempfile::tempdir().expect("dir");
    let exe = dir.path().join("bin/leitstand-agent");
    std::fs::create_dir_all(exe.parent().expect("bin")).expect("mkdir");
    let mut bytes = std::fs::read(binary).expect("agent");
    bytes.extend_from_slice(b"\nan older build\n");
    std::fs::write(&exe, bytes).expect("copy");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let state = dir.path().join("state");
    let conf = dir.path().join("agent.toml");
    std::fs::write(&conf, format!("interval_secs = 5\nstate_dir = \"{}\"\n", state.display())).expect("conf");
    let admin = app.services.cli_actor().await.expect("admin");
    let token = app.services.create_enroll_token(&admin, tenant).await.expect("token").token;
    let out = Command::new(&exe)
        .arg("--config")
        .arg(&conf)
        .args(["enroll", "--server", &app.url, "--token", &token])
        .output()
        .expect("enrol");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let child = Command::new(&exe)
        .arg("--config")
        .arg(&conf)
        .arg("run")
        .env("LEITSTAND_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run");
    Agent { child, exe, state, _dir: dir }
}

async fn wait_for(what: &str, secs: u64, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn setup(served: &Path) -> (TestApp, leitstand_domain::TenantId) {
    let sha256 = sha256_of(served);
    let served = served.to_owned();
    let app = TestApp::spawn_configured(
        |c| c.agent_release = Some(leitstand_service::AgentRelease { version: "0.1.0-new".into(), sha256 }),
        |c| c.agent_binary = Some(served),
    )
    .await;
    let admin = app.bootstrap().await;
    let tenant = app.tenant(&admin, "Kunde A").await;
    let policy = leitstand_store::HostPolicy { interval_secs: 5, require_approval: false };
    app.services.set_host_policy(&admin, tenant, policy).await.expect("policy");
    (app, tenant)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_upgrades_to_the_shipped_build_and_restarts_into_it() {
    let Some(binary) = built_agent() else { return };
    let (app, tenant) = setup(&binary).await;
    let agent = older_agent(&app, &binary, tenant).await;
    let pid = agent.child.id();
    let shipped = sha256_of(&binary);
    assert_ne!(sha256_of(&agent.exe), shipped);
    wait_for("the binary is replaced by the shipped build", 60, async || sha256_of(&agent.exe) == shipped).await;
    let host = HostId(
        app.services
            .host_list(&app.services.cli_actor().await.expect("admin"), Some(tenant), Default::default())
            .await
            .expect("list")
            .rows[0]
            .host
            .id
            .0,
    );
    wait_for("the new build delivers", 30, async || {
        app.store.host_for_agent(host).await.expect("host").agent_sha256.as_deref() == Some(shipped.as_str())
    })
    .await;
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).expect("same process");
    assert!(cmdline.contains("leitstand-agent"), "the agent restarted in place (same pid): {cmdline}");
    assert!(!agent.exe.with_extension("new").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_that_does_not_check_in_is_rolled_back() {
    let Some(binary) = built_agent() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let broken = dir.path().join("leitstand-agent");
    std::fs::write(&broken, "#!/bin/sh\necho 'this build is broken' >&2\nexit 3\n").expect("broken");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (app, tenant) = setup(&broken).await;
    let agent = older_agent(&app, &binary, tenant).await;
    let before = sha256_of(&agent.exe);
    let failed = agent.state.join("upgrade-failed");
    wait_for("the failed trial is recorded", 60, async || failed.exists()).await;
    assert_eq!(std::fs::read_to_string(&failed).expect("failed").trim(), sha256_of(&broken));
    assert_eq!(sha256_of(&agent.exe), before, "the old build stays");
    assert!(!agent.exe.with_extension("new").exists(), "the tried build is removed");
    // The old build goes on delivering.
    let admin = app.services.cli_actor().await.expect("admin");
    let id = app.services.host_list(&admin, Some(tenant), Default::default()).await.expect("list").rows[0].host.id;
    let seen = app.store.host_for_agent(id).await.expect("host").last_seen;
    app.clock.advance(jiff::SignedDuration::from_secs(1));
    wait_for("another delivery from the old build", 30, async || {
        app.store.host_for_agent(id).await.expect("host").last_seen > seen
    })
    .await;
}
