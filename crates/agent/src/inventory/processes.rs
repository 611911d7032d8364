//! Running processes (INV-5) from `proc/[pid]`: parent, name, command line,
//! user and start time; the server builds the tree from the parent ids.

use super::InventoryCollector;
use crate::collect::{read, CollectError};
use leitstand_proto::inventory::{Item, Process, Section};
use std::collections::BTreeMap;
use std::path::Path;

/// Kernel clock ticks per second; 100 on every Linux architecture we target.
const TICKS: i64 = 100;

/// Longest command line kept, in bytes.
const MAX_CMDLINE: usize = 512;

pub struct Processes;

impl InventoryCollector for Processes {
    fn section(&self) -> Section {
        Section::Processes
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Item>, CollectError> {
        let btime: i64 = read("processes", root, "proc/stat")?
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let names = user_names(root);
        let mut out = vec![];
        for pid in pids(root) {
            // A process may end while we read it: skip it, it is gone.
            if let Some(p) = process(root, pid, btime, &names) {
                out.push(Item::Process(p));
            }
        }
        Ok(out)
    }
}

/// Process ids under `root/proc`, ascending.
pub(crate) fn pids(root: &Path) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir(root.join("proc"))
        .map(|d| d.filter_map(Result::ok).filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    pids.sort_unstable();
    pids
}

/// uid → user name from `etc/passwd`.
pub(crate) fn user_names(root: &Path) -> BTreeMap<u32, String> {
    std::fs::read_to_string(root.join("etc/passwd"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, f[0].to_owned()))
        })
        .collect()
}

fn process(root: &Path, pid: u32, btime: i64, names: &BTreeMap<u32, String>) -> Option<Process> {
    let dir = root.join("proc").join(pid.to_string());
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // The name sits in parentheses and may itself hold spaces and ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    let ppid = rest.get(1)?.parse().ok()?;
    let start_ticks: i64 = rest.get(19)?.parse().ok()?;
    let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
    let uid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let raw = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    let mut cmdline: String =
        String::from_utf8_lossy(&raw).trim_end_matches('\0').replace('\0', " ").chars().take(MAX_CMDLINE).collect();
    cmdline.truncate(MAX_CMDLINE);
    Some(Process {
        pid,
        ppid,
        name,
        cmdline,
        user: names.get(&uid).cloned().unwrap_or_else(|| uid.to_string()),
        started: btime + start_ticks / TICKS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot;

    #[test]
    fn a_prepared_proc_tree_gives_parent_user_and_start() {
        let dir = tempfile::tempdir().expect("dir");
        let stat = |pid: u32, name: &str, ppid: u32| {
            format!(
                "{pid} ({name}) S {ppid} 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 500 1000 100 18446744073709551615"
            )
        };
        let (one, two) = (stat(1, "systemd", 0), stat(42, "my (odd) daemon", 1));
        testroot::write(
            dir.path(),
            &[
                ("proc/stat", "cpu 1 2 3\nbtime 1700000000\n"),
                ("etc/passwd", "root:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/false\n"),
                ("proc/1/stat", &one),
                ("proc/1/status", "Name:\tsystemd\nUid:\t0\t0\t0\t0\n"),
                ("proc/1/cmdline", "/sbin/init\0splash\0"),
                ("proc/42/stat", &two),
                ("proc/42/status", "Uid:\t33\t33\t33\t33\n"),
                ("proc/42/cmdline", ""),
                ("proc/77/status", "a process that ended half-way"),
            ],
        );
        let items = Processes.collect(dir.path()).expect("collect");
        assert_eq!(items.len(), 2);
        let Item::Process(p) = &items[1] else { panic!("process") };
        assert_eq!((p.pid, p.ppid, p.name.as_str(), p.user.as_str()), (42, 1, "my (odd) daemon", "www-data"));
        assert_eq!(p.started, 1_700_000_005);
        let Item::Process(init) = &items[0] else { panic!("process") };
        assert_eq!(init.cmdline, "/sbin/init splash");
    }
}
