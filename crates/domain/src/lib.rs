//! Pure rules and types of Leitstand: no I/O, no async, no clock of its own.
//!
//! Everything that comes from outside is parsed into one of these types at the
//! edge; inside, a value of such a type is always valid.

pub mod alert;
pub mod audit;
pub mod clock;
pub mod host;
pub mod ids;
pub mod lang;
pub mod names;
pub mod notify;
pub mod patch;
pub mod permission;
pub mod plan;
pub mod role;
pub mod soc;
pub mod totp;

pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{AuditSeq, HostId, SessionId, TenantId, TokenId, UserId};
pub use lang::Lang;
pub use names::{Email, FieldError, Password, TenantName, UserName};
pub use permission::Permission;
pub use plan::{Feature, Plan, SecurityPlan, SocPackage};
pub use role::Role;
