//! Newtype ids, so a `HostId` can never be passed where a `TenantId` is meant.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    )*};
}

id_type!(
    /// A tenant: the provider organisation or one customer.
    TenantId,
    /// A person who signs in.
    UserId,
    /// A signed-in browser session.
    SessionId,
    /// A personal API token.
    TokenId,
    /// Position of an entry in the audit chain, starting at 1.
    AuditSeq,
    /// A monitored host (one enrolled agent).
    HostId,
);
