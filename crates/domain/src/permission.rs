//! Permissions that routes require, and which role holds which.
//!
//! Deny by default: a role holds exactly the permissions listed in
//! [`Permission::granted_to`]; every route names the one it needs.

use crate::Role;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// No sign-in needed (sign-in page, health checks, public status).
    Public,
    /// Any signed-in user (own profile, own tokens, dashboard).
    SignedIn,
    /// See tenants in one's scope.
    TenantsRead,
    /// Create tenants and change their plans.
    TenantsManage,
    /// See users of the tenants in one's scope.
    UsersRead,
    /// Create and invite users, assign staff.
    UsersManage,
    /// Read and export the audit log of the tenants in one's scope.
    AuditRead,
    /// Platform-wide security policy (e.g. mandatory TOTP for staff).
    PolicyManage,
    /// See hosts and their metrics in one's scope.
    HostsRead,
    /// Enrol and revoke hosts in one's scope.
    HostsManage,
    /// SOC results: alerts, evidence, exports (customers see their own).
    SocRead,
    /// SOC administration and analyst work: rules, senders, triage (SOC-13).
    SocManage,
    /// Order a patch job for one's own organisation (PATCH-3): the
    /// customer's authorised person.
    PatchOrder,
    /// A request signed by an enrolled agent; no person holds this.
    Agent,
}

impl Permission {
    pub const ALL: [Permission; 14] = [
        Permission::Public,
        Permission::SignedIn,
        Permission::TenantsRead,
        Permission::TenantsManage,
        Permission::UsersRead,
        Permission::UsersManage,
        Permission::AuditRead,
        Permission::PolicyManage,
        Permission::HostsRead,
        Permission::HostsManage,
        Permission::SocRead,
        Permission::SocManage,
        Permission::PatchOrder,
        Permission::Agent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Public => "public",
            Permission::SignedIn => "signed_in",
            Permission::TenantsRead => "tenants_read",
            Permission::TenantsManage => "tenants_manage",
            Permission::UsersRead => "users_read",
            Permission::UsersManage => "users_manage",
            Permission::AuditRead => "audit_read",
            Permission::PolicyManage => "policy_manage",
            Permission::HostsRead => "hosts_read",
            Permission::HostsManage => "hosts_manage",
            Permission::SocRead => "soc_read",
            Permission::SocManage => "soc_manage",
            Permission::PatchOrder => "patch_order",
            Permission::Agent => "agent",
        }
    }

    /// Whether `role` holds this permission.
    pub fn granted_to(self, role: Role) -> bool {
        use Permission as P;
        match self {
            P::Public | P::SignedIn | P::TenantsRead | P::HostsRead | P::SocRead => true,
            P::SocManage => matches!(role, Role::ProviderAdmin | Role::SocAnalyst),
            P::HostsManage => matches!(role, Role::ProviderAdmin | Role::SupportAgent | Role::CustomerAdmin),
            P::Agent => false,
            P::PatchOrder => role == Role::CustomerAdmin,
            P::UsersRead => role != Role::CustomerMember,
            P::UsersManage | P::AuditRead => {
                matches!(role, Role::ProviderAdmin | Role::CustomerAdmin)
            }
            P::TenantsManage | P::PolicyManage => role == Role::ProviderAdmin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_member_is_read_mostly() {
        assert!(Permission::TenantsRead.granted_to(Role::CustomerMember));
        assert!(!Permission::UsersRead.granted_to(Role::CustomerMember));
        assert!(!Permission::UsersManage.granted_to(Role::CustomerMember));
        assert!(!Permission::AuditRead.granted_to(Role::CustomerMember));
    }

    #[test]
    fn only_provider_security_staff_administer_the_soc() {
        for role in Role::ALL {
            assert_eq!(Permission::SocManage.granted_to(role), matches!(role, Role::ProviderAdmin | Role::SocAnalyst));
            assert!(Permission::SocRead.granted_to(role));
        }
    }

    #[test]
    fn only_provider_admin_manages_tenants_and_policy() {
        for role in Role::ALL {
            assert_eq!(Permission::TenantsManage.granted_to(role), role == Role::ProviderAdmin);
            assert_eq!(Permission::PolicyManage.granted_to(role), role == Role::ProviderAdmin);
        }
    }
}
