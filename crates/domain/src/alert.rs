//! Alarm rules and alerts (ALARM-1, ALARM-2, SOC-3), as pure rules: the
//! severities and what they mean, the rule kinds with their checks, the
//! threshold tracker with hysteresis and a minimum duration, the alert
//! lifecycle, and the default rules every tenant starts with. Time comes in
//! as arguments; nothing here reads a clock.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// How urgent an alert is (SOC-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// No direct action needed.
    Low,
    /// Timely action.
    Medium,
    /// Very timely action.
    High,
    /// Immediate action.
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Which side of the threshold is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Above,
    Below,
}

/// What a rule watches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleKind {
    /// A metric (standard or custom) beyond a value for a while; recovers
    /// only once back past `recover`, so a value hovering at the line does
    /// not flap.
    Threshold {
        metric: String,
        /// Only series with these labels (e.g. `mount=/`); empty: every series.
        #[serde(default)]
        labels: std::collections::BTreeMap<String, String>,
        direction: Direction,
        value: f64,
        /// The value must stay beyond `value` this long before the alert opens.
        for_secs: u32,
        /// The value at which the alert resolves; between `value` and the good side.
        recover: f64,
    },
    /// A host stopped reporting (MON-4).
    HostDown,
    /// Events of these kinds (`user.created`) or groups (`software.`).
    Event { kinds: Vec<String> },
    /// Hits of the SOC's Sigma rules (SOC-2); each hit brings its own
    /// severity, and repeats group per Sigma rule and source.
    Soc,
    /// A slot whose source comes with a later feature (network traffic,
    /// vulnerabilities); it can be set up and switched off already.
    Pending { source: String },
}

/// Most seconds a threshold may wait before it fires (one day).
pub const MAX_FOR_SECS: u32 = 86_400;

/// A rule that cannot work, with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

impl RuleKind {
    /// Checks a rule as a person or program wrote it.
    pub fn validate(&self) -> Result<(), RuleError> {
        let bad = |m: String| Err(RuleError(m));
        match self {
            RuleKind::Threshold { metric, labels, direction, value, for_secs, recover } => {
                let name_ok = |n: &str| {
                    !n.is_empty()
                        && n.len() <= 200
                        && n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':')
                        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                };
                if !name_ok(metric) {
                    return bad(format!("metric {metric:?} is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"));
                }
                if let Some(k) = labels.keys().find(|k| !name_ok(k)) {
                    return bad(format!("label {k:?} is not a label name"));
                }
                if !value.is_finite() || !recover.is_finite() {
                    return bad("value and recover must be numbers".into());
                }
                if *for_secs > MAX_FOR_SECS {
                    return bad(format!("for_secs {for_secs} is more than a day ({MAX_FOR_SECS})"));
                }
                let recover_ok = match direction {
                    Direction::Above => recover <= value,
                    Direction::Below => recover >= value,
                };
                if !recover_ok {
                    let side = if *direction == Direction::Above { "at or below" } else { "at or above" };
                    return bad(format!("recover {recover} must be {side} the threshold {value}"));
                }
                Ok(())
            }
            RuleKind::HostDown | RuleKind::Soc | RuleKind::Pending { .. } => Ok(()),
            RuleKind::Event { kinds } => {
                if kinds.is_empty() {
                    return bad("an event rule needs at least one event kind".into());
                }
                match kinds.iter().find(|k| {
                    k.is_empty()
                        || !k.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
                        || !k.contains('.')
                }) {
                    Some(k) => bad(format!("{k:?} is not an event kind (like user.created) or group (like software.)")),
                    None => Ok(()),
                }
            }
        }
    }

    /// Whether an event of `kind` matches this (event) rule.
    pub fn matches_event(&self, kind: &str) -> bool {
        match self {
            RuleKind::Event { kinds } => {
                kinds.iter().any(|k| if k.ends_with('.') { kind.starts_with(k.as_str()) } else { kind == k })
            }
            RuleKind::HostDown => kind == "host.down",
            _ => false,
        }
    }
}

/// What a new measurement did to a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    /// Beyond the threshold for the whole duration: the alert opens.
    Fire,
    /// Back past the recovery value: the alert resolves.
    Recover,
}

/// The state of one threshold rule on one series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tracker {
    /// Since when the value is beyond the threshold (not yet firing).
    pub beyond_since: Option<Timestamp>,
    pub firing: bool,
}

impl Tracker {
    /// Takes one measurement of a threshold rule; says when the alert
    /// should open or resolve. Measurements must come in time order.
    pub fn observe(&mut self, rule: &RuleKind, value: f64, at: Timestamp) -> Option<Crossing> {
        let RuleKind::Threshold { direction, value: limit, for_secs, recover, .. } = rule else { return None };
        let beyond = match direction {
            Direction::Above => value > *limit,
            Direction::Below => value < *limit,
        };
        let recovered = match direction {
            Direction::Above => value <= *recover,
            Direction::Below => value >= *recover,
        };
        if self.firing {
            if recovered {
                *self = Tracker::default();
                return Some(Crossing::Recover);
            }
            return None;
        }
        if !beyond {
            self.beyond_since = None;
            return None;
        }
        let since = *self.beyond_since.get_or_insert(at);
        if at.duration_since(since) >= SignedDuration::from_secs(i64::from(*for_secs)) {
            self.firing = true;
            self.beyond_since = None;
            return Some(Crossing::Fire);
        }
        None
    }
}

/// The enabled threshold rules of a tenant, indexed by metric name, so a
/// sample costs one hash lookup however many rules there are.
#[derive(Debug, Default)]
pub struct Evaluator {
    by_metric: std::collections::HashMap<String, Vec<(i64, RuleKind)>>,
}

impl Evaluator {
    /// Takes `(rule id, kind)` pairs; kinds other than thresholds are left out.
    pub fn new(rules: impl IntoIterator<Item = (i64, RuleKind)>) -> Self {
        let mut by_metric: std::collections::HashMap<String, Vec<(i64, RuleKind)>> = Default::default();
        for (id, kind) in rules {
            if let RuleKind::Threshold { metric, .. } = &kind {
                by_metric.entry(metric.clone()).or_default().push((id, kind));
            }
        }
        Self { by_metric }
    }

    pub fn is_empty(&self) -> bool {
        self.by_metric.is_empty()
    }

    /// Whether any rule watches this metric (checked before the labels are read).
    pub fn watches(&self, metric: &str) -> bool {
        self.by_metric.contains_key(metric)
    }

    /// The rules that watch a series: same metric, and every label of the
    /// rule's filter present with the same value.
    pub fn matching<'a>(
        &'a self,
        metric: &str,
        labels: &'a std::collections::BTreeMap<String, String>,
    ) -> impl Iterator<Item = (i64, &'a RuleKind)> + 'a {
        self.by_metric.get(metric).into_iter().flatten().filter_map(move |(id, kind)| match kind {
            RuleKind::Threshold { labels: want, .. } if want.iter().all(|(k, v)| labels.get(k) == Some(v)) => {
                Some((*id, kind))
            }
            _ => None,
        })
    }
}

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Open,
    Acknowledged,
    Muted,
    Resolved,
}

impl AlertState {
    pub const ALL: [AlertState; 4] =
        [AlertState::Open, AlertState::Acknowledged, AlertState::Muted, AlertState::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Muted => "muted",
            AlertState::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<AlertState> {
        AlertState::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Still needs someone: not resolved (a mute ends by itself).
    pub fn is_active(self) -> bool {
        self != AlertState::Resolved
    }
}

/// What a person (or the rule itself) does to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertAction {
    Acknowledge,
    Mute {
        until: Timestamp,
    },
    Resolve,
    /// The rule matched again on the same host: counted on the alert.
    Repeat,
}

/// The lifecycle: open → acknowledged → resolved, or muted until a time;
/// a repeat counts on an active alert (a muted one whose time has passed
/// opens again). A resolved alert does not change; a repeat after it makes
/// a new alert.
pub fn next_state(
    state: AlertState,
    muted_until: Option<Timestamp>,
    action: AlertAction,
    now: Timestamp,
) -> Result<AlertState, RuleError> {
    use AlertAction as A;
    use AlertState as S;
    match (state, action) {
        (S::Resolved, _) => Err(RuleError("the alert is resolved; a new occurrence opens a new alert".into())),
        (_, A::Mute { until }) if until <= now => Err(RuleError("mute until a time in the future".into())),
        (_, A::Mute { .. }) => Ok(S::Muted),
        (_, A::Resolve) => Ok(S::Resolved),
        (S::Acknowledged, A::Acknowledge) => Err(RuleError("the alert is already acknowledged".into())),
        (_, A::Acknowledge) => Ok(S::Acknowledged),
        (S::Muted, A::Repeat) if muted_until.is_none_or(|u| u <= now) => Ok(S::Open),
        (s, A::Repeat) => Ok(s),
    }
}

/// Rules whose alerts mean danger is imminent (ALARM-4): the provider may
/// act at once, without waiting for the customer.
pub const IMMINENT: [&str; 3] = ["disk-full", "database-oom-killed", "certificate-renewal-failed"];

/// A rule every tenant starts with; the customer may change or switch it off.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultRule {
    /// Stable key, also the message key of its name (`rule-<key>`).
    pub key: &'static str,
    pub severity: Severity,
    pub kind: RuleKind,
}

/// The twelve default alarms of ALARM-1, the thresholds of ALARM-2 (CPU on
/// the machine's total, every file system) and the imminent dangers of ALARM-4.
pub fn default_rules() -> Vec<DefaultRule> {
    let event = |key, severity, kinds: &[&str]| DefaultRule {
        key,
        severity,
        kind: RuleKind::Event { kinds: kinds.iter().map(|k| (*k).to_owned()).collect() },
    };
    let threshold = |key, severity, metric: &str, value, recover, for_secs| DefaultRule {
        key,
        severity,
        kind: RuleKind::Threshold {
            metric: metric.into(),
            labels: if metric == "cpu_usage_percent" {
                [("cpu".to_owned(), "total".to_owned())].into()
            } else {
                Default::default()
            },
            direction: Direction::Above,
            value,
            for_secs,
            recover,
        },
    };
    vec![
        DefaultRule {
            key: "suspicious-traffic",
            severity: Severity::High,
            kind: RuleKind::Pending { source: "network".into() },
        },
        event("new-vulnerability", Severity::High, &["vulnerability.new"]),
        DefaultRule { key: "soc-detection", severity: Severity::High, kind: RuleKind::Soc },
        event("software-changed", Severity::Low, &["software.installed", "software.removed"]),
        event("invalid-user-login", Severity::Medium, &["auth.invalid_user"]),
        event("locked-account-enabled", Severity::High, &["user.unlocked"]),
        event("locked-admin-enabled", Severity::Critical, &["user.admin_unlocked"]),
        event("privileges-elevated", Severity::High, &["user.elevated"]),
        event("failed-login", Severity::Low, &["auth.login_failed", "auth.su_failed", "auth.sudo_failed"]),
        event("user-created", Severity::Medium, &["user.created"]),
        event("admin-created", Severity::High, &["user.admin_created"]),
        event("host-restarted", Severity::Low, &["host.restarted"]),
        event("autostart-added", Severity::Medium, &["autostart.added"]),
        threshold("cpu-high", Severity::Medium, "cpu_usage_percent", 90.0, 80.0, 600),
        threshold("ram-high", Severity::Medium, "mem_used_percent", 90.0, 85.0, 600),
        threshold("disk-high", Severity::High, "fs_used_percent", 90.0, 85.0, 300),
        threshold("disk-full", Severity::Critical, "fs_used_percent", 99.5, 95.0, 0),
        event("database-oom-killed", Severity::Critical, &["oom.database_killed"]),
        event("certificate-renewal-failed", Severity::High, &["cert.renewal_failed"]),
        DefaultRule { key: "host-down", severity: Severity::High, kind: RuleKind::HostDown },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).expect("time")
    }

    fn disk() -> RuleKind {
        RuleKind::Threshold {
            metric: "fs_used_percent".into(),
            labels: [("mount".to_owned(), "/".to_owned())].into(),
            direction: Direction::Above,
            value: 90.0,
            for_secs: 300,
            recover: 85.0,
        }
    }

    #[test]
    fn a_threshold_fires_after_its_duration_and_recovers_with_hysteresis() {
        let rule = disk();
        let mut tr = Tracker::default();
        assert_eq!(tr.observe(&rule, 95.0, t(0)), None, "beyond, but not for 5 minutes yet");
        assert_eq!(tr.observe(&rule, 96.0, t(200)), None);
        assert_eq!(tr.observe(&rule, 97.0, t(300)), Some(Crossing::Fire));
        assert_eq!(tr.observe(&rule, 97.0, t(310)), None, "fires once");
        assert_eq!(tr.observe(&rule, 88.0, t(320)), None, "below 90 but above 85: still firing");
        assert_eq!(tr.observe(&rule, 91.0, t(330)), None, "no flapping");
        assert_eq!(tr.observe(&rule, 84.0, t(340)), Some(Crossing::Recover));
        assert_eq!(tr, Tracker::default());
    }

    #[test]
    fn a_dip_below_the_threshold_restarts_the_duration() {
        let rule = disk();
        let mut tr = Tracker::default();
        tr.observe(&rule, 95.0, t(0));
        tr.observe(&rule, 80.0, t(100));
        assert_eq!(tr.observe(&rule, 95.0, t(200)), None);
        assert_eq!(tr.observe(&rule, 95.0, t(450)), None, "only 250 s since the dip");
        assert_eq!(tr.observe(&rule, 95.0, t(500)), Some(Crossing::Fire));
    }

    #[test]
    fn a_below_threshold_works_the_other_way() {
        let rule = RuleKind::Threshold {
            metric: "backup_free_percent".into(),
            labels: Default::default(),
            direction: Direction::Below,
            value: 10.0,
            for_secs: 0,
            recover: 15.0,
        };
        rule.validate().expect("valid");
        let mut tr = Tracker::default();
        assert_eq!(tr.observe(&rule, 5.0, t(0)), Some(Crossing::Fire), "no duration: at once");
        assert_eq!(tr.observe(&rule, 12.0, t(10)), None);
        assert_eq!(tr.observe(&rule, 15.0, t(20)), Some(Crossing::Recover));
    }

    #[test]
    fn invalid_rules_say_what_is_wrong() {
        let with = |metric: &str, value: f64, recover: f64, for_secs: u32| RuleKind::Threshold {
            metric: metric.into(),
            labels: Default::default(),
            direction: Direction::Above,
            value,
            for_secs,
            recover,
        };
        assert!(with("fs_used_percent", 90.0, 85.0, 300).validate().is_ok());
        let e = |r: RuleKind| r.validate().expect_err("invalid").0;
        assert!(e(with("fs used", 90.0, 85.0, 0)).contains("not a metric name"));
        assert!(e(with("cpu", 90.0, 95.0, 0)).contains("at or below the threshold 90"));
        assert!(e(with("cpu", f64::NAN, 85.0, 0)).contains("numbers"));
        assert!(e(with("cpu", 90.0, 85.0, 100_000)).contains("more than a day"));
        assert!(e(RuleKind::Event { kinds: vec![] }).contains("at least one"));
        assert!(e(RuleKind::Event { kinds: vec!["DROP TABLE".into()] }).contains("not an event kind"));
    }

    #[test]
    fn event_rules_match_kinds_and_groups() {
        let r = RuleKind::Event { kinds: vec!["software.".into(), "user.created".into()] };
        assert!(r.matches_event("software.updated") && r.matches_event("user.created"));
        assert!(!r.matches_event("user.removed") && !r.matches_event("softwarex"));
        assert!(RuleKind::HostDown.matches_event("host.down"));
    }

    #[test]
    fn the_evaluator_finds_rules_by_metric_and_label_filter() {
        let root = disk();
        let any_fs = RuleKind::Threshold {
            metric: "fs_used_percent".into(),
            labels: Default::default(),
            direction: Direction::Above,
            value: 99.0,
            for_secs: 0,
            recover: 95.0,
        };
        let ev = Evaluator::new([(1, root), (2, any_fs), (3, RuleKind::HostDown)]);
        let labels = |m: &str| [("mount".to_owned(), m.to_owned())].into();
        let ids = |m: &str| ev.matching("fs_used_percent", &labels(m)).map(|(id, _)| id).collect::<Vec<_>>();
        let root_labels: std::collections::BTreeMap<String, String> = labels("/");
        assert_eq!(ids("/"), vec![1, 2]);
        assert_eq!(ids("/var"), vec![2]);
        assert_eq!(ev.matching("cpu_usage_percent", &root_labels).count(), 0);
        assert!(ev.watches("fs_used_percent") && !ev.watches("load1"));
    }

    #[test]
    fn the_alert_lifecycle() {
        use AlertAction as A;
        use AlertState as S;
        let now = t(0);
        assert_eq!(next_state(S::Open, None, A::Acknowledge, now), Ok(S::Acknowledged));
        assert!(next_state(S::Acknowledged, None, A::Acknowledge, now).is_err());
        assert_eq!(next_state(S::Acknowledged, None, A::Resolve, now), Ok(S::Resolved));
        assert_eq!(next_state(S::Open, None, A::Mute { until: t(60) }, now), Ok(S::Muted));
        assert!(next_state(S::Open, None, A::Mute { until: t(-1) }, now).is_err(), "mute into the past");
        assert_eq!(next_state(S::Muted, Some(t(60)), A::Repeat, t(30)), Ok(S::Muted), "still muted");
        assert_eq!(next_state(S::Muted, Some(t(60)), A::Repeat, t(90)), Ok(S::Open), "the mute ran out");
        assert_eq!(next_state(S::Acknowledged, None, A::Repeat, now), Ok(S::Acknowledged), "counted, not reopened");
        assert!(next_state(S::Resolved, None, A::Repeat, now).is_err(), "a new alert instead");
    }

    #[test]
    fn the_defaults_are_the_twelve_alarms_four_thresholds_three_dangers_and_the_soc_all_valid() {
        let d = default_rules();
        assert_eq!(d.len(), 20);
        assert_eq!(d.iter().filter(|r| r.kind == RuleKind::Soc).count(), 1);
        for key in IMMINENT {
            assert!(d.iter().any(|r| r.key == key), "{key}");
        }
        assert_eq!(
            d.iter()
                .filter(|r| !IMMINENT.contains(&r.key))
                .filter(|r| matches!(r.kind, RuleKind::Event { .. } | RuleKind::Pending { .. }))
                .count(),
            12
        );
        for r in &d {
            r.kind.validate().unwrap_or_else(|e| panic!("{}: {e}", r.key));
        }
        let keys: std::collections::BTreeSet<_> = d.iter().map(|r| r.key).collect();
        assert_eq!(keys.len(), d.len(), "keys are unique");
        let admin = d.iter().find(|r| r.key == "locked-admin-enabled").expect("rule");
        assert!(admin.kind.matches_event("user.admin_unlocked") && admin.severity == Severity::Critical);
    }
}
