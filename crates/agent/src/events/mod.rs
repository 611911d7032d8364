//! Security-relevant system events (RISK-2): sign-ins, su and sudo, and the
//! dangers of ALARM-4 (the OOM killer, failed certificate renewals), read
//! from the systemd journal (through `journalctl`, whose files are not a
//! format to read by hand) or, where there is no journal, from
//! `/var/log/auth.log` or `/var/log/secure`.
//!
//! Where reading stopped (the journal cursor, or the log file's inode and
//! offset) is saved in the state directory only after the events are in
//! the spool ([`SystemEvents::commit`]), so a restart neither loses nor
//! repeats events. The first run starts 24 hours back.

pub mod audit;
mod parse;

pub use parse::parse;

use crate::collect::CollectError;
use leitstand_proto::SystemEvent;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Most events read in one run; the rest follows in the next.
pub const MAX_PER_RUN: usize = 5_000;
/// How far back the first run looks.
const FIRST_LOOK_BACK_MS: i64 = 24 * 3600 * 1000;
const NAME: &str = "events";
const IDENTIFIERS: [&str; 8] = ["sshd", "sshd-session", "sudo", "su", "login", "kernel", "systemd", "certbot"];
const AUTH_LOGS: [&str; 2] = ["var/log/auth.log", "var/log/secure"];

/// Where reading stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Position {
    journal_cursor: Option<String>,
    file: Option<FilePosition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FilePosition {
    path: String,
    inode: u64,
    offset: u64,
}

pub struct SystemEvents {
    state_file: PathBuf,
    saved: Position,
    pending: Option<Position>,
}

impl SystemEvents {
    /// Reads the saved position from `state_dir/events.json`; an unreadable
    /// file counts as none.
    pub fn open(state_dir: &Path) -> Self {
        let state_file = state_dir.join("events.json");
        let saved = std::fs::read(&state_file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        Self { state_file, saved, pending: None }
    }

    /// Events since the saved position. Call [`commit`](Self::commit) once
    /// they are spooled.
    pub fn read(&mut self, root: &Path, now_ms: i64) -> Result<Vec<SystemEvent>, CollectError> {
        let since_ms = now_ms - FIRST_LOOK_BACK_MS;
        let (events, position) = if has_journal(root) {
            let (events, cursor) = read_journal(root, self.saved.journal_cursor.as_deref(), since_ms)?;
            (events, Position { journal_cursor: cursor.or_else(|| self.saved.journal_cursor.clone()), file: None })
        } else if let Some(rel) = AUTH_LOGS.iter().find(|r| root.join(r).is_file()) {
            let (events, file) = read_auth_log(root, rel, self.saved.file.as_ref(), since_ms, now_ms)?;
            (events, Position { journal_cursor: None, file: Some(file) })
        } else {
            return Ok(vec![]);
        };
        self.pending = Some(position);
        Ok(events)
    }

    /// Remembers the position of the last [`read`](Self::read), atomically.
    pub fn commit(&mut self) -> std::io::Result<()> {
        let Some(p) = self.pending.take() else { return Ok(()) };
        if p == self.saved {
            return Ok(());
        }
        let tmp = self.state_file.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&p)?)?;
        std::fs::rename(&tmp, &self.state_file)?;
        self.saved = p;
        Ok(())
    }
}

/// A journal with at least one file, persistent or volatile.
fn has_journal(root: &Path) -> bool {
    ["var/log/journal", "run/log/journal"].iter().any(|d| {
        std::fs::read_dir(root.join(d)).is_ok_and(|machines| {
            machines.filter_map(Result::ok).any(|m| {
                std::fs::read_dir(m.path()).is_ok_and(|files| {
                    files.filter_map(Result::ok).any(|f| f.file_name().to_string_lossy().ends_with(".journal"))
                })
            })
        })
    })
}

fn read_journal(
    root: &Path,
    cursor: Option<&str>,
    since_ms: i64,
) -> Result<(Vec<SystemEvent>, Option<String>), CollectError> {
    let fail = |message: String| CollectError { collector: NAME, path: "journalctl".into(), message };
    let mut cmd = std::process::Command::new("journalctl");
    if root != Path::new("/") {
        cmd.arg("--root").arg(root);
    }
    cmd.args(["--output=json", "--no-pager", "--quiet"]);
    match cursor {
        Some(c) => cmd.arg(format!("--after-cursor={c}")),
        None => cmd.arg(format!("--since=@{}", since_ms / 1000)),
    };
    cmd.args(IDENTIFIERS.iter().map(|i| format!("SYSLOG_IDENTIFIER={i}")));
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run journalctl: {e}")))?;
    let stdout = child.stdout.take().ok_or_else(|| fail("no output".into()))?;
    let mut events = vec![];
    let mut last = None;
    let mut seen = 0;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        seen += 1;
        last = entry["__CURSOR"].as_str().map(str::to_owned).or(last);
        let program = entry["SYSLOG_IDENTIFIER"].as_str().unwrap_or_default();
        let Some(message) = entry["MESSAGE"].as_str() else { continue };
        let at_ms =
            entry["__REALTIME_TIMESTAMP"].as_str().and_then(|t| t.parse::<i64>().ok()).map_or(0, |us| us / 1000);
        if let Some(mut e) = parse(program, message) {
            e.at_ms = at_ms;
            e.message = message.trim().to_owned();
            events.push(e);
        }
        if seen >= MAX_PER_RUN {
            break;
        }
    }
    if seen >= MAX_PER_RUN {
        let _ = child.kill();
        let _ = child.wait();
    } else {
        let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
        if !out.status.success() {
            return Err(fail(format!("journalctl failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
    }
    Ok((events, last))
}

fn read_auth_log(
    root: &Path,
    rel: &str,
    saved: Option<&FilePosition>,
    since_ms: i64,
    now_ms: i64,
) -> Result<(Vec<SystemEvent>, FilePosition), CollectError> {
    let path = root.join(rel);
    let fail = |e: std::io::Error| CollectError { collector: NAME, path: path.clone(), message: e.to_string() };
    let mut f = std::fs::File::open(&path).map_err(fail)?;
    let meta = f.metadata().map_err(fail)?;
    // The same file, not shorter than where we stopped: go on from there.
    // Otherwise it was rotated or truncated: read the new one from its start.
    let resume = saved.filter(|p| p.path == rel && p.inode == meta.ino() && p.offset <= meta.len());
    let first_run = saved.is_none();
    let offset = resume.map_or(0, |p| p.offset);
    f.seek(SeekFrom::Start(offset)).map_err(fail)?;
    let mut reader = BufReader::new(f.take(64 * 1024 * 1024));
    let mut events = vec![];
    let mut consumed = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(fail)?;
        // A line still being written (no newline yet) waits for the next run.
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        consumed += n as u64;
        let text = String::from_utf8_lossy(&line);
        if let Some((at_ms, program, message)) = syslog_line(text.trim_end(), now_ms) {
            if first_run && at_ms < since_ms {
                continue;
            }
            if let Some(mut e) = parse(program, message) {
                e.at_ms = at_ms;
                e.message = message.trim().to_owned();
                events.push(e);
                if events.len() >= MAX_PER_RUN {
                    break;
                }
            }
        }
    }
    Ok((events, FilePosition { path: rel.to_owned(), inode: meta.ino(), offset: offset + consumed }))
}

/// `<time> <host> <program>[<pid>]: <message>` with an RFC 3339 time
/// (rsyslog's high-precision format) or a traditional `Nov 24 01:02:03`
/// in the host's zone, whose year is the one that puts it at or before now.
pub fn syslog_line(line: &str, now_ms: i64) -> Option<(i64, &str, &str)> {
    let (at_ms, rest) = if line.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        let (time, rest) = line.split_once(' ')?;
        (time.parse::<jiff::Timestamp>().ok()?.as_millisecond(), rest)
    } else {
        let time = line.get(..15)?;
        let rest = line.get(16..)?;
        (bsd_time(time, now_ms)?, rest)
    };
    let (_host, rest) = rest.split_once(' ')?;
    let (tag, message) = rest.split_once(": ")?;
    let program = tag.split('[').next()?;
    Some((at_ms, program, message))
}

fn bsd_time(time: &str, now_ms: i64) -> Option<i64> {
    let tz = jiff::tz::TimeZone::system();
    let now = jiff::Timestamp::from_millisecond(now_ms).ok()?.to_zoned(tz.clone());
    for year in [now.year(), now.year() - 1] {
        let text = format!("{year} {}", time.split_whitespace().collect::<Vec<_>>().join(" "));
        let dt = jiff::civil::DateTime::strptime("%Y %b %d %H:%M:%S", &text).ok()?;
        let at = dt.to_zoned(tz.clone()).ok()?.timestamp().as_millisecond();
        // Allow a minute of clock difference between writer and reader.
        if at <= now_ms + 60_000 {
            return Some(at);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot;
    use std::io::Write;

    #[test]
    fn syslog_lines_in_both_time_formats() {
        let now = "2026-11-24T12:00:00Z".parse::<jiff::Timestamp>().expect("time").as_millisecond();
        let (at, program, message) =
            syslog_line("2026-11-24T10:15:00.123456+01:00 web-01 sshd[812]: Invalid user x from 1.2.3.4", now)
                .expect("rfc3339");
        assert_eq!(
            (at, program, message),
            (now - 2 * 3_600_000 - 45 * 60_000 + 123, "sshd", "Invalid user x from 1.2.3.4")
        );
        let (at, program, _) =
            syslog_line("Nov 24 09:00:00 web-01 sudo:     anna : TTY=pts/0 ; USER=root ; COMMAND=/bin/ls", now)
                .expect("bsd");
        assert_eq!(program, "sudo");
        assert!(at <= now && now - at < 26 * 3_600_000, "this year, in the host's zone");
        let (at, _, _) = syslog_line("Dec 31 23:00:00 web-01 su: x", now).expect("december");
        assert!(at < now - 300 * 86_400_000, "a date after today is last year's");
        assert!(syslog_line("garbage", now).is_none());
    }

    #[test]
    fn the_auth_log_is_read_once_across_restarts_and_rotation() {
        let dir = tempfile::tempdir().expect("dir");
        let (root, state) = (dir.path().join("root"), dir.path().join("state"));
        std::fs::create_dir_all(&state).expect("state");
        let now = jiff::Timestamp::now().as_millisecond();
        let stamp = |ago_ms: i64| jiff::Timestamp::from_millisecond(now - ago_ms).expect("time").to_string();
        let line = |ago_ms: i64, msg: &str| format!("{} web-01 sshd[1]: {msg}\n", stamp(ago_ms));
        let old = line(3 * 86_400_000, "Failed password for anna from 192.0.2.1 port 1 ssh2");
        let recent = line(3_600_000, "Failed password for invalid user admin from 203.0.113.5 port 2 ssh2");
        testroot::write(&root, &[("var/log/auth.log", &format!("{old}{recent}"))]);

        let mut ev = SystemEvents::open(&state);
        let first = ev.read(&root, now).expect("read");
        assert_eq!(first.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["auth.invalid_user"], "24 h back only");
        ev.commit().expect("commit");

        let append = |text: &str| {
            let mut f = std::fs::OpenOptions::new().append(true).open(root.join("var/log/auth.log")).expect("open");
            f.write_all(text.as_bytes()).expect("append");
        };
        append(&line(1_000, "Accepted publickey for root from 192.0.2.10 port 3 ssh2"));
        append("2026-11-24T10:00:00+00:00 web-01 sshd[1]: Accepted password for half"); // no newline yet
                                                                                        // Not committed: a restart reads the same again.
        assert_eq!(SystemEvents::open(&state).read(&root, now).expect("read").len(), 1);
        let mut ev = SystemEvents::open(&state);
        let second = ev.read(&root, now).expect("read");
        assert_eq!(second.len(), 1);
        assert_eq!((second[0].kind.as_str(), second[0].user.as_str()), ("auth.login", "root"));
        ev.commit().expect("commit");
        assert!(SystemEvents::open(&state).read(&root, now).expect("again").is_empty(), "nothing repeated");

        // Rotation: the old file moves away, a new one starts.
        std::fs::rename(root.join("var/log/auth.log"), root.join("var/log/auth.log.1")).expect("rotate");
        testroot::write(&root, &[("var/log/auth.log", &line(500, "Invalid user oracle from 198.51.100.7 port 4"))]);
        let mut ev = SystemEvents::open(&state);
        let rotated = ev.read(&root, now).expect("rotated");
        assert_eq!(rotated.iter().map(|e| e.user.as_str()).collect::<Vec<_>>(), ["oracle"]);
    }

    #[test]
    fn this_machines_sources_read_without_error() {
        let dir = tempfile::tempdir().expect("state");
        let mut ev = SystemEvents::open(dir.path());
        ev.read(Path::new("/"), jiff::Timestamp::now().as_millisecond()).expect("journal or auth log");
    }
}

#[cfg(test)]
mod journal_tests {
    use super::*;

    /// Writes entries (journal export format) into a journal file under
    /// `root`, with systemd's own converter.
    fn journal(remote: &str, root: &Path, file: &str, entries: &[(i64, &str, &str)]) {
        let dir = root.join("var/log/journal/0123456789abcdef0123456789abcdef");
        std::fs::create_dir_all(&dir).expect("dir");
        let mut export = String::new();
        for (i, (at_ms, program, message)) in entries.iter().enumerate() {
            export.push_str(&format!(
                // One boot: monotonic time runs with the wall clock, as on a host.
                "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\nSYSLOG_IDENTIFIER={program}\nMESSAGE={message}\n_HOSTNAME=web-01\n\n",
                at_ms * 1000,
                at_ms * 1000 - 1_700_000_000_000_000 + i as i64
            ));
        }
        let mut child = std::process::Command::new(remote)
            .arg("-o")
            .arg(dir.join(file))
            .arg("-")
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("systemd-journal-remote");
        std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), export.as_bytes()).expect("export");
        drop(child.stdin.take());
        assert!(child.wait().expect("wait").success());
    }

    #[test]
    fn the_journal_is_read_from_the_saved_cursor_on() {
        let remote = ["/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let Some(remote) = remote else {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "systemd-journal-remote is installed by scripts/test.sh"
            );
            eprintln!("SKIPPED: install systemd-journal-remote");
            return;
        };
        let dir = tempfile::tempdir().expect("dir");
        let (root, state) = (dir.path().join("root"), dir.path().join("state"));
        std::fs::create_dir_all(&state).expect("state");
        let now = jiff::Timestamp::now().as_millisecond();
        journal(
            remote,
            &root,
            "one.journal",
            &[
                (now - 2 * 86_400_000, "sshd", "Failed password for anna from 192.0.2.1 port 1 ssh2"),
                (now - 3_600_000, "sshd", "Failed password for invalid user admin from 203.0.113.5 port 2 ssh2"),
                (now - 3_000_000, "cron", "pam_unix(cron:session): session opened for user root"),
                (now - 2_000_000, "sudo", "anna : TTY=pts/0 ; PWD=/home/anna ; USER=root ; COMMAND=/usr/bin/id"),
            ],
        );
        let mut ev = SystemEvents::open(&state);
        let first = ev.read(&root, now).expect("journal");
        assert_eq!(first.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["auth.invalid_user", "auth.sudo"]);
        assert_eq!(first[0].at_ms, now - 3_600_000);
        ev.commit().expect("commit");
        journal(remote, &root, "two.journal", &[(now - 1_000, "su", "FAILED SU (to root) bernd on pts/1")]);
        let mut ev = SystemEvents::open(&state);
        let next = ev.read(&root, now).expect("journal");
        assert_eq!(next.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["auth.su_failed"], "from the cursor on");
        ev.commit().expect("commit");
        assert!(SystemEvents::open(&state).read(&root, now).expect("again").is_empty());
    }
}
