//! The action executor (DESIGN invariant 5): checks a signed action
//! (signature with the server's action key, expiry, target host, the local
//! allow-list) before anything runs, then runs it from the fixed catalogue.
//! `apply_updates` records the installed versions first, updates through
//! the host's package manager (apt where dpkg keeps its status, dnf where the
//! rpm database is), and when that fails restores the previous versions
//! where the package manager can (a repository, or for apt its cache, still
//! has them), reporting every step.

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
    tool: &dyn PackageTool,
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
        Action::ApplyUpdates { packages } => apply_updates(tool, packages),
    };
    ActionReport { id: a.id, outcome, detail, packages, finished_ms: now_ms }
}

/// What `apply_updates` needs of a package manager.
pub trait PackageTool {
    /// Installed version of each package (`None`: not installed or only
    /// half there).
    fn versions(&self, packages: &[String]) -> BTreeMap<String, Option<String>>;
    /// Updates these installed packages; `false` when that failed.
    fn update(&self, installed: &[String], log: &mut String) -> bool;
    /// Puts packages back at their versions; `false` when that failed.
    fn restore(&self, changed: &[(&String, &String)], log: &mut String) -> bool;
}

/// The package manager of a root: apt where dpkg keeps its status, dnf
/// where the rpm database is (RHEL family), apt otherwise (which then fails
/// and says why).
pub fn package_tool(root: &Path) -> Box<dyn PackageTool + Send> {
    let rpm = ["var/lib/rpm", "usr/lib/sysimage/rpm"].iter().any(|d| root.join(d).is_dir());
    if !root.join("var/lib/dpkg/status").is_file() && rpm {
        Box::new(Dnf::new(root))
    } else {
        Box::new(Apt::new(root))
    }
}

/// Updates the packages; on failure restores what was there before.
pub fn apply_updates(tool: &dyn PackageTool, packages: &[String]) -> (Outcome, String, Vec<PackageChange>) {
    let mut log = String::new();
    if packages.is_empty() || !packages.iter().all(|p| is_package_name(p)) {
        return (Outcome::Refused, "no packages, or a name that is not a package name".into(), vec![]);
    }
    let before = tool.versions(packages);
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
    let ok = !installed.is_empty() && tool.update(&installed, &mut log);
    let after = tool.versions(packages);
    let changes = |after: &BTreeMap<String, Option<String>>| -> Vec<PackageChange> {
        before
            .iter()
            .map(|(p, b)| PackageChange { name: p.clone(), before: b.clone(), after: after.get(p).cloned().flatten() })
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
    tool.restore(&changed, &mut log);
    let now = tool.versions(packages);
    let restored = changed.iter().all(|(p, v)| now.get(*p).cloned().flatten().as_deref() == Some(v.as_str()));
    log.push_str(if restored { "previous versions restored\n" } else { "could not restore every previous version\n" });
    (if restored { Outcome::RolledBack } else { Outcome::Failed }, log, changes(&now))
}

/// Runs a command, keeping the command and the tail of its output in `log`.
fn run(mut c: Command, log: &mut String) -> bool {
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

/// dnf and rpm on a root: the host's own (`/`), or a prepared one (tests),
/// where dnf works with `--installroot` and the repositories configured in
/// that root.
pub struct Dnf {
    pub root: PathBuf,
}

/// `rpm -q --qf` of a package's name and version as the inventory writes
/// it (`epoch:` only where there is one).
const RPM_VERSION: &str = "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n";

impl Dnf {
    pub fn new(root: &Path) -> Dnf {
        Dnf { root: root.to_owned() }
    }

    fn dnf(&self) -> Command {
        let mut c = Command::new("dnf");
        c.arg("-y");
        if self.root != Path::new("/") {
            c.arg(format!("--installroot={}", self.root.display()));
        }
        c
    }
}

impl PackageTool for Dnf {
    fn versions(&self, packages: &[String]) -> BTreeMap<String, Option<String>> {
        let mut out: BTreeMap<String, Option<String>> = packages.iter().map(|p| (p.clone(), None)).collect();
        let mut c = Command::new("rpm");
        c.arg(format!("--root={}", self.root.display())).args(["-q", "--qf", RPM_VERSION]).args(packages);
        // rpm exits 1 when one of them is not installed; the others are listed.
        if let Ok(o) = c.output() {
            for line in String::from_utf8_lossy(&o.stdout).lines() {
                if let Some((name, version)) = line.split_once('\t') {
                    // Of a package installed for two architectures, the first.
                    if let Some(slot @ None) = out.get_mut(name) {
                        *slot = Some(version.to_owned());
                    }
                }
            }
        }
        out
    }

    fn update(&self, installed: &[String], log: &mut String) -> bool {
        let mut update = self.dnf();
        update.arg("upgrade").args(installed);
        run(update, log)
    }

    fn restore(&self, changed: &[(&String, &String)], log: &mut String) -> bool {
        // `install name-version` takes a package down as well as back in.
        let mut restore = self.dnf();
        restore.arg("install").args(changed.iter().map(|(p, v)| format!("{p}-{v}")));
        run(restore, log)
    }
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

    /// `name_version_*.deb` in apt's cache (the epoch's `:` written `%3a`).
    fn cached_deb(&self, name: &str, version: &str) -> Option<PathBuf> {
        let dir = self.root.join("var/cache/apt/archives");
        let prefix = format!("{name}_{}_", version.replace(':', "%3a"));
        std::fs::read_dir(&dir).ok()?.filter_map(Result::ok).map(|e| e.path()).find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
    }
}

impl PackageTool for Apt {
    fn versions(&self, packages: &[String]) -> BTreeMap<String, Option<String>> {
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

    fn update(&self, installed: &[String], log: &mut String) -> bool {
        let mut update = self.apt_get();
        update.args(["install", "--only-upgrade"]).args(installed);
        run(update, log)
    }

    fn restore(&self, changed: &[(&String, &String)], log: &mut String) -> bool {
        let mut restore = self.apt_get();
        restore.args(["install", "--allow-downgrades"]).args(changed.iter().map(|(p, v)| format!("{p}={v}")));
        if run(restore, log) {
            return true;
        }
        // Not in any repository any more: apt's cache may still hold it.
        let debs: Vec<PathBuf> = changed.iter().filter_map(|(p, v)| self.cached_deb(p, v)).collect();
        if debs.is_empty() {
            return false;
        }
        let mut dpkg = Command::new("dpkg");
        if !self.own_root() {
            dpkg.arg(format!("--root={}", self.root.display())).arg("--force-script-chrootless");
        }
        dpkg.arg("-i").args(&debs);
        run(dpkg, log)
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
