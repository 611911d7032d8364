//! Version order of dpkg and rpm: the agent needs it too (pending updates),
//! so it lives in `leitstand-proto`; re-exported here for the matcher.

pub use leitstand_proto::version::*;
