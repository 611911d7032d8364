//! Sigma rules: the set shipped with Leitstand (embedded), extra directories
//! the provider configures (e.g. SigmaHQ's Linux and firewall rules), and
//! custom rules of a tenant. Every rule either loads or is reported with its
//! file, line and cause; none is dropped silently.

use std::collections::HashSet;
use std::path::Path;

use leitstand_domain::alert::Severity;
use rsigma_eval::pipeline::{apply_pipelines, parse_pipeline, Pipeline};
use rsigma_parser::lint::{lint_yaml_str, Severity as LintSeverity};
use rsigma_parser::{parse_sigma_yaml, Level, SigmaCollection};

/// The rule files shipped in `crates/detect/rules/` (path, text).
pub const SHIPPED: &[(&str, &str)] = &[
    ("linux/ssh_failed_login.yml", include_str!("../rules/linux/ssh_failed_login.yml")),
    ("linux/ssh_root_login.yml", include_str!("../rules/linux/ssh_root_login.yml")),
    ("linux/ssh_probe.yml", include_str!("../rules/linux/ssh_probe.yml")),
    ("linux/ssh_max_attempts.yml", include_str!("../rules/linux/ssh_max_attempts.yml")),
    ("linux/sudo_denied.yml", include_str!("../rules/linux/sudo_denied.yml")),
    ("linux/sudo_failed_password.yml", include_str!("../rules/linux/sudo_failed_password.yml")),
    ("linux/su_failed.yml", include_str!("../rules/linux/su_failed.yml")),
    ("linux/user_created.yml", include_str!("../rules/linux/user_created.yml")),
    ("linux/privileged_group_member.yml", include_str!("../rules/linux/privileged_group_member.yml")),
    ("linux/history_or_log_tampering.yml", include_str!("../rules/linux/history_or_log_tampering.yml")),
    ("linux/auditd_account_created.yml", include_str!("../rules/linux/auditd_account_created.yml")),
    ("linux/auditd_reverse_shell.yml", include_str!("../rules/linux/auditd_reverse_shell.yml")),
    ("firewall/blocked_connection.yml", include_str!("../rules/firewall/blocked_connection.yml")),
    ("firewall/remote_admin_port_allowed.yml", include_str!("../rules/firewall/remote_admin_port_allowed.yml")),
    ("firewall/ips_event.yml", include_str!("../rules/firewall/ips_event.yml")),
    ("firewall/ips_event_sophos.yml", include_str!("../rules/firewall/ips_event_sophos.yml")),
    ("firewall/admin_login_failed.yml", include_str!("../rules/firewall/admin_login_failed.yml")),
    ("correlation/ssh_brute_force.yml", include_str!("../rules/correlation/ssh_brute_force.yml")),
    ("correlation/password_spraying.yml", include_str!("../rules/correlation/password_spraying.yml")),
    ("correlation/port_scan.yml", include_str!("../rules/correlation/port_scan.yml")),
];

/// The field mapping from Sigma's generic names onto our schema.
pub const PIPELINE: &str = include_str!("../rules/pipeline.yml");

/// Longest custom rule accepted (a Sigma rule is a page, not a book).
pub const MAX_RULE_BYTES: usize = 64 * 1024;

/// What a person sees of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSummary {
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub correlation: bool,
    /// `product/service/category` as written in the rule.
    pub logsource: String,
    pub tags: Vec<String>,
    /// The file it came from, or `custom`.
    pub origin: String,
}

/// A rule that did not load, or a custom rule refused: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    pub origin: String,
    /// 1-based line in the file, where it can be told.
    pub line: Option<u32>,
    pub cause: String,
}

impl std::fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}, line {line}: {}", self.origin, self.cause),
            None => write!(f, "{}: {}", self.origin, self.cause),
        }
    }
}

/// Rules that loaded, with the problems of those that did not.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub(crate) collection: SigmaCollection,
    summaries: Vec<RuleSummary>,
    problems: Vec<RuleProblem>,
}

pub(crate) fn pipeline() -> Pipeline {
    parse_pipeline(PIPELINE).expect("the shipped pipeline parses (tested)")
}

impl RuleSet {
    /// The shipped rules.
    pub fn shipped() -> RuleSet {
        let mut set = RuleSet::default();
        for (path, text) in SHIPPED {
            set.add_text(path, text);
        }
        set
    }

    /// Adds every `*.yml` / `*.yaml` below a directory (sorted, recursive).
    pub fn add_dir(&mut self, dir: &Path) {
        let mut files = Vec::new();
        collect(dir, &mut files, &mut self.problems);
        files.sort();
        for file in files {
            let origin = file.display().to_string();
            match std::fs::read_to_string(&file) {
                Ok(text) => self.add_text(&origin, &text),
                Err(e) => self.problems.push(RuleProblem { origin, line: None, cause: e.to_string() }),
            }
        }
    }

    /// Adds the rules of one file; what does not load is kept as a problem.
    pub fn add_text(&mut self, origin: &str, text: &str) {
        match check(origin, text) {
            Ok((collection, summaries)) => {
                for id in summaries.iter().map(|s| &s.id) {
                    if self.summaries.iter().any(|s| &s.id == id) {
                        self.problems.push(RuleProblem {
                            origin: origin.into(),
                            line: line_of(text, id),
                            cause: format!("rule id {id} is already loaded; this copy is skipped"),
                        });
                    }
                }
                let known: HashSet<String> = self.summaries.iter().map(|s| s.id.clone()).collect();
                let fresh = |id: &Option<String>| id.as_ref().is_some_and(|id| !known.contains(id));
                let rules: Vec<_> = collection.rules.into_iter().filter(|r| fresh(&r.id)).collect();
                let correlations: Vec<_> = collection.correlations.into_iter().filter(|c| fresh(&c.id)).collect();
                self.summaries.extend(summaries.into_iter().filter(|s| !known.contains(&s.id)));
                self.collection.rules.extend(rules);
                self.collection.correlations.extend(correlations);
                self.collection.filters.extend(collection.filters);
            }
            Err(problems) => self.problems.extend(problems),
        }
    }

    pub fn summaries(&self) -> &[RuleSummary] {
        &self.summaries
    }

    pub fn problems(&self) -> &[RuleProblem] {
        &self.problems
    }

    pub fn len(&self) -> usize {
        self.summaries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.summaries.is_empty()
    }
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>, problems: &mut Vec<RuleProblem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(RuleProblem { origin: dir.display().to_string(), line: None, cause: e.to_string() });
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files, problems);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            files.push(path);
        }
    }
}

/// Checks the text of a rule file: YAML, Sigma structure, lint errors and
/// compilation with our field mapping. On success, the parsed rules and
/// what a person sees of them; otherwise every problem found, each with the
/// line where it can be told.
pub fn check(origin: &str, text: &str) -> Result<(SigmaCollection, Vec<RuleSummary>), Vec<RuleProblem>> {
    let problem = |line: Option<u32>, cause: String| RuleProblem { origin: origin.to_string(), line, cause };
    if text.len() > MAX_RULE_BYTES {
        return Err(vec![problem(
            None,
            format!("the rule is {} bytes; at most {MAX_RULE_BYTES} are accepted", text.len()),
        )]);
    }
    let collection = match parse_sigma_yaml(text) {
        Ok(c) => c,
        Err(e) => return Err(vec![problem(line_in_message(&e.to_string()), e.to_string())]),
    };
    let mut problems: Vec<RuleProblem> = collection
        .errors
        .iter()
        .map(|e| problem(line_in_message(e).or_else(|| quoted_line(text, e)), e.clone()))
        .collect();
    for w in lint_yaml_str(text) {
        if w.severity == LintSeverity::Error {
            problems.push(problem(w.span.map(|s| s.start_line + 1), format!("{} ({})", w.message, w.path)));
        }
    }
    if collection.rules.is_empty() && collection.correlations.is_empty() && problems.is_empty() {
        problems.push(problem(None, "the file holds no Sigma rule".into()));
    }
    let pipelines = [pipeline()];
    let mut summaries = Vec::new();
    for rule in &collection.rules {
        let Some(id) = rule.id.clone() else {
            problems.push(problem(line_of(text, &rule.title), format!("rule '{}' has no id", rule.title)));
            continue;
        };
        let mut mapped = rule.clone();
        let compiled = apply_pipelines(&pipelines, &mut mapped)
            .map_err(|e| e.to_string())
            .and_then(|_| rsigma_eval::compile_rule(&mapped).map(|_| ()).map_err(|e| e.to_string()));
        if let Err(cause) = compiled {
            problems.push(problem(quoted_line(text, &cause).or_else(|| line_of(text, &id)), cause));
            continue;
        }
        let ls = &rule.logsource;
        summaries.push(RuleSummary {
            id,
            title: rule.title.clone(),
            description: rule.description.clone().unwrap_or_default(),
            severity: severity(rule.level),
            correlation: false,
            logsource: [&ls.product, &ls.service, &ls.category]
                .iter()
                .map(|v| v.as_deref().unwrap_or("*"))
                .collect::<Vec<_>>()
                .join("/"),
            tags: rule.tags.clone(),
            origin: origin.to_string(),
        });
    }
    for corr in &collection.correlations {
        let Some(id) = corr.id.clone() else {
            problems.push(problem(line_of(text, &corr.title), format!("correlation '{}' has no id", corr.title)));
            continue;
        };
        summaries.push(RuleSummary {
            id,
            title: corr.title.clone(),
            description: corr.description.clone().unwrap_or_default(),
            severity: severity(corr.level),
            correlation: true,
            logsource: "correlation".into(),
            tags: corr.tags.clone(),
            origin: origin.to_string(),
        });
    }
    if problems.is_empty() {
        Ok((collection, summaries))
    } else {
        Err(problems)
    }
}

/// Sigma levels onto ours (SOC-3); informational counts as low.
pub fn severity(level: Option<Level>) -> Severity {
    match level {
        Some(Level::Critical) => Severity::Critical,
        Some(Level::High) => Severity::High,
        Some(Level::Medium) => Severity::Medium,
        _ => Severity::Low,
    }
}

/// "… at line 7 column 3" in a YAML error.
fn line_in_message(msg: &str) -> Option<u32> {
    let rest = &msg[msg.find("line ")? + 5..];
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// The line of the first word in quotes of an error ('foo' or `foo`) in the text.
fn quoted_line(text: &str, msg: &str) -> Option<u32> {
    let start = msg.find(['\'', '`'])?;
    let quote = msg[start..].chars().next()?;
    let rest = &msg[start + 1..];
    let word = &rest[..rest.find(quote)?];
    line_of(text, word)
}

fn line_of(text: &str, needle: &str) -> Option<u32> {
    if needle.is_empty() {
        return None;
    }
    text.lines().position(|l| l.contains(needle)).map(|i| i as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_rule_loads_and_every_file_is_listed() {
        let set = RuleSet::shipped();
        assert!(set.problems().is_empty(), "{:?}", set.problems());
        assert_eq!(set.len(), SHIPPED.len());
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let mut on_disk = Vec::new();
        collect(&root, &mut on_disk, &mut Vec::new());
        let mut on_disk: Vec<String> = on_disk
            .iter()
            .map(|p| p.strip_prefix(&root).expect("below").display().to_string())
            .filter(|p| p != "pipeline.yml")
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = SHIPPED.iter().map(|(p, _)| p.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed, "a rule file is not in SHIPPED");
    }

    #[test]
    fn yaml_errors_name_the_line() {
        let text =
            "title: x\nid: 1\nlogsource:\n  product: linux\ndetection:\n  sel:\n    a: [1, 2\n  condition: sel\n";
        let problems = check("custom", text).expect_err("bad yaml");
        assert!(problems[0].line.is_some(), "{problems:?}");
        assert!(problems[0].cause.contains("YAML"), "{problems:?}");
    }

    #[test]
    fn an_unknown_modifier_names_its_line() {
        let text = "title: x\nid: 7b0c7b0c-0000-4000-8000-000000000001\nlogsource:\n  product: linux\n\
                    detection:\n  sel:\n    message|containz: foo\n  condition: sel\nlevel: low\n";
        let problems = check("custom", text).expect_err("unknown modifier");
        assert_eq!(problems[0].line, Some(7), "{problems:?}");
        assert!(problems[0].cause.contains("containz"), "{problems:?}");
    }

    #[test]
    fn a_condition_naming_a_missing_selection_is_refused() {
        let text = "title: x\nid: 7b0c7b0c-0000-4000-8000-000000000002\nlogsource:\n  product: linux\n\
                    detection:\n  sel:\n    message: foo\n  condition: sel and other\nlevel: low\n";
        let problems = check("custom", text).expect_err("missing selection");
        assert!(problems.iter().any(|p| p.cause.contains("other")), "{problems:?}");
    }

    #[test]
    fn a_rule_without_id_is_refused_and_duplicates_are_reported() {
        let text =
            "title: no id\nlogsource:\n  product: linux\ndetection:\n  sel:\n    message: foo\n  condition: sel\n";
        let problems = check("custom", text).expect_err("no id");
        assert!(problems.iter().any(|p| p.cause.contains("no id")), "{problems:?}");

        let mut set = RuleSet::shipped();
        set.add_text("again.yml", SHIPPED[0].1);
        assert_eq!(set.len(), SHIPPED.len());
        assert_eq!(set.problems().len(), 1);
        assert!(set.problems()[0].cause.contains("already loaded"));
    }
}
