//! Disk I/O per block device from `/proc/diskstats`, as rates.

use super::{rate, read, CollectError, Collector};
use leitstand_proto::Sample;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

#[derive(Clone, Copy)]
struct Counters {
    reads: u64,
    read_sectors: u64,
    writes: u64,
    write_sectors: u64,
    io_ms: u64,
}

#[derive(Default)]
pub struct DiskIo {
    prev: Option<(Instant, BTreeMap<String, Counters>)>,
}

/// Whole disks only: partitions are counted in their disk, and loop and RAM
/// devices are no disks.
fn is_disk(root: &Path, name: &str) -> bool {
    !name.starts_with("loop") && !name.starts_with("ram") && root.join("sys/block").join(name).exists()
}

fn parse(root: &Path, text: &str) -> BTreeMap<String, Counters> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 14 || !is_disk(root, f[2]) {
            continue;
        }
        let n = |i: usize| f[i].parse::<u64>().unwrap_or(0);
        out.insert(
            f[2].to_owned(),
            Counters { reads: n(3), read_sectors: n(5), writes: n(7), write_sectors: n(9), io_ms: n(12) },
        );
    }
    out
}

impl Collector for DiskIo {
    fn name(&self) -> &'static str {
        "diskio"
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Sample>, CollectError> {
        let now = (Instant::now(), parse(root, &read("diskio", root, "proc/diskstats")?));
        let mut out = vec![];
        if let Some((then, prev)) = &self.prev {
            let secs = now.0.duration_since(*then).as_secs_f64();
            for (dev, c) in &now.1 {
                let Some(p) = prev.get(dev) else { continue };
                let s = |name: &str, v: f64| Sample::new(name, v).with("device", dev);
                out.extend([
                    s("disk_reads_per_second", rate(p.reads, c.reads, secs)),
                    s("disk_writes_per_second", rate(p.writes, c.writes, secs)),
                    s("disk_read_bytes_per_second", rate(p.read_sectors, c.read_sectors, secs) * 512.0),
                    s("disk_write_bytes_per_second", rate(p.write_sectors, c.write_sectors, secs) * 512.0),
                    s("disk_busy_percent", (rate(p.io_ms, c.io_ms, secs) / 10.0).min(100.0)),
                ]);
            }
        }
        self.prev = Some(now);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot::write;

    #[test]
    fn rates_per_whole_disk() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("sys/block/sda")).expect("sda");
        std::fs::create_dir_all(root.join("sys/block/loop0")).expect("loop");
        let line = |r: u64, w: u64| {
            format!(
                "   8       0 sda {r} 0 {} 0 {w} 0 {} 0 0 100 0\n   8       1 sda1 1 0 1 0 1 0 1 0 0 1 0\n   7       0 loop0 5 0 5 0 0 0 0 0 0 0 0\n",
                r * 8,
                w * 8
            )
        };
        write(root, &[("proc/diskstats", &line(100, 50))]);
        let mut d = DiskIo::default();
        assert!(d.collect(root).expect("first").is_empty());
        write(root, &[("proc/diskstats", &line(300, 150))]);
        let s = d.collect(root).expect("second");
        assert!(s.iter().all(|x| x.labels["device"] == "sda"), "partitions and loop devices are left out");
        let reads = s.iter().find(|x| x.name == "disk_reads_per_second").expect("reads").value;
        assert!(reads > 0.0);
        let bytes = s.iter().find(|x| x.name == "disk_read_bytes_per_second").expect("bytes").value;
        assert!((bytes / reads - 4096.0).abs() < 1e-6, "8 sectors of 512 bytes per read");
    }
}
