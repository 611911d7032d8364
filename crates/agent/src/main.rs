//! The `leitstand-agent` binary.

use anyhow::Context;
use clap::{Parser, Subcommand};
use leitstand_agent::identity::Identity;
use leitstand_agent::uplink::{self, SendError, Uplink};
use leitstand_agent::{collect, config::AgentConfig, spool::Spool, upgrade};
use leitstand_proto::Record;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Parser)]
#[command(name = "leitstand-agent", version, about = "Leitstand agent: metrics and events of this host")]
struct Cli {
    /// Configuration file.
    #[arg(long, default_value = "/etc/leitstand/agent.toml")]
    config: PathBuf,
    /// Read /proc and /sys below this directory instead of / (for tests).
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// State directory; overrides the configuration.
    #[arg(long)]
    state: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Collect once and print the samples as JSON.
    Collect,
    /// Read the inventory once and print it as JSON.
    Inventory {
        /// Instead: take this many full snapshots and print their time, CPU
        /// and size on the wire, and the size of a one-package delta.
        #[arg(long)]
        measure: Option<u32>,
    },
    /// Run the hardening checklist once and print the results.
    Checklist,
    /// Collect at the configured interval into the spool.
    Run {
        /// Stop after this many collections (for tests).
        #[arg(long)]
        rounds: Option<u64>,
    },
    /// Show what the spool holds.
    SpoolStatus,
    /// Enrol this host with a single-use token from the dashboard.
    Enroll {
        /// Server URL, e.g. https://leitstand.example.de; default: `server`
        /// from the configuration.
        #[arg(long)]
        server: Option<String>,
        #[arg(long, env = "LEITSTAND_ENROLL_TOKEN")]
        token: String,
        /// Host name to register; default: this host's name.
        #[arg(long)]
        name: Option<String>,
    },
}

/// This host's name and operating system, read under the root.
fn host_facts(root: &std::path::Path) -> (String, String) {
    let name = std::fs::read_to_string(root.join("proc/sys/kernel/hostname"))
        .or_else(|_| std::fs::read_to_string(root.join("etc/hostname")))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let os = leitstand_agent::inventory::system::pretty_name(root);
    let os = if os.is_empty() { "Linux".into() } else { os };
    (name, os)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEITSTAND_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mut config = AgentConfig::load(&cli.config)?;
    if let Some(s) = cli.state {
        config.state_dir = s;
    }
    match cli.command {
        Command::Collect => {
            let mut all = collect::standard();
            collect::run(&mut all, &cli.root);
            std::thread::sleep(Duration::from_secs(1));
            let (samples, errors) = collect::run(&mut all, &cli.root);
            for e in &errors {
                tracing::warn!(error = %e, "collector failed");
            }
            println!("{}", serde_json::to_string_pretty(&samples)?);
        }
        Command::Inventory { measure: None } => {
            let mut inv = leitstand_agent::inventory::Inventory::new(leitstand_agent::inventory::standard());
            println!("{}", serde_json::to_string_pretty(&inv.run(&cli.root, now_ms()))?);
        }
        Command::Inventory { measure: Some(n) } => {
            println!("{}", leitstand_agent::inventory::measure(&cli.root, n.max(1)));
        }
        Command::Checklist => {
            for r in leitstand_agent::checklist::run(&cli.root) {
                println!("{:<16} {:<36} {}", r.result.as_str(), r.id, r.evidence);
            }
        }
        Command::Run { rounds } => {
            let spool_dir = config.state_dir.join("spool");
            let mut spool = Spool::open(&spool_dir, config.spool_limits())
                .with_context(|| format!("cannot open the spool in {}", spool_dir.display()))?;
            let mut all = collect::standard();
            all.push(Box::new(collect::custom::Custom {
                dir: config.metrics_dir.clone(),
                timeout: collect::custom::SCRIPT_TIMEOUT,
            }));
            let http = config.http().map_err(|e| anyhow::anyhow!(e))?;
            let exe = std::env::current_exe().context("cannot find the agent's own binary")?;
            let build = upgrade::own_build(&exe).with_context(|| format!("cannot read {}", exe.display()))?;
            let mut uplink =
                Identity::load(&config.state_dir)?.map(|i| Uplink::new(i).with_http(http).with_build(build));
            let mut running = leitstand_agent::settings::Running::load(&config.state_dir, config.interval_secs);
            // A trial child of an upgrade only reports back; it never upgrades.
            let trial = std::env::var_os(upgrade::TRIAL_ENV).is_some();
            let upgrader = upgrade::Upgrader {
                exe,
                args: std::env::args_os().skip(1).collect(),
                state_dir: config.state_dir.clone(),
                trial: Duration::from_secs(3 * running.interval_secs + 60),
            };
            if uplink.is_none() {
                tracing::warn!("not enrolled: collecting into the spool only (run `leitstand-agent enroll`)");
            }
            let mut refused = false;
            let mut round = 0;
            let mut inventory = leitstand_agent::inventory::Inventory::new(leitstand_agent::inventory::standard());
            let mut inventory_due = 0;
            let mut system_events = leitstand_agent::events::SystemEvents::open(&config.state_dir);
            let mut events_due = 0;
            let mut audit_log = leitstand_agent::events::audit::AuditLog::open(&config.state_dir);
            let mut runner = leitstand_agent::runner::Runner::open(&config.state_dir);
            // The checklist is sent when a result changes, and once a day.
            let mut checklist_sent: Option<(i64, Vec<leitstand_proto::checklist::CheckResult>)> = None;
            loop {
                let (samples, errors) = collect::run(&mut all, &cli.root);
                for e in &errors {
                    tracing::warn!(error = %e, "collector failed");
                }
                let at_ms = now_ms();
                spool.append(&Record::Metrics { at_ms, samples })?;
                spool.append(&Record::Heartbeat { at_ms })?;
                // Sign-ins are read every 30 s at most: journalctl is a process
                // start each time, too much for every 10 s round.
                if at_ms >= events_due {
                    events_due = at_ms + 30_000;
                    match system_events.read(&cli.root, at_ms) {
                        Ok(events) => {
                            for chunk in events.chunks(500) {
                                spool.append(&Record::Events { events: chunk.to_vec() })?;
                            }
                            // Only once spooled is the position remembered.
                            if let Err(e) = system_events.commit() {
                                tracing::warn!(error = %e, "cannot save where the system events stopped");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "system events not read"),
                    }
                    if config.forward_audit_log {
                        match audit_log.read(&cli.root, at_ms) {
                            Ok(lines) => {
                                for record in leitstand_agent::events::audit::records(lines) {
                                    spool.append(&record)?;
                                }
                                if let Err(e) = audit_log.commit() {
                                    tracing::warn!(error = %e, "cannot save where the audit log stopped");
                                }
                            }
                            Err(e) => tracing::warn!(error = %e, "audit log not read"),
                        }
                    }
                }
                if at_ms >= inventory_due {
                    inventory_due = at_ms + config.inventory_interval_secs as i64 * 1000;
                    let sections = inventory.run(&cli.root, at_ms);
                    for s in sections.iter().filter_map(|s| s.error.as_ref()) {
                        tracing::warn!(error = %s, "inventory collector failed");
                    }
                    for record in leitstand_agent::inventory::split_records(sections, at_ms) {
                        spool.append(&record)?;
                    }
                    let results = leitstand_agent::checklist::run(&cli.root);
                    let due = checklist_sent.as_ref().is_none_or(|(t, last)| {
                        *last != results || at_ms - t >= leitstand_agent::inventory::FULL_EVERY_SECS * 1000
                    });
                    if due {
                        spool.append(&Record::Checklist { at_ms, results: results.clone() })?;
                        checklist_sent = Some((at_ms, results));
                    }
                }
                // Reports of actions that ended go out with this round's batch;
                // the inventory is read again to show what is pending now.
                for report in runner.finished() {
                    spool.append(&Record::Action { report })?;
                    inventory_due = 0;
                }
                for r in spool.take_losses(at_ms).unwrap_or_default() {
                    tracing::warn!(?r, "spool losses");
                    spool.append(&r)?;
                }
                if let (Some(up), false) = (&mut uplink, refused) {
                    match up.flush(&mut spool) {
                        Ok(n) => {
                            tracing::debug!(records = n, "sent");
                            upgrade::confirm_trial();
                        }
                        Err(SendError::Wait { message, .. }) => {
                            tracing::warn!(reason = %message, "the server asks to wait; keeping data in the spool")
                        }
                        Err(SendError::Unreachable(e)) => {
                            tracing::warn!(error = %e, "server unreachable; keeping data in the spool")
                        }
                        Err(e @ SendError::Refused { .. }) => {
                            tracing::error!(error = %e, "the server refuses this agent; it stops sending until re-enrolled");
                            refused = true;
                        }
                        Err(e) => tracing::error!(error = %e, "batch not accepted; will retry"),
                    }
                    runner.offer(up.actions());
                    let ctx = leitstand_agent::runner::Context {
                        action_key: up.identity().action_key.clone(),
                        host: up.identity().host_id,
                        allow: config.allow_actions.clone(),
                        root: cli.root.clone(),
                    };
                    runner.start_next(&ctx);
                    if let Some(pushed) = up.settings() {
                        match running.apply(pushed) {
                            Ok(true) => tracing::info!(
                                interval_secs = running.interval_secs,
                                "new settings from the server applied"
                            ),
                            Ok(false) => {}
                            Err(reason) => tracing::error!(%reason, "settings from the server refused"),
                        }
                    }
                    // No upgrade while an action runs: the new build would find it cut off.
                    let upgrade = up.upgrade().filter(|o| !trial && !runner.busy() && upgrader.worth_trying(o));
                    if let Some(offer) = upgrade.cloned() {
                        tracing::info!(version = %offer.version, "the server offers another agent build; trying it");
                        let (server, key) = (up.identity().server.clone(), up.identity().release_key.clone());
                        let Err(reason) = upgrader.upgrade(up.http(), &server, &offer, key.as_deref());
                        tracing::error!(%reason, "upgrade failed; this build goes on");
                        // The trial ran on the same spool: read it afresh.
                        spool = Spool::open(&spool_dir, config.spool_limits())?;
                    }
                }
                round += 1;
                if rounds.is_some_and(|n| round >= n) {
                    break;
                }
                std::thread::sleep(Duration::from_secs(running.interval_secs));
            }
        }
        Command::Enroll { server, token, name } => {
            let server = server
                .or_else(|| config.server.clone())
                .context("no server: pass --server or set `server` in the configuration")?;
            let (default_name, os) = host_facts(&cli.root);
            let http = config.http().map_err(|e| anyhow::anyhow!(e))?;
            let (identity, resp) =
                uplink::enroll_with(&http, &server, &token, name.as_deref().unwrap_or(&default_name), &os)
                    .map_err(|e| anyhow::anyhow!("enrollment failed: {e}"))?;
            identity
                .save(&config.state_dir)
                .with_context(|| format!("cannot save to {}", config.state_dir.display()))?;
            println!("enrolled as host {} at {} (interval {} s)", resp.host_id, identity.server, resp.interval_secs);
        }
        Command::SpoolStatus => {
            let spool = Spool::open(&config.state_dir.join("spool"), config.spool_limits())?;
            println!(
                "acked up to {}, next sequence {}, {} bytes on disk, losses {:?}",
                spool.acked(),
                spool.next_seq(),
                spool.bytes(),
                spool.losses()
            );
        }
    }
    Ok(())
}
