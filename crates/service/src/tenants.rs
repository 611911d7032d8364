//! Tenants and their plans.

use crate::{Actor, Result, ServiceError, Services};
use leitstand_domain::{FieldError, Permission, Plan, SecurityPlan, SocPackage, TenantId, TenantName};
use leitstand_store::{NewTenant, Tenant};
use serde::Deserialize;
use serde_json::json;

/// A plan as it arrives from a form or JSON, parsed in [`PlanInput::parse`].
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct PlanInput {
    /// `basic`, `advanced` or `professional`.
    pub security: String,
    /// `none`, `1`, `2` or `3`.
    pub soc: String,
    #[serde(default)]
    pub managed_service: bool,
}

impl PlanInput {
    pub fn parse(&self, errors: &mut Vec<FieldError>) -> Plan {
        let security = SecurityPlan::parse(self.security.trim()).unwrap_or_else(|| {
            errors.push(FieldError::new("security", "error-plan-security"));
            SecurityPlan::Basic
        });
        let soc = SocPackage::parse(self.soc.trim()).unwrap_or_else(|| {
            errors.push(FieldError::new("soc", "error-plan-soc"));
            SocPackage::None
        });
        Plan { security, soc, managed_service: self.managed_service }
    }
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct NewTenantInput {
    pub name: String,
    #[serde(flatten)]
    pub plan: PlanInput,
    /// IANA time zone; Europe/Berlin when absent.
    #[serde(default)]
    pub time_zone: Option<String>,
}

pub(crate) fn parse_time_zone(tz: Option<&str>, errors: &mut Vec<FieldError>) -> String {
    let tz = tz.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("Europe/Berlin");
    if jiff::tz::TimeZone::get(tz).is_err() {
        errors.push(FieldError::new("time_zone", "error-time-zone"));
    }
    tz.to_owned()
}

impl Services {
    pub async fn tenants(&self, actor: &Actor) -> Result<Vec<Tenant>> {
        actor.require(Permission::TenantsRead)?;
        let mut all = self.store.tenants(actor.scope()).await?;
        // A customer's own tenant is always in its scope; staff see their own
        // organisation only when they administer the platform.
        all.retain(|t| actor.scope().contains(t.id));
        Ok(all)
    }

    pub async fn tenant(&self, actor: &Actor, id: TenantId) -> Result<Tenant> {
        actor.require(Permission::TenantsRead)?;
        actor.require_tenant(id)?;
        Ok(self.store.tenant(actor.scope(), id).await?)
    }

    pub async fn create_tenant(&self, actor: &Actor, input: &NewTenantInput) -> Result<Tenant> {
        actor.require(Permission::TenantsManage)?;
        let mut errors = Vec::new();
        let name = TenantName::parse("name", &input.name).map_err(|e| errors.push(e)).ok();
        let plan = input.plan.parse(&mut errors);
        let time_zone = parse_time_zone(input.time_zone.as_deref(), &mut errors);
        let Some(name) = name.filter(|_| errors.is_empty()) else {
            return Err(ServiceError::Invalid(errors));
        };
        let draft = actor.audit(
            self.now(),
            "tenant.create",
            None,
            String::new(),
            json!({ "name": name.as_str(), "plan": plan, "time_zone": time_zone }),
        );
        let t = NewTenant { name, plan, time_zone, at: self.now() };
        let tenant = self.store.create_tenant(&t, &draft).await.map_err(|e| match e {
            leitstand_store::StoreError::Conflict(_) => ServiceError::field("name", "error-tenant-exists"),
            e => e.into(),
        })?;
        // The default alarm rules; should this fail, the next start adds them.
        if let Err(e) = self.ensure_default_rules(tenant.id).await {
            tracing::warn!(error = %e, tenant = tenant.id.0, "default alarm rules not added yet");
        }
        Ok(tenant)
    }

    pub async fn set_plan(&self, actor: &Actor, id: TenantId, input: &PlanInput) -> Result<Tenant> {
        actor.require(Permission::TenantsManage)?;
        actor.require_tenant(id)?;
        let mut errors = Vec::new();
        let plan = input.plan_or_errors(&mut errors)?;
        let before = self.store.tenant(actor.scope(), id).await?;
        let draft = actor.audit(
            self.now(),
            "tenant.plan_change",
            Some(id),
            format!("tenant:{}", id),
            json!({ "from": before.plan, "to": plan }),
        );
        Ok(self.store.set_plan(actor.scope(), id, &plan, &draft).await?)
    }
}

impl PlanInput {
    fn plan_or_errors(&self, errors: &mut Vec<FieldError>) -> Result<Plan> {
        let plan = self.parse(errors);
        if errors.is_empty() {
            Ok(plan)
        } else {
            Err(ServiceError::Invalid(std::mem::take(errors)))
        }
    }
}
