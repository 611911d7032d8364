//! Errors of the use cases; the http edge maps each to a status and a message.

use leitstand_domain::FieldError;
use leitstand_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Not there, or not for this actor: both look the same from outside.
    #[error("not found")]
    NotFound,
    /// Signed in, but this action needs a permission the role lacks.
    #[error("forbidden")]
    Forbidden,
    /// Not signed in, or the credentials are wrong.
    #[error("not authenticated")]
    Unauthenticated,
    /// Inputs refused, one message per field.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// A unique value is taken (field name).
    #[error("already exists: {0}")]
    Conflict(&'static str),
    /// Too many failed sign-ins; try again after this many seconds.
    #[error("throttled for {0} s")]
    Throttled(u64),
    /// An agent request was refused; the message tells its operator why.
    #[error("agent refused: {0}")]
    AgentRefused(String),
    /// The agent sends too fast; it may send again after this many seconds.
    #[error("agent rate limited: {0}")]
    AgentRateLimited(String, u64),
    /// The agent's host waits for approval; it keeps its data meanwhile.
    #[error("agent pending: {0}")]
    AgentPending(String),
    /// Input that cannot be taken, with the reason (e.g. a malformed batch).
    #[error("bad input: {0}")]
    BadInput(String),
    /// The store cannot be reached right now.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn field(field: &'static str, code: &'static str) -> Self {
        ServiceError::Invalid(vec![FieldError::new(field, code)])
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::Conflict(what) => ServiceError::Conflict(what),
            StoreError::Unavailable(m) => ServiceError::Unavailable(m),
            StoreError::Backend(m) => ServiceError::Internal(m),
        }
    }
}

impl From<FieldError> for ServiceError {
    fn from(e: FieldError) -> Self {
        ServiceError::Invalid(vec![e])
    }
}
