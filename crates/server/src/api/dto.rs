//! JSON shapes of the API, with their schemas for the OpenAPI document.

use leitstand_domain::audit::AuditEntry;
use leitstand_domain::{Lang, Plan, Role, TenantId, TokenId, UserId};
use leitstand_service::Invitation;
use leitstand_store::{ApiToken, Tenant, User};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, JsonSchema)]
pub struct TenantDto {
    pub id: TenantId,
    pub name: String,
    /// `provider` or `customer`.
    pub kind: String,
    pub plan: Plan,
    pub time_zone: String,
    /// RFC 3339.
    pub created_at: String,
}

impl From<&Tenant> for TenantDto {
    fn from(t: &Tenant) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            kind: t.kind.as_str().into(),
            plan: t.plan,
            time_zone: t.time_zone.clone(),
            created_at: t.created_at.to_string(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct UserDto {
    pub id: UserId,
    pub tenant: TenantId,
    pub name: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub lang: Option<Lang>,
    pub totp_enabled: bool,
    /// False until the invitation is redeemed.
    pub active: bool,
    pub disabled: bool,
    pub created_at: String,
}

impl From<&User> for UserDto {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            tenant: u.tenant,
            name: u.name.to_string(),
            display_name: u.display_name.clone(),
            email: u.email.as_ref().map(|e| e.to_string()),
            role: u.role,
            lang: u.lang,
            totp_enabled: u.totp_enabled(),
            active: u.password_hash.is_some(),
            disabled: u.disabled,
            created_at: u.created_at.to_string(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct MeDto {
    pub user: UserDto,
    pub must_enrol_totp: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct InvitationDto {
    /// One-time link to set the first password; valid until `expires_at`.
    pub link: String,
    pub expires_at: String,
}

impl From<&Invitation> for InvitationDto {
    fn from(i: &Invitation) -> Self {
        Self { link: i.link.clone(), expires_at: i.expires_at.to_string() }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct CreatedUserDto {
    pub user: UserDto,
    pub invitation: InvitationDto,
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct AssignmentsDto {
    pub tenants: Vec<TenantId>,
}

#[derive(Serialize, JsonSchema)]
pub struct TokenDto {
    pub id: TokenId,
    pub label: String,
    /// First characters, to tell tokens apart.
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used: Option<String>,
}

impl From<&ApiToken> for TokenDto {
    fn from(t: &ApiToken) -> Self {
        Self {
            id: t.id,
            label: t.label.clone(),
            prefix: t.prefix.clone(),
            created_at: t.created_at.to_string(),
            expires_at: t.expires_at.map(|t| t.to_string()),
            last_used: t.last_used.map(|t| t.to_string()),
        }
    }
}

#[derive(Deserialize, JsonSchema)]
pub struct NewTokenDto {
    pub label: String,
    /// Days until it expires; never when absent.
    #[serde(default)]
    pub days: Option<u32>,
}

#[derive(Serialize, JsonSchema)]
pub struct CreatedTokenDto {
    /// The secret; shown only in this answer.
    pub token: String,
    pub info: TokenDto,
}

#[derive(Serialize, JsonSchema)]
pub struct AuditPageDto {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page.
    pub next_before: Option<i64>,
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct TotpPolicyDto {
    pub required_for_staff: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct ChainDto {
    pub intact: bool,
    pub entries: u64,
    /// Where the chain is broken, when it is.
    pub error: Option<String>,
}
