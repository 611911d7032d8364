//! Facts of the running system: boot id, boot time and kernel, so the
//! server sees a restart as a new boot id.

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
        Ok(vec![Item::System(SystemFacts { boot_id, booted, kernel })])
    }
}
