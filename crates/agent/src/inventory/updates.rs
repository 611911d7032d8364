//! Pending updates (PATCH-1): on dpkg systems every installed package with a
//! newer version in apt's package lists (security suites marked, backports
//! left out as apt does not pick them by itself), read from the files under
//! the root; on the RHEL family what `dnf check-update` and `dnf updateinfo
//! --security` report from dnf's cache (no download).

use super::software::{apt_lists, origin_label, parse_dpkg_status, APT_LISTS, DPKG_STATUS};
use super::{read_optional, InventoryCollector};
use crate::collect::CollectError;
use leitstand_proto::inventory::{Item, Section, Update};
use leitstand_proto::version::Manager;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

const NAME: &str = "updates";

/// apt's lists (name, size, time) and a hash of the dpkg status: what the
/// last result was read from.
type Seen = (Vec<(String, u64, i64)>, u64);

/// Reads pending updates; the lists are read again only when they or the
/// installed packages changed.
#[derive(Default)]
pub struct Updates {
    seen: Option<Seen>,
    last: Vec<Item>,
}

impl InventoryCollector for Updates {
    fn section(&self) -> Section {
        Section::Updates
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Item>, CollectError> {
        if let Some(status) = read_optional(NAME, root, DPKG_STATUS)? {
            let lists = apt_lists(root);
            let mark = (lists.clone(), fingerprint(&status));
            if self.seen.as_ref() != Some(&mark) {
                self.last = apt_updates(root, &status, &lists).into_iter().map(Item::Update).collect();
                self.seen = Some(mark);
            }
            return Ok(self.last.clone());
        }
        if ["var/lib/rpm", "usr/lib/sysimage/rpm"].iter().any(|d| root.join(d).is_dir()) {
            return dnf_updates(root).map(|u| u.into_iter().map(Item::Update).collect());
        }
        Ok(vec![])
    }
}

fn fingerprint(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Whether a suite is a security suite (`bookworm-security`,
/// `jammy-security`, `updates` of Debian's security archive).
fn is_security(origin: &str) -> bool {
    origin.contains("security")
}

/// Installed packages (dpkg status) against every version in apt's lists.
pub fn apt_updates(root: &Path, status: &str, lists: &[(String, u64, i64)]) -> Vec<Update> {
    let installed: BTreeMap<(String, String), String> =
        parse_dpkg_status(status).into_iter().map(|p| ((p.name, p.arch), p.version)).collect();
    let names: BTreeSet<&str> = installed.keys().map(|(n, _)| n.as_str()).collect();
    let mut best: BTreeMap<(String, String), Update> = BTreeMap::new();
    for (file, _, _) in lists {
        let origin = origin_label(file);
        if origin.contains("-backports") {
            continue;
        }
        let Ok(f) = std::fs::File::open(root.join(APT_LISTS).join(file)) else { continue };
        let reader: Box<dyn Read> =
            if file.ends_with(".lz4") { Box::new(lz4_flex::frame::FrameDecoder::new(f)) } else { Box::new(f) };
        let (mut name, mut version, mut arch) = (String::new(), String::new(), String::new());
        let mut consider = |name: &str, version: &str, arch: &str| {
            if !names.contains(name) {
                return;
            }
            // An `all` package in the list matches the installed `all` one; an
            // architecture-specific one only its own architecture.
            let Some(current) = installed.get(&(name.to_owned(), arch.to_owned())) else { return };
            if !Manager::Dpkg.below(current, version) {
                return;
            }
            let key = (name.to_owned(), arch.to_owned());
            let security = is_security(&origin);
            match best.get_mut(&key) {
                Some(u) => {
                    u.security |= security;
                    if Manager::Dpkg.below(&u.candidate, version) {
                        u.candidate = version.to_owned();
                        u.origin.clone_from(&origin);
                    }
                }
                None => {
                    best.insert(
                        key,
                        Update {
                            name: name.to_owned(),
                            arch: arch.to_owned(),
                            installed: current.clone(),
                            candidate: version.to_owned(),
                            origin: origin.clone(),
                            security,
                            manager: "dpkg".into(),
                        },
                    );
                }
            }
        };
        for line in BufReader::with_capacity(64 * 1024, reader).lines() {
            let Ok(line) = line else { break };
            if line.is_empty() {
                consider(&name, &version, &arch);
                (name, version, arch) = (String::new(), String::new(), String::new());
            } else if let Some(v) = line.strip_prefix("Package: ") {
                v.trim().clone_into(&mut name);
            } else if let Some(v) = line.strip_prefix("Version: ") {
                v.trim().clone_into(&mut version);
            } else if let Some(v) = line.strip_prefix("Architecture: ") {
                v.trim().clone_into(&mut arch);
            }
        }
        consider(&name, &version, &arch);
    }
    best.into_values().collect()
}

fn dnf(root: &Path, args: &[&str]) -> Result<String, CollectError> {
    let mut c = std::process::Command::new("dnf");
    if root != Path::new("/") {
        c.arg(format!("--installroot={}", root.display()));
    }
    let out = c.args(args).output().map_err(|e| CollectError {
        collector: NAME,
        path: "dnf".into(),
        message: format!("cannot run dnf: {e}"),
    })?;
    // check-update exits 100 when updates are pending.
    if !out.status.success() && out.status.code() != Some(100) {
        return Err(CollectError {
            collector: NAME,
            path: "dnf".into(),
            message: format!("dnf {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What dnf's cache says is pending (no download: the host's
/// `dnf makecache` timer keeps the cache; in a prepared root, the cache
/// under it).
fn dnf_updates(root: &Path) -> Result<Vec<Update>, CollectError> {
    let pending = dnf(root, &["-q", "--cacheonly", "check-update"])?;
    let security =
        dnf(root, &["-q", "--cacheonly", "updateinfo", "list", "--security", "--updates"]).unwrap_or_default();
    let installed = dnf(root, &["-q", "--cacheonly", "list", "--installed"]).unwrap_or_default();
    Ok(parse_dnf(&pending, &security, &installed))
}

/// `dnf check-update` lines (`name.arch  version-release  repo`), marked
/// security when `dnf updateinfo list --security` names the package, with
/// the installed version from `dnf list --installed`.
pub fn parse_dnf(pending: &str, security: &str, installed: &str) -> Vec<Update> {
    let columns = |text: &str| -> Vec<(String, String, String)> {
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let [na, version, repo] = f[..] else { return None };
                let (name, arch) = na.rsplit_once('.')?;
                Some((format!("{name}.{arch}"), version.to_owned(), repo.to_owned()))
            })
            .collect()
    };
    let current: BTreeMap<String, String> = columns(installed).into_iter().map(|(na, v, _)| (na, v)).collect();
    // updateinfo lines: `ALSA-2024:4312 Important/Sec. openssh-8.7p1-38.el9_4.1.x86_64`
    let secure: BTreeSet<String> = security
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter_map(|nevra| {
            let (rest, arch) = nevra.rsplit_once('.')?;
            let (rest, _release) = rest.rsplit_once('-')?;
            let (name, _version) = rest.rsplit_once('-')?;
            Some(format!("{name}.{arch}"))
        })
        .collect();
    columns(pending)
        .into_iter()
        .filter_map(|(na, candidate, repo)| {
            let (name, arch) = na.rsplit_once('.')?;
            Some(Update {
                name: name.to_owned(),
                arch: arch.to_owned(),
                installed: current.get(&na).cloned().unwrap_or_default(),
                candidate,
                origin: repo,
                security: secure.contains(&na),
                manager: "rpm".into(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot;

    const STATUS: &str =
        "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u2\n\n\
Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n\n\
Package: vim\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2:9.0.1378-2\n\n\
Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-10+deb12u8\n";

    const MAIN: &str = "Package: openssl\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\n\n\
Package: openssl\nVersion: 3.0.15-1~deb12u1\nArchitecture: amd64\n\n\
Package: tzdata\nVersion: 2025b-0+deb12u1\nArchitecture: all\n\n\
Package: vim\nVersion: 2:9.0.1378-2\nArchitecture: amd64\n\n\
Package: curl\nVersion: 7.88.1-10+deb12u8\nArchitecture: i386\n";

    const SECURITY: &str = "Package: openssl\nVersion: 3.0.16-1~deb12u1\nArchitecture: amd64\n\n\
Package: curl\nVersion: 7.88.1-10+deb12u12\nArchitecture: amd64\n";

    const BACKPORTS: &str = "Package: vim\nVersion: 2:9.1.0-1~bpo12+1\nArchitecture: amd64\n";

    #[test]
    fn newer_versions_in_apt_lists_are_pending_with_security_apart() {
        let dir = tempfile::tempdir().expect("dir");
        testroot::write(
            dir.path(),
            &[
                (DPKG_STATUS, STATUS),
                ("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages", MAIN),
                (
                    "var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages",
                    SECURITY,
                ),
                (
                    "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm-backports_main_binary-amd64_Packages",
                    BACKPORTS,
                ),
            ],
        );
        let items = Updates::default().collect(dir.path()).expect("updates");
        let got: Vec<(String, String, bool)> = items
            .iter()
            .map(|i| match i {
                Item::Update(u) => (u.name.clone(), u.candidate.clone(), u.security),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            [
                ("curl".into(), "7.88.1-10+deb12u12".into(), true),
                ("openssl".into(), "3.0.16-1~deb12u1".into(), true),
                ("tzdata".into(), "2025b-0+deb12u1".into(), false),
            ],
            "vim only in backports, curl's i386 build is not the installed one"
        );
        let Item::Update(openssl) = &items[1] else { panic!() };
        assert_eq!(openssl.installed, "3.0.11-1~deb12u2");
        assert!(openssl.origin.contains("bookworm-security"), "{}", openssl.origin);
    }

    #[test]
    fn dnf_output_is_read_with_security_marked() {
        let pending =
            "\nopenssh-server.x86_64   8.7p1-38.el9_4.1   baseos\nkernel.x86_64   5.14.0-427.24.1.el9_4   baseos\n";
        let security = "ALSA-2024:4312 Important/Sec. openssh-server-8.7p1-38.el9_4.1.x86_64\n";
        let installed = "openssh-server.x86_64  8.7p1-38.el9  @baseos\nkernel.x86_64  5.14.0-427.13.1.el9_4  @baseos\n";
        let u = parse_dnf(pending, security, installed);
        assert_eq!(u.len(), 2);
        assert_eq!(
            (u[0].name.as_str(), u[0].installed.as_str(), u[0].security),
            ("openssh-server", "8.7p1-38.el9", true)
        );
        assert_eq!((u[1].name.as_str(), u[1].security), ("kernel", false));
    }
}
