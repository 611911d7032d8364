//! The agent's identity: an Ed25519 key pair made on the host (the private
//! key never leaves it) and the host id the server gave at enrollment.

use ed25519_dalek::{Signer, SigningKey};
use leitstand_proto::signing;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

const FILE: &str = "identity.toml";

#[derive(Serialize, Deserialize)]
struct Stored {
    server: String,
    host_id: i64,
    /// Private key, hex.
    key: String,
    /// The server's release key, hex: agent upgrades must be signed with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    release_key: Option<String>,
    /// The server's action key, hex: actions must be signed with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    action_key: Option<String>,
}

pub struct Identity {
    pub server: String,
    pub host_id: i64,
    key: SigningKey,
    /// The server's release key (hex), from enrollment.
    pub release_key: Option<String>,
    /// The server's action key (hex), from enrollment.
    pub action_key: Option<String>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("server", &self.server).field("host_id", &self.host_id).finish()
    }
}

/// A new key pair, before enrollment.
pub fn new_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

pub fn public_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().as_bytes())
}

fn path(state: &Path) -> PathBuf {
    state.join(FILE)
}

impl Identity {
    pub fn new(server: String, host_id: i64, key: SigningKey) -> Self {
        Self { server, host_id, key, release_key: None, action_key: None }
    }

    /// The identity in `state`, if the agent is enrolled.
    pub fn load(state: &Path) -> std::io::Result<Option<Identity>> {
        let text = match std::fs::read_to_string(path(state)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let s: Stored = toml::from_str(&text).map_err(std::io::Error::other)?;
        let bytes: [u8; 32] = hex::decode(&s.key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| std::io::Error::other("identity.toml: the key is not 32 bytes of hex"))?;
        Ok(Some(Identity {
            server: s.server,
            host_id: s.host_id,
            key: SigningKey::from_bytes(&bytes),
            release_key: s.release_key,
            action_key: s.action_key,
        }))
    }

    /// Saves the identity readable by its owner only.
    pub fn save(&self, state: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(state)?;
        let s = Stored {
            server: self.server.clone(),
            host_id: self.host_id,
            key: hex::encode(self.key.to_bytes()),
            release_key: self.release_key.clone(),
            action_key: self.action_key.clone(),
        };
        let text = toml::to_string(&s).map_err(std::io::Error::other)?;
        let tmp = path(state).with_extension("tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(tmp, path(state))
    }

    /// The signature headers for one request.
    pub fn sign(&self, method: &str, path: &str, body: &[u8], now_ms: i64) -> Vec<(&'static str, String)> {
        let mut nonce = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let nonce = hex::encode(nonce);
        let digest = hex::encode(Sha256::digest(body));
        let input = signing::signing_input(method, path, now_ms, &nonce, &digest);
        let sig = self.key.sign(input.as_bytes());
        vec![
            (signing::HOST, self.host_id.to_string()),
            (signing::TIMESTAMP, now_ms.to_string()),
            (signing::NONCE, nonce),
            (signing::SIGNATURE, hex::encode(sig.to_bytes())),
        ]
    }
}

/// Checks an Ed25519 signature (hex) of `input` with a key the server gave
/// at enrollment (hex); `which` names the key in the message (`release`,
/// `action`).
pub fn verify_server_signature(which: &str, key_hex: &str, signature_hex: &str, input: &str) -> Result<(), String> {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    let key = hex::decode(key_hex)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| format!("the saved {which} key is not an Ed25519 key"))?;
    let sig = hex::decode(signature_hex)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .ok_or("the signature is not 64 bytes of hex")?;
    key.verify(input.as_bytes(), &Signature::from_bytes(&sig))
        .map_err(|_| format!("the signature does not match the server's {which} key"))
}
