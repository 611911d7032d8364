//! Messages of sshd, login, su and sudo, of the kernel's OOM killer and of
//! failed certificate renewals turned into typed events. The
//! same parser serves the journal and the auth log: it sees the program
//! name and the message text.

use leitstand_proto::SystemEvent;

fn event(kind: &str, service: &str) -> SystemEvent {
    SystemEvent { kind: kind.into(), service: service.into(), ..SystemEvent::default() }
}

/// The word after `key` in `text`.
fn word_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let i = text.find(key)? + key.len();
    text[i..].split_whitespace().next()
}

/// `key=value` out of `a=1 b=2 user=root`, up to the next space or `;`.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split([' ', ';']).find_map(|p| p.strip_prefix(key)?.strip_prefix('=')).filter(|v| !v.is_empty())
}

/// `anna(uid=1000)` → `anna`.
fn bare_user(s: &str) -> &str {
    s.split('(').next().unwrap_or(s)
}

/// The event a message makes, or `None` for messages that say nothing
/// about a sign-in (connection closed, key exchange …).
pub fn parse(program: &str, message: &str) -> Option<SystemEvent> {
    let m = message.trim();
    match program {
        "sshd" | "sshd-session" => sshd(m),
        "sudo" => sudo(m),
        "su" => su(m),
        "login" => login(m),
        "kernel" => kernel(m),
        "systemd" | "certbot" => certificate_renewal(program, m),
        _ => None,
    }
}

fn sshd(m: &str) -> Option<SystemEvent> {
    // "Accepted publickey for root from 192.0.2.10 port 52144 ssh2: ED25519 SHA256:…"
    if let Some(rest) = m.strip_prefix("Accepted ") {
        let mut e = event("auth.login", "sshd");
        e.method = rest.split_whitespace().next()?.to_owned();
        e.user = word_after(rest, " for ")?.to_owned();
        e.source = word_after(rest, " from ").unwrap_or_default().to_owned();
        return Some(e);
    }
    // "Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2"
    // "Failed password for anna from 203.0.113.5 port 4242 ssh2"
    if let Some(rest) = m.strip_prefix("Failed ") {
        let method = rest.split_whitespace().next()?;
        let (kind, user) = match word_after(rest, " for invalid user ") {
            Some(u) => ("auth.invalid_user", u),
            None => ("auth.login_failed", word_after(rest, " for ")?),
        };
        let mut e = event(kind, "sshd");
        e.method = method.to_owned();
        e.user = user.to_owned();
        e.source = word_after(rest, " from ").unwrap_or_default().to_owned();
        return Some(e);
    }
    // "Invalid user admin from 203.0.113.5 port 4242"
    if let Some(rest) = m.strip_prefix("Invalid user ") {
        let mut e = event("auth.invalid_user", "sshd");
        let user = rest.split(" from ").next().unwrap_or_default().trim();
        e.user = user.to_owned();
        e.source = word_after(rest, " from ").unwrap_or_default().to_owned();
        return Some(e);
    }
    None
}

fn sudo(m: &str) -> Option<SystemEvent> {
    // "anna : TTY=pts/0 ; PWD=/home/anna ; USER=root ; COMMAND=/usr/bin/apt update"
    // "anna : 3 incorrect password attempts ; TTY=pts/0 ; … ; COMMAND=/bin/sh"
    // "bernd : user NOT in sudoers ; TTY=pts/1 ; … ; COMMAND=/bin/sh"
    let (user, rest) = m.split_once(" : ")?;
    let user = user.trim();
    if user.contains(' ') || user.is_empty() {
        return None;
    }
    let kind = if rest.contains("incorrect password attempt") {
        "auth.sudo_failed"
    } else if rest.contains("NOT in sudoers") || rest.contains("command not allowed") {
        "auth.sudo_denied"
    } else if rest.trim_start().starts_with("TTY=") || rest.trim_start().starts_with("PWD=") {
        "auth.sudo"
    } else {
        return None;
    };
    let mut e = event(kind, "sudo");
    e.user = user.to_owned();
    e.tty = field(rest, "TTY").unwrap_or_default().to_owned();
    e.target = field(rest, "USER").unwrap_or("root").to_owned();
    e.command = rest.split_once("COMMAND=").map(|(_, c)| c.trim().to_owned()).unwrap_or_default();
    Some(e)
}

fn su(m: &str) -> Option<SystemEvent> {
    // "pam_unix(su:session): session opened for user root(uid=0) by anna(uid=1000)"
    if m.contains("(su:session): session opened for user ") || m.contains("(su-l:session): session opened for user ") {
        let mut e = event("auth.su", "su");
        e.target = bare_user(word_after(m, "session opened for user ")?).to_owned();
        e.user = word_after(m, " by ").map(bare_user).unwrap_or_default().to_owned();
        return Some(e);
    }
    // "pam_unix(su:auth): authentication failure; logname=anna uid=1000 euid=0 tty=/dev/pts/0 ruser=anna rhost=  user=root"
    if m.contains("(su:auth): authentication failure") || m.contains("(su-l:auth): authentication failure") {
        let mut e = event("auth.su_failed", "su");
        e.user = field(m, "ruser").or_else(|| field(m, "logname")).unwrap_or_default().to_owned();
        e.target = field(m, "user").unwrap_or_default().to_owned();
        e.tty = field(m, "tty").unwrap_or_default().to_owned();
        return Some(e);
    }
    // "FAILED SU (to root) anna on pts/0" (util-linux su without PAM detail)
    if let Some(rest) = m.strip_prefix("FAILED SU (to ") {
        let (target, rest) = rest.split_once(") ")?;
        let mut e = event("auth.su_failed", "su");
        e.target = target.to_owned();
        e.user = rest.split_whitespace().next().unwrap_or_default().to_owned();
        e.tty = word_after(rest, " on ").unwrap_or_default().to_owned();
        return Some(e);
    }
    None
}

fn login(m: &str) -> Option<SystemEvent> {
    // "pam_unix(login:session): session opened for user anna(uid=1000) by LOGIN(uid=0)"
    if m.contains("(login:session): session opened for user ") {
        let mut e = event("auth.login", "login");
        e.user = bare_user(word_after(m, "session opened for user ")?).to_owned();
        e.method = "password".into();
        return Some(e);
    }
    // "FAILED LOGIN (1) on '/dev/tty1' FOR 'anna', Authentication failure"
    if m.starts_with("FAILED LOGIN") {
        let mut e = event("auth.login_failed", "login");
        e.user = m.split(" FOR '").nth(1)?.split('\'').next()?.to_owned();
        e.tty = m.split(" on '").nth(1).and_then(|t| t.split('\'').next()).unwrap_or_default().to_owned();
        e.method = "password".into();
        if m.contains("User not known") {
            e.kind = "auth.invalid_user".into();
        }
        return Some(e);
    }
    None
}

/// Processes whose loss stops a database (ALARM-4: imminent danger).
const DATABASES: [&str; 10] = [
    "postgres",
    "postmaster",
    "mysqld",
    "mariadbd",
    "mongod",
    "redis-server",
    "valkey-server",
    "influxd",
    "clickhouse-serv",
    "clickhouse-server",
];

fn kernel(m: &str) -> Option<SystemEvent> {
    // "Out of memory: Killed process 4242 (postgres) total-vm:… anon-rss:…"
    let rest =
        m.strip_prefix("Out of memory: Killed process ").or_else(|| m.split_once(": Killed process ").map(|x| x.1))?;
    let name = rest.split_once('(')?.1.split_once(')')?.0;
    let database = DATABASES.contains(&name);
    let mut e = event(if database { "oom.database_killed" } else { "oom.killed" }, "kernel");
    e.target = name.to_owned();
    e.command = rest.split_whitespace().next().unwrap_or_default().to_owned();
    Some(e)
}

fn certificate_renewal(program: &str, m: &str) -> Option<SystemEvent> {
    // systemd: "certbot.service: Failed with result 'exit-code'."
    // certbot: "Failed to renew certificate example.org with error: …"
    let unit = m.split_once(".service: Failed with result").map(|x| x.0);
    let failed = match program {
        "systemd" => {
            unit.is_some_and(|u| u.starts_with("certbot") || u.contains("acme") || u.starts_with("dehydrated"))
        }
        _ => m.starts_with("Failed to renew certificate") || m.contains("renewal failure"),
    };
    if !failed {
        return None;
    }
    let mut e = event("cert.renewal_failed", program);
    e.target = match unit {
        Some(u) => u.to_owned(),
        None => word_after(m, "certificate ").unwrap_or_default().to_owned(),
    };
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oom_killer_and_failed_certificate_renewals_are_events() {
        let e = parse(
            "kernel",
            "Out of memory: Killed process 4242 (postgres) total-vm:8123456kB, anon-rss:7000000kB, file-rss:0kB",
        )
        .expect("oom");
        assert_eq!(
            (e.kind.as_str(), e.target.as_str(), e.command.as_str()),
            ("oom.database_killed", "postgres", "4242")
        );
        let e = parse("kernel", "Out of memory: Killed process 77 (chrome) total-vm:1kB").expect("oom");
        assert_eq!(e.kind, "oom.killed");
        assert!(parse("kernel", "usb 1-1: new high-speed USB device").is_none());
        let e = parse("systemd", "certbot.service: Failed with result 'exit-code'.").expect("cert");
        assert_eq!((e.kind.as_str(), e.target.as_str()), ("cert.renewal_failed", "certbot"));
        assert!(parse("systemd", "nginx.service: Failed with result 'exit-code'.").is_none());
        let e = parse("certbot", "Failed to renew certificate example.org with error: timeout").expect("cert");
        assert_eq!(e.target, "example.org");
    }

    fn kind_user(program: &str, m: &str) -> (String, String) {
        let e = parse(program, m).unwrap_or_else(|| panic!("no event: {m}"));
        (e.kind, e.user)
    }

    #[test]
    fn sshd_sign_ins_succeed_fail_and_name_unknown_users() {
        let e = parse("sshd", "Accepted publickey for root from 192.0.2.10 port 52144 ssh2: ED25519 SHA256:abc")
            .expect("ok");
        assert_eq!(
            (e.kind.as_str(), e.user.as_str(), e.source.as_str(), e.method.as_str()),
            ("auth.login", "root", "192.0.2.10", "publickey")
        );
        let e = parse("sshd", "Failed password for anna from 203.0.113.5 port 4242 ssh2").expect("failed");
        assert_eq!(
            (e.kind.as_str(), e.user.as_str(), e.source.as_str(), e.method.as_str()),
            ("auth.login_failed", "anna", "203.0.113.5", "password")
        );
        assert_eq!(
            kind_user("sshd", "Failed password for invalid user admin from 203.0.113.5 port 4242 ssh2"),
            ("auth.invalid_user".into(), "admin".into())
        );
        assert_eq!(
            kind_user("sshd-session", "Invalid user oracle from 198.51.100.7 port 50000"),
            ("auth.invalid_user".into(), "oracle".into())
        );
        assert!(parse("sshd", "Connection closed by authenticating user root 192.0.2.1 port 22 [preauth]").is_none());
        assert!(parse("sshd", "Server listening on 0.0.0.0 port 22.").is_none());
    }

    #[test]
    fn sudo_use_failure_and_refusal() {
        let e = parse("sudo", "    anna : TTY=pts/0 ; PWD=/home/anna ; USER=root ; COMMAND=/usr/bin/apt update")
            .expect("sudo");
        assert_eq!(
            (e.kind.as_str(), e.user.as_str(), e.target.as_str(), e.command.as_str(), e.tty.as_str()),
            ("auth.sudo", "anna", "root", "/usr/bin/apt update", "pts/0")
        );
        assert_eq!(
            kind_user(
                "sudo",
                "anna : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/anna ; USER=root ; COMMAND=/bin/sh"
            ),
            ("auth.sudo_failed".into(), "anna".into())
        );
        assert_eq!(
            kind_user(
                "sudo",
                "bernd : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/bernd ; USER=root ; COMMAND=/bin/sh"
            ),
            ("auth.sudo_denied".into(), "bernd".into())
        );
        assert!(parse("sudo", "pam_unix(sudo:session): session closed for user root").is_none());
    }

    #[test]
    fn su_and_console_login() {
        let e = parse("su", "pam_unix(su:session): session opened for user root(uid=0) by anna(uid=1000)").expect("su");
        assert_eq!((e.kind.as_str(), e.user.as_str(), e.target.as_str()), ("auth.su", "anna", "root"));
        let e = parse("su", "pam_unix(su:auth): authentication failure; logname=anna uid=1000 euid=0 tty=/dev/pts/0 ruser=anna rhost=  user=root").expect("su failed");
        assert_eq!((e.kind.as_str(), e.user.as_str(), e.target.as_str()), ("auth.su_failed", "anna", "root"));
        assert_eq!(kind_user("su", "FAILED SU (to root) bernd on pts/1"), ("auth.su_failed".into(), "bernd".into()));
        assert_eq!(
            kind_user("login", "pam_unix(login:session): session opened for user anna(uid=1000) by LOGIN(uid=0)"),
            ("auth.login".into(), "anna".into())
        );
        let e =
            parse("login", "FAILED LOGIN (1) on '/dev/tty1' FOR 'anna', Authentication failure").expect("login failed");
        assert_eq!((e.kind.as_str(), e.user.as_str(), e.tty.as_str()), ("auth.login_failed", "anna", "/dev/tty1"));
        assert_eq!(
            kind_user(
                "login",
                "FAILED LOGIN (1) on '/dev/tty1' FOR 'UNKNOWN', User not known to the underlying authentication module"
            )
            .0,
            "auth.invalid_user"
        );
    }
}
