//! `TenantScope`: the set of tenants a call may touch.

use leitstand_domain::TenantId;

/// Which tenants a store call may read or write. Only the service layer makes
/// one, from an authenticated actor; stores filter every tenant table by it,
/// and PostgreSQL also enforces it through row-level security.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantScope {
    /// Every tenant (provider admins, system tasks).
    All,
    /// Exactly these tenants (customers: one; staff: their assignments).
    Only(Vec<TenantId>),
}

impl TenantScope {
    pub fn one(id: TenantId) -> Self {
        TenantScope::Only(vec![id])
    }

    pub fn contains(&self, id: TenantId) -> bool {
        match self {
            TenantScope::All => true,
            TenantScope::Only(ids) => ids.contains(&id),
        }
    }

    /// The scope as the PostgreSQL setting `leitstand.scope` reads it:
    /// `all`, or a comma-separated list of ids (empty: nothing).
    pub fn to_setting(&self) -> String {
        match self {
            TenantScope::All => "all".to_owned(),
            TenantScope::Only(ids) => ids.iter().map(|i| i.0.to_string()).collect::<Vec<_>>().join(","),
        }
    }
}
