//! Sign-in, second factor, sessions, invitations, password change, and the
//! actors that sessions and API tokens stand for.

use crate::crypto::{dummy_verify, hash_password, random_token, same, token_hash, verify_password};
use crate::{Actor, AuthVia, Result, ServiceError, Services, SETTING_TOTP_REQUIRED_FOR_STAFF};
use jiff::{SignedDuration, Timestamp};
use leitstand_domain::audit::AuditDraft;
use leitstand_domain::{Lang, Password, Role, UserId, UserName};
use leitstand_store::{NewSession, StoreError, TenantScope, User};
use serde_json::json;

/// What a first sign-in step gives back.
#[derive(Debug)]
pub enum SignIn {
    Done(SignedIn),
    /// Password right; a TOTP or recovery code is still needed. The ticket is
    /// stateless (signed with the server key), so any replica accepts it.
    NeedsSecondFactor {
        ticket: String,
    },
}

/// A new session: the cookie value (shown once) and its CSRF token.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    pub csrf: String,
    pub user: User,
}

const TICKET_TTL_MS: i64 = 5 * 60 * 1000;
/// Sessions are touched at most this often, to spare writes.
const TOUCH_EVERY: SignedDuration = SignedDuration::from_secs(60);

impl Services {
    fn system_draft(
        &self,
        action: &str,
        user: Option<&User>,
        name: &str,
        source: &str,
        detail: serde_json::Value,
    ) -> AuditDraft {
        AuditDraft {
            at: self.now(),
            actor_user: user.map(|u| u.id),
            actor_name: user.map_or_else(|| name.to_owned(), |u| u.name.to_string()),
            tenant: user.map(|u| u.tenant),
            action: action.to_owned(),
            target: user.map_or_else(|| format!("name:{name}"), |u| format!("user:{}", u.id)),
            source: source.to_owned(),
            detail: detail.to_string(),
        }
    }

    async fn throttle_check(&self, keys: &[(String, u32)]) -> Result<()> {
        let since = self.now() - self.config.failure_window;
        for (key, max) in keys {
            if self.store.failures_since(key, since).await? >= *max {
                return Err(ServiceError::Throttled(self.config.failure_window.as_secs() as u64));
            }
        }
        Ok(())
    }

    fn throttle_keys(&self, name: &str, source: &str) -> [(String, u32); 2] {
        [
            (format!("user:{name}"), self.config.max_failures_per_user),
            (format!("source:{source}"), self.config.max_failures_per_source),
        ]
    }

    async fn record_failure(&self, name: &str, source: &str, user: Option<&User>, why: &str) -> Result<()> {
        for (key, _) in self.throttle_keys(name, source) {
            self.store.record_failure(&key, self.now()).await?;
        }
        let draft = self.system_draft("auth.sign_in_failed", user, name, source, json!({ "reason": why }));
        self.store.append_audit(&draft).await?;
        Ok(())
    }

    /// First step: user name and password. Wrong name and wrong password are
    /// told apart nowhere (same answer, same time).
    pub async fn sign_in(&self, name: &str, password: &str, source: &str) -> Result<SignIn> {
        let name_key = name.trim().to_lowercase();
        self.throttle_check(&self.throttle_keys(&name_key, source)).await?;
        let user = match UserName::parse("username", name) {
            Ok(n) => match self.store.user_for_sign_in(&n).await {
                Ok(u) => Some(u),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            Err(_) => None,
        };
        let Some(user) = user else {
            dummy_verify(password);
            self.record_failure(&name_key, source, None, "unknown user").await?;
            return Err(ServiceError::Unauthenticated);
        };
        let ok = user.password_hash.as_deref().is_some_and(|h| verify_password(password, h));
        if !ok || user.disabled {
            let why = if user.disabled { "disabled" } else { "wrong password" };
            self.record_failure(&name_key, source, Some(&user), why).await?;
            return Err(ServiceError::Unauthenticated);
        }
        if user.totp_enabled() {
            let expires = self.now().as_millisecond() + TICKET_TTL_MS;
            let body = format!("{}.{expires}", user.id);
            let ticket = format!("{body}.{}", self.key.mac(&format!("mfa.{body}")));
            return Ok(SignIn::NeedsSecondFactor { ticket });
        }
        self.store.clear_failures(&format!("user:{name_key}")).await?;
        self.start_session(&user, source, "auth.sign_in", None).await.map(SignIn::Done)
    }

    /// Second step: a TOTP code, or one of the recovery codes.
    pub async fn sign_in_second_factor(&self, ticket: &str, code: &str, source: &str) -> Result<SignedIn> {
        let mut parts = ticket.rsplitn(2, '.');
        let (mac, body) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if !same(mac, &self.key.mac(&format!("mfa.{body}"))) {
            return Err(ServiceError::Unauthenticated);
        }
        let (uid, expires) = body.split_once('.').ok_or(ServiceError::Unauthenticated)?;
        let uid: i64 = uid.parse().map_err(|_| ServiceError::Unauthenticated)?;
        let expires: i64 = expires.parse().map_err(|_| ServiceError::Unauthenticated)?;
        if self.now().as_millisecond() > expires {
            return Err(ServiceError::Unauthenticated);
        }
        let user = self.store.user_for_auth(UserId(uid)).await?;
        let name_key = user.name.to_string();
        self.throttle_check(&self.throttle_keys(&name_key, source)).await?;
        match self.check_second_factor(&user, code, source).await? {
            Some(method) => {
                self.store.clear_failures(&format!("user:{name_key}")).await?;
                self.start_session(&user, source, "auth.sign_in", Some(method)).await
            }
            None => {
                self.record_failure(&name_key, source, Some(&user), "wrong second factor").await?;
                Err(ServiceError::Unauthenticated)
            }
        }
    }

    async fn start_session(&self, user: &User, source: &str, action: &str, mfa: Option<&str>) -> Result<SignedIn> {
        let token = random_token();
        let csrf = random_token();
        let now = self.now();
        self.store
            .create_session(&NewSession {
                token_hash: token_hash(&token),
                user: user.id,
                csrf: csrf.clone(),
                created_at: now,
                expires_at: now + self.config.session_ttl,
                source: source.to_owned(),
            })
            .await?;
        let detail = json!({ "second_factor": mfa });
        self.store.append_audit(&self.system_draft(action, Some(user), "", source, detail)).await?;
        Ok(SignedIn { token, csrf, user: user.clone() })
    }

    /// The actor behind a session cookie.
    pub async fn actor_from_session(&self, token: &str, source: &str) -> Result<Actor> {
        let hash = token_hash(token);
        let session = match self.store.session(&hash).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err(ServiceError::Unauthenticated),
            Err(e) => return Err(e.into()),
        };
        let now = self.now();
        if now >= session.expires_at {
            self.store.delete_session(&hash).await?;
            return Err(ServiceError::Unauthenticated);
        }
        if now.duration_since(session.last_seen) > TOUCH_EVERY {
            self.store.touch_session(&hash, now).await?;
        }
        self.actor_for(session.user, AuthVia::Session { token_hash: hash, csrf: session.csrf }, source).await
    }

    /// The actor behind an API token (`Authorization: Bearer lst_…`).
    pub async fn actor_from_api_token(&self, token: &str, source: &str) -> Result<Actor> {
        let t = match self.store.token_by_hash(&token_hash(token), self.now()).await {
            Ok(t) => t,
            Err(StoreError::NotFound) => return Err(ServiceError::Unauthenticated),
            Err(e) => return Err(e.into()),
        };
        let actor = self.actor_for(t.user, AuthVia::Token(t.id), source).await?;
        if actor.must_enrol_totp {
            // Staff who must use TOTP cannot go around it with a token.
            return Err(ServiceError::Forbidden);
        }
        Ok(actor)
    }

    pub(crate) async fn actor_for(&self, id: UserId, via: AuthVia, source: &str) -> Result<Actor> {
        let user = self.store.user_for_auth(id).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::Unauthenticated,
            e => e.into(),
        })?;
        if user.disabled {
            return Err(ServiceError::Unauthenticated);
        }
        let scope = self.scope_of(&user).await?;
        let must_enrol_totp = user.role.is_staff() && !user.totp_enabled() && self.totp_required_for_staff().await?;
        Ok(Actor { user, via, source: source.to_owned(), scope, must_enrol_totp })
    }

    async fn scope_of(&self, user: &User) -> Result<TenantScope> {
        Ok(match user.role {
            Role::ProviderAdmin => TenantScope::All,
            Role::SocAnalyst | Role::SupportAgent => TenantScope::Only(self.store.assignments(user.id).await?),
            Role::CustomerAdmin | Role::CustomerMember => TenantScope::one(user.tenant),
        })
    }

    pub async fn totp_required_for_staff(&self) -> Result<bool> {
        Ok(self.store.setting(SETTING_TOTP_REQUIRED_FOR_STAFF).await?.as_deref() == Some("true"))
    }

    pub async fn sign_out(&self, actor: &Actor) -> Result<()> {
        if let AuthVia::Session { token_hash, .. } = &actor.via {
            self.store.delete_session(token_hash).await?;
            let draft = actor.audit(
                self.now(),
                "auth.sign_out",
                Some(actor.user.tenant),
                format!("user:{}", actor.id()),
                json!({}),
            );
            self.store.append_audit(&draft).await?;
        }
        Ok(())
    }

    /// The user an invitation link is for, while it is valid.
    pub async fn invitation(&self, token: &str) -> Result<User> {
        let invite = self.store.invite(&token_hash(token), self.now()).await?;
        Ok(self.store.user_for_auth(invite.user).await?)
    }

    /// Sets the first password through a one-time link and signs in.
    pub async fn redeem_invitation(&self, token: &str, password: &str, repeat: &str, source: &str) -> Result<SignedIn> {
        let user = self.invitation(token).await?;
        let password = Password::parse("password", password, &user.name)?;
        if password.expose() != repeat {
            return Err(ServiceError::field("repeat", "error-password-mismatch"));
        }
        let hash = hash_password(password.expose())?;
        let draft = self.system_draft("user.invitation_redeemed", Some(&user), "", source, json!({}));
        self.store.redeem_invite(&token_hash(token), self.now(), &hash, &draft).await?;
        self.start_session(&user, source, "auth.sign_in", Some("invitation")).await
    }

    /// The user changes their own password; the current one is required.
    /// Other sessions end, and this one is replaced (rotation).
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
        repeat: &str,
    ) -> Result<Option<SignedIn>> {
        let ok = actor.user.password_hash.as_deref().is_some_and(|h| verify_password(current, h));
        if !ok {
            return Err(ServiceError::field("current", "error-password-wrong"));
        }
        let password = Password::parse("new", new, &actor.user.name)?;
        if password.expose() != repeat {
            return Err(ServiceError::field("repeat", "error-password-mismatch"));
        }
        let hash = hash_password(password.expose())?;
        let draft = actor.audit(
            self.now(),
            "user.password_change",
            Some(actor.user.tenant),
            format!("user:{}", actor.id()),
            json!({}),
        );
        self.store.set_password(actor.id(), &hash, &draft).await?;
        self.rotate(actor).await
    }

    /// Ends all of the actor's sessions and, for a browser, starts a new one.
    pub(crate) async fn rotate(&self, actor: &Actor) -> Result<Option<SignedIn>> {
        self.store.delete_user_sessions(actor.id(), None).await?;
        match actor.via {
            AuthVia::Session { .. } => {
                let user = self.store.user_for_auth(actor.id()).await?;
                self.start_session(&user, &actor.source, "auth.session_rotated", None).await.map(Some)
            }
            _ => Ok(None),
        }
    }

    pub async fn set_language(&self, actor: &Actor, lang: Lang) -> Result<()> {
        let draft = actor.audit(
            self.now(),
            "user.language",
            Some(actor.user.tenant),
            format!("user:{}", actor.id()),
            json!({ "lang": lang.code() }),
        );
        Ok(self.store.set_lang(actor.id(), lang, &draft).await?)
    }

    /// Checks a CSRF token against the actor's session (browser only).
    pub fn csrf_ok(actor: &Actor, presented: &str) -> bool {
        match &actor.via {
            AuthVia::Session { csrf, .. } => same(csrf, presented),
            _ => true,
        }
    }

    pub(crate) fn now_plus(&self, d: SignedDuration) -> Timestamp {
        self.now() + d
    }
}
