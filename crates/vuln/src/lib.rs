//! Vulnerabilities of installed software (VULN-1): advisory feeds in, the
//! distribution's version order, findings out. No I/O but reading feed files.
//!
//! - `version`: dpkg and rpm version order.
//! - `release`: a host's distribution release, its advisory keys and end of
//!   support.
//! - `feed`: the Debian Security Tracker JSON and OSV records.
//! - `db`: the index the feeds build; CVSS scores.
//! - `matching`: installed packages against the index.

pub mod db;
pub mod feed;
pub mod matching;
pub mod release;
pub mod version;

pub use db::{Db, Entry, FeedStats, Fix, Score};
pub use feed::{FeedError, FeedKind};
pub use matching::{scan, Finding, Installed, Scan, State};
pub use release::{Family, Release};
pub use version::Manager;
