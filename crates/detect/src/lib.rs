//! Security events for the SOC: syslog in, one event schema, Sigma rules per
//! tenant, hits out.
//!
//! - `syslog`: RFC 5424 / 3164 headers and TCP framing.
//! - `parse`: firewall and Linux authentication lines into `SecEvent`.
//! - `rules`: the shipped rule set, extra rule directories, custom rules
//!   checked with errors that name the line.
//! - `engine`: a tenant's rules compiled once, evaluated per event, with
//!   correlation state (brute force, spraying, scans).

pub mod engine;
pub mod event;
pub mod parse;
pub mod rules;
pub mod syslog;

pub use engine::{Detector, Hit, HitKind};
pub use event::{Category, LogSource, Outcome, SecEvent};
pub use rules::{RuleProblem, RuleSet, RuleSummary};
