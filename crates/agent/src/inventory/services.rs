//! Service units (INV-3): every `.service` unit file with its enablement,
//! read from the unit directories, and its active and sub state from
//! `systemctl list-units` when systemd runs (the state lives only in
//! systemd's memory); without it the state is `unknown`.

use super::{list_dir, InventoryCollector};
use crate::collect::CollectError;
use leitstand_proto::inventory::{Item, Section, Service};
use std::collections::BTreeMap;
use std::path::Path;

/// Unit directories, most important first (a unit in `etc` overrides one in `lib`).
pub(crate) const UNIT_DIRS: [&str; 4] =
    ["etc/systemd/system", "run/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"];

pub struct Services;

impl InventoryCollector for Services {
    fn section(&self) -> Section {
        Section::Services
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Item>, CollectError> {
        let enabled = enabled_units(root);
        let mut units: BTreeMap<String, Service> = BTreeMap::new();
        for dir in UNIT_DIRS {
            for name in list_dir(root, dir) {
                if !name.ends_with(".service") || name.contains("@.") || units.contains_key(&name) {
                    continue;
                }
                let path = root.join(dir).join(&name);
                let masked = std::fs::read_link(&path).is_ok_and(|t| t == Path::new("/dev/null"));
                let text = if masked { String::new() } else { std::fs::read_to_string(&path).unwrap_or_default() };
                let description = unit_value(&text, "Description").unwrap_or_default();
                let state = if masked {
                    "masked"
                } else if enabled.contains_key(&name) {
                    "enabled"
                } else if !text.lines().any(|l| l.trim() == "[Install]") {
                    "static"
                } else {
                    "disabled"
                };
                units.insert(
                    name.clone(),
                    Service {
                        unit: name,
                        description,
                        active: "unknown".into(),
                        sub: "unknown".into(),
                        enabled: state.into(),
                    },
                );
            }
        }
        if root == Path::new("/") && root.join("run/systemd/system").is_dir() {
            let out = std::process::Command::new("systemctl")
                .args(["list-units", "--type=service", "--all", "--no-legend", "--plain", "--no-pager"])
                .output()
                .map_err(|e| CollectError {
                    collector: "services",
                    path: "systemctl".into(),
                    message: format!("cannot run systemctl: {e}"),
                })?;
            merge_states(&mut units, &parse_list_units(&String::from_utf8_lossy(&out.stdout)));
        }
        Ok(units.into_values().map(Item::Service).collect())
    }
}

/// Units linked from a `.wants` or `.requires` directory under
/// `etc/systemd/system`, with the directory they are wanted by.
pub(crate) fn enabled_units(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for dir in list_dir(root, "etc/systemd/system") {
        if dir.ends_with(".wants") || dir.ends_with(".requires") {
            for unit in list_dir(root, &format!("etc/systemd/system/{dir}")) {
                out.entry(unit).or_insert_with(|| format!("/etc/systemd/system/{dir}"));
            }
        }
    }
    out
}

/// The first `Key=value` of a unit file.
pub(crate) fn unit_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// `systemctl list-units --plain --no-legend` lines: unit, load, active,
/// sub, description.
pub fn parse_list_units(text: &str) -> Vec<(String, String, String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().skip_while(|t| *t == "●" || *t == "*");
            let unit = f.next()?;
            let (_load, active, sub) = (f.next()?, f.next()?, f.next()?);
            let description = f.collect::<Vec<_>>().join(" ");
            unit.ends_with(".service").then(|| (unit.to_owned(), active.to_owned(), sub.to_owned(), description))
        })
        .collect()
}

fn merge_states(units: &mut BTreeMap<String, Service>, states: &[(String, String, String, String)]) {
    for (unit, active, sub, description) in states {
        let s = units.entry(unit.clone()).or_insert_with(|| Service {
            unit: unit.clone(),
            description: description.clone(),
            active: String::new(),
            sub: String::new(),
            enabled: "transient".into(),
        });
        s.active.clone_from(active);
        s.sub.clone_from(sub);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot;

    #[test]
    fn unit_files_give_enablement_and_systemctl_gives_state() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        testroot::write(
            root,
            &[
                (
                    "lib/systemd/system/ssh.service",
                    "[Unit]\nDescription=OpenBSD Secure Shell server\n[Install]\nWantedBy=multi-user.target\n",
                ),
                (
                    "lib/systemd/system/cups.service",
                    "[Unit]\nDescription=CUPS\n[Install]\nWantedBy=multi-user.target\n",
                ),
                ("lib/systemd/system/systemd-journald.service", "[Unit]\nDescription=Journal Service\n"),
                ("lib/systemd/system/getty@.service", "[Unit]\nDescription=template\n"),
                (
                    "etc/systemd/system/ssh.service",
                    "[Unit]\nDescription=local override\n[Install]\nWantedBy=multi-user.target\n",
                ),
            ],
        );
        std::fs::create_dir_all(root.join("etc/systemd/system/multi-user.target.wants")).expect("dir");
        std::os::unix::fs::symlink(
            "/lib/systemd/system/ssh.service",
            root.join("etc/systemd/system/multi-user.target.wants/ssh.service"),
        )
        .expect("link");
        std::os::unix::fs::symlink("/dev/null", root.join("etc/systemd/system/telnet.service")).expect("link");
        let mut units: BTreeMap<String, Service> = Services
            .collect(root)
            .expect("collect")
            .into_iter()
            .map(|i| match i {
                Item::Service(s) => (s.unit.clone(), s),
                _ => panic!("service"),
            })
            .collect();
        assert_eq!(units.len(), 4, "{units:?}");
        assert_eq!(
            (units["ssh.service"].enabled.as_str(), units["ssh.service"].description.as_str()),
            ("enabled", "local override")
        );
        assert_eq!(units["cups.service"].enabled, "disabled");
        assert_eq!(units["systemd-journald.service"].enabled, "static");
        assert_eq!(units["telnet.service"].enabled, "masked");
        assert_eq!(units["ssh.service"].active, "unknown");

        let listing = "ssh.service loaded active running OpenBSD Secure Shell server\n● cups.service loaded failed failed CUPS\nrun-u5.service loaded active exited transient unit\nsshd.socket loaded active listening socket\n";
        merge_states(&mut units, &parse_list_units(listing));
        assert_eq!((units["ssh.service"].active.as_str(), units["ssh.service"].sub.as_str()), ("active", "running"));
        assert_eq!((units["cups.service"].active.as_str(), units["cups.service"].sub.as_str()), ("failed", "failed"));
        assert_eq!(units["run-u5.service"].enabled, "transient");
        assert!(!units.contains_key("sshd.socket"));
    }
}
