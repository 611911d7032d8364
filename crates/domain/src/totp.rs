//! Time-based one-time passwords (RFC 6238, HMAC-SHA1, 6 digits, 30 s steps),
//! as every authenticator app speaks them.

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha1::Sha1;

pub const DIGITS: u32 = 6;
pub const STEP_SECONDS: i64 = 30;

/// The code for one time step (RFC 4226 dynamic truncation).
pub fn code_at_step(secret: &[u8], step: u64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return 0; // HMAC takes keys of any length; this branch is unreachable.
    };
    mac.update(&step.to_be_bytes());
    let d = mac.finalize().into_bytes();
    let off = (d[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([d[off] & 0x7f, d[off + 1], d[off + 2], d[off + 3]]);
    bin % 10u32.pow(digits)
}

fn step_of(at: Timestamp) -> u64 {
    (at.as_second().max(0) / STEP_SECONDS) as u64
}

/// The 6-digit code at `at`, zero-padded.
pub fn code(secret: &[u8], at: Timestamp) -> String {
    format!("{:06}", code_at_step(secret, step_of(at), DIGITS))
}

/// Checks `input` against the codes of the step at `at` and one step either
/// side (clock drift). Returns the matching step so a caller can refuse reuse.
pub fn verify(secret: &[u8], input: &str, at: Timestamp) -> Option<u64> {
    let input = input.trim().replace(' ', "");
    if input.len() != DIGITS as usize || !input.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(at);
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .find(|&s| format!("{:06}", code_at_step(secret, s, DIGITS)) == input)
}

/// Base32 (no padding) as authenticator apps expect it.
pub fn secret_base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// The `otpauth://` URI an authenticator app reads from a QR code.
pub fn provisioning_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(issuer),
        enc(account),
        secret_base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA1 column (8 digits).
    #[test]
    fn rfc6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (t, want) in [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(code_at_step(secret, t / 30, 8), want, "t={t}");
        }
    }

    #[test]
    fn verify_accepts_one_step_of_drift_only() {
        let secret = b"12345678901234567890";
        let at = Timestamp::from_second(1_111_111_111).unwrap();
        let c = code(secret, at);
        assert!(verify(secret, &c, at).is_some());
        assert!(verify(secret, &c, Timestamp::from_second(1_111_111_111 + 30).unwrap()).is_some());
        assert!(verify(secret, &c, Timestamp::from_second(1_111_111_111 + 95).unwrap()).is_none());
        assert!(verify(secret, "12345", at).is_none());
        assert!(verify(secret, "abcdef", at).is_none());
    }
}
