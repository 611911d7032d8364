//! Linux authentication lines (sshd, sudo, su, PAM, shadow-utils) as
//! OpenSSH, sudo and shadow-utils write them to auth.log / the journal.

use super::ip;
use crate::event::{Category, LogSource, Outcome, SecEvent};

/// Programs whose lines this module reads.
pub const APPS: &[&str] =
    &["sshd", "sudo", "su", "useradd", "userdel", "groupadd", "usermod", "gpasswd", "passwd", "login", "chpasswd"];

pub fn parse(mut e: SecEvent, app: &str) -> SecEvent {
    e.dataset = app.to_string();
    e.process = Some(app.to_string());
    e.logsource = LogSource { product: Some("linux".into()), service: None, category: None };
    let msg = e.message.clone();
    if let Some(rest) = after(&msg, "pam_unix(") {
        if msg.contains("authentication failure") {
            e.category = Category::Authentication;
            e.action = Some("pam_auth".into());
            // sshd logs the same attempt again as "Failed password": counted once.
            e.dataset = "pam".into();
            e.outcome = Some(Outcome::Failure);
            e.user = word_after(rest, " user=");
            e.source_ip = word_after(rest, "rhost=").and_then(|h| ip(&h));
        }
        return e;
    }
    match app {
        "sshd" => sshd(&mut e, &msg),
        "sudo" => sudo(&mut e, &msg),
        "su" => {
            if let Some(rest) = after(&msg, "FAILED SU (to ") {
                e.category = Category::Authentication;
                e.action = Some("su".into());
                e.outcome = Some(Outcome::Failure);
                e.user = rest.split(')').nth(1).and_then(|r| r.split_whitespace().next()).map(str::to_string);
                e.labels.push(("target_user".into(), rest.split(')').next().unwrap_or_default().to_string()));
            }
        }
        _ => shadow(&mut e, &msg),
    }
    e
}

fn sshd(e: &mut SecEvent, msg: &str) {
    let login = |e: &mut SecEvent, outcome, rest: &str| {
        e.category = Category::Authentication;
        e.action = Some("ssh_login".into());
        e.outcome = Some(outcome);
        let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
        e.user = rest.split(" from ").next().map(str::to_string);
        endpoint(e, rest);
    };
    if let Some(rest) = after(msg, "Failed password for ").or_else(|| after(msg, "Failed publickey for ")) {
        login(e, Outcome::Failure, rest);
        e.labels.push(("method".into(), if msg.contains("publickey") { "publickey" } else { "password" }.into()));
    } else if let Some(rest) = after(msg, "Accepted ") {
        let (method, rest) = rest.split_once(" for ").unwrap_or(("", rest));
        login(e, Outcome::Success, rest);
        e.labels.push(("method".into(), method.to_string()));
    } else if let Some(rest) = after(msg, "Invalid user ") {
        e.category = Category::Authentication;
        e.action = Some("ssh_invalid_user".into());
        e.outcome = Some(Outcome::Failure);
        e.user = rest.split(" from ").next().map(str::to_string).filter(|u| !u.is_empty());
        endpoint(e, rest);
    } else if let Some(rest) = after(msg, "maximum authentication attempts exceeded for ") {
        login(e, Outcome::Failure, rest);
        e.action = Some("ssh_max_attempts".into());
    } else if let Some(rest) = after(msg, "Did not receive identification string from ")
        .or_else(|| after(msg, "banner exchange: Connection from "))
        .or_else(|| after(msg, "Bad protocol version identification"))
    {
        e.category = Category::Network;
        e.action = Some("ssh_probe".into());
        e.source_ip = rest.split_whitespace().find_map(ip);
    } else if let Some((addr, port)) = closed_before_login(msg) {
        // OpenSSH 8 and later: what "Did not receive identification string"
        // used to say, after "kex_exchange_identification: …" (which names
        // no address), or a key scan that left after the key exchange.
        e.category = Category::Network;
        e.action = Some("ssh_probe".into());
        e.source_ip = Some(addr);
        e.source_port = Some(port);
    }
}

/// `Connection closed by 198.51.100.23 port 50054` (or `reset`), with
/// nothing after it but `[preauth]`: a peer that left before naming a
/// user. Closings after a user was named carry "authenticating user" or
/// "invalid user" and are not this.
fn closed_before_login(msg: &str) -> Option<(String, u16)> {
    let rest = after(msg, "Connection closed by ").or_else(|| after(msg, "Connection reset by "))?;
    let mut words = rest.split_whitespace();
    let addr = ip(words.next()?)?;
    let port = match (words.next(), words.next()) {
        (Some("port"), Some(p)) => p.parse().ok()?,
        _ => return None,
    };
    match (words.next(), words.next()) {
        (None, _) | (Some("[preauth]"), None) => Some((addr, port)),
        _ => None,
    }
}

fn endpoint(e: &mut SecEvent, rest: &str) {
    if let Some(from) = after(rest, " from ").or_else(|| rest.strip_prefix("from ")) {
        let mut words = from.split_whitespace();
        e.source_ip = words.next().and_then(ip);
        if words.next() == Some("port") {
            e.source_port = words.next().and_then(|p| p.parse().ok());
        }
    }
}

fn sudo(e: &mut SecEvent, msg: &str) {
    let Some((user, rest)) = msg.split_once(" : ") else { return };
    e.user = Some(user.trim().to_string());
    e.category = Category::Process;
    e.action = Some("sudo".into());
    if rest.contains("incorrect password attempt")
        || rest.contains("NOT in sudoers")
        || rest.contains("command not allowed")
    {
        e.outcome = Some(Outcome::Failure);
        e.category = Category::Authentication;
        if rest.contains("NOT in sudoers") {
            e.action = Some("sudo_denied".into());
        }
    } else {
        e.outcome = Some(Outcome::Success);
    }
    if let Some(cmd) = after(rest, "COMMAND=") {
        e.command_line = Some(cmd.trim().to_string());
    }
    if let Some(target) = word_after(rest, "USER=") {
        e.labels.push(("target_user".into(), target.trim_end_matches(';').to_string()));
    }
}

fn shadow(e: &mut SecEvent, msg: &str) {
    e.category = Category::Iam;
    if let Some(rest) = after(msg, "new user: name=") {
        e.action = Some("user_created".into());
        e.user = rest.split(',').next().map(str::to_string);
    } else if let Some(rest) = after(msg, "delete user '").or_else(|| after(msg, "delete user ")) {
        e.action = Some("user_deleted".into());
        e.user = rest.split(['\'', ' ', ',']).next().map(str::to_string);
    } else if let Some(rest) = after(msg, "new group: name=") {
        e.action = Some("group_created".into());
        e.labels.push(("group".into(), rest.split(',').next().unwrap_or_default().to_string()));
    } else if let Some(rest) = after(msg, "add '") {
        // usermod/gpasswd: "add 'bob' to group 'sudo'" (also "shadow group").
        let mut parts = rest.split('\'');
        e.action = Some("group_member_added".into());
        e.user = parts.next().map(str::to_string);
        if let Some(group) = parts.nth(1) {
            e.labels.push(("group".into(), group.to_string()));
        }
    } else if after(msg, "password changed for ").is_some() {
        e.action = Some("password_changed".into());
        e.user = word_after(msg, "password changed for ");
    } else {
        e.category = Category::Other;
    }
}

fn after<'a>(s: &'a str, needle: &str) -> Option<&'a str> {
    s.find(needle).map(|i| &s[i + needle.len()..])
}

fn word_after(s: &str, needle: &str) -> Option<String> {
    after(s, needle).and_then(|r| r.split_whitespace().next()).map(str::to_string).filter(|w| !w.is_empty())
}
