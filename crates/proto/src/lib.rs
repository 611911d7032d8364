//! Wire types shared by the agent and the server (serde only, versioned).
//!
//! The agent keeps [`Record`]s in its spool and sends them in [`Batch`]es;
//! each record has a sequence number per agent, so the server can ingest
//! idempotently (agent id + sequence) and acknowledge up to a sequence.

pub mod actions;
pub mod checklist;
pub mod inventory;
pub mod version;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the agent–server protocol.
pub const PROTOCOL_VERSION: u32 = 1;

/// One measured value of a metric at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Metric name, e.g. `cpu_usage_percent`, `disk_used_bytes`.
    pub name: String,
    /// Labels that tell series apart, e.g. `mount=/`, `cpu=3`, `iface=eth0`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    pub fn new(name: &str, value: f64) -> Self {
        Self { name: name.to_owned(), labels: BTreeMap::new(), value }
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }
}

/// What the agent keeps and sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// Samples taken at one moment (Unix milliseconds).
    Metrics { at_ms: i64, samples: Vec<Sample> },
    /// The agent is alive.
    Heartbeat { at_ms: i64 },
    /// Records the spool had to give up, by kind, since the last report.
    Dropped { at_ms: i64, metrics: u64, events: u64 },
    /// Damage found in the spool at start: records that failed their
    /// checksum and bytes of a torn tail.
    SpoolDamage { at_ms: i64, corrupted_records: u64, torn_bytes: u64 },
    /// Inventory sections read at one moment: whole or as changes since the
    /// previous record (INV-1 … INV-6).
    Inventory { at_ms: i64, sections: Vec<inventory::SectionReport> },
    /// Security-relevant system events (RISK-2): sign-ins, su, sudo.
    Events { events: Vec<SystemEvent> },
    /// The hardening checklist's results, every check (RISK-1).
    Checklist { at_ms: i64, results: Vec<checklist::CheckResult> },
    /// How an action the server sent ended (PATCH-2, PATCH-4).
    Action { report: actions::ActionReport },
    /// Lines of the Linux audit log (`/var/log/audit/audit.log`) as auditd
    /// wrote them, each at most [`MAX_AUDIT_LINE`] bytes; each carries its
    /// own time (SOC-1).
    Audit { lines: Vec<String> },
}

/// Longest audit-log line a [`Record::Audit`] carries (the agent cuts, the
/// server refuses longer ones); as long as a syslog line the SOC keeps.
pub const MAX_AUDIT_LINE: usize = 8 * 1024;

/// Kinds of [`SystemEvent`].
pub const SYSTEM_EVENT_KINDS: [&str; 11] = [
    "auth.login",
    "auth.login_failed",
    "auth.invalid_user",
    "auth.su",
    "auth.su_failed",
    "auth.sudo",
    "auth.sudo_failed",
    "auth.sudo_denied",
    "oom.killed",
    "oom.database_killed",
    "cert.renewal_failed",
];

/// A sign-in, su or sudo read from the journal or the auth log, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SystemEvent {
    pub at_ms: i64,
    /// One of [`SYSTEM_EVENT_KINDS`].
    pub kind: String,
    /// `sshd`, `login`, `su`, `sudo`.
    pub service: String,
    /// Who signed in or tried to (for sudo and su: who ran it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// Remote address, for network sign-ins.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// `password`, `publickey`, `keyboard-interactive` …
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// The account switched to (su, sudo).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// The command run through sudo.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tty: String,
    /// The line it was read from, as logged (for the SOC's rules).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Which records go first when the spool is full: metrics are dropped before
/// anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Low = 0,
    High = 1,
}

impl Record {
    pub fn priority(&self) -> Priority {
        match self {
            Record::Metrics { .. } => Priority::Low,
            _ => Priority::High,
        }
    }
}

/// Records sent together; `seq` numbers are strictly increasing per agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub protocol: u32,
    pub records: Vec<Sequenced>,
    /// The build of the agent that sends (for upgrades, AGT-4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentBuild>,
}

impl Batch {
    /// A batch of this protocol version that names no agent build.
    pub fn new(records: Vec<Sequenced>) -> Self {
        Self { protocol: PROTOCOL_VERSION, records, agent: None }
    }
}

/// Which agent build runs: its version and the SHA-256 of its binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentBuild {
    pub version: String,
    /// SHA-256 of the running binary, hex.
    pub sha256: String,
}

/// An agent build the server offers (AGT-4): the agent downloads
/// `/downloads/leitstand-agent`, checks the digest and the Ed25519
/// signature with the release key it got at enrollment, tries the new
/// binary, and keeps the old one unless the new one checks in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentUpgrade {
    pub version: String,
    /// SHA-256 of the binary, hex.
    pub sha256: String,
    /// Ed25519 signature of [`release_input`], hex.
    pub signature: String,
}

/// The bytes a release signature covers.
pub fn release_input(version: &str, sha256_hex: &str) -> String {
    format!("leitstand-agent-release-v1\n{version}\n{sha256_hex}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sequenced {
    pub seq: u64,
    pub record: Record,
}

/// The server's answer once the batch is durably committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// Every record up to and including this sequence is stored.
    pub up_to: u64,
    /// The settings the server wants the agent to run with now (AGT-4);
    /// the agent applies them without restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<AgentSettings>,
    /// A newer build to upgrade to, when the server ships another one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<AgentUpgrade>,
    /// Signed actions for this host that it has not reported yet; sent again
    /// with every acknowledgement until reported or expired (the agent runs
    /// an id once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<actions::SignedAction>,
}

/// Settings pushed to the agent with every acknowledgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSettings {
    /// Seconds between two collections.
    pub interval_secs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_as_tagged_json() {
        let r = Record::Metrics { at_ms: 1, samples: vec![Sample::new("load1", 0.5).with("host", "a")] };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"kind\":\"metrics\""));
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), r);
        assert_eq!(r.priority(), Priority::Low);
        assert_eq!(Record::Heartbeat { at_ms: 1 }.priority(), Priority::High);
    }
}

/// How agent requests are signed (Ed25519 over [`signing_input`]).
pub mod signing {
    /// Header with the host id the server gave at enrollment.
    pub const HOST: &str = "x-leitstand-host";
    /// Unix milliseconds when the agent signed the request.
    pub const TIMESTAMP: &str = "x-leitstand-timestamp";
    /// 16 random bytes, hex; each may be used once.
    pub const NONCE: &str = "x-leitstand-nonce";
    /// Ed25519 signature of [`signing_input`], hex.
    pub const SIGNATURE: &str = "x-leitstand-signature";
    /// How far the agent's clock may be from the server's, in milliseconds.
    pub const WINDOW_MS: i64 = 5 * 60 * 1000;

    /// The bytes that are signed: method, path, timestamp, nonce and the
    /// SHA-256 of the body (hex), one per line.
    pub fn signing_input(method: &str, path: &str, timestamp_ms: i64, nonce: &str, body_sha256_hex: &str) -> String {
        format!("leitstand-agent-v1\n{method}\n{path}\n{timestamp_ms}\n{nonce}\n{body_sha256_hex}")
    }
}

/// What an agent sends to enrol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The single-use enrollment token from the dashboard.
    pub token: String,
    /// Host name as the host knows itself.
    pub name: String,
    /// Operating system, e.g. `Debian GNU/Linux 12 (bookworm)`.
    pub os: String,
    /// Ed25519 public key, 64 hex characters.
    pub public_key: String,
    pub protocol: u32,
}

/// The server's answer to an enrollment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub host_id: i64,
    /// Collection interval the server asks for.
    pub interval_secs: u64,
    /// The server's Ed25519 key for agent releases, hex; upgrades must be
    /// signed with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_key: Option<String>,
    /// The server's Ed25519 key for actions, hex: every action must be
    /// signed with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_key: Option<String>,
}

/// An error answer to the agent, with a reason its operator can act on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentError {
    pub error: String,
    pub message: String,
}
