//! The `leitstand` server: HTTP API, web console, operations endpoints and
//! the command line. Handlers are thin; the rules live in `leitstand-service`.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod http;
pub mod i18n;
pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod ops;
pub mod patch;
pub mod routes;
pub mod syslog;
pub mod tls;
pub mod vuln;
pub mod web;
