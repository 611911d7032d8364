//! From a syslog line to a `SecEvent`: picks the parser by program name or
//! by the shape of the line; a line no parser knows is kept raw.

mod auditd;
mod auth;
mod filterlog;
mod fortinet;
pub mod kv;
mod netfilter;
mod sophos;

use crate::event::{LogSource, SecEvent};
use crate::syslog::SyslogLine;

/// Where a line came from, as far as the receiver knows.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// When the line arrived; used when it carries no time of its own.
    pub received_ms: i64,
    /// The registered name of the sender, used when the line names no host.
    pub host: Option<String>,
    /// The sender is a Linux host (an agent); raw lines get product `linux`.
    pub linux: bool,
}

/// Reads a line into our schema. Never fails: unknown lines are raw events.
pub fn normalise(line: &SyslogLine, origin: &Origin) -> SecEvent {
    let mut base = SecEvent::raw(
        line.at_ms.unwrap_or(origin.received_ms),
        line.hostname.clone().or_else(|| origin.host.clone()),
        line.msg.clone(),
    );
    base.severity = line.severity;
    base.pid = line.pid;
    let app = match line.app.as_deref().unwrap_or_default() {
        "sshd-session" => "sshd", // OpenSSH 9.8 and later log the session process so
        other => other,
    };
    let parsed = if app == "filterlog" {
        filterlog::parse(base.clone())
    } else if fortinet::looks_like(&line.msg) {
        fortinet::parse(base.clone())
    } else if sophos::looks_like(&line.msg) {
        sophos::parse(base.clone())
    } else if auditd::looks_like(&line.msg) {
        auditd::parse(base.clone())
    } else if netfilter::looks_like(&line.msg) {
        netfilter::parse(base.clone())
    } else if auth::APPS.contains(&app) || line.msg.contains("pam_unix(") {
        Some(auth::parse(base.clone(), app))
    } else {
        None
    };
    parsed.unwrap_or_else(|| {
        if origin.linux || !app.is_empty() {
            base.process = Some(app.to_string()).filter(|a| !a.is_empty());
            base.logsource = LogSource { product: Some("linux".into()), ..LogSource::default() };
        }
        base
    })
}

/// A device's own `date=YYYY-MM-DD time=HH:MM:SS` at a UTC offset, Unix ms.
fn local_time(date: &str, time: &str, offset_secs: i32) -> Option<i64> {
    let civil: jiff::civil::DateTime = format!("{date}T{time}").parse().ok()?;
    let offset = jiff::tz::Offset::from_seconds(offset_secs).ok()?;
    Some(civil.to_zoned(jiff::tz::TimeZone::fixed(offset)).ok()?.timestamp().as_millisecond())
}

/// `+0100` / `-05:30` as seconds east of UTC.
fn offset_of(tz: &str) -> Option<i32> {
    let (sign, rest) = match tz.as_bytes().first()? {
        b'+' => (1, &tz[1..]),
        b'-' => (-1, &tz[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 4 {
        return None;
    }
    let (h, m): (i32, i32) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
    Some(sign * (h * 3600 + m * 60))
}

/// An address as written, checked; `None` when it is not one.
fn ip(s: &str) -> Option<String> {
    s.trim().parse::<std::net::IpAddr>().ok().map(|a| a.to_string())
}

/// The vendors' words for a packet decision, in two: `block` or `pass`.
fn firewall_action(word: &str) -> &'static str {
    match word.to_ascii_lowercase().as_str() {
        "block" | "drop" | "deny" | "denied" | "reject" | "blocked" | "dropped" | "rejected" => "block",
        "pass" | "accept" | "allow" | "allowed" | "close" | "timeout" | "start" | "server-rst" | "client-rst" => "pass",
        _ => "log",
    }
}
