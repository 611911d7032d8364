//! Facts of the running system: boot id, boot time, kernel and the
//! operating system's name, so the server sees a restart as a new boot id
//! and a release upgrade as a new OS.

use super::InventoryCollector;
use crate::collect::{bad, read, CollectError};
use leitstand_proto::inventory::{Item, Section, SystemFacts};
use std::path::Path;

pub struct System;

impl InventoryCollector for System {
    fn section(&self) -> Section {
        Section::System
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Item>, CollectError> {
        let boot_id = read("system", root, "proc/sys/kernel/random/boot_id")?.trim().to_owned();
        let stat = read("system", root, "proc/stat")?;
        let booted = stat
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| bad("system", root, "proc/stat", "no btime line"))?;
        let kernel = read("system", root, "proc/sys/kernel/osrelease")?.trim().to_owned();
        Ok(vec![Item::System(SystemFacts { boot_id, booted, kernel, os: pretty_name(root) })])
    }
}

/// `PRETTY_NAME` from os-release (`/etc`, else `/usr/lib`); empty when
/// neither says.
pub fn pretty_name(root: &Path) -> String {
    ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(root.join(f)).ok())
        .find_map(|t| {
            t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).map(|v| v.trim().trim_matches('"').to_owned())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_os_name_comes_from_os_release_in_etc_or_usr_lib() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(pretty_name(root.path()), "");
        std::fs::create_dir_all(root.path().join("usr/lib")).unwrap();
        std::fs::write(
            root.path().join("usr/lib/os-release"),
            "NAME=\"Rocky Linux\"\nPRETTY_NAME=\"Rocky Linux 9.4 (Blue Onyx)\"\n",
        )
        .unwrap();
        assert_eq!(pretty_name(root.path()), "Rocky Linux 9.4 (Blue Onyx)");
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/os-release"), "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n").unwrap();
        assert_eq!(pretty_name(root.path()), "Debian GNU/Linux 13 (trixie)", "/etc wins");
    }
}
