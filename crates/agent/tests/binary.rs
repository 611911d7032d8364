//! The `leitstand-agent` binary against this machine's real /proc.

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
