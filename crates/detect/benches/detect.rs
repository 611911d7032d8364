//! Detection throughput (issue 7), `cargo bench -p leitstand-detect --bench detect`:
//! events per second on one core with the shipped rule set,
//!
//! 1. ours end to end: syslog header → vendor parser → our schema → the
//!    tenant's detector (rules, field mapping, log-source pruning and the
//!    correlation windows);
//! 2. our detect step alone, on events already normalised;
//! 3. the rsigma engine alone on the same events as JSON (detection rules,
//!    no correlations, no pipeline: the JSON carries the generic names too);
//! 4. the sigma-rust crate on the same JSON and detection rules;
//! 5. the `rsigma` command line (`engine eval`) on the same JSON lines, when
//!    `RSIGMA_BIN` names its binary (it is not a dependency of ours).
//!
//! The events are the fixture lines (five vendors and Linux auth) with
//! addresses, ports and users varied, so repeats do not all hit one group.

use std::collections::HashSet;
use std::time::Instant;

use leitstand_detect::parse::{normalise, Origin};
use leitstand_detect::rules::{RuleSet, SHIPPED};
use leitstand_detect::{syslog, Detector, SecEvent};
use rsigma_eval::event::JsonEvent;

const EVENTS: usize = 200_000;
const RECEIVED: i64 = 1_795_500_000_000;

fn fixture_lines() -> Vec<String> {
    let dir = format!("{}/tests/fixtures/lines", env!("CARGO_MANIFEST_DIR"));
    // The five sources of the documented run (auditd records came later).
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.ends_with("auditd.log"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| std::fs::read_to_string(f).expect("read").lines().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

/// `EVENTS` lines: the fixtures, each copy with other addresses and users.
fn lines() -> Vec<Vec<u8>> {
    let base = fixture_lines();
    (0..EVENTS)
        .map(|i| {
            let l = &base[i % base.len()];
            let n = i / base.len();
            l.replace("198.51.100.23", &format!("198.51.{}.{}", 100 + n % 50, n % 250))
                .replace("port 42", &format!("port {}", 1000 + n % 60000))
                .replace("root", if n.is_multiple_of(3) { "root" } else { "admin" })
                .into_bytes()
        })
        .collect()
}

fn origin() -> Origin {
    Origin { received_ms: RECEIVED, host: Some("bench".into()), linux: false }
}

fn rate(n: usize, secs: f64) -> String {
    format!("{:>10.0} events/s", n as f64 / secs)
}

/// The event as JSON for the engines without our field mapping: ECS
/// nested, plus Sigma's generic names flat.
fn json_of(e: &SecEvent) -> serde_json::Value {
    let mut v = e.to_ecs();
    if let serde_json::Value::Object(m) = &mut v {
        if let Some(a) = &e.action {
            m.insert("action".into(), a.clone().into());
        }
        if let Some(p) = e.destination_port {
            m.insert("dst_port".into(), p.into());
        }
        if let Some(ip) = &e.source_ip {
            m.insert("src_ip".into(), ip.clone().into());
        }
    }
    v
}

fn main() {
    let lines = lines();
    let set = RuleSet::shipped();
    assert!(set.problems().is_empty());
    let detection_files: Vec<&str> =
        SHIPPED.iter().filter(|(p, _)| !p.starts_with("correlation/")).map(|(_, t)| *t).collect();
    println!(
        "{} events, {} rules ({} detection, {} correlation), one core\n",
        lines.len(),
        set.len(),
        detection_files.len(),
        set.len() - detection_files.len()
    );

    // 1. Ours, end to end.
    let (mut d, _) = Detector::build(&set, &HashSet::new(), &[]);
    let start = Instant::now();
    let mut hits = 0usize;
    for l in &lines {
        let line = syslog::parse(l, RECEIVED, 3600);
        let e = normalise(&line, &origin());
        hits += d.process(&e).len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("ours: parse → normalise → detect     {}  ({hits} hits)", rate(lines.len(), secs));

    // Parse and normalise alone, and the events for the other runs.
    let start = Instant::now();
    let events: Vec<SecEvent> = lines.iter().map(|l| normalise(&syslog::parse(l, RECEIVED, 3600), &origin())).collect();
    let secs = start.elapsed().as_secs_f64();
    println!("ours: parse → normalise only         {}", rate(events.len(), secs));

    // 2. Our detect step alone.
    let (mut d, _) = Detector::build(&set, &HashSet::new(), &[]);
    let start = Instant::now();
    let mut hits = 0usize;
    for e in &events {
        hits += d.process(e).len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("ours: detect only (with correlation) {}  ({hits} hits)", rate(events.len(), secs));

    let jsons: Vec<serde_json::Value> = events.iter().map(json_of).collect();

    // 3. rsigma's engine alone, detection rules, JSON events.
    let mut engine = rsigma_eval::Engine::new();
    let mut collection = rsigma_parser::SigmaCollection::new();
    for text in &detection_files {
        collection.rules.extend(rsigma_parser::parse_sigma_yaml(text).expect("rule").rules);
    }
    engine.add_collection(&collection).expect("rules load");
    let start = Instant::now();
    let mut hits = 0usize;
    for j in &jsons {
        hits += engine.evaluate(&JsonEvent::borrow(j)).len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("rsigma engine alone (JSON, detection) {}  ({hits} hits)", rate(jsons.len(), secs));
    let mut per_rule_rsigma = std::collections::BTreeMap::<String, usize>::new();
    for j in &jsons {
        for r in engine.evaluate(&JsonEvent::borrow(j)) {
            *per_rule_rsigma.entry(r.header.rule_title.clone()).or_default() += 1;
        }
    }

    // 4. sigma-rust on the same JSON and detection rules.
    let mut rules = vec![];
    let mut refused = vec![];
    for (path, text) in SHIPPED.iter().filter(|(p, _)| !p.starts_with("correlation/")) {
        match sigma_rust::rule_from_yaml(text) {
            Ok(r) => rules.push(r),
            Err(e) => refused.push(format!("{path}: {e}")),
        }
    }
    let sr_events: Vec<sigma_rust::Event> =
        jsons.iter().map(|j| sigma_rust::event_from_json(&j.to_string()).expect("event")).collect();
    let start = Instant::now();
    let mut hits = 0usize;
    for e in &sr_events {
        hits += rules.iter().filter(|r| r.is_match(e)).count();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "sigma-rust (JSON, detection)          {}  ({hits} hits, {} rules)",
        rate(sr_events.len(), secs),
        rules.len()
    );
    for r in refused {
        println!("  sigma-rust refused {r}");
    }
    // Where the two engines disagree, per rule.
    for r in &rules {
        let n = sr_events.iter().filter(|e| r.is_match(e)).count();
        let theirs = per_rule_rsigma.get(&r.title).copied().unwrap_or(0);
        if n != theirs {
            println!("  {}: sigma-rust {n}, rsigma {theirs}", r.title);
        }
    }

    // 5. The rsigma command line, when given.
    if let Ok(bin) = std::env::var("RSIGMA_BIN") {
        let base = tempfile_dir();
        let dir = base.join("rules");
        for (i, text) in detection_files.iter().enumerate() {
            std::fs::write(dir.join(format!("r{i}.yml")), text).expect("rule");
        }
        let input = base.join("events.jsonl");
        let body: String = jsons.iter().map(|j| format!("{j}\n")).collect();
        std::fs::write(&input, body).expect("events");
        let start = Instant::now();
        let out = std::process::Command::new(&bin)
            .args(["engine", "eval", "--quiet", "--output-format", "ndjson", "--rules"])
            .arg(&dir)
            .arg("--event")
            .arg(format!("@{}", input.display()))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("rsigma runs");
        let secs = start.elapsed().as_secs_f64();
        let hits = String::from_utf8_lossy(&out.stdout).lines().count();
        println!(
            "rsigma command line (engine eval)     {}  ({hits} output lines, exit {})",
            rate(jsons.len(), secs),
            out.status
        );
        if !out.status.success() {
            println!("  {}", String::from_utf8_lossy(&out.stderr).lines().take(3).collect::<Vec<_>>().join(" | "));
        }
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("leitstand-detect-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("rules")).expect("dir");
    dir
}
