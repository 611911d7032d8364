//! Alarm rules and alerts (ALARM-1 … ALARM-3): every tenant gets the
//! default rules; people read alerts and move them through their
//! lifecycle, each change audited.

use crate::{Actor, Result, ServiceError, Services};
use jiff::Timestamp;
use leitstand_domain::alert::{default_rules, next_state, AlertAction};
use leitstand_domain::{Permission, TenantId};
use leitstand_store::{Alert, AlertQuery, AlertRule, NewAlertRule, TenantScope};
use serde_json::json;

/// The default rules as stored rules; their names are their keys, which the
/// console translates.
pub fn default_alert_rules() -> Vec<NewAlertRule> {
    default_rules()
        .into_iter()
        .map(|d| NewAlertRule { key: Some(d.key.into()), name: d.key.into(), severity: d.severity, kind: d.kind })
        .collect()
}

impl Services {
    /// Gives a tenant the default rules it does not have yet (at creation,
    /// and at every start for tenants made before a default was added).
    pub async fn ensure_default_rules(&self, tenant: TenantId) -> Result<u64> {
        Ok(self.store.ensure_rules(tenant, &default_alert_rules(), self.now()).await?)
    }

    /// [`ensure_default_rules`](Self::ensure_default_rules) for every tenant.
    pub async fn ensure_default_rules_everywhere(&self) -> Result<u64> {
        let mut added = 0;
        for t in self.store.tenants(&TenantScope::All).await? {
            added += self.ensure_default_rules(t.id).await?;
        }
        Ok(added)
    }

    pub async fn alert_rules(&self, actor: &Actor, tenant: TenantId) -> Result<Vec<AlertRule>> {
        actor.require(Permission::HostsRead)?;
        actor.require_tenant(tenant)?;
        Ok(self.store.alert_rules(actor.scope(), tenant).await?)
    }

    /// Alerts of the actor's tenants (or one), most severe and newest first.
    pub async fn alerts(&self, actor: &Actor, tenant: Option<TenantId>, mut q: AlertQuery) -> Result<Vec<Alert>> {
        actor.require(Permission::HostsRead)?;
        let scope = actor.narrowed(tenant)?;
        q.limit = if q.limit == 0 { 200 } else { q.limit.min(10_000) };
        Ok(self.store.alerts(&scope, &q).await?)
    }

    /// Acknowledges, mutes or resolves an alert; refused with the reason
    /// when the lifecycle does not allow it.
    pub async fn act_on_alert(&self, actor: &Actor, id: i64, action: AlertAction) -> Result<Alert> {
        actor.require(Permission::HostsManage)?;
        let now = self.now();
        let alert = self.store.alert(actor.scope(), id).await?;
        let state = next_state(alert.state, alert.muted_until, action, now)
            .map_err(|e| ServiceError::BadInput(e.to_string()))?;
        let (verb, muted_until): (&str, Option<Timestamp>) = match action {
            AlertAction::Acknowledge => ("alert.acknowledge", None),
            AlertAction::Mute { until } => ("alert.mute", Some(until)),
            AlertAction::Resolve => ("alert.resolve", None),
            AlertAction::Repeat => {
                return Err(ServiceError::BadInput("a repeat comes from the rule, not a person".into()))
            }
        };
        let draft = actor.audit(
            now,
            verb,
            Some(alert.tenant),
            format!("alert:{id}"),
            json!({ "from": alert.state.as_str(), "to": state.as_str(), "muted_until": muted_until.map(|t| t.to_string()) }),
        );
        Ok(self.store.set_alert_state(actor.scope(), id, state, muted_until, now, &draft).await?)
    }

    /// Switches a rule, or only its notifications, on or off (ALARM-3).
    pub async fn set_rule_flags(&self, actor: &Actor, rule: i64, enabled: bool, notify: bool) -> Result<AlertRule> {
        actor.require(Permission::HostsManage)?;
        let draft = actor.audit(
            self.now(),
            "alert_rule.update",
            None,
            format!("alert_rule:{rule}"),
            json!({ "enabled": enabled, "notify": notify }),
        );
        Ok(self.store.set_rule_flags(actor.scope(), rule, enabled, notify, &draft).await?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_default_rule_has_a_key_and_is_valid() {
        let rules = super::default_alert_rules();
        assert_eq!(rules.len(), 16);
        for r in rules {
            assert!(r.key.is_some());
            r.kind.validate().expect("valid");
        }
    }
}
