//! What starts at boot (INV-2): enabled systemd units and timers, `@reboot`
//! cron lines, `/etc/rc.local` and SysV init scripts in the runlevel
//! directories.

use super::services::{enabled_units, unit_value, UNIT_DIRS};
use super::{list_dir, read_optional, InventoryCollector};
use crate::collect::CollectError;
use leitstand_proto::inventory::{Autostart, Item, Section};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub struct Autostarts;

impl InventoryCollector for Autostarts {
    fn section(&self) -> Section {
        Section::Autostarts
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Item>, CollectError> {
        let mut out = vec![];
        for (unit, wanted_by) in enabled_units(root) {
            let mechanism = if unit.ends_with(".timer") { "systemd-timer" } else { "systemd" };
            let command = UNIT_DIRS
                .iter()
                .find_map(|d| std::fs::read_to_string(root.join(d).join(&unit)).ok())
                .and_then(|t| unit_value(&t, if mechanism == "systemd" { "ExecStart" } else { "OnCalendar" }))
                .unwrap_or_default();
            out.push(Autostart { mechanism: mechanism.into(), name: unit, location: wanted_by, command });
        }
        let mut crontabs = vec!["etc/crontab".to_owned()];
        for dir in ["etc/cron.d", "var/spool/cron/crontabs", "var/spool/cron"] {
            crontabs.extend(list_dir(root, dir).into_iter().map(|n| format!("{dir}/{n}")));
        }
        for rel in crontabs {
            if root.join(&rel).is_dir() {
                continue;
            }
            // Another user's crontab may be unreadable: skip it, not the rest.
            let Ok(Some(text)) = read_optional("autostarts", root, &rel) else { continue };
            for line in text.lines().map(str::trim) {
                if let Some(command) = line.strip_prefix("@reboot") {
                    out.push(Autostart {
                        mechanism: "cron".into(),
                        name: line.to_owned(),
                        location: format!("/{rel}"),
                        command: command.trim().to_owned(),
                    });
                }
            }
        }
        if let Some(text) = read_optional("autostarts", root, "etc/rc.local")? {
            let executable =
                std::fs::metadata(root.join("etc/rc.local")).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
            let commands: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#') && *l != "exit 0")
                .collect();
            if executable && !commands.is_empty() {
                out.push(Autostart {
                    mechanism: "rc.local".into(),
                    name: "rc.local".into(),
                    location: "/etc/rc.local".into(),
                    command: commands.join("; "),
                });
            }
        }
        for level in ["rc2.d", "rc3.d", "rc5.d"] {
            for link in list_dir(root, &format!("etc/{level}")) {
                let Some(rest) = link.strip_prefix('S') else { continue };
                let name = rest.trim_start_matches(|c: char| c.is_ascii_digit());
                out.push(Autostart {
                    mechanism: "init.d".into(),
                    name: name.to_owned(),
                    location: format!("/etc/{level}"),
                    command: format!("/etc/init.d/{name} start"),
                });
            }
        }
        Ok(out.into_iter().map(Item::Autostart).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot;

    #[test]
    fn every_mechanism_is_found() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        testroot::write(
            root,
            &[
                ("lib/systemd/system/nginx.service", "[Service]\nExecStart=/usr/sbin/nginx -g 'daemon on;'\n"),
                ("lib/systemd/system/backup.timer", "[Timer]\nOnCalendar=daily\n"),
                ("etc/crontab", "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n"),
                ("etc/cron.d/miner", "@reboot root /tmp/.x/miner --quiet\n"),
                ("var/spool/cron/crontabs/anna", "# m h dom mon dow command\n@reboot /home/anna/start.sh\n"),
                ("etc/rc.local", "#!/bin/sh -e\n/usr/local/bin/firewall-up\nexit 0\n"),
                ("etc/rc2.d/README", "not a link"),
            ],
        );
        std::fs::set_permissions(root.join("etc/rc.local"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for (dir, unit) in [("multi-user.target.wants", "nginx.service"), ("timers.target.wants", "backup.timer")] {
            std::fs::create_dir_all(root.join("etc/systemd/system").join(dir)).expect("dir");
            std::os::unix::fs::symlink(
                format!("/lib/systemd/system/{unit}"),
                root.join("etc/systemd/system").join(dir).join(unit),
            )
            .expect("link");
        }
        std::os::unix::fs::symlink("../init.d/postgresql", root.join("etc/rc2.d/S01postgresql")).expect("link");
        let items: Vec<Autostart> = Autostarts
            .collect(root)
            .expect("collect")
            .into_iter()
            .map(|i| match i {
                Item::Autostart(a) => a,
                _ => panic!("autostart"),
            })
            .collect();
        let found = |m: &str, n: &str| items.iter().find(|a| a.mechanism == m && a.name.contains(n)).cloned();
        assert_eq!(found("systemd", "nginx").expect("nginx").command, "/usr/sbin/nginx -g 'daemon on;'");
        assert_eq!(found("systemd-timer", "backup").expect("timer").command, "daily");
        assert_eq!(found("cron", "miner").expect("cron.d").location, "/etc/cron.d/miner");
        assert_eq!(found("cron", "start.sh").expect("user crontab").command, "/home/anna/start.sh");
        assert_eq!(found("rc.local", "rc.local").expect("rc.local").command, "/usr/local/bin/firewall-up");
        assert_eq!(found("init.d", "postgresql").expect("init.d").location, "/etc/rc2.d");
        assert_eq!(items.len(), 6, "{items:?}");
    }
}
