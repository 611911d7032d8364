//! Load average, uptime and process count.

use super::{bad, read, CollectError, Collector};
use leitstand_proto::Sample;
use std::path::Path;

pub struct Load;

impl Collector for Load {
    fn name(&self) -> &'static str {
        "load"
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Sample>, CollectError> {
        let text = read("load", root, "proc/loadavg")?;
        let v: Vec<f64> = text.split_whitespace().take(3).filter_map(|x| x.parse().ok()).collect();
        let [l1, l5, l15] = v[..] else { return Err(bad("load", root, "proc/loadavg", "expected three load figures")) };
        Ok(vec![Sample::new("load1", l1), Sample::new("load5", l5), Sample::new("load15", l15)])
    }
}

pub struct Uptime;

impl Collector for Uptime {
    fn name(&self) -> &'static str {
        "uptime"
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Sample>, CollectError> {
        let text = read("uptime", root, "proc/uptime")?;
        let up: f64 = text
            .split_whitespace()
            .next()
            .and_then(|x| x.parse().ok())
            .ok_or_else(|| bad("uptime", root, "proc/uptime", "no uptime figure"))?;
        Ok(vec![Sample::new("uptime_seconds", up)])
    }
}

pub struct Processes;

impl Collector for Processes {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Sample>, CollectError> {
        let dir = root.join("proc");
        let entries = std::fs::read_dir(&dir).map_err(|e| super::CollectError {
            collector: "processes",
            path: dir.clone(),
            message: e.to_string(),
        })?;
        let n = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_str().is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
            .count();
        Ok(vec![Sample::new("process_count", n as f64)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot::write;

    #[test]
    fn load_uptime_and_processes() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        write(
            root,
            &[
                ("proc/loadavg", "0.52 0.58 0.59 2/345 12345\n"),
                ("proc/uptime", "3600.25 7000.00\n"),
                ("proc/1/stat", "1 (init)"),
                ("proc/42/stat", "42 (sshd)"),
                ("proc/self/stat", "x"),
            ],
        );
        let load = Load.collect(root).expect("load");
        assert_eq!(load.iter().map(|s| s.value).collect::<Vec<_>>(), vec![0.52, 0.58, 0.59]);
        assert_eq!(Uptime.collect(root).expect("uptime")[0].value, 3600.25);
        assert_eq!(Processes.collect(root).expect("procs")[0].value, 2.0);
        write(root, &[("proc/loadavg", "garbage\n")]);
        assert!(Load.collect(root).expect_err("bad").to_string().contains("three load figures"));
    }
}
