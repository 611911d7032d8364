//! Settings the server pushes with its acknowledgements (AGT-4): applied
//! without restart, kept in the state directory so a restart starts with
//! them, and refused (the last good ones stay) when they are not valid.

use leitstand_proto::AgentSettings;
use std::path::{Path, PathBuf};

/// The intervals the agent accepts, as the server does.
pub const INTERVAL_RANGE: std::ops::RangeInclusive<u64> = 5..=3600;

/// The settings in force and where they are kept.
#[derive(Debug, Clone)]
pub struct Running {
    pub interval_secs: u64,
    file: PathBuf,
    /// The last interval refused, so it is reported once, not every round.
    refused: Option<u64>,
}

impl Running {
    /// Starts from the configured interval, or from what the server pushed
    /// last time when that was saved and is valid.
    pub fn load(state_dir: &Path, configured_interval: u64) -> Self {
        let file = state_dir.join("settings.json");
        let saved = std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<AgentSettings>(&b).ok())
            .filter(|s| INTERVAL_RANGE.contains(&s.interval_secs));
        Self { interval_secs: saved.map_or(configured_interval, |s| s.interval_secs), file, refused: None }
    }

    /// Takes pushed settings: `Ok(true)` when something changed, `Ok(false)`
    /// when nothing did, `Err` with the reason when they are refused.
    pub fn apply(&mut self, pushed: &AgentSettings) -> Result<bool, String> {
        if !INTERVAL_RANGE.contains(&pushed.interval_secs) {
            if self.refused.replace(pushed.interval_secs) == Some(pushed.interval_secs) {
                return Ok(false);
            }
            return Err(format!(
                "interval {} s is outside {}..={} s; keeping {} s",
                pushed.interval_secs,
                INTERVAL_RANGE.start(),
                INTERVAL_RANGE.end(),
                self.interval_secs
            ));
        }
        if pushed.interval_secs == self.interval_secs {
            return Ok(false);
        }
        self.interval_secs = pushed.interval_secs;
        // Saving is best effort: the server pushes them again anyway.
        if let Ok(b) = serde_json::to_vec(pushed) {
            let tmp = self.file.with_extension("json.tmp");
            if std::fs::write(&tmp, b).is_ok() {
                let _ = std::fs::rename(&tmp, &self.file);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_settings_apply_and_survive_a_restart_bad_ones_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let mut r = Running::load(dir.path(), 10);
        assert_eq!(r.interval_secs, 10);
        assert_eq!(r.apply(&AgentSettings { interval_secs: 30 }), Ok(true));
        assert_eq!(r.apply(&AgentSettings { interval_secs: 30 }), Ok(false));
        let e = r.apply(&AgentSettings { interval_secs: 0 }).unwrap_err();
        assert!(e.contains("keeping 30 s"), "{e}");
        assert_eq!(r.interval_secs, 30, "the last good one stays");
        assert_eq!(r.apply(&AgentSettings { interval_secs: 0 }), Ok(false), "reported once");
        assert_eq!(Running::load(dir.path(), 10).interval_secs, 30, "saved for the next start");
        std::fs::write(dir.path().join("settings.json"), b"{broken").expect("write");
        assert_eq!(Running::load(dir.path(), 10).interval_secs, 10, "a damaged file falls back to the config");
    }
}
