//! TOTP second factor (RFC 6238) with recovery codes.

use crate::crypto::{token_hash, verify_password};
use crate::{Actor, Result, ServiceError, Services, SignedIn};
use leitstand_domain::totp;
use leitstand_store::{TotpEnrolment, User};
use rand::RngCore;
use serde_json::json;

pub const TOTP_ISSUER: &str = "Leitstand";
const RECOVERY_CODES: usize = 10;

/// A TOTP secret offered to the user, not yet confirmed.
#[derive(Debug, Clone)]
pub struct TotpSetup {
    /// For typing into an app by hand.
    pub secret_base32: String,
    /// `otpauth://` URI, for the QR code.
    pub uri: String,
    /// The secret sealed with the server key; the form posts it back.
    pub sealed: String,
}

fn recovery_code() -> String {
    let mut b = [0u8; 5];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let s = data_encoding::BASE32_NOPAD.encode(&b).to_lowercase();
    format!("{}-{}", &s[..4], &s[4..8])
}

fn normalise_recovery(code: &str) -> String {
    code.trim().to_lowercase().replace(' ', "")
}

impl Services {
    pub fn begin_totp(&self, actor: &Actor) -> Result<TotpSetup> {
        let mut secret = [0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Ok(TotpSetup {
            secret_base32: totp::secret_base32(&secret),
            uri: totp::provisioning_uri(TOTP_ISSUER, actor.user.name.as_str(), &secret),
            sealed: self.key.seal(&secret)?,
        })
    }

    /// Confirms the offered secret with a code from the app; returns the
    /// recovery codes (shown once) and the rotated session.
    pub async fn confirm_totp(
        &self,
        actor: &Actor,
        sealed: &str,
        code: &str,
    ) -> Result<(Vec<String>, Option<SignedIn>)> {
        let secret = self.key.open(sealed).map_err(|_| ServiceError::field("code", "error-totp-setup-expired"))?;
        let Some(step) = totp::verify(&secret, code, self.now()) else {
            return Err(ServiceError::field("code", "error-totp-code"));
        };
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let enrolment = TotpEnrolment {
            secret_sealed: self.key.seal(&secret)?,
            recovery_hashes: codes.iter().map(|c| token_hash(c)).collect(),
        };
        let draft = actor.audit(
            self.now(),
            "user.totp_enable",
            Some(actor.user.tenant),
            format!("user:{}", actor.id()),
            json!({}),
        );
        self.store.set_totp(actor.id(), Some(&enrolment), &draft).await?;
        // The code just typed must not sign anyone in again.
        self.store.set_totp_last_step(actor.id(), step as i64).await?;
        let session = self.rotate(actor).await?;
        Ok((codes, session))
    }

    /// Turns TOTP off; the password is required. Staff cannot while the
    /// policy makes it mandatory.
    pub async fn disable_totp(&self, actor: &Actor, password: &str) -> Result<()> {
        if actor.user.role.is_staff() && self.totp_required_for_staff().await? {
            return Err(ServiceError::field("password", "error-totp-mandatory"));
        }
        if !actor.user.password_hash.as_deref().is_some_and(|h| verify_password(password, h)) {
            return Err(ServiceError::field("password", "error-password-wrong"));
        }
        let draft = actor.audit(
            self.now(),
            "user.totp_disable",
            Some(actor.user.tenant),
            format!("user:{}", actor.id()),
            json!({}),
        );
        Ok(self.store.set_totp(actor.id(), None, &draft).await?)
    }

    /// `Some(method)` when the code is a valid TOTP code (not used before) or
    /// an unused recovery code.
    pub(crate) async fn check_second_factor(
        &self,
        user: &User,
        code: &str,
        source: &str,
    ) -> Result<Option<&'static str>> {
        let Some(sealed) = &user.totp_secret_sealed else { return Ok(None) };
        let secret = self.key.open(sealed)?;
        if let Some(step) = totp::verify(&secret, code, self.now()) {
            if step as i64 <= user.totp_last_step {
                return Ok(None); // replay of a code already used
            }
            self.store.set_totp_last_step(user.id, step as i64).await?;
            return Ok(Some("totp"));
        }
        let draft = leitstand_domain::audit::AuditDraft {
            at: self.now(),
            actor_user: Some(user.id),
            actor_name: user.name.to_string(),
            tenant: Some(user.tenant),
            action: "auth.recovery_code_used".into(),
            target: format!("user:{}", user.id),
            source: source.to_owned(),
            detail: json!({ "left": user.recovery_left.saturating_sub(1) }).to_string(),
        };
        if self.store.use_recovery_code(user.id, &token_hash(&normalise_recovery(code)), &draft).await? {
            return Ok(Some("recovery_code"));
        }
        Ok(None)
    }

    /// Provider admins make TOTP mandatory for staff, or optional again.
    pub async fn set_totp_required_for_staff(&self, actor: &Actor, required: bool) -> Result<()> {
        actor.require(leitstand_domain::Permission::PolicyManage)?;
        let draft = actor.audit(
            self.now(),
            "policy.totp_required_for_staff",
            None,
            "policy".into(),
            json!({ "required": required }),
        );
        Ok(self
            .store
            .set_setting(crate::SETTING_TOTP_REQUIRED_FOR_STAFF, if required { "true" } else { "false" }, &draft)
            .await?)
    }
}
