//! The `leitstand-agent` binary against this machine's real /proc, and against
//! a prepared tree through `--root`.

use std::process::Command;

#[test]
fn collect_prints_samples_and_run_fills_the_spool() {
    let state = tempfile::tempdir().expect("state");
    let config = state.path().join("agent.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_leitstand-agent"))
        .args(["--config"])
        .arg(&config)
        .args(["--state"])
        .arg(state.path())
        .arg("collect")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let samples: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(samples.as_array().expect("array").iter().any(|s| s["name"] == "cpu_usage_percent"));

    std::fs::write(&config, "interval_secs = 5\n").expect("config");
    let run = Command::new(env!("CARGO_BIN_EXE_leitstand-agent"))
        .arg("--config")
        .arg(&config)
        .arg("--state")
        .arg(state.path())
        .args(["run", "--rounds", "1"])
        .output()
        .expect("run");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let status = Command::new(env!("CARGO_BIN_EXE_leitstand-agent"))
        .arg("--config")
        .arg(&config)
        .arg("--state")
        .arg(state.path())
        .arg("spool-status")
        .output()
        .expect("status");
    let text = String::from_utf8_lossy(&status.stdout);
    let next: u64 = text
        .split("next sequence ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("next sequence");
    // Metrics, heartbeat, the inventory (one record or more) and the checklist.
    assert!(next >= 5, "metrics, heartbeat, inventory and checklist were spooled: {text}");

    std::fs::write(&config, "interval_secs = 1\n").expect("config");
    let bad = Command::new(env!("CARGO_BIN_EXE_leitstand-agent"))
        .arg("--config")
        .arg(&config)
        .arg("collect")
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("interval_secs must be between 5 and 3600"));
}

#[test]
fn inventory_and_checklist_read_another_root() {
    let root = tempfile::tempdir().expect("root");
    for (rel, content) in [
        ("etc/passwd", "root:x:0:0::/root:/bin/bash\neve:x:0:0::/home/eve:/bin/sh\n"),
        ("etc/group", "root:x:0:\n"),
        ("etc/debian_version", "12\n"),
        ("etc/hosts.equiv", "+\n"),
    ] {
        let p = root.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
        std::fs::write(p, content).expect("write");
    }
    let agent = |cmd: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_leitstand-agent"))
            .args(["--config", "/nonexistent", "--root"])
            .arg(root.path())
            .arg(cmd)
            .output()
            .expect("run");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let inventory: serde_json::Value = serde_json::from_str(&agent("inventory")).expect("json");
    let users = inventory.as_array().expect("sections").iter().find(|s| s["section"] == "users").expect("users");
    let names: Vec<&str> =
        users["items"].as_array().expect("items").iter().filter_map(|u| u["name"].as_str()).collect();
    assert_eq!(names, ["eve", "root"], "the tree's users, not this machine's");
    let system = inventory.as_array().expect("sections").iter().find(|s| s["section"] == "system").expect("system");
    assert!(system["error"].as_str().is_some_and(|e| e.contains("boot_id")), "a missing file is that section's error");
    let checklist = agent("checklist");
    assert!(checklist.lines().any(|l| l.starts_with("fail") && l.contains("only-root-uid0") && l.contains("eve")));
    assert!(checklist.lines().any(|l| l.starts_with("fail") && l.contains("no-hosts-equiv")));
}
