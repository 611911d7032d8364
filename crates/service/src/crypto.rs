//! Secrets: random tokens, their hashes, password hashing and sealing of
//! secrets at rest with the server key (which lives outside the database).

use crate::{Result, ServiceError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The server's 32-byte key. Its `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    /// From 64 hex characters.
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = hex::decode(s.trim()).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Encrypts `plain` (XChaCha20-Poly1305, random nonce), hex-encoded.
    pub fn seal(&self, plain: &[u8]) -> Result<String> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut out = nonce.to_vec();
        out.extend(
            cipher
                .encrypt(XNonce::from_slice(&nonce), plain)
                .map_err(|_| ServiceError::Internal("sealing failed".into()))?,
        );
        Ok(hex::encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>> {
        let bad = || ServiceError::Internal("a sealed secret could not be opened (wrong server key?)".into());
        let raw = hex::decode(sealed).map_err(|_| bad())?;
        if raw.len() < 24 {
            return Err(bad());
        }
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        cipher.decrypt(XNonce::from_slice(&raw[..24]), &raw[24..]).map_err(|_| bad())
    }

    /// The Ed25519 key that signs agent releases, derived from this key so
    /// that replicas sharing the server key sign alike.
    pub fn release_key(&self) -> ed25519_dalek::SigningKey {
        self.signing_key(b"leitstand-release-key-v1")
    }

    /// The Ed25519 key that signs actions for agents (DESIGN invariant 5),
    /// derived like the release key under another label.
    pub fn action_key(&self) -> ed25519_dalek::SigningKey {
        self.signing_key(b"leitstand-action-key-v1")
    }

    fn signing_key(&self, label: &[u8]) -> ed25519_dalek::SigningKey {
        let seed: [u8; 32] = Sha256::new_with_prefix(label).chain_update(self.0).finalize().into();
        ed25519_dalek::SigningKey::from_bytes(&seed)
    }

    /// A keyed MAC over `msg`, hex; for stateless tickets.
    pub fn mac(&self, msg: &str) -> String {
        use hmac::Mac;
        let mut m = <hmac::Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(msg.as_bytes());
        hex::encode(m.finalize().into_bytes())
    }
}

/// A random token for links, cookies and API keys: 32 bytes, URL-safe.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    data_encoding::BASE32_NOPAD.encode(&b).to_lowercase()
}

/// How stored token hashes are made: SHA-256 of the token (tokens are long
/// and random, so no slow hash is needed).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("password hashing: {e}")))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Spends the same time as a real check, so unknown names cannot be told apart.
pub fn dummy_verify(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_password("leitstand-dummy-password").unwrap_or_default());
    let _ = verify_password(password, phc);
}

/// Constant-time string comparison.
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key() {
        let k = SecretKey::generate();
        let sealed = k.seal(b"totp secret").unwrap();
        assert_eq!(k.open(&sealed).unwrap(), b"totp secret");
        assert!(SecretKey::generate().open(&sealed).is_err());
        assert!(!format!("{k:?}").contains(&k.to_hex()));
    }

    #[test]
    fn passwords_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
    }
}
