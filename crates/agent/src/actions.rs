//! The action executor (DESIGN invariant 5): checks a signed action
//! (signature with the server's action key, expiry, target host, the local
//! allow-list) before anything runs, then runs it from the fixed catalogue.
//! `apply_updates` records the installed versions first, updates through
//! apt, and when that fails restores the previous versions where apt can
//! (a repository or apt's cache still has them), reporting every step.

use leitstand_proto::actions::{is_package_name, Action, ActionReport, Outcome, PackageChange, SignedAction};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Lines of a command's output kept in a report.
const TAIL_LINES: usize = 12;

/// Why an action was not run.
pub fn verify(
    a: &SignedAction,
    action_key_hex: Option<&str>,
    host: i64,
    now_ms: i64,
    allow: &[String],
) -> Result<(), String> {
    let key_hex =
        action_key_hex.ok_or("no action key saved at enrollment (enrolled by an older agent); enrol again")?;
    let input = SignedAction::signing_input(a.id, a.host, a.not_after_ms, &a.action);
    crate::identity::verify_server_signature("action", key_hex, &a.signature, &input)?;
    if a.host != host {
        return Err(format!("the action is for host {}, this is host {host}", a.host));
    }
    if now_ms > a.not_after_ms {
        return Err(format!("the action expired {} s ago", (now_ms - a.not_after_ms) / 1000));
    }
    let name = a.action.name();
    if !allow.iter().any(|x| x == name) {
        return Err(format!("{name} is not in this agent's allow_actions"));
    }
    Ok(())
}

/// Checks and runs an action; a refusal is a report too.
pub fn execute(
    a: &SignedAction,
    action_key_hex: Option<&str>,
    host: i64,
    now_ms: i64,
    allow: &[String],
    apt: &Apt,
) -> ActionReport {
    if let Err(why) = verify(a, action_key_hex, host, now_ms, allow) {
        return ActionReport {
            id: a.id,
            outcome: Outcome::Refused,
            detail: why,
            packages: vec![],
            finished_ms: now_ms,
        };
    }
    let (outcome, detail, packages) = match &a.action {
        Action::ApplyUpdates { packages } => apt.apply_updates(packages),
    };
    ActionReport { id: a.id, outcome, detail, packages, finished_ms: now_ms }
}

/// apt and dpkg on a root: the host's own (`/`), or a prepared one (tests,
/// containers), where every command is pointed at it.
pub struct Apt {
    pub root: PathBuf,
}

impl Apt {
    pub fn new(root: &Path) -> Apt {
        Apt { root: root.to_owned() }
    }

    fn own_root(&self) -> bool {
        self.root == Path::new("/")
    }

    fn apt_get(&self) -> Command {
        let mut c = Command::new("apt-get");
        c.env("DEBIAN_FRONTEND", "noninteractive").args(["-y", "-q", "-oDpkg::Options::=--force-confold"]);
        if !self.own_root() {
            let r = self.root.display();
            c.arg(format!("-oDir={r}"))
                .arg(format!("-oDir::State::status={r}/var/lib/dpkg/status"))
                .args(["-oDir::Etc::SourceParts=/dev/null", "-oDir::Etc::trustedparts=/dev/null"])
                .args(["-oAPT::Sandbox::User=root", "-oDebug::NoLocking=1"])
                .arg(format!("-oDPkg::Options::=--root={r}"))
                .arg("-oDPkg::Options::=--force-script-chrootless");
        }
        c
    }

    /// Installed version of each package (`None`: not installed or only
    /// half there).
    pub fn versions(&self, packages: &[String]) -> BTreeMap<String, Option<String>> {
        let mut out: BTreeMap<String, Option<String>> = packages.iter().map(|p| (p.clone(), None)).collect();
        let mut c = Command::new("dpkg-query");
        c.arg(format!("--admindir={}", self.root.join("var/lib/dpkg").display()))
            .args(["-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n"])
            .args(packages);
        if let Ok(o) = c.output() {
            for line in String::from_utf8_lossy(&o.stdout).lines() {
                let f: Vec<&str> = line.split('\t').collect();
                if let [name, version, status] = f[..] {
                    if status.trim() == "ii" {
                        out.insert(name.to_owned(), Some(version.to_owned()));
                    }
                }
            }
        }
        out
    }

    fn run(&self, mut c: Command, log: &mut String) -> bool {
        log.push_str(&format!("$ {}\n", shown(&c)));
        match c.output() {
            Ok(o) => {
                let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
                let lines: Vec<&str> = text.lines().collect();
                for l in &lines[lines.len().saturating_sub(TAIL_LINES)..] {
                    log.push_str(&format!("  {l}\n"));
                }
                log.push_str(&format!("  → exit {}\n", o.status.code().map_or("signal".into(), |c| c.to_string())));
                o.status.success()
            }
            Err(e) => {
                log.push_str(&format!("  → cannot run: {e}\n"));
                false
            }
        }
    }

    /// Updates the packages; on failure restores what was there before.
    pub fn apply_updates(&self, packages: &[String]) -> (Outcome, String, Vec<PackageChange>) {
        let mut log = String::new();
        if packages.is_empty() || !packages.iter().all(|p| is_package_name(p)) {
            return (Outcome::Refused, "no packages, or a name that is not a package name".into(), vec![]);
        }
        let before = self.versions(packages);
        let installed: Vec<String> = before.iter().filter(|(_, v)| v.is_some()).map(|(p, _)| p.clone()).collect();
        for (p, v) in &before {
            if v.is_none() {
                log.push_str(&format!("{p}: not installed, left alone\n"));
            }
        }
        log.push_str(&format!(
            "before: {}\n",
            before.iter().filter_map(|(p, v)| v.as_ref().map(|v| format!("{p} {v}"))).collect::<Vec<_>>().join(", ")
        ));
        let mut update = self.apt_get();
        update.args(["install", "--only-upgrade"]).args(&installed);
        let ok = !installed.is_empty() && self.run(update, &mut log);
        let after = self.versions(packages);
        let changes = |after: &BTreeMap<String, Option<String>>| -> Vec<PackageChange> {
            before
                .iter()
                .map(|(p, b)| PackageChange {
                    name: p.clone(),
                    before: b.clone(),
                    after: after.get(p).cloned().flatten(),
                })
                .collect()
        };
        if ok {
            return (Outcome::Succeeded, log, changes(&after));
        }
        // Restore every package that is no longer at its old version.
        let changed: Vec<(&String, &String)> = before
            .iter()
            .filter_map(|(p, b)| b.as_ref().map(|b| (p, b)))
            .filter(|(p, b)| after.get(*p).cloned().flatten().as_deref() != Some(b.as_str()))
            .collect();
        if changed.is_empty() {
            log.push_str("nothing was changed; nothing to restore\n");
            return (Outcome::RolledBack, log, changes(&after));
        }
        log.push_str("the update failed; restoring the previous versions\n");
        let mut restore = self.apt_get();
        restore.args(["install", "--allow-downgrades"]).args(changed.iter().map(|(p, v)| format!("{p}={v}")));
        if !self.run(restore, &mut log) {
            // Not in any repository any more: apt's cache may still hold it.
            let debs: Vec<PathBuf> = changed.iter().filter_map(|(p, v)| self.cached_deb(p, v)).collect();
            if !debs.is_empty() {
                let mut dpkg = Command::new("dpkg");
                if !self.own_root() {
                    dpkg.arg(format!("--root={}", self.root.display())).arg("--force-script-chrootless");
                }
                dpkg.arg("-i").args(&debs);
                self.run(dpkg, &mut log);
            }
        }
        let now = self.versions(packages);
        let restored = changed.iter().all(|(p, v)| now.get(*p).cloned().flatten().as_deref() == Some(v.as_str()));
        log.push_str(if restored {
            "previous versions restored\n"
        } else {
            "could not restore every previous version\n"
        });
        (if restored { Outcome::RolledBack } else { Outcome::Failed }, log, changes(&now))
    }

    /// `name_version_*.deb` in apt's cache (the epoch's `:` written `%3a`).
    fn cached_deb(&self, name: &str, version: &str) -> Option<PathBuf> {
        let dir = self.root.join("var/cache/apt/archives");
        let prefix = format!("{name}_{}_", version.replace(':', "%3a"));
        std::fs::read_dir(&dir).ok()?.filter_map(Result::ok).map(|e| e.path()).find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
    }
}

fn shown(c: &Command) -> String {
    std::iter::once(c.get_program().to_string_lossy().into_owned())
        .chain(c.get_args().map(|a| a.to_string_lossy().into_owned()).filter(|a| {
            !a.starts_with("-oDir")
                && !a.starts_with("-oAPT::")
                && !a.starts_with("-oDebug")
                && !a.starts_with("-oDPkg::Options::=--")
        }))
        .collect::<Vec<_>>()
        .join(" ")
}
