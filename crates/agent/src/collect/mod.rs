//! Collectors (MON-1): each reads files under a root (normally `/`, another
//! directory in tests) and returns samples. Every collector has the same
//! shape, so adding one means copying its neighbour:
//!
//! - a struct holding what it needs between runs (previous counters for rates),
//! - `name()`, stable for logs and counters,
//! - `collect(root)`, which reads and parses, returning a [`CollectError`] that
//!   names the file and the cause instead of panicking.
//!
//! Collectors that report rates return nothing on their first run.

mod cpu;
pub mod custom;
mod disk;
mod fs;
mod memory;
mod net;
mod system;

use leitstand_proto::Sample;
use std::path::{Path, PathBuf};

/// A collector could not read or understand its source.
#[derive(Debug, thiserror::Error)]
#[error("{collector}: {path}: {message}")]
pub struct CollectError {
    pub collector: &'static str,
    pub path: PathBuf,
    pub message: String,
}

pub trait Collector: Send {
    fn name(&self) -> &'static str;
    fn collect(&mut self, root: &Path) -> Result<Vec<Sample>, CollectError>;
}

/// Every standard collector.
pub fn standard() -> Vec<Box<dyn Collector>> {
    vec![
        Box::new(cpu::Cpu::default()),
        Box::new(system::Load),
        Box::new(system::Uptime),
        Box::new(system::Processes),
        Box::new(memory::Memory),
        Box::new(fs::Filesystems),
        Box::new(disk::DiskIo::default()),
        Box::new(net::Network::default()),
    ]
}

/// Runs collectors once; a failing one costs only its own samples.
pub fn run(collectors: &mut [Box<dyn Collector>], root: &Path) -> (Vec<Sample>, Vec<CollectError>) {
    let mut samples = vec![];
    let mut errors = vec![];
    for c in collectors.iter_mut() {
        match c.collect(root) {
            Ok(s) => samples.extend(s),
            Err(e) => errors.push(e),
        }
    }
    (samples, errors)
}

/// Reads `root/rel` as text, with an error that names the file.
pub(crate) fn read(collector: &'static str, root: &Path, rel: &str) -> Result<String, CollectError> {
    let path = root.join(rel);
    std::fs::read_to_string(&path).map_err(|e| CollectError { collector, path, message: e.to_string() })
}

pub(crate) fn bad(collector: &'static str, root: &Path, rel: &str, what: &str) -> CollectError {
    CollectError { collector, path: root.join(rel), message: what.to_owned() }
}

/// Per-second rate between two readings of a counter; counter resets give 0.
pub(crate) fn rate(prev: u64, now: u64, secs: f64) -> f64 {
    if secs <= 0.0 || now < prev {
        0.0
    } else {
        (now - prev) as f64 / secs
    }
}

#[cfg(test)]
pub(crate) mod testroot {
    use std::path::Path;

    /// Writes `files` (path relative to the root, content) under `root`.
    pub fn write(root: &Path, files: &[(&str, &str)]) {
        for (rel, content) in files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
            std::fs::write(p, content).expect("write");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_collector_reads_this_machine() {
        let mut all = standard();
        let root = Path::new("/");
        run(&mut all, root);
        std::thread::sleep(std::time::Duration::from_millis(50));
        let (samples, errors) = run(&mut all, root);
        assert!(errors.is_empty(), "{errors:?}");
        for name in ["cpu_usage_percent", "load1", "mem_used_bytes", "uptime_seconds", "process_count", "fs_used_bytes"]
        {
            assert!(samples.iter().any(|s| s.name == name), "{name} missing");
        }
        assert!(samples.iter().all(|s| s.value.is_finite()));
    }

    #[test]
    fn a_missing_source_is_an_error_that_names_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let (samples, errors) = run(&mut standard(), dir.path());
        assert!(samples.is_empty());
        assert!(errors.iter().any(|e| e.to_string().contains("proc/meminfo")), "{errors:?}");
    }
}
