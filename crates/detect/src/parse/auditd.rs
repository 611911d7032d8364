//! Linux audit records (auditd, forwarded by its syslog plugin or read from
//! audit.log): `type=EXECVE msg=audit(1700000000.123:42): argc=2 a0="nc" …`.
//! Every field is kept under its own name, so Sigma's auditd rules (`type`,
//! `a0`, `exe`, `key` …) match as written.

use super::kv;
use crate::event::{Category, LogSource, SecEvent};

pub fn looks_like(msg: &str) -> bool {
    msg.starts_with("type=") && msg.contains(" msg=audit(")
}

pub fn parse(mut e: SecEvent) -> Option<SecEvent> {
    // The user part of a record sits in msg='…': its quotes are not values'.
    let p: Vec<(&str, String)> =
        kv::pairs(&e.message).into_iter().map(|(k, v)| (k, v.trim_matches('\'').to_string())).collect();
    let kind = kv::get(&p, "type")?.to_string();
    // msg=audit(<seconds>.<ms>:<serial>): the record's own time.
    if let Some(stamp) = e.message.split("msg=audit(").nth(1).and_then(|r| r.split(':').next()) {
        if let Ok(secs) = stamp.parse::<f64>() {
            e.at_ms = (secs * 1000.0) as i64;
        }
    }
    e.user = kv::get(&p, "acct").or_else(|| kv::get(&p, "AUID")).map(str::to_string);
    e.process = kv::get(&p, "comm").map(str::to_string);
    e.pid = kv::get(&p, "pid").and_then(|v| v.parse().ok());
    e.source_ip = kv::get(&p, "addr").and_then(super::ip);
    if kind == "EXECVE" {
        let args: Vec<&str> = (0..64).map_while(|i| kv::get(&p, &format!("a{i}"))).collect();
        e.command_line = Some(args.join(" ")).filter(|c| !c.is_empty());
    }
    e.category = match kind.as_str() {
        "USER_LOGIN" | "USER_AUTH" | "USER_ACCT" | "USER_START" => Category::Authentication,
        "ADD_USER" | "DEL_USER" | "ADD_GROUP" | "USER_MGMT" => Category::Iam,
        "EXECVE" | "SYSCALL" => Category::Process,
        _ => Category::Other,
    };
    e.outcome = kv::get(&p, "res").or_else(|| kv::get(&p, "success")).map(|r| {
        if matches!(r, "success" | "yes") {
            crate::event::Outcome::Success
        } else {
            crate::event::Outcome::Failure
        }
    });
    e.action = Some(kind.to_ascii_lowercase());
    e.labels = p.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    e.dataset = "auditd".into();
    e.logsource = LogSource { product: Some("linux".into()), service: Some("auditd".into()), category: None };
    Some(e)
}
