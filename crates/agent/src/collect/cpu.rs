//! CPU usage, total and per core, from `/proc/stat`.

use super::{bad, read, CollectError, Collector};
use leitstand_proto::Sample;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Copy)]
struct Times {
    total: u64,
    idle: u64,
    iowait: u64,
}

#[derive(Default)]
pub struct Cpu {
    prev: BTreeMap<String, Times>,
}

fn parse(text: &str) -> BTreeMap<String, Times> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("cpu")) {
        let mut parts = line.split_whitespace();
        let Some(label) = parts.next() else { continue };
        // user nice system idle iowait irq softirq steal (guest is inside user)
        let v: Vec<u64> = parts.take(8).filter_map(|x| x.parse().ok()).collect();
        if v.len() < 5 {
            continue;
        }
        let cpu = if label == "cpu" { "total".to_owned() } else { label.trim_start_matches("cpu").to_owned() };
        out.insert(cpu, Times { total: v.iter().sum(), idle: v[3], iowait: v[4] });
    }
    out
}

impl Collector for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Sample>, CollectError> {
        let now = parse(&read("cpu", root, "proc/stat")?);
        if !now.contains_key("total") {
            return Err(bad("cpu", root, "proc/stat", "no aggregate cpu line"));
        }
        let mut out = vec![];
        for (cpu, t) in &now {
            let Some(p) = self.prev.get(cpu) else { continue };
            let total = t.total.saturating_sub(p.total);
            if total == 0 {
                continue;
            }
            let idle = t.idle.saturating_sub(p.idle) + t.iowait.saturating_sub(p.iowait);
            let busy = total.saturating_sub(idle) as f64 / total as f64 * 100.0;
            out.push(Sample::new("cpu_usage_percent", busy).with("cpu", cpu));
            if cpu == "total" {
                let wait = t.iowait.saturating_sub(p.iowait) as f64 / total as f64 * 100.0;
                out.push(Sample::new("cpu_iowait_percent", wait));
            }
        }
        self.prev = now;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot::write;

    #[test]
    fn usage_is_the_busy_share_between_two_readings() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        write(
            root,
            &[(
                "proc/stat",
                "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0 0 0\nintr 1\n",
            )],
        );
        let mut c = Cpu::default();
        assert!(c.collect(root).expect("first").is_empty(), "rates need two readings");
        write(
            root,
            &[(
                "proc/stat",
                "cpu  250 0 150 900 100 0 0 0 0 0\ncpu0 150 0 100 400 50 0 0 0 0 0\ncpu1 100 0 50 500 50 0 0 0 0 0\n",
            )],
        );
        let s = c.collect(root).expect("second");
        let get =
            |cpu: &str| s.iter().find(|x| x.name == "cpu_usage_percent" && x.labels["cpu"] == cpu).expect(cpu).value;
        // total: 400 ticks, of which 100 idle + 100 iowait → 50 % busy
        assert!((get("total") - 50.0).abs() < 1e-9);
        assert!((get("0") - 150.0 / 200.0 * 100.0).abs() < 1e-9);
        assert!((get("1") - 50.0 / 200.0 * 100.0).abs() < 1e-9);
        let wait = s.iter().find(|x| x.name == "cpu_iowait_percent").expect("iowait").value;
        assert!((wait - 25.0).abs() < 1e-9);
    }
}
