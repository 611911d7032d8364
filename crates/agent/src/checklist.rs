//! The hardening checklist on the host (RISK-1): every entry of the shipped
//! catalogue is one probe, evaluated here into pass, fail, not applicable
//! or error, with the evidence found. No check is code of its own: adding
//! one means adding an entry to `crates/proto/data/checklist.toml`.

use crate::inventory::{parse_dpkg_status, parse_rpm_query};
use leitstand_proto::checklist::{catalogue, CheckDef, CheckResult, Family, Outcome, Probe};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Most entries a world-writable scan looks at, and paths it names.
const MAX_SCAN: usize = 200_000;
const MAX_NAMED: usize = 10;

/// What the probes share on one run: read once, used by many checks.
struct Host<'a> {
    root: &'a Path,
    family: Family,
    sshd: Option<Result<BTreeMap<String, String>, String>>,
    packages: Option<Option<Vec<String>>>,
}

/// Runs every check of the catalogue against the host under `root`.
pub fn run(root: &Path) -> Vec<CheckResult> {
    let mut host = Host { root, family: family(root), sshd: None, packages: None };
    catalogue()
        .check
        .iter()
        .map(|def| {
            let (result, evidence) = evaluate(&mut host, def);
            CheckResult { id: def.id.clone(), result, evidence }
        })
        .collect()
}

fn family(root: &Path) -> Family {
    if root.join("etc/debian_version").exists() {
        return Family::Debian;
    }
    let os = std::fs::read_to_string(root.join("etc/os-release")).unwrap_or_default().to_lowercase();
    if root.join("etc/redhat-release").exists() || os.contains("rhel") || os.contains("fedora") {
        Family::Rhel
    } else {
        Family::Any
    }
}

type Found = (Outcome, String);

fn pass(e: impl Into<String>) -> Found {
    (Outcome::Pass, e.into())
}
fn fail(e: impl Into<String>) -> Found {
    (Outcome::Fail, e.into())
}
fn not_applicable(e: impl Into<String>) -> Found {
    (Outcome::NotApplicable, e.into())
}
fn error(e: impl Into<String>) -> Found {
    (Outcome::Error, e.into())
}

fn evaluate(host: &mut Host, def: &CheckDef) -> Found {
    if def.family != Family::Any && host.family != def.family {
        let which = if def.family == Family::Rhel { "the RHEL family" } else { "Debian and Ubuntu" };
        return not_applicable(format!("applies to {which} only"));
    }
    let root = host.root;
    match &def.probe {
        Probe::Sshd { key, values, max, min } => match host.sshd_settings() {
            Err(e) => not_applicable(e),
            Ok(settings) => match settings.get(key.as_str()) {
                None => error(format!("sshd reports no {key}")),
                Some(v) => judge(key, v, values, *max, *min),
            },
        },
        Probe::Sysctl { key, values } => {
            let rel = format!("proc/sys/{}", key.replace('.', "/"));
            match read(root, &rel) {
                Ok(Some(v)) => judge(key, v.trim(), values, None, None),
                Ok(None) => not_applicable(format!("{key} does not exist in this kernel")),
                Err(e) => error(e),
            }
        }
        Probe::FileMode { path, max_mode } => {
            let Ok(max) = u32::from_str_radix(max_mode, 8) else { return error(format!("bad mode {max_mode}")) };
            match std::fs::symlink_metadata(root.join(path)) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => not_applicable(format!("/{path} does not exist")),
                Err(e) => error(format!("/{path}: {e}")),
                Ok(m) => {
                    let mode = m.permissions().mode() & 0o7777;
                    let text = format!("/{path} has mode {mode:04o}, owner uid {}", m.uid());
                    if mode & !max == 0 {
                        pass(text)
                    } else {
                        fail(format!("{text}; at most {max:04o} allowed"))
                    }
                }
            }
        }
        Probe::FileAbsent { path } => {
            if root.join(path).exists() {
                fail(format!("/{path} exists"))
            } else {
                pass(format!("/{path} does not exist"))
            }
        }
        Probe::Setting { path, key, values, max, min } => match read(root, path) {
            Err(e) => error(e),
            Ok(None) => fail(format!("/{path} does not exist, so {key} is not set")),
            Ok(Some(text)) => match setting(&text, key) {
                None => fail(format!("{key} is not set in /{path}")),
                Some(v) => judge(key, &v, values, *max, *min),
            },
        },
        Probe::PackagesInstalled { names } => match host.packages() {
            None => not_applicable("no package database (dpkg or rpm) found"),
            Some(installed) => match names.iter().find(|n| installed.contains(n)) {
                Some(n) => pass(format!("{n} is installed")),
                None => fail(format!("none of {} is installed", names.join(", "))),
            },
        },
        Probe::PackagesAbsent { names } => match host.packages() {
            None => not_applicable("no package database (dpkg or rpm) found"),
            Some(installed) => {
                let found: Vec<&String> = names.iter().filter(|n| installed.contains(n)).collect();
                if found.is_empty() {
                    pass(format!("none of {} is installed", names.join(", ")))
                } else {
                    fail(format!("installed: {}", found.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")))
                }
            }
        },
        Probe::ServicesEnabled { units } => {
            let enabled = crate::inventory::enabled_units(root);
            match units.iter().find(|u| enabled.contains_key(*u)) {
                Some(u) => pass(format!("{u} is enabled")),
                None => fail(format!("none of {} is enabled", units.join(", "))),
            }
        }
        Probe::ServicesDisabled { units } => {
            let enabled = crate::inventory::enabled_units(root);
            let on: Vec<&str> = units.iter().filter(|u| enabled.contains_key(*u)).map(String::as_str).collect();
            if !on.is_empty() {
                fail(format!("enabled: {}", on.join(", ")))
            } else if !units.iter().any(|u| crate::inventory::unit_file_exists(root, u)) {
                not_applicable(format!("{} not installed", units.join(", ")))
            } else {
                pass(format!("{} installed but not enabled", units.join(", ")))
            }
        }
        Probe::WorldWritable { dirs } => {
            let mut found = vec![];
            let mut seen = 0;
            for d in dirs {
                scan_writable(root, &root.join(d), 0, &mut found, &mut seen);
            }
            match found.len() {
                0 if seen >= MAX_SCAN => error(format!("stopped after {MAX_SCAN} entries")),
                0 => pass(format!("{seen} entries in /{} checked", dirs.join(", /"))),
                n => {
                    let named: Vec<String> = found.into_iter().take(MAX_NAMED).collect();
                    fail(format!("{n} world-writable: {}{}", named.join(", "), if n > MAX_NAMED { ", …" } else { "" }))
                }
            }
        }
        Probe::OnlyRootUid0 => match read(root, "etc/passwd") {
            Err(e) => error(e),
            Ok(None) => error("/etc/passwd does not exist"),
            Ok(Some(text)) => {
                let others: Vec<&str> = text
                    .lines()
                    .filter_map(|l| {
                        let f: Vec<&str> = l.split(':').collect();
                        (f.len() > 2 && f[2] == "0" && f[0] != "root").then_some(f[0])
                    })
                    .collect();
                if others.is_empty() {
                    pass("only root has uid 0")
                } else {
                    fail(format!("uid 0 also: {}", others.join(", ")))
                }
            }
        },
        Probe::NoEmptyPasswords => match read(root, "etc/shadow") {
            Err(e) => error(e),
            Ok(None) => not_applicable("/etc/shadow does not exist"),
            Ok(Some(text)) => {
                let empty: Vec<&str> = text
                    .lines()
                    .filter_map(|l| {
                        let mut f = l.split(':');
                        let name = f.next()?;
                        (f.next() == Some("")).then_some(name)
                    })
                    .collect();
                if empty.is_empty() {
                    pass("every account has a password or is locked")
                } else {
                    fail(format!("empty password: {}", empty.join(", ")))
                }
            }
        },
        Probe::LinePresent { path, pattern } => match read(root, path) {
            Err(e) => error(e),
            Ok(None) => fail(format!("/{path} does not exist")),
            Ok(Some(text)) => {
                if text.lines().any(|l| !l.trim_start().starts_with("//") && l.contains(pattern.as_str())) {
                    pass(format!("/{path} has {pattern}"))
                } else {
                    fail(format!("/{path} lacks {pattern}"))
                }
            }
        },
    }
}

impl Host<'_> {
    /// Effective sshd settings: `sshd -T` on the live system, the
    /// configuration files with OpenSSH's defaults otherwise.
    fn sshd_settings(&mut self) -> Result<&BTreeMap<String, String>, String> {
        if self.sshd.is_none() {
            self.sshd = Some(sshd_settings(self.root));
        }
        match self.sshd.as_ref() {
            Some(Ok(s)) => Ok(s),
            Some(Err(e)) => Err(e.clone()),
            None => Err("sshd settings unavailable".into()),
        }
    }

    fn packages(&mut self) -> Option<&Vec<String>> {
        if self.packages.is_none() {
            self.packages = Some(installed_packages(self.root));
        }
        self.packages.as_ref().and_then(Option::as_ref)
    }
}

fn installed_packages(root: &Path) -> Option<Vec<String>> {
    if let Ok(text) = std::fs::read_to_string(root.join("var/lib/dpkg/status")) {
        return Some(parse_dpkg_status(&text).into_iter().map(|p| p.name).collect());
    }
    if root.join("var/lib/rpm").is_dir() {
        let out = std::process::Command::new("rpm")
            .arg("--root")
            .arg(root)
            .args(["-qa", "--qf", crate::inventory::RPM_FORMAT])
            .output()
            .ok()?;
        return Some(parse_rpm_query(&String::from_utf8_lossy(&out.stdout)).into_iter().map(|p| p.name).collect());
    }
    None
}

/// OpenSSH's defaults for the settings the catalogue looks at.
const SSHD_DEFAULTS: [(&str, &str); 12] = [
    ("permitrootlogin", "prohibit-password"),
    ("passwordauthentication", "yes"),
    ("permitemptypasswords", "no"),
    ("x11forwarding", "no"),
    ("maxauthtries", "6"),
    ("logingracetime", "120"),
    ("clientaliveinterval", "0"),
    ("hostbasedauthentication", "no"),
    ("ignorerhosts", "yes"),
    ("permituserenvironment", "no"),
    ("loglevel", "info"),
    ("maxsessions", "10"),
];

fn sshd_settings(root: &Path) -> Result<BTreeMap<String, String>, String> {
    let installed = ["usr/sbin/sshd", "sbin/sshd"].iter().any(|p| root.join(p).exists());
    let config = root.join("etc/ssh/sshd_config");
    if !installed && !config.exists() {
        return Err("the SSH server is not installed".into());
    }
    if root == Path::new("/") && installed {
        if let Ok(out) = std::process::Command::new("sshd").arg("-T").output() {
            if out.status.success() {
                return Ok(String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| l.split_once(' '))
                    .map(|(k, v)| (k.to_lowercase(), v.trim().to_lowercase()))
                    .collect());
            }
        }
    }
    let mut settings = BTreeMap::new();
    read_sshd_config(root, "etc/ssh/sshd_config", &mut settings, 0);
    for (k, v) in SSHD_DEFAULTS {
        settings.entry(k.to_owned()).or_insert_with(|| v.to_owned());
    }
    if let Some(t) = settings.get_mut("logingracetime") {
        *t = seconds(t).map_or_else(|| t.clone(), |s| s.to_string());
    }
    Ok(settings)
}

/// First value wins, as in sshd; `Include` is followed; `Match` blocks end
/// the global part.
fn read_sshd_config(root: &Path, rel: &str, out: &mut BTreeMap<String, String>, depth: u8) -> bool {
    let Ok(text) = std::fs::read_to_string(root.join(rel)) else { return false };
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (key, value) = line.split_once([' ', '\t', '=']).unwrap_or((line, ""));
        let (key, value) = (key.to_lowercase(), value.trim().trim_start_matches('=').trim().to_lowercase());
        if key == "match" {
            return true;
        }
        if key == "include" && depth < 4 {
            for pattern in value.split_whitespace() {
                let pattern = pattern.trim_start_matches('/');
                let pattern = if pattern.contains('/') { pattern.to_owned() } else { format!("etc/ssh/{pattern}") };
                let files = match pattern.rsplit_once("/*") {
                    Some((dir, suffix)) => crate::inventory::list_files(root, dir)
                        .into_iter()
                        .filter(|n| n.ends_with(suffix))
                        .map(|n| format!("{dir}/{n}"))
                        .collect(),
                    None => vec![pattern],
                };
                for f in files {
                    if read_sshd_config(root, &f, out, depth + 1) {
                        return true;
                    }
                }
            }
            continue;
        }
        out.entry(key).or_insert(value);
    }
    false
}

/// sshd time values: `90`, `2m`, `1h30m`.
fn seconds(v: &str) -> Option<i64> {
    let mut total = 0;
    let mut n = String::new();
    for c in v.chars() {
        if c.is_ascii_digit() {
            n.push(c);
        } else {
            let k: i64 = n.parse().ok()?;
            n.clear();
            total += k * match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => return None,
            };
        }
    }
    if !n.is_empty() {
        total += n.parse::<i64>().ok()?;
    }
    Some(total)
}

/// A value against the allowed values or bounds.
fn judge(key: &str, value: &str, values: &[String], max: Option<i64>, min: Option<i64>) -> Found {
    let shown = format!("{key} = {value}");
    if !values.is_empty() {
        return if values.iter().any(|v| v.eq_ignore_ascii_case(value)) {
            pass(shown)
        } else {
            fail(format!("{shown}; expected {}", values.join(" or ")))
        };
    }
    let Some(n) = value.parse::<i64>().ok().or_else(|| seconds(value)) else {
        return error(format!("{shown} is not a number"));
    };
    let ok = max.is_none_or(|m| n <= m) && min.is_none_or(|m| n >= m);
    if ok {
        pass(shown)
    } else {
        let bounds = match (min, max) {
            (Some(a), Some(b)) => format!("between {a} and {b}"),
            (None, Some(b)) => format!("at most {b}"),
            (Some(a), None) => format!("at least {a}"),
            (None, None) => String::new(),
        };
        fail(format!("{shown}; expected {bounds}"))
    }
}

/// `KEY value`, `key = value` or `key=value`, ignoring comments; the last
/// assignment wins, as in login.defs and pwquality.conf.
fn setting(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once(['=', ' ', '\t'])?;
            (k.trim() == key).then(|| v.trim().trim_start_matches('=').trim().to_owned())
        })
        .next_back()
}

fn read(root: &Path, rel: &str) -> Result<Option<String>, String> {
    match std::fs::read_to_string(root.join(rel)) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("/{rel}: {e}")),
    }
}

fn scan_writable(root: &Path, dir: &Path, depth: u8, found: &mut Vec<String>, seen: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.filter_map(Result::ok) {
        *seen += 1;
        if *seen >= MAX_SCAN {
            return;
        }
        let Ok(m) = e.path().symlink_metadata() else { continue };
        if m.file_type().is_symlink() {
            continue;
        }
        let mode = m.permissions().mode();
        let world_writable = mode & 0o002 != 0;
        let sticky_dir = m.is_dir() && mode & 0o1000 != 0;
        if world_writable && !sticky_dir {
            let shown = e.path().strip_prefix(root).map(|p| format!("/{}", p.display())).unwrap_or_default();
            found.push(shown);
        }
        if m.is_dir() && depth < 8 {
            scan_writable(root, &e.path(), depth + 1, found, seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot;

    fn results(root: &Path) -> BTreeMap<String, (Outcome, String)> {
        run(root).into_iter().map(|r| (r.id, (r.result, r.evidence))).collect()
    }

    fn outcome(r: &BTreeMap<String, (Outcome, String)>, id: &str) -> Outcome {
        r.get(id).unwrap_or_else(|| panic!("{id} missing")).0
    }

    /// A Debian host with a few weak spots.
    fn debian(root: &Path) {
        testroot::write(
            root,
            &[
                ("etc/debian_version", "12.8\n"),
                ("usr/sbin/sshd", ""),
                ("etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nX11Forwarding yes\nLoginGraceTime 2m\nMatch User backup\n  PasswordAuthentication no\n"),
                ("etc/ssh/sshd_config.d/50-hardening.conf", "PasswordAuthentication no\nMaxAuthTries 3\n"),
                ("etc/login.defs", "PASS_MAX_DAYS\t99999\nPASS_MIN_DAYS\t1\nPASS_WARN_AGE\t7\nUMASK\t\t022\n"),
                ("etc/security/pwquality.conf", "# minlen = 8\nminlen = 14\n"),
                ("etc/passwd", "root:x:0:0::/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\nanna:x:1000:1000::/home/anna:/bin/bash\n"),
                ("etc/shadow", "root:$6$a:1::::::\ntoor:!:1::::::\nanna::1::::::\n"),
                ("etc/hosts.equiv", "+\n"),
                ("var/lib/dpkg/status", "Package: telnetd\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\nPackage: auditd\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n"),
                ("etc/apt/apt.conf.d/20auto-upgrades", "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n"),
                ("proc/sys/net/ipv4/ip_forward", "1\n"),
                ("proc/sys/kernel/randomize_va_space", "2\n"),
                ("lib/systemd/system/cups.service", "[Install]\nWantedBy=multi-user.target\n"),
                ("lib/systemd/system/avahi-daemon.service", "[Install]\nWantedBy=multi-user.target\n"),
                ("usr/local/bin/tool", "#!/bin/sh\n"),
            ],
        );
        std::fs::set_permissions(root.join("etc/shadow"), std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::set_permissions(root.join("etc/passwd"), std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::set_permissions(root.join("usr/local/bin/tool"), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        std::fs::create_dir_all(root.join("etc/systemd/system/multi-user.target.wants")).expect("dir");
        std::os::unix::fs::symlink(
            "/lib/systemd/system/avahi-daemon.service",
            root.join("etc/systemd/system/multi-user.target.wants/avahi-daemon.service"),
        )
        .expect("link");
    }

    #[test]
    fn a_prepared_debian_host_passes_and_fails_the_right_checks() {
        let dir = tempfile::tempdir().expect("dir");
        debian(dir.path());
        let r = results(dir.path());
        let expect = [
            ("ssh-root-login", Outcome::Fail),
            ("ssh-password-auth", Outcome::Pass), // from the included file, before Match
            ("ssh-x11-forwarding", Outcome::Fail),
            ("ssh-max-auth-tries", Outcome::Pass),
            ("ssh-login-grace-time", Outcome::Fail), // 2m = 120 s
            ("ssh-idle-timeout", Outcome::Fail),     // OpenSSH default 0
            ("ssh-empty-passwords", Outcome::Pass),  // default
            ("password-max-age", Outcome::Fail),
            ("password-min-age", Outcome::Pass),
            ("password-min-length", Outcome::Pass),
            ("account-lockout", Outcome::Fail),
            ("default-umask", Outcome::Fail),
            ("no-empty-passwords", Outcome::Fail),
            ("only-root-uid0", Outcome::Fail),
            ("shadow-permissions", Outcome::Fail),
            ("passwd-permissions", Outcome::Pass),
            ("gshadow-permissions", Outcome::NotApplicable),
            ("no-hosts-equiv", Outcome::Fail),
            ("no-world-writable-system-files", Outcome::Fail),
            ("no-telnet-server", Outcome::Fail),
            ("no-rsh-server", Outcome::Pass),
            ("auditd-installed", Outcome::Pass),
            ("auditd-enabled", Outcome::Fail),
            ("unattended-upgrades-installed", Outcome::Fail),
            ("unattended-upgrades-enabled", Outcome::Pass),
            ("dnf-automatic-enabled", Outcome::NotApplicable),
            ("bootloader-permissions-rhel", Outcome::NotApplicable),
            ("firewall-enabled", Outcome::Fail),
            ("sysctl-ip-forward", Outcome::Fail),
            ("sysctl-aslr", Outcome::Pass),
            ("sysctl-syncookies", Outcome::NotApplicable),
            ("no-avahi", Outcome::Fail),
            ("no-cups", Outcome::Pass),
            ("no-ftp-server", Outcome::NotApplicable),
        ];
        for (id, want) in expect {
            assert_eq!(outcome(&r, id), want, "{id}: {:?}", r[id].1);
        }
        assert!(r["shadow-permissions"].1.contains("0644"), "{}", r["shadow-permissions"].1);
        assert!(r["no-world-writable-system-files"].1.contains("/usr/local/bin/tool"));
        assert!(r["only-root-uid0"].1.contains("toor"));
        assert!(r["no-empty-passwords"].1.contains("anna"));
        assert!(r["ssh-login-grace-time"].1.contains("120"));
    }

    #[test]
    fn without_ssh_the_ssh_checks_do_not_apply() {
        let dir = tempfile::tempdir().expect("dir");
        testroot::write(dir.path(), &[("etc/debian_version", "12\n")]);
        let r = results(dir.path());
        assert_eq!(outcome(&r, "ssh-root-login"), Outcome::NotApplicable);
        assert_eq!(outcome(&r, "no-telnet-server"), Outcome::NotApplicable, "no package database");
    }

    #[test]
    fn this_machine_gets_a_result_for_every_check() {
        let r = run(Path::new("/"));
        assert_eq!(r.len(), catalogue().check.len());
        assert!(r.iter().any(|c| c.result == Outcome::Pass));
        assert!(r.iter().all(|c| c.result != Outcome::Error || !c.evidence.is_empty()));
    }
}
