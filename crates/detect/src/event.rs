//! The one schema every security event is turned into: ECS-like field names
//! (`source.ip`, `user.name`, `event.action` …), whatever the line came from.
//!
//! `SecEvent` is read by the Sigma engine directly (it implements
//! `rsigma_eval::Event`), so matching costs no JSON per event. Keyword rules
//! search `message`, the line as it was sent.

use std::borrow::Cow;

use rsigma_eval::event::{Event, EventValue};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// What kind of thing happened (ECS `event.category`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Authentication,
    Network,
    Process,
    Iam,
    IntrusionDetection,
    #[default]
    Other,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Authentication => "authentication",
            Category::Network => "network",
            Category::Process => "process",
            Category::Iam => "iam",
            Category::IntrusionDetection => "intrusion_detection",
            Category::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        [
            Category::Authentication,
            Category::Network,
            Category::Process,
            Category::Iam,
            Category::IntrusionDetection,
            Category::Other,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// Whether it worked (ECS `event.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// The Sigma log source an event belongs to; rules of other sources are not
/// tried on it (a dimension left empty matches every rule).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSource {
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
}

/// One security event in our schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecEvent {
    /// When it happened, Unix milliseconds.
    pub at_ms: i64,
    /// The host that logged it (`host.name`).
    pub host: Option<String>,
    /// Which parser read it (`event.dataset`): `sshd`, `filterlog`, `raw` …
    pub dataset: String,
    pub category: Category,
    /// `event.action`, e.g. `ssh_login`, `block`, `pass`, `user_created`.
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    pub user: Option<String>,
    pub source_ip: Option<String>,
    pub source_port: Option<u16>,
    pub destination_ip: Option<String>,
    pub destination_port: Option<u16>,
    /// `network.transport`: tcp, udp, icmp …
    pub transport: Option<String>,
    pub process: Option<String>,
    pub pid: Option<u32>,
    pub command_line: Option<String>,
    /// The device that reported it (`observer.product`): opnsense, fortigate …
    pub observer: Option<String>,
    /// Firewall rule or policy that decided (`rule.name`).
    pub rule: Option<String>,
    /// Interface the packet came in on.
    pub interface: Option<String>,
    /// Syslog severity 0 (emergency) … 7 (debug).
    pub severity: Option<u8>,
    /// The line as sent (after the syslog header).
    pub message: String,
    pub logsource: LogSource,
    /// Vendor fields kept as they came (`labels.<key>`).
    pub labels: Vec<(String, String)>,
}

impl SecEvent {
    /// A line no parser knows: kept as it is.
    pub fn raw(at_ms: i64, host: Option<String>, message: String) -> SecEvent {
        SecEvent { at_ms, host, dataset: "raw".into(), message, ..SecEvent::default() }
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Nested ECS JSON, as stored and exported.
    pub fn to_ecs(&self) -> Value {
        let mut root = Map::new();
        let at = jiff::Timestamp::from_millisecond(self.at_ms).map(|t| t.to_string()).unwrap_or_default();
        root.insert("@timestamp".into(), json!(at));
        let mut event = Map::new();
        event.insert("dataset".into(), json!(self.dataset));
        event.insert("category".into(), json!(self.category.as_str()));
        put(&mut event, "action", self.action.as_deref());
        put(&mut event, "outcome", self.outcome.map(Outcome::as_str));
        root.insert("event".into(), Value::Object(event));
        nested(&mut root, "host", &[("name", self.host.as_deref().map(Value::from))]);
        nested(&mut root, "user", &[("name", self.user.as_deref().map(Value::from))]);
        nested(
            &mut root,
            "source",
            &[("ip", self.source_ip.as_deref().map(Value::from)), ("port", self.source_port.map(Value::from))],
        );
        nested(
            &mut root,
            "destination",
            &[
                ("ip", self.destination_ip.as_deref().map(Value::from)),
                ("port", self.destination_port.map(Value::from)),
            ],
        );
        nested(&mut root, "network", &[("transport", self.transport.as_deref().map(Value::from))]);
        nested(
            &mut root,
            "process",
            &[
                ("name", self.process.as_deref().map(Value::from)),
                ("pid", self.pid.map(Value::from)),
                ("command_line", self.command_line.as_deref().map(Value::from)),
            ],
        );
        nested(&mut root, "observer", &[("product", self.observer.as_deref().map(Value::from))]);
        nested(&mut root, "rule", &[("name", self.rule.as_deref().map(Value::from))]);
        if let Some(level) = self.severity {
            root.insert("log".into(), json!({"syslog": {"severity": {"code": level}}}));
        }
        if !self.labels.is_empty() {
            let labels: Map<String, Value> = self.labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            root.insert("labels".into(), Value::Object(labels));
        }
        root.insert("message".into(), json!(self.message));
        Value::Object(root)
    }

    /// One field by its dotted name, as the rules see it.
    fn field(&self, path: &str) -> Option<EventValue<'_>> {
        fn s(v: &Option<String>) -> Option<EventValue<'_>> {
            v.as_deref().map(|x| EventValue::Str(Cow::Borrowed(x)))
        }
        let n = |v: Option<u16>| v.map(|x| EventValue::Int(i64::from(x)));
        match path {
            "message" => Some(EventValue::Str(Cow::Borrowed(&self.message))),
            "host.name" => s(&self.host),
            "event.dataset" => Some(EventValue::Str(Cow::Borrowed(&self.dataset))),
            "event.category" => Some(EventValue::Str(Cow::Borrowed(self.category.as_str()))),
            "event.action" => s(&self.action),
            "event.outcome" => self.outcome.map(|o| EventValue::Str(Cow::Borrowed(o.as_str()))),
            "user.name" => s(&self.user),
            "source.ip" => s(&self.source_ip),
            "source.port" => n(self.source_port),
            "destination.ip" => s(&self.destination_ip),
            "destination.port" => n(self.destination_port),
            "network.transport" => s(&self.transport),
            "process.name" => s(&self.process),
            "process.pid" => self.pid.map(|p| EventValue::Int(i64::from(p))),
            "process.command_line" => s(&self.command_line),
            "observer.product" => s(&self.observer),
            "rule.name" => s(&self.rule),
            "observer.ingress.interface.name" => s(&self.interface),
            "log.syslog.severity.code" => self.severity.map(|v| EventValue::Int(i64::from(v))),
            LOGSOURCE_PRODUCT => s(&self.logsource.product),
            LOGSOURCE_SERVICE => s(&self.logsource.service),
            LOGSOURCE_CATEGORY => s(&self.logsource.category),
            // Vendor fields: `labels.<key>`, or the bare key as the device
            // wrote it (auditd's `type`, `a0`; Fortinet's `attack` …).
            other => {
                let key = other.strip_prefix("labels.").unwrap_or(other);
                self.label(key).map(|v| EventValue::Str(Cow::Borrowed(v)))
            }
        }
    }
}

/// Event fields the engine reads the log source from (not ECS; internal).
pub const LOGSOURCE_PRODUCT: &str = "leitstand.logsource.product";
pub const LOGSOURCE_SERVICE: &str = "leitstand.logsource.service";
pub const LOGSOURCE_CATEGORY: &str = "leitstand.logsource.category";

fn put(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        map.insert(key.into(), json!(v));
    }
}

fn nested(root: &mut Map<String, Value>, name: &str, fields: &[(&str, Option<Value>)]) {
    let inner: Map<String, Value> =
        fields.iter().filter_map(|(k, v)| v.clone().map(|v| ((*k).to_string(), v))).collect();
    if !inner.is_empty() {
        root.insert(name.into(), Value::Object(inner));
    }
}

impl Event for SecEvent {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        self.field(path)
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        pred(&self.message)
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        vec![Cow::Borrowed(&self.message)]
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        visit(&self.message)
    }

    fn to_json(&self) -> Value {
        self.to_ecs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_by_ecs_name_and_json_is_nested() {
        let e = SecEvent {
            at_ms: 1_700_000_000_000,
            dataset: "sshd".into(),
            category: Category::Authentication,
            outcome: Some(Outcome::Failure),
            user: Some("root".into()),
            source_ip: Some("203.0.113.5".into()),
            source_port: Some(4242),
            labels: vec![("devname".into(), "FGT".into())],
            message: "Failed password".into(),
            ..SecEvent::default()
        };
        assert_eq!(e.get_field("user.name"), Some(EventValue::Str(Cow::Borrowed("root"))));
        assert_eq!(e.get_field("source.port"), Some(EventValue::Int(4242)));
        assert_eq!(e.get_field("labels.devname"), Some(EventValue::Str(Cow::Borrowed("FGT"))));
        assert_eq!(e.get_field("destination.ip"), None);
        let j = e.to_ecs();
        assert_eq!(j["source"]["ip"], "203.0.113.5");
        assert_eq!(j["event"]["outcome"], "failure");
        assert_eq!(j["@timestamp"], "2023-11-14T22:13:20Z");
        assert!(j.get("destination").is_none());
    }
}
