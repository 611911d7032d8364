//! RAM and swap from `/proc/meminfo`.

use super::{bad, read, CollectError, Collector};
use leitstand_proto::Sample;
use std::path::Path;

pub struct Memory;

fn kib(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|k| k * 1024)
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64 * 100.0
    }
}

impl Collector for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Sample>, CollectError> {
        let text = read("memory", root, "proc/meminfo")?;
        let need = |key: &str| kib(&text, key).ok_or_else(|| bad("memory", root, "proc/meminfo", &format!("no {key}")));
        let total = need("MemTotal")?;
        // Kernels before 3.14 have no MemAvailable: estimate it.
        let available = kib(&text, "MemAvailable").unwrap_or_else(|| {
            need("MemFree").unwrap_or(0) + kib(&text, "Buffers").unwrap_or(0) + kib(&text, "Cached").unwrap_or(0)
        });
        let used = total.saturating_sub(available);
        let swap_total = kib(&text, "SwapTotal").unwrap_or(0);
        let swap_used = swap_total.saturating_sub(kib(&text, "SwapFree").unwrap_or(0));
        Ok(vec![
            Sample::new("mem_total_bytes", total as f64),
            Sample::new("mem_available_bytes", available as f64),
            Sample::new("mem_used_bytes", used as f64),
            Sample::new("mem_used_percent", percent(used, total)),
            Sample::new("swap_total_bytes", swap_total as f64),
            Sample::new("swap_used_bytes", swap_used as f64),
            Sample::new("swap_used_percent", percent(swap_used, swap_total)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot::write;

    #[test]
    fn used_is_total_minus_available() {
        let dir = tempfile::tempdir().expect("dir");
        write(dir.path(), &[(
            "proc/meminfo",
            "MemTotal:        8000 kB\nMemFree:  1000 kB\nMemAvailable:    6000 kB\nSwapTotal:  2000 kB\nSwapFree: 1500 kB\n",
        )]);
        let s = Memory.collect(dir.path()).expect("memory");
        let get = |n: &str| s.iter().find(|x| x.name == n).expect(n).value;
        assert_eq!(get("mem_used_bytes"), 2000.0 * 1024.0);
        assert_eq!(get("mem_used_percent"), 25.0);
        assert_eq!(get("swap_used_bytes"), 500.0 * 1024.0);
        assert_eq!(get("swap_used_percent"), 25.0);
    }
}
