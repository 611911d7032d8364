//! Actions the server asks an agent to run (DESIGN invariant 5): a fixed
//! catalogue of typed actions, each sent in a signed envelope that names the
//! host it is for and when it expires, and the report the agent sends back.
//! The agent checks signature, expiry, target and its local allow-list
//! before anything runs; nothing here is a shell string.

use serde::{Deserialize, Serialize};

/// The catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Update these installed packages to the package manager's candidate
    /// (PATCH-2); the previous versions are recorded first and restored when
    /// the update fails (PATCH-4).
    ApplyUpdates { packages: Vec<String> },
}

impl Action {
    /// The name the agent's allow-list uses.
    pub fn name(&self) -> &'static str {
        match self {
            Action::ApplyUpdates { .. } => "apply_updates",
        }
    }
}

/// A name `apply_updates` takes: a Debian package name (lower case, digits,
/// `+ - . :`), at most 100 bytes. The server plans with it and the agent
/// checks it again before anything runs.
pub fn is_package_name(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 100
        && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.:".contains(c))
}

/// An action for one host, signed with the server's action key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAction {
    /// Unique per server; the agent runs an id once.
    pub id: i64,
    /// The host it is for.
    pub host: i64,
    /// Unix milliseconds after which the agent refuses it.
    pub not_after_ms: i64,
    pub action: Action,
    /// Ed25519 over [`SignedAction::signing_input`], hex.
    pub signature: String,
}

impl SignedAction {
    /// The bytes that are signed: a version line, id, host, expiry and the
    /// action as JSON.
    pub fn signing_input(id: i64, host: i64, not_after_ms: i64, action: &Action) -> String {
        let action = serde_json::to_string(action).unwrap_or_default();
        format!("leitstand-action-v1\n{id}\n{host}\n{not_after_ms}\n{action}")
    }
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    /// Failed; nothing had changed, or the previous state was restored.
    RolledBack,
    /// Failed and the previous state could not be restored (the report says
    /// what is installed now).
    Failed,
    /// Not run: signature, expiry, target or allow-list did not fit.
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::RolledBack => "rolled_back",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
        }
    }
}

/// A package's version before and after an action (`None`: not installed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageChange {
    pub name: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What the agent reports of an action, through its spool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionReport {
    pub id: i64,
    pub outcome: Outcome,
    /// What happened, in order, for a person to read (commands run, their
    /// last output lines, the rollback).
    pub detail: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageChange>,
    pub finished_ms: i64,
}
