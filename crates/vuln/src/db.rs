//! The advisory index: per release and source package, what each advisory
//! says (fixed in, not fixed yet, ignored, release out of support), and the
//! CVSS vector per CVE. Built from feeds, read by the matcher.

use std::collections::HashMap;
use std::sync::Arc;

use crate::release::Release;

/// What the distribution says about one vulnerability in one package of one
/// release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Fixed in this version (earlier versions are affected).
    Fixed(String),
    /// Affected, no fix published yet (open, postponed or undetermined).
    NotFixed,
    /// The distribution decided not to fix it (minor issue, `unimportant`,
    /// `negligible`); the text says why.
    Ignored(String),
    /// The package is no longer supported in this release.
    EndOfLife,
}

/// One advisory statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// CVE id (or the advisory's own id when it names no CVE).
    pub cve: Arc<str>,
    /// The advisory that says it (`DSA-5724-1`, `ALSA-2024:4312`), if any.
    pub advisory: Option<Arc<str>>,
    pub fix: Fix,
    /// Versions below this one are not affected (OSV `introduced`).
    pub introduced: Option<String>,
    /// Last affected version when no fix is named (OSV `last_affected`).
    pub last_affected: Option<String>,
    /// Said only in Ubuntu's Pro (ESM) stream: a fix reaches hosts
    /// attached to Ubuntu Pro only.
    pub pro_only: bool,
}

/// A parsed CVSS vector with its base score.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub vector: String,
    pub score: f64,
    /// `none`, `low`, `medium`, `high`, `critical` as CVSS names them.
    pub severity: &'static str,
}

impl Score {
    /// Parses a CVSS v3.0, v3.1 or v4.0 vector; `None` when it is not one.
    pub fn parse(vector: &str) -> Option<Score> {
        let v: cvss::Cvss = vector.trim().parse().ok()?;
        Some(Score { vector: vector.trim().to_owned(), score: v.score(), severity: v.severity().as_str() })
    }

    fn rank(&self) -> u8 {
        match self.vector.get(..8) {
            Some("CVSS:3.1") => 3,
            Some("CVSS:3.0") => 2,
            Some("CVSS:4.0") => 1,
            _ => 0,
        }
    }
}

/// Counts of what a feed held, for the feed page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Advisories or CVE entries read.
    pub records: usize,
    /// Package statements indexed.
    pub entries: usize,
    /// Records skipped (withdrawn, other ecosystems, unreadable versions).
    pub skipped: usize,
}

/// Everything the feeds said, indexed for matching.
#[derive(Debug, Default, Clone)]
pub struct Db {
    packages: HashMap<Release, HashMap<String, Vec<Entry>>>,
    scores: HashMap<Arc<str>, Score>,
    titles: HashMap<Arc<str>, String>,
    cves: HashMap<String, Arc<str>>,
}

impl Db {
    pub fn new() -> Db {
        Db::default()
    }

    /// The statements about a package (source name) in a release.
    pub fn entries(&self, release: &Release, package: &str) -> &[Entry] {
        self.packages.get(release).and_then(|p| p.get(package)).map_or(&[], Vec::as_slice)
    }

    pub fn score(&self, cve: &str) -> Option<&Score> {
        self.scores.get(cve)
    }

    /// A one-line description of the CVE, when a feed gave one.
    pub fn title(&self, cve: &str) -> Option<&str> {
        self.titles.get(cve).map(String::as_str)
    }

    /// Number of package statements over all releases.
    pub fn len(&self) -> usize {
        self.packages.values().flat_map(|p| p.values()).map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// One shared copy of each CVE id.
    pub(crate) fn intern(&mut self, cve: &str) -> Arc<str> {
        if let Some(c) = self.cves.get(cve) {
            return c.clone();
        }
        let c: Arc<str> = Arc::from(cve);
        self.cves.insert(cve.to_owned(), c.clone());
        c
    }

    pub(crate) fn add(&mut self, release: Release, package: &str, entry: Entry) {
        let list = self.packages.entry(release).or_default().entry(package.to_owned()).or_default();
        // The same CVE from two feeds: the first statement stays.
        if !list.iter().any(|e| e.cve == entry.cve && e.introduced == entry.introduced) {
            list.push(entry);
        }
    }

    /// Keeps the best vector per CVE: v3.1 over v3.0 over v4.0 (scores of
    /// one version compare with each other; the tenant's threshold is set on
    /// v3 scores, which most advisories carry).
    pub(crate) fn add_score(&mut self, cve: &str, score: Score) {
        let cve = self.intern(cve);
        match self.scores.get(&cve) {
            Some(old) if old.rank() >= score.rank() => {}
            _ => {
                self.scores.insert(cve, score);
            }
        }
    }

    pub(crate) fn add_title(&mut self, cve: &str, title: &str) {
        let title = title.lines().next().unwrap_or_default().trim();
        if title.is_empty() {
            return;
        }
        let cve = self.intern(cve);
        self.titles.entry(cve).or_insert_with(|| title.chars().take(300).collect());
    }

    /// Adds everything another index holds (several feeds into one).
    pub fn merge(&mut self, other: Db) {
        for (release, packages) in other.packages {
            for (package, entries) in packages {
                for e in entries {
                    let cve = self.intern(&e.cve);
                    self.add(release.clone(), &package, Entry { cve, ..e });
                }
            }
        }
        for (cve, score) in other.scores {
            self.add_score(&cve, score);
        }
        for (cve, title) in other.titles {
            self.add_title(&cve, &title);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_vectors_of_both_versions_give_scores() {
        let s = Score::parse("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!(s.score, 8.1);
        assert_eq!(s.severity, "high");
        let s = Score::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!((s.score, s.severity), (9.8, "critical"));
        let s = Score::parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap();
        assert_eq!((s.score, s.severity), (9.3, "critical"));
        assert!(Score::parse("CVSS:3.1/AV:X").is_none());
        assert!(Score::parse("high").is_none());
    }

    #[test]
    fn v3_is_kept_over_v4_for_the_same_cve() {
        let mut db = Db::new();
        db.add_score("CVE-1", Score::parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap());
        db.add_score("CVE-1", Score::parse("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H").unwrap());
        db.add_score("CVE-1", Score::parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap());
        assert_eq!(db.score("CVE-1").unwrap().score, 7.8);
    }
}
