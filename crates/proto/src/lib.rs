//! Wire types shared by the agent and the server (serde only, versioned).
//!
//! The agent protocol arrives with the agent; for now this crate fixes the
//! version constant both sides will check.

/// Version of the agent–server protocol.
pub const PROTOCOL_VERSION: u32 = 1;
