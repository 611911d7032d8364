//! One tenant's detection: the rule set minus what the tenant switched off,
//! plus its custom rules, compiled once into an rsigma `CorrelationEngine`
//! (with our field-mapping pipeline and log-source pruning) that keeps the
//! correlation windows between events.

use std::collections::{HashMap, HashSet};

use leitstand_domain::alert::Severity;
use rsigma_eval::correlation_engine::{CorrelationAction, CorrelationConfig, CorrelationEngine};
use rsigma_eval::result::{EvaluationResult, ResultBody};
use rsigma_eval::LogSourceExtractor;
use rsigma_parser::SigmaCollection;

use crate::event::{SecEvent, LOGSOURCE_CATEGORY, LOGSOURCE_PRODUCT, LOGSOURCE_SERVICE};
use crate::rules::{pipeline, severity, RuleProblem, RuleSet};

/// Most correlation groups kept per tenant (memory bound under a flood).
pub const MAX_STATE: usize = 50_000;

/// Whether a single event matched or a correlation fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HitKind {
    Detection,
    /// `count` events (or distinct values) within `window_secs`.
    Correlation {
        count: u64,
        window_secs: u64,
    },
}

/// A rule that fired on an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub kind: HitKind,
    /// What repeats are grouped by: the correlation's group (`source.ip=…`),
    /// else the event's source address, else its host.
    pub group: String,
    /// Fields that matched (`field=value`), for the analyst.
    pub matched: Vec<String>,
}

/// The compiled rules of one tenant with their correlation state.
pub struct Detector {
    engine: CorrelationEngine,
    rules: usize,
}

impl Detector {
    /// Compiles the rule set without the `disabled` rule ids, plus the
    /// tenant's custom rules (already checked; any that still fail are
    /// returned, the rest load).
    pub fn build(
        set: &RuleSet,
        disabled: &HashSet<String>,
        custom: &[(String, String)],
    ) -> (Detector, Vec<RuleProblem>) {
        let mut all = set.clone();
        for (origin, text) in custom {
            all.add_text(origin, text);
        }
        let problems = all.problems()[set.problems().len()..].to_vec();
        let keep = |id: &Option<String>| id.as_ref().is_none_or(|id| !disabled.contains(id));
        let collection = SigmaCollection {
            rules: all.collection.rules.iter().filter(|r| keep(&r.id)).cloned().collect(),
            correlations: all.collection.correlations.iter().filter(|c| keep(&c.id)).cloned().collect(),
            filters: all.collection.filters.clone(),
            errors: Vec::new(),
        };
        let config = CorrelationConfig {
            max_state_entries: MAX_STATE,
            max_group_entries: Some(1_000),
            action_on_match: CorrelationAction::Reset,
            // Rules only counted by a correlation (`generate: false`) raise nothing alone.
            emit_detections: false,
            ..CorrelationConfig::default()
        };
        let mut engine = CorrelationEngine::new(config);
        engine.add_pipeline(pipeline());
        engine.set_logsource_extractor(Some(LogSourceExtractor::new().with_field_names(
            LOGSOURCE_PRODUCT,
            LOGSOURCE_SERVICE,
            LOGSOURCE_CATEGORY,
        )));
        let rules = collection.rules.len() + collection.correlations.len();
        let mut problems = problems;
        if let Err(e) = engine.add_collection(&collection) {
            // Every rule compiled alone in `check`; a failure here is a clash
            // between rules (e.g. a correlation naming a switched-off rule).
            problems.push(RuleProblem { origin: "rule set".into(), line: None, cause: e.to_string() });
        }
        (Detector { engine, rules }, problems)
    }

    /// Rules and correlations loaded.
    pub fn rule_count(&self) -> usize {
        self.rules
    }

    /// Runs one event through the rules and the correlation windows.
    pub fn process(&mut self, event: &SecEvent) -> Vec<Hit> {
        let results = self.engine.process_event_at(event, event.at_ms.div_euclid(1000));
        results.iter().map(|r| hit(r, event)).collect()
    }

    /// Single-event matches only, correlation-only rules included and no
    /// state kept (for tests and "which rules would match this line").
    pub fn matches(&self, event: &SecEvent) -> Vec<Hit> {
        self.engine.engine().evaluate(event).iter().map(|r| hit(r, event)).collect()
    }

    /// Correlation groups held now.
    pub fn state_count(&self) -> usize {
        self.engine.state_count()
    }
}

fn hit(r: &EvaluationResult, event: &SecEvent) -> Hit {
    let fallback = || {
        event
            .source_ip
            .as_ref()
            .map(|ip| format!("source.ip={ip}"))
            .or_else(|| event.host.as_ref().map(|h| format!("host.name={h}")))
            .unwrap_or_default()
    };
    let (kind, group, matched) = match &r.body {
        ResultBody::Correlation(c) => (
            HitKind::Correlation { count: c.aggregated_value as u64, window_secs: c.timespan_secs },
            c.group_key.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
            Vec::new(),
        ),
        ResultBody::Detection(d) => (
            HitKind::Detection,
            fallback(),
            d.matched_fields.iter().map(|m| format!("{}={}", m.field, m.value)).collect(),
        ),
    };
    Hit {
        rule_id: r.header.rule_id.clone().unwrap_or_else(|| r.header.rule_title.clone()),
        title: r.header.rule_title.clone(),
        severity: severity(r.header.level),
        kind,
        group,
        matched,
    }
}

/// Detectors per tenant, rebuilt when a tenant's rule choice changes.
pub struct Detectors<K> {
    by_tenant: HashMap<K, (u64, Detector)>,
}

impl<K> Default for Detectors<K> {
    fn default() -> Self {
        Self { by_tenant: HashMap::new() }
    }
}

impl<K: std::hash::Hash + Eq + Clone> Detectors<K> {
    /// Whether the tenant's detector is built for rule version `version`.
    pub fn is_current(&self, tenant: &K, version: u64) -> bool {
        self.by_tenant.get(tenant).is_some_and(|(v, _)| *v == version)
    }

    /// The tenant's detector for rule version `version`, built by `build`
    /// when missing or older.
    pub fn get(&mut self, tenant: &K, version: u64, build: impl FnOnce() -> Detector) -> &mut Detector {
        let fresh = self.by_tenant.get(tenant).is_some_and(|(v, _)| *v == version);
        if !fresh {
            self.by_tenant.insert(tenant.clone(), (version, build()));
        }
        &mut self.by_tenant.get_mut(tenant).expect("inserted above").1
    }
}
