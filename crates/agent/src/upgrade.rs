//! Self-upgrade (AGT-4). The server offers the build it ships with an
//! acknowledgement; the agent downloads it, checks its SHA-256 and the
//! Ed25519 signature made with the release key it got at enrollment, and
//! tries it: the new binary runs as a child on the same spool until it has
//! delivered once. Only then does it replace the old binary, and the agent
//! restarts into it (same process id, so a service manager sees no exit).
//! If the new build does not check in within the trial time, it is removed,
//! remembered as failed, and the old one goes on.

use leitstand_proto::{AgentBuild, AgentUpgrade};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Set for the trial child: the file it writes `ok` to once it delivered.
pub const TRIAL_ENV: &str = "LEITSTAND_UPGRADE_TRIAL";
/// Largest agent binary the agent downloads.
const MAX_BINARY: u64 = 256 * 1024 * 1024;

/// The build that runs: version and SHA-256 of the binary.
pub fn own_build(exe: &Path) -> std::io::Result<AgentBuild> {
    // Streamed: reading the binary whole would cost its size in memory.
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(exe)?, &mut hasher)?;
    Ok(AgentBuild { version: env!("CARGO_PKG_VERSION").to_owned(), sha256: hex::encode(hasher.finalize()) })
}

/// Checks a downloaded binary against the offer and the release key.
pub fn verify(offer: &AgentUpgrade, bytes: &[u8], release_key_hex: &str) -> Result<(), String> {
    let have = hex::encode(Sha256::digest(bytes));
    if have != offer.sha256 {
        return Err(format!("digest mismatch: offered {}, downloaded {have}", offer.sha256));
    }
    let input = leitstand_proto::release_input(&offer.version, &offer.sha256);
    crate::identity::verify_server_signature("release", release_key_hex, &offer.signature, &input)
}

/// In the trial child: tells the waiting parent that this build delivered.
pub fn confirm_trial() {
    if let Some(path) = std::env::var_os(TRIAL_ENV) {
        let _ = std::fs::write(path, b"ok");
    }
}

/// What an upgrade needs to know about this agent.
pub struct Upgrader {
    /// The binary that runs now, as started.
    pub exe: PathBuf,
    /// The arguments it was started with (without the program name).
    pub args: Vec<OsString>,
    pub state_dir: PathBuf,
    /// How long the new build has to deliver once.
    pub trial: Duration,
}

impl Upgrader {
    fn failed_file(&self) -> PathBuf {
        self.state_dir.join("upgrade-failed")
    }

    /// False for a build that failed its trial here before.
    pub fn worth_trying(&self, offer: &AgentUpgrade) -> bool {
        std::fs::read_to_string(self.failed_file()).map_or(true, |t| t.trim() != offer.sha256)
    }

    /// Downloads, checks and tries the offered build. On success the old
    /// binary is replaced and this process becomes the new one (this call
    /// does not return); otherwise the reason comes back and the old build
    /// goes on.
    pub fn upgrade(
        &self,
        http: &ureq::Agent,
        server: &str,
        offer: &AgentUpgrade,
        release_key: Option<&str>,
    ) -> Result<std::convert::Infallible, String> {
        let result = self.try_upgrade(http, server, offer, release_key);
        if result.is_err() {
            let _ = std::fs::write(self.failed_file(), &offer.sha256);
        }
        result
    }

    fn try_upgrade(
        &self,
        http: &ureq::Agent,
        server: &str,
        offer: &AgentUpgrade,
        release_key: Option<&str>,
    ) -> Result<std::convert::Infallible, String> {
        let key = release_key.ok_or("no release key saved at enrollment (enrolled by an older agent); enrol again")?;
        let url = format!("{}/downloads/leitstand-agent", server.trim_end_matches('/'));
        let resp = http.get(&url).call().map_err(|e| format!("download: {e}"))?;
        let mut bytes = vec![];
        resp.into_reader().take(MAX_BINARY).read_to_end(&mut bytes).map_err(|e| format!("download: {e}"))?;
        verify(offer, &bytes, key)?;
        let new = self.exe.with_extension("new");
        write_executable(&new, &bytes).map_err(|e| format!("cannot write {}: {e}", new.display()))?;
        let confirmed = self.trial(&new);
        if let Err(e) = confirmed {
            let _ = std::fs::remove_file(&new);
            return Err(e);
        }
        std::fs::rename(&new, &self.exe).map_err(|e| format!("cannot replace {}: {e}", self.exe.display()))?;
        tracing::info!(version = %offer.version, "upgraded; restarting into the new build");
        use std::os::unix::process::CommandExt;
        let e = std::process::Command::new(&self.exe).args(&self.args).env_remove(TRIAL_ENV).exec();
        Err(format!("cannot restart into the new build: {e}"))
    }

    /// Runs the new build as a child until it has delivered once.
    fn trial(&self, new: &Path) -> Result<(), String> {
        let marker = self.state_dir.join("upgrade-trial");
        let _ = std::fs::remove_file(&marker);
        let mut child = std::process::Command::new(new)
            .args(&self.args)
            .env(TRIAL_ENV, &marker)
            .spawn()
            .map_err(|e| format!("the new build does not start: {e}"))?;
        let deadline = Instant::now() + self.trial;
        let outcome = loop {
            if std::fs::read(&marker).is_ok_and(|b| b == b"ok") {
                break Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                break Err(format!("the new build exited ({status}) before it delivered"));
            }
            if Instant::now() > deadline {
                break Err(format!("the new build did not deliver within {} s", self.trial.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_file(&marker);
        outcome
    }
}

fn write_executable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer;

    #[test]
    fn only_the_signed_digest_passes() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let public = hex::encode(key.verifying_key().as_bytes());
        let bytes = b"new agent build";
        let sha256 = hex::encode(Sha256::digest(bytes));
        let sign = |v: &str, d: &str| hex::encode(key.sign(leitstand_proto::release_input(v, d).as_bytes()).to_bytes());
        let offer = AgentUpgrade { version: "0.2.0".into(), signature: sign("0.2.0", &sha256), sha256: sha256.clone() };
        assert_eq!(verify(&offer, bytes, &public), Ok(()));
        assert!(verify(&offer, b"tampered", &public).unwrap_err().contains("digest mismatch"));
        let relabelled = AgentUpgrade { version: "9.9.9".into(), ..offer.clone() };
        assert!(verify(&relabelled, bytes, &public).unwrap_err().contains("signature"));
        let other = hex::encode(ed25519_dalek::SigningKey::from_bytes(&[8; 32]).verifying_key().as_bytes());
        assert!(verify(&offer, bytes, &other).unwrap_err().contains("signature"));
    }
}
