//! Personal API tokens: shown once, stored hashed, acting with the rights of
//! their user.

use crate::crypto::{random_token, token_hash};
use crate::{Actor, Result, ServiceError, Services};
use leitstand_domain::TokenId;
use leitstand_store::{ApiToken, NewApiToken};
use serde_json::json;

/// A token just made: the secret is in `token` and is never shown again.
#[derive(Debug)]
pub struct CreatedToken {
    pub token: String,
    pub info: ApiToken,
}

pub const TOKEN_PREFIX: &str = "lst_";

impl Services {
    pub async fn api_tokens(&self, actor: &Actor) -> Result<Vec<ApiToken>> {
        Ok(self.store.tokens(actor.id()).await?)
    }

    pub async fn create_api_token(&self, actor: &Actor, label: &str, days: Option<u32>) -> Result<CreatedToken> {
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 80 || label.chars().any(char::is_control) {
            return Err(ServiceError::field("label", "error-token-label"));
        }
        if days.is_some_and(|d| d == 0 || d > 3650) {
            return Err(ServiceError::field("days", "error-token-days"));
        }
        let token = format!("{TOKEN_PREFIX}{}", random_token());
        let new = NewApiToken {
            user: actor.id(),
            label: label.to_owned(),
            token_hash: token_hash(&token),
            prefix: token[..TOKEN_PREFIX.len() + 6].to_owned(),
            created_at: self.now(),
            expires_at: days.map(|d| self.now() + jiff::SignedDuration::from_hours(24 * d as i64)),
        };
        let draft = actor.audit(
            self.now(),
            "api_token.create",
            Some(actor.user.tenant),
            String::new(),
            json!({ "label": label }),
        );
        let info = self.store.create_token(&new, &draft).await?;
        Ok(CreatedToken { token, info })
    }

    pub async fn revoke_api_token(&self, actor: &Actor, id: TokenId) -> Result<()> {
        let draft =
            actor.audit(self.now(), "api_token.revoke", Some(actor.user.tenant), format!("api_token:{id}"), json!({}));
        Ok(self.store.revoke_token(actor.id(), id, &draft).await?)
    }
}
