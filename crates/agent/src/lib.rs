//! The Leitstand agent: collects metrics on a customer's host and keeps them
//! in a durable spool until the server has them. It depends on no server
//! crate; it shares only the wire types of `leitstand-proto`.

pub mod collect;
pub mod config;
pub mod spool;
