//! Matching 2,000 installed packages against a Debian advisory set the size
//! of the whole security tracker, beside peers fed the same data in the same
//! run: Debian's `debsecan` (pointed at a local copy of the same data in its
//! own format), a Python script on libapt's version comparison (`apt_pkg`),
//! and plain `dpkg --compare-versions` (one process per comparison).
//!
//! `cargo bench -p leitstand-vuln --bench matching`. The data is generated
//! (no network here), deterministic, and kept in a temporary directory;
//! `LEITSTAND_BENCH_KEEP=1` prints the directory and keeps it.

use leitstand_vuln::feed::{self, FeedKind};
use leitstand_vuln::{scan, Installed, Release, State};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Source packages in the advisory set, and (package, CVE) records.
const SOURCES: usize = 5_000;
const RECORDS: usize = 150_000;
/// Installed binary packages on the host.
const INSTALLED: usize = 2_000;

/// A small deterministic generator (64-bit LCG), so every run sees the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The version of a source in bookworm, and a later security fix of it.
fn versions(i: usize) -> (String, String) {
    let epoch = if i.is_multiple_of(17) { "1:" } else { "" };
    let base = format!("{epoch}{}.{}.{}", 1 + i % 9, i % 23, i % 7);
    match i % 5 {
        0 => (format!("{base}-1"), format!("{base}-1+deb12u1")),
        1 => (format!("{base}-2+deb12u1"), format!("{base}-2+deb12u2")),
        2 => (format!("{base}+dfsg-3"), format!("{base}+dfsg-3+deb12u1")),
        3 => (format!("{base}-1~deb12u1"), format!("{base}-1~deb12u2")),
        _ => (format!("{base}-4"), format!("{base}-5~deb12u1")),
    }
}

struct Data {
    tracker: String,
    /// (binary, version, source) installed.
    installed: Vec<(String, String, String)>,
    /// debsecan's data for bookworm (zlib).
    debsecan: Vec<u8>,
    /// Comparisons a plain dpkg baseline must run: (installed, fixed).
    comparisons: Vec<(String, String)>,
}

fn generate() -> Data {
    let mut rng = Rng(0x1e17_57a4d);
    let mut tracker = String::from("{");
    let mut vulns = String::new();
    let mut names = String::new();
    let mut n_vuln = 0usize;
    let mut per_source: Vec<usize> = (0..SOURCES).map(|_| 1).collect();
    for _ in SOURCES..RECORDS {
        // Skewed: a few sources (kernels, browsers) have thousands of CVEs.
        let s = (rng.below(SOURCES as u64) * rng.below(SOURCES as u64) / SOURCES as u64) as usize;
        per_source[s] += 1;
    }
    let mut cve = 0usize;
    let mut comparisons = vec![];
    let installed_sources: BTreeSet<usize> = (0..SOURCES).step_by(3).take(1_400).collect();
    for (s, count) in per_source.iter().enumerate() {
        let name = format!("src{s:05}");
        let (current, fix) = versions(s);
        if s > 0 {
            tracker.push(',');
        }
        let _ = write!(tracker, "\"{name}\":{{");
        for k in 0..*count {
            cve += 1;
            let id = format!("CVE-{}-{:05}", 2014 + cve % 12, cve);
            // What bookworm says: mostly fixed long ago, some fixed in the
            // current security update, some open, some unimportant, some
            // never affected.
            let roll = rng.below(100);
            let (status, fixed, urgency) = match roll {
                0..=59 => ("resolved", Some(format!("{}.{}-1", s % 9, k % 5)), "not yet assigned"),
                60..=74 => ("resolved", Some(fix.clone()), "medium"),
                75..=84 => ("resolved", Some("0".to_owned()), "not yet assigned"),
                85..=91 => ("open", None, "not yet assigned"),
                _ => ("open", None, "unimportant"),
            };
            if k > 0 {
                tracker.push(',');
            }
            let fixed_json = fixed.as_ref().map(|f| format!(",\"fixed_version\":\"{f}\"")).unwrap_or_default();
            let _ = write!(
                tracker,
                "\"{id}\":{{\"description\":\"Synthetic flaw {cve} in {name}\",\"scope\":\"remote\",\"releases\":{{\
                 \"bookworm\":{{\"status\":\"{status}\",\"repositories\":{{\"bookworm\":\"{current}\"}}{fixed_json},\"urgency\":\"{urgency}\"}},\
                 \"sid\":{{\"status\":\"resolved\",\"repositories\":{{\"sid\":\"9.9-1\"}},\"fixed_version\":\"9.9-1\",\"urgency\":\"low\"}},\
                 \"bullseye\":{{\"status\":\"open\",\"repositories\":{{\"bullseye\":\"0.1-1\"}},\"urgency\":\"low\"}}}}}}"
            );
            // debsecan's format for bookworm: unimportant issues are not in
            // the tracker's debsecan export, nor are releases never affected.
            if urgency == "unimportant" || fixed.as_deref() == Some("0") {
                continue;
            }
            let _ = writeln!(names, "{id},,Synthetic flaw {cve} in {name}");
            let flags = if fixed.is_some() { "S R F" } else { "S R  " };
            let _ = writeln!(vulns, "{name},{n_vuln},{flags},{},", fixed.clone().unwrap_or_default());
            n_vuln += 1;
            if let (Some(f), true) = (&fixed, installed_sources.contains(&s)) {
                comparisons.push((current.clone(), f.clone()));
            }
        }
        tracker.push('}');
    }
    tracker.push('}');
    // The host: 1,400 sources with advisories (one to three binaries each),
    // the rest without any.
    let mut installed = vec![];
    for s in &installed_sources {
        let (current, _) = versions(*s);
        let binaries = 1 + (*s % 3).min(1);
        for b in 0..binaries {
            if installed.len() < INSTALLED - 400 {
                installed.push((format!("bin{s:05}-{b}"), current.clone(), format!("src{s:05}")));
            }
        }
    }
    let mut n = 0;
    while installed.len() < INSTALLED {
        installed.push((format!("local-tool-{n}"), "1.0-1".into(), String::new()));
        n += 1;
    }
    let mut plain = format!("VERSION 1\n{names}\n{vulns}\n\n").into_bytes();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&plain).expect("zlib");
    plain.clear();
    Data { tracker, installed, debsecan: z.finish().expect("zlib"), comparisons }
}

fn dpkg_status(installed: &[(String, String, String)]) -> String {
    let mut out = String::new();
    for (name, version, source) in installed {
        let _ = write!(out, "Package: {name}\nStatus: install ok installed\nArchitecture: amd64\n");
        if !source.is_empty() {
            let _ = writeln!(out, "Source: {source}");
        }
        let _ = write!(out, "Version: {version}\n\n");
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

const PEER_SCRIPT: &str = r#"
import json, sys, time, apt_pkg
apt_pkg.init_system()
t0 = time.perf_counter()
data = json.load(open(sys.argv[1]))
pkgs = json.load(open(sys.argv[2]))
t1 = time.perf_counter()
found = set(); ignored = 0
for name, version, source in pkgs:
    src = source or name
    for cve, c in data.get(src, {}).items():
        r = c["releases"].get("bookworm")
        if r is None or (cve, src) in found:
            continue
        if r["status"] == "resolved":
            f = r.get("fixed_version")
            if f and f != "0" and apt_pkg.version_compare(version, f) < 0:
                found.add((cve, src))
        else:
            found.add((cve, src))
            ignored += r.get("urgency") == "unimportant"
t2 = time.perf_counter()
print(len(found), ignored, t1 - t0, t2 - t1)
"#;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let started = Instant::now();
    let data = generate();
    std::fs::write(d.join("tracker.json"), &data.tracker).expect("write");
    std::fs::write(d.join("status"), dpkg_status(&data.installed)).expect("write");
    std::fs::write(d.join("bookworm"), &data.debsecan).expect("write");
    let list: Vec<_> = data.installed.iter().map(|(n, v, s)| (n, v, s)).collect();
    std::fs::write(d.join("installed.json"), serde_json::to_string(&list).expect("json")).expect("write");
    println!(
        "data: {} source packages, {} advisory records, {:.1} MB tracker JSON, {} installed packages (made in {:.1} s)",
        SOURCES,
        RECORDS,
        data.tracker.len() as f64 / 1e6,
        INSTALLED,
        started.elapsed().as_secs_f64()
    );

    // Ours: load once, match many times.
    let t = Instant::now();
    let (db, stats) = feed::load_path(FeedKind::DebianTracker, &d.join("tracker.json")).expect("feed");
    let load = t.elapsed();
    let release = Release::from_os_name("Debian GNU/Linux 12 (bookworm)").expect("release");
    let installed: Vec<Installed> = data
        .installed
        .iter()
        .map(|(n, v, s)| Installed { name: n, version: v, source: s, source_version: "" })
        .collect();
    let mut times = vec![];
    let mut result = scan(&db, &release, &installed, "2026-11-24");
    for _ in 0..20 {
        let t = Instant::now();
        result = scan(&db, &release, &installed, "2026-11-24");
        times.push(t.elapsed());
    }
    let ours = median(times);
    let ignored = result.findings.iter().filter(|f| f.state == State::Ignored).count();
    println!(
        "leitstand-vuln: load {:.2} s ({} statements), match {:.1} ms, {} findings ({} ignored by Debian)",
        load.as_secs_f64(),
        stats.entries,
        ours.as_secs_f64() * 1e3,
        result.findings.len(),
        ignored
    );

    // debsecan on the same data in its own format.
    let source = format!("file://{}/", d.display());
    let status = d.join("status");
    let run_debsecan = || {
        let t = Instant::now();
        let out = Command::new("debsecan")
            .args(["--suite", "bookworm", "--format", "simple", "--source", &source, "--status"])
            .arg(&status)
            .output();
        (t.elapsed(), out)
    };
    match run_debsecan() {
        (_, Ok(out)) if out.status.success() => {
            let mut times = vec![];
            let mut lines = String::new();
            for _ in 0..3 {
                let (t, out) = run_debsecan();
                times.push(t);
                lines = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
            }
            let bins: std::collections::HashMap<&str, &str> =
                data.installed.iter().map(|(n, _, s)| (n.as_str(), s.as_str())).collect();
            let unique: BTreeSet<(&str, &str)> = lines
                .lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(cve, bin)| (cve, bins.get(bin).copied().unwrap_or(bin)))
                .collect();
            println!(
                "debsecan (whole run: load + match): {:.2} s, {} lines, {} findings per source package",
                median(times).as_secs_f64(),
                lines.lines().count(),
                unique.len()
            );
        }
        (_, Ok(out)) => println!("debsecan failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
        (_, Err(e)) => println!("debsecan not run ({e}); `apt-get install debsecan` to compare"),
    }

    // libapt's comparison from Python, same rules as ours.
    // Debian's own Python carries apt_pkg (python3-apt).
    let python = if Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" };
    let peer = Command::new(python)
        .args(["-c", PEER_SCRIPT])
        .arg(d.join("tracker.json"))
        .arg(d.join("installed.json"))
        .output();
    match peer {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let f: Vec<&str> = text.split_whitespace().collect();
            if let [n, ign, load, m] = f[..] {
                let (load, m): (f64, f64) = (load.parse().unwrap_or(0.0), m.parse().unwrap_or(0.0));
                println!(
                    "python3 + apt_pkg: load {load:.2} s, match {:.1} ms, {n} findings ({ign} unimportant)",
                    m * 1e3
                );
            }
        }
        Ok(out) => println!("python3 + apt_pkg failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => println!("python3 not run: {e}"),
    }

    // Plain dpkg: one process per comparison, measured on a sample.
    let sample: Vec<_> = data.comparisons.iter().take(300).collect();
    let t = Instant::now();
    let mut below = 0;
    for (a, b) in &sample {
        let ok = Command::new("dpkg").args(["--compare-versions", a, "lt", b]).status();
        below += usize::from(ok.is_ok_and(|s| s.success()));
    }
    let per = t.elapsed() / sample.len().max(1) as u32;
    println!(
        "dpkg --compare-versions: {:.2} ms per comparison ({below}/{} below), {} comparisons needed: about {:.1} s",
        per.as_secs_f64() * 1e3,
        sample.len(),
        data.comparisons.len(),
        per.as_secs_f64() * data.comparisons.len() as f64
    );
    if std::env::var_os("LEITSTAND_BENCH_KEEP").is_some() {
        println!("data kept in {}", dir.keep().display());
    }
}
