//! File-system usage per mount: the mount table from `/proc/mounts`, the
//! figures from `statvfs` on the mount point under the root.

use super::{read, CollectError, Collector};
use leitstand_proto::Sample;
use std::path::Path;

/// File systems that hold data; pseudo file systems are left out.
const REAL: &[&str] = &[
    "ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "vfat", "exfat", "ntfs", "ntfs3", "jfs", "reiserfs",
    "overlay",
];

pub struct Filesystems;

/// Undoes the octal escapes of the mount table (`\040` is a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Collector for Filesystems {
    fn name(&self) -> &'static str {
        "filesystems"
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Sample>, CollectError> {
        let table = read("filesystems", root, "proc/mounts")?;
        let mut seen = std::collections::HashSet::new();
        let mut out = vec![];
        for line in table.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [device, mount, fstype, ..] = f[..] else { continue };
            if !REAL.contains(&fstype) {
                continue;
            }
            let mount = unescape(mount);
            if !seen.insert(mount.clone()) {
                continue;
            }
            let path = root.join(mount.trim_start_matches('/'));
            // A mount we cannot stat (gone, no permission) is skipped, not fatal.
            let Ok(st) = rustix::fs::statvfs(&path) else { continue };
            let frsize = st.f_frsize.max(1);
            let size = st.f_blocks * frsize;
            let used = st.f_blocks.saturating_sub(st.f_bfree) * frsize;
            let avail = st.f_bavail * frsize;
            let pct = if used + avail == 0 { 0.0 } else { used as f64 / (used + avail) as f64 * 100.0 };
            let inodes_used = st.f_files.saturating_sub(st.f_ffree);
            let ipct = if st.f_files == 0 { 0.0 } else { inodes_used as f64 / st.f_files as f64 * 100.0 };
            let s = |name: &str, v: f64| {
                Sample::new(name, v).with("mount", &mount).with("fstype", fstype).with("device", &unescape(device))
            };
            out.extend([
                s("fs_size_bytes", size as f64),
                s("fs_used_bytes", used as f64),
                s("fs_avail_bytes", avail as f64),
                s("fs_used_percent", pct),
                s("fs_inodes_used_percent", ipct),
            ]);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot::write;

    #[test]
    fn real_mounts_are_measured_and_pseudo_ones_skipped() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("srv/my data")).expect("mountpoint");
        write(
            root,
            &[(
                "proc/mounts",
                "/dev/sda1 / ext4 rw 0 0\nproc /proc proc rw 0 0\ntmpfs /run tmpfs rw 0 0\n\
             /dev/sdb1 /srv/my\\040data xfs rw 0 0\n/dev/sda1 / ext4 rw 0 0\n",
            )],
        );
        let s = Filesystems.collect(root).expect("fs");
        let mounts: std::collections::BTreeSet<&str> = s.iter().map(|x| x.labels["mount"].as_str()).collect();
        assert_eq!(mounts.into_iter().collect::<Vec<_>>(), vec!["/", "/srv/my data"]);
        let size = s.iter().find(|x| x.name == "fs_size_bytes").expect("size").value;
        assert!(size > 0.0);
        let pct = s.iter().find(|x| x.name == "fs_used_percent").expect("pct").value;
        assert!((0.0..=100.0).contains(&pct));
    }

    #[test]
    fn octal_escapes_are_decoded() {
        assert_eq!(unescape("/a\\040b\\011c"), "/a b\tc");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/end\\04"), "/end\\04");
    }
}
