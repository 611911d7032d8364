//! Which distribution release a host runs, read from its `PRETTY_NAME`, and
//! what follows from it: the package manager, the advisory keys (tracker
//! code name, OSV ecosystem) and the end of its security support.

use crate::version::Manager;

/// The distributions whose advisories we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Debian,
    Ubuntu,
    AlmaLinux,
    Rocky,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Debian => "Debian",
            Family::Ubuntu => "Ubuntu",
            Family::AlmaLinux => "AlmaLinux",
            Family::Rocky => "Rocky Linux",
        }
    }

    pub fn manager(self) -> Manager {
        match self {
            Family::Debian | Family::Ubuntu => Manager::Dpkg,
            Family::AlmaLinux | Family::Rocky => Manager::Rpm,
        }
    }
}

/// A release: family and version as the advisories key it (`12`, `22.04`,
/// `9`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Release {
    pub family: Family,
    pub version: String,
}

/// Debian's code names, as the security tracker keys its releases.
const DEBIAN: &[(&str, &str)] = &[
    ("8", "jessie"),
    ("9", "stretch"),
    ("10", "buster"),
    ("11", "bullseye"),
    ("12", "bookworm"),
    ("13", "trixie"),
    ("14", "forky"),
];

const UBUNTU: &[(&str, &str)] = &[
    ("16.04", "xenial"),
    ("18.04", "bionic"),
    ("20.04", "focal"),
    ("22.04", "jammy"),
    ("24.04", "noble"),
    ("24.10", "oracular"),
    ("25.04", "plucky"),
    ("25.10", "questing"),
];

/// Last day of security support (Debian including its LTS, Ubuntu's
/// standard support, the Enterprise Linux rebuilds' full life), as the
/// distributions publish it.
const END_OF_SUPPORT: &[(Family, &str, &str)] = &[
    (Family::Debian, "8", "2020-06-30"),
    (Family::Debian, "9", "2022-06-30"),
    (Family::Debian, "10", "2024-06-30"),
    (Family::Debian, "11", "2026-08-31"),
    (Family::Debian, "12", "2028-06-30"),
    (Family::Debian, "13", "2030-06-30"),
    (Family::Ubuntu, "16.04", "2021-04-30"),
    (Family::Ubuntu, "18.04", "2023-05-31"),
    (Family::Ubuntu, "20.04", "2025-05-31"),
    (Family::Ubuntu, "22.04", "2027-06-30"),
    (Family::Ubuntu, "24.04", "2029-05-31"),
    (Family::Ubuntu, "24.10", "2025-07-10"),
    (Family::Ubuntu, "25.04", "2026-01-15"),
    (Family::AlmaLinux, "8", "2029-03-01"),
    (Family::AlmaLinux, "9", "2032-05-31"),
    (Family::Rocky, "8", "2029-05-31"),
    (Family::Rocky, "9", "2032-05-31"),
];

impl Release {
    pub fn new(family: Family, version: &str) -> Release {
        Release { family, version: version.to_owned() }
    }

    /// Reads `PRETTY_NAME` (`Debian GNU/Linux 12 (bookworm)`, `Ubuntu
    /// 22.04.4 LTS`, `AlmaLinux 9.4 (Seafoam Ocelot)`, `Rocky Linux 9.3 (Blue
    /// Onyx)`); `None` for anything else (the host is then not scanned, and
    /// the page says why).
    pub fn from_os_name(os: &str) -> Option<Release> {
        let os = os.trim();
        let number = |rest: &str| -> Option<String> {
            let word = rest.split_whitespace().next()?;
            word.starts_with(|c: char| c.is_ascii_digit()).then(|| word.to_owned())
        };
        if let Some(rest) = os.strip_prefix("Debian GNU/Linux") {
            if let Some(v) = number(rest) {
                return Some(Release::new(Family::Debian, &v));
            }
            // Testing and sid name only the code name: `trixie/sid`.
            let name = rest.trim().trim_start_matches('(').split(['/', ')']).next()?;
            let v = DEBIAN.iter().find(|(_, c)| *c == name)?.0;
            return Some(Release::new(Family::Debian, v));
        }
        if let Some(rest) = os.strip_prefix("Ubuntu") {
            let v = number(rest)?;
            let mut parts = v.split('.');
            let v = format!("{}.{}", parts.next()?, parts.next()?);
            return Some(Release::new(Family::Ubuntu, &v));
        }
        for (prefix, family) in [("AlmaLinux", Family::AlmaLinux), ("Rocky Linux", Family::Rocky)] {
            if let Some(rest) = os.strip_prefix(prefix) {
                let v = number(rest)?;
                return Some(Release::new(family, v.split('.').next()?));
            }
        }
        None
    }

    /// `bookworm`, `jammy`; empty for the rpm families.
    pub fn codename(&self) -> &'static str {
        let table = match self.family {
            Family::Debian => DEBIAN,
            Family::Ubuntu => UBUNTU,
            _ => return "",
        };
        table.iter().find(|(v, _)| *v == self.version).map_or("", |(_, c)| c)
    }

    /// The Debian release for a tracker code name.
    pub fn debian_from_codename(codename: &str) -> Option<Release> {
        DEBIAN.iter().find(|(_, c)| *c == codename).map(|(v, _)| Release::new(Family::Debian, v))
    }

    /// Reads an OSV ecosystem (`Debian:12`, `Ubuntu:22.04:LTS`,
    /// `AlmaLinux:9`, `Rocky Linux:9`). Streams (`Ubuntu:Pro:…`,
    /// `Ubuntu:FIPS:…`) are not releases: see [`Release::from_osv_stream`].
    pub fn from_osv_ecosystem(ecosystem: &str) -> Option<Release> {
        let mut parts = ecosystem.split(':');
        let family = match parts.next()? {
            "Debian" => Family::Debian,
            "Ubuntu" => Family::Ubuntu,
            "AlmaLinux" => Family::AlmaLinux,
            "Rocky Linux" => Family::Rocky,
            _ => return None,
        };
        let version = parts.next()?;
        if !version.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let version = match family {
            Family::AlmaLinux | Family::Rocky => version.split('.').next()?,
            _ => version,
        };
        Some(Release::new(family, version))
    }

    /// Reads an OSV ecosystem that may be Ubuntu's Pro (ESM) stream of a
    /// release (`Ubuntu:Pro:22.04:LTS`: `true`). FIPS streams carry other
    /// packages and are not read.
    pub fn from_osv_stream(ecosystem: &str) -> Option<(Release, bool)> {
        match ecosystem.strip_prefix("Ubuntu:Pro:") {
            Some(rest) => Some((Release::from_osv_ecosystem(&format!("Ubuntu:{rest}"))?, true)),
            None => Some((Release::from_osv_ecosystem(ecosystem)?, false)),
        }
    }

    pub fn manager(&self) -> Manager {
        self.family.manager()
    }

    /// The last day of security support (`YYYY-MM-DD`), when known.
    pub fn end_of_support(&self) -> Option<&'static str> {
        END_OF_SUPPORT.iter().find(|(f, v, _)| *f == self.family && *v == self.version).map(|(_, _, d)| *d)
    }

    /// Whether support ended before `today` (`YYYY-MM-DD`).
    pub fn out_of_support(&self, today: &str) -> bool {
        self.end_of_support().is_some_and(|end| end < today)
    }

    /// `Debian 12 (bookworm)`.
    pub fn label(&self) -> String {
        match self.codename() {
            "" => format!("{} {}", self.family.name(), self.version),
            c => format!("{} {} ({c})", self.family.name(), self.version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_names_of_the_four_distributions_are_read() {
        let r = |s| Release::from_os_name(s);
        assert_eq!(r("Debian GNU/Linux 12 (bookworm)"), Some(Release::new(Family::Debian, "12")));
        assert_eq!(r("Debian GNU/Linux trixie/sid"), Some(Release::new(Family::Debian, "13")));
        assert_eq!(r("Ubuntu 22.04.4 LTS"), Some(Release::new(Family::Ubuntu, "22.04")));
        assert_eq!(r("Ubuntu 24.10"), Some(Release::new(Family::Ubuntu, "24.10")));
        assert_eq!(r("AlmaLinux 9.4 (Seafoam Ocelot)"), Some(Release::new(Family::AlmaLinux, "9")));
        assert_eq!(r("Rocky Linux 8.9 (Green Obsidian)"), Some(Release::new(Family::Rocky, "8")));
        assert_eq!(r("Arch Linux"), None);
        assert_eq!(r("Linux"), None);
    }

    #[test]
    fn osv_ecosystems_are_read_and_pro_streams_left_out() {
        let e = |s| Release::from_osv_ecosystem(s);
        assert_eq!(e("Debian:12"), Some(Release::new(Family::Debian, "12")));
        assert_eq!(e("Ubuntu:22.04:LTS"), Some(Release::new(Family::Ubuntu, "22.04")));
        assert_eq!(e("Ubuntu:Pro:18.04:LTS"), None);
        assert_eq!(e("AlmaLinux:9"), Some(Release::new(Family::AlmaLinux, "9")));
        assert_eq!(e("Rocky Linux:8"), Some(Release::new(Family::Rocky, "8")));
        assert_eq!(e("npm"), None);
    }

    #[test]
    fn support_ends_on_the_published_day() {
        let bullseye = Release::new(Family::Debian, "11");
        assert!(!bullseye.out_of_support("2026-08-31"));
        assert!(bullseye.out_of_support("2026-09-01"));
        assert_eq!(bullseye.codename(), "bullseye");
        assert_eq!(Release::new(Family::Ubuntu, "22.04").label(), "Ubuntu 22.04 (jammy)");
        assert!(!Release::new(Family::Debian, "99").out_of_support("2099-01-01"), "unknown: not flagged");
    }
}
