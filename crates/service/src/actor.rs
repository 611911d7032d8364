//! The authenticated actor every use case takes, and the scope it may touch.

use crate::{Result, ServiceError};
use leitstand_domain::audit::AuditDraft;
use leitstand_domain::{Permission, Role, TenantId, TokenId, UserId};
use leitstand_store::{TenantScope, User};

/// How the actor proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVia {
    /// A browser session; the hash identifies it for rotation and sign-out.
    Session { token_hash: String, csrf: String },
    /// A personal API token.
    Token(TokenId),
    /// The `leitstand` command line on the server itself.
    Cli,
}

/// Who is acting, from where, and which tenants that lets them touch.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: User,
    pub via: AuthVia,
    /// Source address of the request, or `cli`.
    pub source: String,
    pub(crate) scope: TenantScope,
    /// Staff who must set up TOTP before anything else (policy).
    pub must_enrol_totp: bool,
}

impl Actor {
    pub fn id(&self) -> UserId {
        self.user.id
    }

    pub fn role(&self) -> Role {
        self.user.role
    }

    pub fn scope(&self) -> &TenantScope {
        &self.scope
    }

    /// Deny by default: the role must hold the permission.
    pub fn require(&self, p: Permission) -> Result<()> {
        if p.granted_to(self.user.role) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    pub fn can(&self, p: Permission) -> bool {
        p.granted_to(self.user.role)
    }

    /// A tenant outside the scope does not exist for this actor.
    pub fn require_tenant(&self, t: TenantId) -> Result<()> {
        if self.scope.contains(t) {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// The actor's scope, or one tenant of it when a filter is given.
    pub fn narrowed(&self, tenant: Option<TenantId>) -> Result<TenantScope> {
        match tenant {
            Some(t) => {
                self.require_tenant(t)?;
                Ok(TenantScope::one(t))
            }
            None => Ok(self.scope.clone()),
        }
    }

    pub(crate) fn audit(
        &self,
        at: jiff::Timestamp,
        action: &str,
        tenant: Option<TenantId>,
        target: String,
        detail: serde_json::Value,
    ) -> AuditDraft {
        AuditDraft {
            at,
            actor_user: Some(self.user.id),
            actor_name: self.user.name.to_string(),
            tenant,
            action: action.to_owned(),
            target,
            source: self.source.clone(),
            detail: detail.to_string(),
        }
    }

    /// The command line before any user exists (e.g. `audit verify`): the
    /// operator has shell access to the server and the database anyway.
    pub fn cli_system() -> Actor {
        let user = User {
            id: UserId(0),
            tenant: TenantId(0),
            name: leitstand_domain::UserName::parse("name", "system").unwrap_or_else(|_| unreachable!()),
            display_name: "system".into(),
            email: None,
            role: Role::ProviderAdmin,
            lang: None,
            password_hash: None,
            totp_secret_sealed: None,
            totp_last_step: 0,
            recovery_left: 0,
            disabled: false,
            created_at: jiff::Timestamp::UNIX_EPOCH,
        };
        Actor::cli(user)
    }

    /// The CLI acts as the system with full scope.
    pub fn cli(user: User) -> Actor {
        Actor { user, via: AuthVia::Cli, source: "cli".into(), scope: TenantScope::All, must_enrol_totp: false }
    }
}
