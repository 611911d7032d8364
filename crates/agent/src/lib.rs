//! The Leitstand agent: collects metrics on a customer's host, keeps them in
//! a durable spool, and sends them to the server in signed batches. It
//! depends on no server crate; it shares only the wire types of
//! `leitstand-proto`.

pub mod actions;
pub mod checklist;
pub mod collect;
pub mod config;
pub mod events;
pub mod identity;
pub mod inventory;
pub mod runner;
pub mod settings;
pub mod spool;
pub mod upgrade;
pub mod uplink;
