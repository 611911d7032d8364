//! The five roles of SPEC "Who uses it".

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Provider staff: everything, configures plans, catalogue, users.
    ProviderAdmin,
    /// Provider staff: security work on assigned tenants.
    SocAnalyst,
    /// Provider staff (NOC): tickets, hosts, monitoring of assigned tenants.
    SupportAgent,
    /// The customer: its own tenant only.
    CustomerAdmin,
    /// The customer, read-mostly.
    CustomerMember,
}

impl Role {
    pub const ALL: [Role; 5] =
        [Role::ProviderAdmin, Role::SocAnalyst, Role::SupportAgent, Role::CustomerAdmin, Role::CustomerMember];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ProviderAdmin => "provider_admin",
            Role::SocAnalyst => "soc_analyst",
            Role::SupportAgent => "support_agent",
            Role::CustomerAdmin => "customer_admin",
            Role::CustomerMember => "customer_member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Staff belong to the provider organisation.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::ProviderAdmin | Role::SocAnalyst | Role::SupportAgent)
    }

    /// Staff who see only the tenants they are assigned to.
    pub fn needs_assignment(self) -> bool {
        matches!(self, Role::SocAnalyst | Role::SupportAgent)
    }
}
