//! The agent's configuration, `/etc/leitstand/agent.toml` by default. Every
//! field has a default that works, so an empty file is a valid one.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Server base URL, e.g. `https://leitstand.example.de`.
    pub server: Option<String>,
    /// Seconds between two collections (5 to 3600).
    pub interval_secs: u64,
    /// Where the agent keeps its state (spool, keys).
    pub state_dir: PathBuf,
    /// Most bytes the spool may hold (at least 2 MiB).
    pub spool_max_bytes: u64,
    /// Custom metrics: `*.prom` files and executables printing Prometheus text.
    pub metrics_dir: PathBuf,
    /// Over HTTPS, trust only the CA certificate(s) in this PEM file (the
    /// server's private CA); without it, the public roots.
    pub ca_file: Option<PathBuf>,
    /// Seconds between two inventory reads (software, services, ports,
    /// processes, users; 60 to 86400). Changes are sent as deltas; the whole
    /// inventory at start and once a day.
    pub inventory_interval_secs: u64,
    /// Actions this host lets the server run (e.g. `["apply_updates"]`);
    /// none by default. Every action is also signed, expires and names its
    /// host; one not listed here is refused and reported.
    pub allow_actions: Vec<String>,
    /// Forward the Linux audit log (`/var/log/audit/audit.log`) where
    /// auditd writes one; on by default.
    pub forward_audit_log: bool,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            server: None,
            interval_secs: 10,
            state_dir: PathBuf::from("/var/lib/leitstand"),
            spool_max_bytes: 64 * 1024 * 1024,
            metrics_dir: PathBuf::from("/etc/leitstand/metrics.d"),
            ca_file: None,
            inventory_interval_secs: 300,
            allow_actions: Vec::new(),
            forward_audit_log: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("{0}: {1}")]
    Invalid(PathBuf, String),
}

impl AgentConfig {
    /// Reads and checks a config file; a missing file gives the defaults.
    pub fn load(path: &std::path::Path) -> Result<AgentConfig, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(ConfigError::Read(path.into(), e)),
        };
        let c: AgentConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse(path.into(), e))?;
        c.check().map_err(|m| ConfigError::Invalid(path.into(), m))?;
        Ok(c)
    }

    pub fn check(&self) -> Result<(), String> {
        if !(5..=3600).contains(&self.interval_secs) {
            return Err(format!("interval_secs must be between 5 and 3600, not {}", self.interval_secs));
        }
        if !(60..=86_400).contains(&self.inventory_interval_secs) {
            return Err(format!(
                "inventory_interval_secs must be between 60 and 86400, not {}",
                self.inventory_interval_secs
            ));
        }
        if self.spool_max_bytes < 2 * 1024 * 1024 {
            return Err("spool_max_bytes must be at least 2 MiB (2097152)".into());
        }
        Ok(())
    }

    /// The HTTP client the configuration asks for.
    pub fn http(&self) -> Result<ureq::Agent, String> {
        let pem = match &self.ca_file {
            Some(p) => Some(std::fs::read(p).map_err(|e| format!("cannot read ca_file {}: {e}", p.display()))?),
            None => None,
        };
        crate::uplink::http_trusting(pem.as_deref())
    }

    pub fn spool_limits(&self) -> crate::spool::SpoolLimits {
        let segment_bytes = (self.spool_max_bytes / 16).clamp(64 * 1024, 1024 * 1024);
        crate::spool::SpoolLimits { max_bytes: self.spool_max_bytes, segment_bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults_and_bad_values_are_named() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("agent.toml");
        assert_eq!(AgentConfig::load(&p).expect("missing file").interval_secs, 10);
        std::fs::write(&p, "interval_secs = 1\n").expect("write");
        let e = AgentConfig::load(&p).expect_err("too short").to_string();
        assert!(e.contains("interval_secs must be between 5 and 3600"), "{e}");
        std::fs::write(&p, "intervall = 10\n").expect("write");
        assert!(AgentConfig::load(&p).is_err(), "unknown keys are refused");
    }
}
