//! Installed software (INV-1): the dpkg database (`var/lib/dpkg/status`),
//! with the repository each version came from out of apt's package lists,
//! or the rpm database through `rpm --root … -qa` on the RHEL family (its
//! database is not a plain file format).

use super::{list_dir, read_optional, InventoryCollector};
use crate::collect::CollectError;
use leitstand_proto::inventory::{Item, Package, Section};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

const NAME: &str = "software";
pub(super) const DPKG_STATUS: &str = "var/lib/dpkg/status";
pub(super) const APT_LISTS: &str = "var/lib/apt/lists";

/// Reads the package databases; remembers the repository of each installed
/// version until apt's lists change, so the lists are read again only after
/// `apt update` or when a version never seen before is installed.
#[derive(Default)]
pub struct Software {
    /// Names, sizes and times of the lists the origins were read from.
    lists_seen: Vec<(String, u64, i64)>,
    /// (name, version) → repository, for every installed version looked up.
    origins: BTreeMap<(String, String), String>,
}

impl InventoryCollector for Software {
    fn section(&self) -> Section {
        Section::Software
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Item>, CollectError> {
        if let Some(text) = read_optional(NAME, root, DPKG_STATUS)? {
            let mut pkgs = parse_dpkg_status(&text);
            self.fill_origins(root, &mut pkgs);
            return Ok(pkgs.into_iter().map(Item::Package).collect());
        }
        if root.join("var/lib/rpm").is_dir() {
            let out = std::process::Command::new("rpm")
                .arg("--root")
                .arg(root)
                .args(["-qa", "--qf", RPM_FORMAT])
                .output()
                .map_err(|e| CollectError {
                    collector: NAME,
                    path: root.join("var/lib/rpm"),
                    message: format!("cannot run rpm: {e}"),
                })?;
            if !out.status.success() {
                return Err(CollectError {
                    collector: NAME,
                    path: root.join("var/lib/rpm"),
                    message: format!("rpm -qa failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
                });
            }
            return Ok(parse_rpm_query(&String::from_utf8_lossy(&out.stdout)).into_iter().map(Item::Package).collect());
        }
        Ok(vec![])
    }
}

impl Software {
    fn fill_origins(&mut self, root: &Path, pkgs: &mut [Package]) {
        let lists = apt_lists(root);
        let unknown = pkgs.iter().any(|p| !self.origins.contains_key(&(p.name.clone(), p.version.clone())));
        if lists != self.lists_seen || unknown {
            let wanted: BTreeSet<(String, String)> = pkgs.iter().map(|p| (p.name.clone(), p.version.clone())).collect();
            self.origins = read_origins(root, &lists, &wanted);
            for w in wanted {
                self.origins.entry(w).or_default();
            }
            self.lists_seen = lists;
        }
        for p in pkgs {
            if let Some(o) = self.origins.get(&(p.name.clone(), p.version.clone())) {
                p.origin.clone_from(o);
            }
        }
    }
}

/// apt's package lists: name, size, modification time.
pub(super) fn apt_lists(root: &Path) -> Vec<(String, u64, i64)> {
    list_dir(root, APT_LISTS)
        .into_iter()
        .filter(|n| n.ends_with("_Packages") || n.ends_with("_Packages.lz4"))
        .filter_map(|n| {
            let m = std::fs::metadata(root.join(APT_LISTS).join(&n)).ok()?;
            let t = m.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
            Some((n, m.len(), t))
        })
        .collect()
}

/// `deb.debian.org_debian_dists_bookworm-security_main_binary-amd64_Packages`
/// → `deb.debian.org/debian bookworm-security/main`.
pub(super) fn origin_label(file: &str) -> String {
    let base = file.trim_end_matches(".lz4").trim_end_matches("_Packages");
    match base.split_once("_dists_") {
        Some((site, rest)) => {
            let parts: Vec<&str> = rest.split('_').collect();
            let suite = parts.first().copied().unwrap_or_default();
            let component = parts.get(1).copied().unwrap_or_default();
            format!("{} {suite}/{component}", site.replace('_', "/"))
        }
        None => base.replace('_', "/"),
    }
}

/// Scans the lists for the wanted (name, version) pairs, streaming, so a
/// 70 MB list costs no more memory than one line.
fn read_origins(
    root: &Path,
    lists: &[(String, u64, i64)],
    wanted: &BTreeSet<(String, String)>,
) -> BTreeMap<(String, String), String> {
    let mut found = BTreeMap::new();
    for (file, _, _) in lists {
        let Ok(f) = std::fs::File::open(root.join(APT_LISTS).join(file)) else { continue };
        let reader: Box<dyn Read> =
            if file.ends_with(".lz4") { Box::new(lz4_flex::frame::FrameDecoder::new(f)) } else { Box::new(f) };
        let label = origin_label(file);
        let mut name = String::new();
        for line in BufReader::with_capacity(64 * 1024, reader).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("Package: ") {
                name = n.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("Version: ") {
                let key = (std::mem::take(&mut name), v.trim().to_owned());
                if wanted.contains(&key) {
                    found.entry(key).or_insert_with(|| label.clone());
                }
            }
        }
    }
    found
}

/// Installed packages of a dpkg status file (stanzas whose status ends in
/// `installed`).
pub fn parse_dpkg_status(text: &str) -> Vec<Package> {
    let mut out = vec![];
    for stanza in text.split("\n\n") {
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                fields.insert(k, v.trim());
            }
        }
        let (Some(name), Some(version)) = (fields.get("Package"), fields.get("Version")) else { continue };
        if !fields.get("Status").is_some_and(|s| s.ends_with(" installed")) {
            continue;
        }
        let mut source_field = fields.get("Source").copied().unwrap_or_default().split_whitespace();
        let source = source_field.next().unwrap_or_default();
        let source_version = source_field.next().unwrap_or_default().trim_start_matches('(').trim_end_matches(')');
        out.push(Package {
            name: (*name).to_owned(),
            version: (*version).to_owned(),
            arch: fields.get("Architecture").copied().unwrap_or("all").to_owned(),
            source: if source == *name { String::new() } else { source.to_owned() },
            source_version: if source_version == *version { String::new() } else { source_version.to_owned() },
            origin: String::new(),
            manager: "dpkg".into(),
        });
    }
    out
}

/// `rpm -qa --qf` format: name, epoch:version-release, arch, source rpm,
/// vendor, tab-separated.
pub const RPM_FORMAT: &str =
    "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{VENDOR}\\n";

/// Packages from `rpm -qa --qf RPM_FORMAT` output.
pub fn parse_rpm_query(text: &str) -> Vec<Package> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [name, version, arch, srpm, vendor] = f[..] else { return None };
            // foo-1.2-3.el9.src.rpm → foo
            let source = srpm.rsplitn(3, '-').nth(2).unwrap_or_default();
            Some(Package {
                name: name.to_owned(),
                version: version.to_owned(),
                arch: arch.to_owned(),
                source: if source == name || srpm == "(none)" { String::new() } else { source.to_owned() },
                source_version: String::new(),
                origin: if vendor == "(none)" { String::new() } else { vendor.to_owned() },
                manager: "rpm".into(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot;

    const STATUS: &str = "Package: openssh-server\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nSource: openssh\nVersion: 1:9.2p1-2+deb12u3\nDescription: secure shell (SSH) server\n multi-line text: here\n\nPackage: removed-one\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n\nPackage: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-10+deb12u8\n\nPackage: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc (2.36-9+deb12u4)\nVersion: 2.36-9+deb12u4+b1\n";

    #[test]
    fn dpkg_status_gives_installed_packages_with_their_source() {
        let p = parse_dpkg_status(STATUS);
        assert_eq!(p.len(), 3);
        assert_eq!((p[2].source.as_str(), p[2].source_version.as_str()), ("glibc", "2.36-9+deb12u4"), "a binNMU");
        assert_eq!(p[0].source_version, "", "no version in Source: the binary's");
        assert_eq!(p[0].name, "openssh-server");
        assert_eq!(p[0].version, "1:9.2p1-2+deb12u3");
        assert_eq!(p[0].source, "openssh");
        assert_eq!(p[1].source, "", "source equal to the name is left out");
    }

    #[test]
    fn origins_come_from_apt_lists_plain_and_lz4() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        let security = "Package: openssh-server\nVersion: 1:9.2p1-2+deb12u3\n\nPackage: curl\nVersion: 7.0\n";
        let mut enc = lz4_flex::frame::FrameEncoder::new(vec![]);
        std::io::Write::write_all(&mut enc, security.as_bytes()).expect("lz4");
        let lz4 = enc.finish().expect("lz4");
        testroot::write(
            root,
            &[
                (DPKG_STATUS, STATUS),
                (
                    "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages",
                    "Package: curl\nVersion: 7.88.1-10+deb12u8\n",
                ),
            ],
        );
        std::fs::write(
            root.join(APT_LISTS)
                .join("deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.lz4"),
            lz4,
        )
        .expect("write");
        let items = Software::default().collect(root).expect("collect");
        let origin = |n: &str| {
            items.iter().find_map(|i| match i {
                Item::Package(p) if p.name == n => Some(p.origin.clone()),
                _ => None,
            })
        };
        assert_eq!(origin("openssh-server").as_deref(), Some("deb.debian.org/debian-security bookworm-security/main"));
        assert_eq!(origin("curl").as_deref(), Some("deb.debian.org/debian bookworm/main"));
    }

    #[test]
    fn rpm_query_output_is_parsed() {
        let out = "openssh-server\t8.7p1-38.el9\tx86_64\topenssh-8.7p1-38.el9.src.rpm\tRocky Enterprise Software Foundation\nbash\t5.1.8-9.el9\tx86_64\tbash-5.1.8-9.el9.src.rpm\t(none)\ngpg-pubkey\t3228467c-613798eb\t(none)\t(none)\t(none)\nbroken line\n";
        let p = parse_rpm_query(out);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].source, "openssh");
        assert_eq!(p[0].origin, "Rocky Enterprise Software Foundation");
        assert_eq!(p[1].source, "");
        assert_eq!(p[1].origin, "");
        assert_eq!(p[2].manager, "rpm");
    }

    #[test]
    fn this_machines_dpkg_database_reads() {
        if !Path::new("/var/lib/dpkg/status").exists() {
            return;
        }
        let items = Software::default().collect(Path::new("/")).expect("collect");
        assert!(items.len() > 10);
        let with_origin = items.iter().filter(|i| matches!(i, Item::Package(p) if !p.origin.is_empty())).count();
        if !apt_lists(Path::new("/")).is_empty() {
            assert!(with_origin > 0, "no package got its repository");
        }
    }
}
