//! Users: creation with a one-time invitation link, listing, disabling, and
//! staff assignment to tenants.

use crate::crypto::{random_token, token_hash};
use crate::{Actor, Result, ServiceError, Services};
use jiff::Timestamp;
use leitstand_domain::{Email, FieldError, Permission, Role, TenantId, TenantName, UserId, UserName};
use leitstand_store::{Bootstrap, NewInvite, NewUser, StoreError, TenantKind, TenantScope, User};
use serde::Deserialize;
use serde_json::json;

/// A one-time link that lets a user set their first password. It is shown
/// once, to the person who created it, and never sent in clear by mail.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub user: UserId,
    pub link: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct NewUserInput {
    pub tenant: TenantId,
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// One of `provider_admin`, `soc_analyst`, `support_agent`,
    /// `customer_admin`, `customer_member`.
    pub role: String,
}

impl Services {
    fn invitation_link(&self, token: &str) -> String {
        format!("{}/invite/{token}", self.config.base_url.trim_end_matches('/'))
    }

    /// First start: creates the provider organisation and its admin once and
    /// returns the admin's one-time link; `None` when already set up.
    pub async fn bootstrap(&self, provider: &str, admin: &str) -> Result<Option<Invitation>> {
        let token = random_token();
        let expires_at = self.now_plus(self.config.invite_ttl);
        let b = Bootstrap {
            provider_name: TenantName::parse("provider", provider)?,
            admin: UserName::parse("admin", admin)?,
            invite_hash: token_hash(&token),
            invite_expires: expires_at,
            at: self.now(),
        };
        let draft = leitstand_domain::audit::AuditDraft {
            at: self.now(),
            actor_user: None,
            actor_name: "system".into(),
            tenant: None,
            action: "setup.bootstrap".into(),
            target: String::new(),
            source: "cli".into(),
            detail: json!({ "admin": admin }).to_string(),
        };
        Ok(self.store.bootstrap(&b, &draft).await?.map(|(_, user)| Invitation {
            user: user.id,
            link: self.invitation_link(&token),
            expires_at,
        }))
    }

    pub async fn users(&self, actor: &Actor, tenant: Option<TenantId>) -> Result<Vec<User>> {
        actor.require(Permission::UsersRead)?;
        let scope = actor.narrowed(tenant)?;
        Ok(self.store.users(&scope).await?)
    }

    pub async fn user(&self, actor: &Actor, id: UserId) -> Result<User> {
        actor.require(Permission::UsersRead)?;
        Ok(self.store.user(actor.scope(), id).await?)
    }

    /// Creates a user without a password and returns the invitation link.
    pub async fn create_user(&self, actor: &Actor, input: &NewUserInput) -> Result<(User, Invitation)> {
        actor.require(Permission::UsersManage)?;
        actor.require_tenant(input.tenant)?;
        let tenant = self.store.tenant(actor.scope(), input.tenant).await?;
        let mut errors: Vec<FieldError> = Vec::new();
        let name = UserName::parse("name", &input.name).map_err(|e| errors.push(e)).ok();
        let email = match input.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => Email::parse("email", e).map_err(|e| errors.push(e)).ok(),
            None => None,
        };
        let role = Role::parse(input.role.trim());
        match role {
            None => errors.push(FieldError::new("role", "error-role")),
            Some(r) if r.is_staff() != (tenant.kind == TenantKind::Provider) => {
                errors.push(FieldError::new("role", "error-role-tenant"))
            }
            Some(r) if r.is_staff() && actor.role() != Role::ProviderAdmin => {
                errors.push(FieldError::new("role", "error-role-tenant"))
            }
            _ => {}
        }
        let display_name = input.display_name.trim();
        if display_name.chars().count() > 100 || display_name.chars().any(char::is_control) {
            errors.push(FieldError::new("display_name", "error-display-name"));
        }
        let (Some(name), Some(role), true) = (name, role, errors.is_empty()) else {
            return Err(ServiceError::Invalid(errors));
        };
        let new = NewUser {
            tenant: tenant.id,
            display_name: if display_name.is_empty() { name.to_string() } else { display_name.to_owned() },
            name,
            email,
            role,
            at: self.now(),
        };
        let draft = actor.audit(
            self.now(),
            "user.create",
            Some(tenant.id),
            String::new(),
            json!({ "name": new.name.as_str(), "role": role.as_str() }),
        );
        let user = self.store.create_user(actor.scope(), &new, &draft).await.map_err(|e| match e {
            StoreError::Conflict(_) => ServiceError::field("name", "error-user-exists"),
            e => e.into(),
        })?;
        let invitation = self.invite_user(actor, user.id).await?;
        Ok((user, invitation))
    }

    /// A new one-time link for a user (the old one stops working).
    pub async fn invite_user(&self, actor: &Actor, id: UserId) -> Result<Invitation> {
        actor.require(Permission::UsersManage)?;
        let user = self.store.user(actor.scope(), id).await?;
        let token = random_token();
        let expires_at = self.now_plus(self.config.invite_ttl);
        let draft = actor.audit(
            self.now(),
            "user.invite",
            Some(user.tenant),
            format!("user:{}", user.id),
            json!({ "expires_at": expires_at }),
        );
        let invite = NewInvite { token_hash: token_hash(&token), user: user.id, expires_at, created_at: self.now() };
        self.store.create_invite(&invite, &draft).await?;
        Ok(Invitation { user: user.id, link: self.invitation_link(&token), expires_at })
    }

    pub async fn set_user_disabled(&self, actor: &Actor, id: UserId, disabled: bool) -> Result<()> {
        actor.require(Permission::UsersManage)?;
        if id == actor.id() {
            return Err(ServiceError::field("user", "error-disable-self"));
        }
        let user = self.store.user(actor.scope(), id).await?;
        let action = if disabled { "user.disable" } else { "user.enable" };
        let draft = actor.audit(self.now(), action, Some(user.tenant), format!("user:{id}"), json!({}));
        Ok(self.store.set_disabled(actor.scope(), id, disabled, &draft).await?)
    }

    /// Assigns a SOC analyst or support agent to customer tenants.
    pub async fn assign_staff(&self, actor: &Actor, id: UserId, tenants: &[TenantId]) -> Result<()> {
        actor.require(Permission::UsersManage)?;
        actor.require(Permission::TenantsManage)?;
        let user = self.store.user(actor.scope(), id).await?;
        if !user.role.needs_assignment() {
            return Err(ServiceError::field("tenants", "error-assign-role"));
        }
        for t in tenants {
            let tenant = self.store.tenant(actor.scope(), *t).await?;
            if tenant.kind != TenantKind::Customer {
                return Err(ServiceError::field("tenants", "error-assign-role"));
            }
        }
        let draft = actor.audit(
            self.now(),
            "user.assign",
            Some(user.tenant),
            format!("user:{id}"),
            json!({ "tenants": tenants }),
        );
        Ok(self.store.set_assignments(id, tenants, &draft).await?)
    }

    pub async fn assignments(&self, actor: &Actor, id: UserId) -> Result<Vec<TenantId>> {
        actor.require(Permission::UsersRead)?;
        self.store.user(actor.scope(), id).await?;
        Ok(self.store.assignments(id).await?)
    }

    /// The CLI acts as the provider's first admin; it has shell access to the
    /// server and so the power of the platform anyway.
    pub async fn cli_actor(&self) -> Result<Actor> {
        let users = self.store.users(&TenantScope::All).await?;
        let admin = users
            .into_iter()
            .find(|u| u.role == Role::ProviderAdmin && !u.disabled)
            .ok_or_else(|| ServiceError::Internal("no provider admin yet: run `leitstand up` first".into()))?;
        Ok(Actor::cli(admin))
    }
}
