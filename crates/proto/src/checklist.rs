//! The hardening checklist (RISK-1): the catalogue of checks, as data in
//! `data/checklist.toml` (one declarative entry each), and the results an
//! agent reports. The agent evaluates each entry's probe; the server shows
//! its title, rationale and remedy in the reader's language.

use serde::{Deserialize, Serialize};

/// The catalogue as shipped, TOML.
pub const CATALOGUE: &str = include_str!("../data/checklist.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Catalogue {
    pub check: Vec<CheckDef>,
}

/// Text in German and English.
#[derive(Debug, Clone, Deserialize)]
pub struct Texts {
    pub en: String,
    pub de: String,
}

impl Texts {
    /// The text for a language code (`de` or anything else for English).
    pub fn get(&self, lang: &str) -> &str {
        if lang == "de" {
            &self.de
        } else {
            &self.en
        }
    }
}

/// Which distributions a check applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    #[default]
    Any,
    Debian,
    Rhel,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckDef {
    pub id: String,
    pub topic: String,
    #[serde(default)]
    pub family: Family,
    pub title: Texts,
    pub rationale: Texts,
    pub remedy: Texts,
    pub probe: Probe,
}

/// What the agent looks at for a check.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Probe {
    /// An effective sshd setting (`sshd -T`), lowercase key.
    Sshd {
        key: String,
        #[serde(default)]
        values: Vec<String>,
        max: Option<i64>,
        min: Option<i64>,
    },
    /// A kernel setting under /proc/sys.
    Sysctl {
        key: String,
        values: Vec<String>,
    },
    /// No permission bits beyond `max_mode` (octal).
    FileMode {
        path: String,
        max_mode: String,
    },
    FileAbsent {
        path: String,
    },
    /// A `KEY value` or `key = value` line of a configuration file.
    Setting {
        path: String,
        key: String,
        #[serde(default)]
        values: Vec<String>,
        max: Option<i64>,
        min: Option<i64>,
    },
    PackagesInstalled {
        names: Vec<String>,
    },
    PackagesAbsent {
        names: Vec<String>,
    },
    ServicesEnabled {
        units: Vec<String>,
    },
    ServicesDisabled {
        units: Vec<String>,
    },
    WorldWritable {
        dirs: Vec<String>,
    },
    OnlyRootUid0,
    NoEmptyPasswords,
    LinePresent {
        path: String,
        pattern: String,
    },
}

/// How a check came out on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    NotApplicable,
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::Pass, Outcome::Fail, Outcome::NotApplicable, Outcome::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NotApplicable => "not_applicable",
            Outcome::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// One check's result on a host, with what was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    pub result: Outcome,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub evidence: String,
}

/// The shipped catalogue, parsed once. It is part of the build and checked
/// by a test, so it always parses.
pub fn catalogue() -> &'static Catalogue {
    static PARSED: std::sync::OnceLock<Catalogue> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| toml::from_str(CATALOGUE).unwrap_or_else(|e| panic!("data/checklist.toml: {e}")))
}

/// Score out of 100: passed among passed and failed; `None` when neither.
pub fn score(pass: u64, fail: u64) -> Option<u8> {
    (pass + fail > 0).then(|| ((pass * 100 + (pass + fail) / 2) / (pass + fail)) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_catalogue_parses_with_unique_ids_and_both_languages() {
        let c = catalogue();
        assert!(c.check.len() >= 40, "{} checks", c.check.len());
        let ids: BTreeSet<&str> = c.check.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids.len(), c.check.len(), "ids are unique");
        for d in &c.check {
            for t in [&d.title, &d.rationale, &d.remedy] {
                assert!(!t.en.is_empty() && !t.de.is_empty(), "{}: a text is missing", d.id);
            }
            assert!(d.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{}", d.id);
        }
        let debian = c.check.iter().filter(|d| d.family != Family::Rhel).count();
        assert!(debian >= 40, "at least 40 checks for Debian/Ubuntu, not {debian}");
    }

    #[test]
    fn the_score_counts_passed_among_decided() {
        assert_eq!(score(3, 1), Some(75));
        assert_eq!(score(0, 0), None);
        assert_eq!(score(2, 1), Some(67));
    }
}
