//! Plans per tenant (PLAT-5) and the one feature gate later features call.
//!
//! Gates are data: [`GATES`] lists, per feature, what a plan must include.

use serde::{Deserialize, Serialize};

/// Security plan of the managed IT-security add-on [000].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SecurityPlan {
    #[default]
    Basic,
    Advanced,
    Professional,
}

/// SOC service package [003]; `None` when the tenant has no SOC service.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SocPackage {
    #[default]
    None,
    P1,
    P2,
    P3,
}

/// What a tenant has booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    pub security: SecurityPlan,
    pub soc: SocPackage,
    /// Managed Service Package for VMs [004].
    pub managed_service: bool,
}

impl SecurityPlan {
    pub const ALL: [SecurityPlan; 3] = [SecurityPlan::Basic, SecurityPlan::Advanced, SecurityPlan::Professional];

    pub fn as_str(self) -> &'static str {
        match self {
            SecurityPlan::Basic => "basic",
            SecurityPlan::Advanced => "advanced",
            SecurityPlan::Professional => "professional",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl SocPackage {
    pub const ALL: [SocPackage; 4] = [SocPackage::None, SocPackage::P1, SocPackage::P2, SocPackage::P3];

    pub fn as_str(self) -> &'static str {
        match self {
            SocPackage::None => "none",
            SocPackage::P1 => "1",
            SocPackage::P2 => "2",
            SocPackage::P3 => "3",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Features that depend on the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// IPS-1..IPS-4: only Advanced and Professional.
    IntrusionPrevention,
    /// SOC-4: alerts in a dashboard and as a file (package 1 and up).
    SocAlerts,
    /// SOC-5: analyst triage (package 2 and up).
    SocTriage,
    /// SOC-5/SOC-7: 24/7 handling, endpoint isolation (package 3).
    SocAroundTheClock,
    /// [004]: monitoring, alerting, updates and helpdesk of the managed service.
    ManagedService,
}

/// What a plan must include for a feature.
#[derive(Debug, Clone, Copy)]
pub enum Requirement {
    SecurityAtLeast(SecurityPlan),
    SocAtLeast(SocPackage),
    ManagedService,
}

/// The gate table: one line per feature.
pub const GATES: &[(Feature, Requirement)] = &[
    (Feature::IntrusionPrevention, Requirement::SecurityAtLeast(SecurityPlan::Advanced)),
    (Feature::SocAlerts, Requirement::SocAtLeast(SocPackage::P1)),
    (Feature::SocTriage, Requirement::SocAtLeast(SocPackage::P2)),
    (Feature::SocAroundTheClock, Requirement::SocAtLeast(SocPackage::P3)),
    (Feature::ManagedService, Requirement::ManagedService),
];

impl Plan {
    /// The one feature gate: does this plan include `feature`?
    pub fn allows(&self, feature: Feature) -> bool {
        GATES.iter().filter(|(f, _)| *f == feature).all(|(_, req)| match *req {
            Requirement::SecurityAtLeast(min) => self.security >= min,
            Requirement::SocAtLeast(min) => self.soc >= min,
            Requirement::ManagedService => self.managed_service,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intrusion_prevention_only_in_advanced_and_professional() {
        let mut plan = Plan::default();
        assert!(!plan.allows(Feature::IntrusionPrevention));
        plan.security = SecurityPlan::Advanced;
        assert!(plan.allows(Feature::IntrusionPrevention));
        plan.security = SecurityPlan::Professional;
        assert!(plan.allows(Feature::IntrusionPrevention));
    }

    #[test]
    fn soc_packages_build_on_each_other() {
        let plan = Plan { soc: SocPackage::P2, ..Plan::default() };
        assert!(plan.allows(Feature::SocAlerts));
        assert!(plan.allows(Feature::SocTriage));
        assert!(!plan.allows(Feature::SocAroundTheClock));
        assert!(!Plan::default().allows(Feature::SocAlerts));
    }

    #[test]
    fn every_feature_has_a_gate() {
        for f in [
            Feature::IntrusionPrevention,
            Feature::SocAlerts,
            Feature::SocTriage,
            Feature::SocAroundTheClock,
            Feature::ManagedService,
        ] {
            assert!(GATES.iter().any(|(g, _)| *g == f), "{f:?} has no gate");
        }
    }
}
