//! The Linux audit log (`/var/log/audit/audit.log`, where auditd runs),
//! forwarded line by line as auditd wrote it, for the SOC's rules (SOC-1).
//! The server reads the records; the agent only keeps its place.
//!
//! Where reading stopped (the file's inode and offset) is saved in
//! `audit.json` only after the lines are in the spool, as for the auth log.
//! When auditd has rotated the log (`audit.log` → `audit.log.1`), the rest
//! of the old file is read before the new one, so nothing written between
//! two runs is lost. The first run starts 24 hours back.

use super::MAX_PER_RUN;
use crate::collect::CollectError;
use leitstand_proto::{Record, MAX_AUDIT_LINE};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub const AUDIT_LOG: &str = "var/log/audit/audit.log";
/// Where auditd's rotation puts the previous file.
const ROTATED: &str = "var/log/audit/audit.log.1";
const FIRST_LOOK_BACK_MS: i64 = 24 * 3600 * 1000;
const NAME: &str = "audit";
/// Most lines and bytes of lines in one spool record, so that one record
/// always fits a batch the server takes (1 MiB by default).
const LINES_PER_RECORD: usize = 500;
const BYTES_PER_RECORD: usize = 256 * 1024;

/// Where reading stopped: the file by its inode, and the offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Position {
    inode: u64,
    offset: u64,
}

pub struct AuditLog {
    state_file: PathBuf,
    saved: Option<Position>,
    pending: Option<Position>,
}

impl AuditLog {
    /// Reads the saved position from `state_dir/audit.json`; an unreadable
    /// file counts as none.
    pub fn open(state_dir: &Path) -> Self {
        let state_file = state_dir.join("audit.json");
        let saved = std::fs::read(&state_file).ok().and_then(|b| serde_json::from_slice(&b).ok());
        Self { state_file, saved, pending: None }
    }

    /// Lines since the saved position; none where there is no audit log.
    /// Call [`commit`](Self::commit) once they are spooled.
    pub fn read(&mut self, root: &Path, now_ms: i64) -> Result<Vec<String>, CollectError> {
        let path = root.join(AUDIT_LOG);
        let fail = |path: &Path, e: std::io::Error| CollectError {
            collector: NAME,
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let current = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Ok(vec![]),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(fail(&path, e)),
        };
        let since = self.saved.is_none().then_some(now_ms - FIRST_LOOK_BACK_MS);
        let mut lines = Vec::new();
        let mut start = 0;
        match self.saved {
            Some(p) if p.inode == current.ino() => {
                // Shorter than where we stopped: truncated; read it anew.
                start = if p.offset <= current.len() { p.offset } else { 0 };
            }
            Some(p) => {
                // Rotated since: first the rest of the old file, if it is there.
                let old = root.join(ROTATED);
                if std::fs::metadata(&old).is_ok_and(|m| m.ino() == p.inode && m.len() >= p.offset) {
                    let offset = read_lines(&old, p.offset, since, &mut lines).map_err(|e| fail(&old, e))?;
                    if lines.len() >= MAX_PER_RUN {
                        self.pending = Some(Position { inode: p.inode, offset });
                        return Ok(lines);
                    }
                }
            }
            None => {}
        }
        let offset = read_lines(&path, start, since, &mut lines).map_err(|e| fail(&path, e))?;
        self.pending = Some(Position { inode: current.ino(), offset });
        Ok(lines)
    }

    /// Remembers the position of the last [`read`](Self::read), atomically.
    pub fn commit(&mut self) -> std::io::Result<()> {
        let Some(p) = self.pending.take() else { return Ok(()) };
        if Some(p) == self.saved {
            return Ok(());
        }
        let tmp = self.state_file.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&p)?)?;
        std::fs::rename(&tmp, &self.state_file)?;
        self.saved = Some(p);
        Ok(())
    }
}

/// The lines as spool records, each within [`LINES_PER_RECORD`] and
/// [`BYTES_PER_RECORD`].
pub fn records(lines: Vec<String>) -> Vec<Record> {
    let mut out = Vec::new();
    let (mut chunk, mut bytes) = (Vec::new(), 0);
    for line in lines {
        if !chunk.is_empty() && (chunk.len() >= LINES_PER_RECORD || bytes + line.len() > BYTES_PER_RECORD) {
            out.push(Record::Audit { lines: std::mem::take(&mut chunk) });
            bytes = 0;
        }
        bytes += line.len();
        chunk.push(line);
    }
    if !chunk.is_empty() {
        out.push(Record::Audit { lines: chunk });
    }
    out
}

/// Reads whole lines of `path` from `offset` into `out` until the end or
/// [`MAX_PER_RUN`]; answers the offset after the last line taken. A line
/// still being written (no newline yet) waits for the next run; lines older
/// than `since` are skipped.
fn read_lines(path: &Path, offset: u64, since: Option<i64>, out: &mut Vec<String>) -> std::io::Result<u64> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::new(f.take(64 * 1024 * 1024));
    let mut consumed = 0u64;
    let mut line = Vec::new();
    while out.len() < MAX_PER_RUN {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        consumed += n as u64;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if text.is_empty() || since.is_some_and(|s| record_ms(text).is_some_and(|at| at < s)) {
            continue;
        }
        out.push(cut(text).to_owned());
    }
    Ok(offset + consumed)
}

/// The time of `type=… msg=audit(1795524923.636:8): …`, Unix ms.
fn record_ms(line: &str) -> Option<i64> {
    let stamp = line.split("msg=audit(").nth(1)?.split(':').next()?;
    stamp.parse::<f64>().ok().map(|s| (s * 1000.0).round() as i64)
}

/// `text` cut to at most [`MAX_AUDIT_LINE`] bytes, on a character boundary.
fn cut(text: &str) -> &str {
    if text.len() <= MAX_AUDIT_LINE {
        return text;
    }
    let mut end = MAX_AUDIT_LINE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The real records of the detect crate's fixture (auditd 3.0.9).
    fn fixture() -> String {
        let path = format!("{}/../detect/tests/fixtures/lines/auditd_debian12.log", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).expect("fixture")
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("open");
        f.write_all(text.as_bytes()).expect("append");
    }

    /// 2026-11-24 13:00 UTC, shortly after the fixture's records.
    const NOW: i64 = 1_795_525_200_000;

    #[test]
    fn the_audit_log_is_read_once_across_restarts_and_rotation() {
        let dir = tempfile::tempdir().expect("dir");
        let (root, state) = (dir.path().join("root"), dir.path().join("state"));
        std::fs::create_dir_all(root.join("var/log/audit")).expect("root");
        std::fs::create_dir_all(&state).expect("state");
        let log = root.join(AUDIT_LOG);
        let old = "type=DAEMON_START msg=audit(1795400000.000:1): op=start ver=3.0.9 res=success\n";
        append(&log, &format!("{old}{}", fixture()));

        let mut audit = AuditLog::open(&state);
        let first = audit.read(&root, NOW).expect("read");
        assert_eq!(first.len(), fixture().split('\n').filter(|l| !l.is_empty()).count(), "24 h back only");
        assert!(first[0].starts_with("type=DAEMON_START msg=audit(1795524917.596:4764)"));
        assert!(first.iter().any(|l| l.contains('\u{1d}')), "lines go as auditd wrote them");
        audit.commit().expect("commit");

        append(&log, "type=USER_AUTH msg=audit(1795525000.000:90): pid=1 uid=0 res=failed\n");
        append(&log, "type=USER_AUTH msg=audit(1795525000.100:91): pid=1"); // still being written
                                                                            // Not committed: a restart reads the same again.
        assert_eq!(AuditLog::open(&state).read(&root, NOW).expect("read").len(), 1);
        let mut audit = AuditLog::open(&state);
        assert_eq!(
            audit.read(&root, NOW).expect("read"),
            ["type=USER_AUTH msg=audit(1795525000.000:90): pid=1 uid=0 res=failed"]
        );
        audit.commit().expect("commit");
        assert!(AuditLog::open(&state).read(&root, NOW).expect("again").is_empty(), "nothing repeated");

        // auditd finishes the line, writes one more and rotates: the rest of
        // the old file comes first, then the new one.
        append(&log, " uid=0 res=success\n");
        std::fs::rename(&log, root.join(ROTATED)).expect("rotate");
        append(&log, "type=DAEMON_ROTATE msg=audit(1795525100.000:92): op=rotate res=success\n");
        let mut audit = AuditLog::open(&state);
        let rotated = audit.read(&root, NOW).expect("rotated");
        assert_eq!(rotated.len(), 2);
        assert!(rotated[0].contains(":91): pid=1 uid=0 res=success"));
        assert!(rotated[1].starts_with("type=DAEMON_ROTATE"));
        audit.commit().expect("commit");
        assert!(AuditLog::open(&state).read(&root, NOW).expect("again").is_empty());
    }

    #[test]
    fn records_stay_within_lines_and_bytes() {
        let lines: Vec<String> = (0..1200).map(|i| format!("type=X msg=audit(1.0:{i}): {}", "y".repeat(400))).collect();
        let made = records(lines);
        let sizes: Vec<usize> = made
            .iter()
            .map(|r| match r {
                Record::Audit { lines } => lines.len(),
                _ => 0,
            })
            .collect();
        assert_eq!(sizes.iter().sum::<usize>(), 1200);
        assert!(sizes.iter().all(|n| *n <= LINES_PER_RECORD && n * 430 <= BYTES_PER_RECORD), "{sizes:?}");
        assert!(records(vec![]).is_empty());
    }

    #[test]
    fn no_audit_log_is_no_lines_and_long_lines_are_cut() {
        let dir = tempfile::tempdir().expect("dir");
        let mut audit = AuditLog::open(dir.path());
        assert!(audit.read(dir.path(), NOW).expect("no auditd").is_empty());
        std::fs::create_dir_all(dir.path().join("var/log/audit")).expect("dir");
        let long = format!("type=EXECVE msg=audit(1795525000.000:1): argc=1 a0=\"{}é\"\n", "x".repeat(MAX_AUDIT_LINE));
        append(&dir.path().join(AUDIT_LOG), &long);
        let lines = audit.read(dir.path(), NOW).expect("read");
        assert_eq!(lines.len(), 1);
        assert!(lines[0].len() <= MAX_AUDIT_LINE && lines[0].starts_with("type=EXECVE"));
    }
}
