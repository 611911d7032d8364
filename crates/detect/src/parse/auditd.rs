//! Linux audit records (auditd, forwarded by its syslog plugin or read from
//! audit.log): `type=EXECVE msg=audit(1700000000.123:42): argc=2 a0="nc" …`.
//! Every field is kept under its own name, so Sigma's auditd rules (`type`,
//! `a0`, `exe`, `key` …) match as written.
//!
//! Two things of the real format are undone here, as `ausearch -i` does:
//! auditd 3's "enriched" log appends the names of ids (`AUID="unset"
//! UID="root"`) after a 0x1D separator, and strings it does not trust
//! (arguments with spaces or quotes, the process title) are written as
//! upper-case hex without quotes. Rules are written against the text.

use super::kv;
use crate::event::{Category, LogSource, Outcome, SecEvent};

/// auditd's separator between the record and its enriched names.
const ENRICHED: char = '\u{1d}';

/// Fields that auditd writes as hex when their text needs it (besides the
/// `a<n>` arguments of EXECVE records).
const ENCODED: [&str; 7] = ["proctitle", "cmd", "comm", "exe", "cwd", "name", "data"];

pub fn looks_like(msg: &str) -> bool {
    msg.starts_with("type=") && msg.contains(" msg=audit(")
}

/// `6E63002D65` → `nc -e`: auditd's hex for an untrusted string (NULs
/// between the process title's arguments become spaces). `None` for a
/// value that is not such hex (quoted text was already unquoted).
fn decoded(value: &str) -> Option<String> {
    let upper_hex = |b: &u8| b.is_ascii_digit() || (b'A'..=b'F').contains(b);
    if value.is_empty() || !value.len().is_multiple_of(2) || !value.as_bytes().iter().all(upper_hex) {
        return None;
    }
    let bytes = hex::decode(value).ok()?;
    let text = String::from_utf8_lossy(&bytes).replace('\0', " ");
    Some(text.trim_end().to_string())
}

/// Whether auditd may have hex-encoded this field of a record of `kind`.
fn encoded(kind: &str, key: &str) -> bool {
    ENCODED.contains(&key)
        || (kind == "EXECVE"
            && key.strip_prefix('a').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
}

pub fn parse(mut e: SecEvent) -> Option<SecEvent> {
    e.message = e.message.replace(ENRICHED, " ");
    // The user part of a record sits in msg='…'; its quotes are not values'.
    let text = e.message.replace(" msg='", " ").replace("' ", " ");
    let text = text.trim_end().trim_end_matches('\'');
    let mut p: Vec<(&str, String)> = kv::pairs(text);
    let kind = kv::get(&p, "type")?.to_string();
    for (key, value) in &mut p {
        // Only a bare value can be hex; `a1="CAFE"` is the text CAFE.
        if encoded(&kind, key) && text.contains(&format!("{key}={value}")) {
            if let Some(text) = decoded(value) {
                *value = text;
            }
        }
    }
    // msg=audit(<seconds>.<ms>:<serial>): the record's own time.
    if let Some(stamp) = e.message.split("msg=audit(").nth(1).and_then(|r| r.split(':').next()) {
        if let Ok(secs) = stamp.parse::<f64>() {
            e.at_ms = (secs * 1000.0).round() as i64;
        }
    }
    let known = |v: &&str| !matches!(*v, "unset" | "?" | "(null)");
    e.user = kv::get(&p, "acct")
        .or_else(|| kv::get(&p, "AUID").filter(known))
        .or_else(|| kv::get(&p, "UID").filter(known))
        .map(str::to_string);
    e.process = kv::get(&p, "comm").map(str::to_string);
    e.pid = kv::get(&p, "pid").and_then(|v| v.parse().ok());
    e.source_ip = kv::get(&p, "addr").and_then(super::ip);
    e.command_line = match kind.as_str() {
        "EXECVE" => {
            let args: Vec<&str> = (0..64).map_while(|i| kv::get(&p, &format!("a{i}"))).collect();
            Some(args.join(" "))
        }
        "PROCTITLE" => kv::get(&p, "proctitle").map(str::to_string),
        "USER_CMD" => kv::get(&p, "cmd").map(str::to_string),
        _ => None,
    }
    .filter(|c| !c.is_empty());
    e.category = match kind.as_str() {
        "USER_LOGIN" | "USER_AUTH" | "USER_ACCT" | "USER_START" | "USER_END" | "CRED_ACQ" | "CRED_DISP"
        | "CRED_REFR" | "USER_ERR" => Category::Authentication,
        "ADD_USER" | "DEL_USER" | "ADD_GROUP" | "DEL_GROUP" | "USER_MGMT" | "GRP_MGMT" | "USER_CHAUTHTOK"
        | "GRP_CHAUTHTOK" => Category::Iam,
        "EXECVE" | "SYSCALL" | "PROCTITLE" | "USER_CMD" => Category::Process,
        _ => Category::Other,
    };
    e.outcome = kv::get(&p, "res").or_else(|| kv::get(&p, "success")).and_then(|r| match r {
        "success" | "yes" | "1" => Some(Outcome::Success),
        "failed" | "no" | "0" => Some(Outcome::Failure),
        _ => None,
    });
    e.action = Some(kind.to_ascii_lowercase());
    e.labels = p.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    e.dataset = "auditd".into();
    e.logsource = LogSource { product: Some("linux".into()), service: Some("auditd".into()), category: None };
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_strings_are_decoded_and_others_left() {
        assert_eq!(decoded("6E63002D65").as_deref(), Some("nc -e"));
        assert_eq!(decoded("557a53008730"), None, "lower case: a register value, not a string");
        assert_eq!(decoded("ABC"), None, "odd length");
        assert_eq!(decoded("(null)"), None);
        assert!(encoded("EXECVE", "a12"));
        assert!(!encoded("SYSCALL", "a0"), "a SYSCALL's a0 is a register");
        assert!(!encoded("EXECVE", "argc"));
        assert!(encoded("PROCTITLE", "proctitle"));
    }
}
