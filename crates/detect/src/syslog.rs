//! Syslog as it arrives: the header of RFC 5424 and RFC 3164 lines (through
//! `syslog_loose`), and TCP framing (RFC 6587: octet counting or one line
//! per message). Nothing here refuses a line: what cannot be read is kept
//! whole and marked, so it is stored raw and counted.

use std::borrow::Cow;

use chrono::{Datelike, FixedOffset, TimeZone};
use syslog_loose::{Message, ProcId, Variant};

/// Longest line kept; the rest is cut off and the line marked `truncated`.
pub const MAX_LINE: usize = 8 * 1024;

/// A syslog line with its header read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyslogLine {
    /// The sender's time, Unix ms; `None` when the line had none.
    pub at_ms: Option<i64>,
    pub hostname: Option<String>,
    pub app: Option<String>,
    pub pid: Option<u32>,
    pub severity: Option<u8>,
    /// Everything after the header (RFC 5424 structured data appended as
    /// `key=value` pairs, so the vendor parsers see them; `token` is not).
    pub msg: String,
    /// The sender's token from the structured data (`[… token="…"]`), which
    /// identifies a TLS sender; never part of the message.
    pub token: Option<String>,
    pub problems: Problems,
}

/// What was wrong with a line (each is counted; none drops it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Problems {
    /// No syslog header could be read; the whole line is the message.
    pub malformed: bool,
    /// Bytes that were not UTF-8, replaced by U+FFFD.
    pub invalid_utf8: bool,
    /// Longer than `MAX_LINE`; cut.
    pub truncated: bool,
}

impl Problems {
    pub fn any(self) -> bool {
        self.malformed || self.invalid_utf8 || self.truncated
    }
}

/// Reads one datagram or frame. `received_ms` gives the year of RFC 3164
/// dates (which have none) and `offset_secs` their zone.
pub fn parse(bytes: &[u8], received_ms: i64, offset_secs: i32) -> SyslogLine {
    let mut problems = Problems::default();
    let bytes = if bytes.len() > MAX_LINE {
        problems.truncated = true;
        &bytes[..MAX_LINE]
    } else {
        bytes
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        // A cut in the middle of a character is our cut's doing, not the sender's.
        Err(e) if problems.truncated && e.error_len().is_none() => String::from_utf8_lossy(&bytes[..e.valid_up_to()]),
        Err(_) => {
            problems.invalid_utf8 = true;
            String::from_utf8_lossy(bytes)
        }
    };
    let text = text.trim_end_matches(['\n', '\r', '\0']);
    let offset = FixedOffset::east_opt(offset_secs).unwrap_or(FixedOffset::east_opt(0).expect("zero offset"));
    let received = offset.timestamp_millis_opt(received_ms).single();
    let year_of = |(month, ..): syslog_loose::IncompleteDate| {
        let Some(now) = received else { return 1970 };
        // A December line received in January belongs to last year.
        if month > now.month() + 1 {
            now.year() - 1
        } else {
            now.year()
        }
    };
    match syslog_loose::parse_message_with_year_exact_tz(text, year_of, Some(offset), Variant::Either) {
        Ok(m) if m.facility.is_some() || m.timestamp.is_some() => line(m, problems),
        // Some devices (FortiGate) send a priority and then their own format.
        _ => match priority(text) {
            Some((pri, rest)) => {
                SyslogLine { severity: Some(pri & 7), msg: rest.trim().to_string(), problems, ..Default::default() }
            }
            None => {
                problems.malformed = true;
                SyslogLine { msg: text.to_string(), problems, ..SyslogLine::default() }
            }
        },
    }
}

/// `<PRI>` at the start of a line: its value and the rest.
fn priority(text: &str) -> Option<(u8, &str)> {
    let rest = text.strip_prefix('<')?;
    let end = rest.find('>').filter(|e| (1..=3).contains(e))?;
    let pri: u8 = rest[..end].parse().ok().filter(|p| *p < 192)?;
    Some((pri, &rest[end + 1..]))
}

fn line(m: Message<&str>, problems: Problems) -> SyslogLine {
    let mut msg = m.msg.trim().to_string();
    let mut token = None;
    for element in &m.structured_data {
        for (k, v) in element.params() {
            if *k == "token" {
                token = Some(v.to_string());
            } else {
                msg.push_str(&format!(" {k}=\"{v}\""));
            }
        }
    }
    let pid = match m.procid {
        Some(ProcId::PID(p)) => u32::try_from(p).ok(),
        Some(ProcId::Name(n)) => n.parse().ok(),
        None => None,
    };
    SyslogLine {
        at_ms: m.timestamp.map(|t| t.timestamp_millis()),
        hostname: m.hostname.filter(|h| *h != "-").map(str::to_string),
        app: m.appname.filter(|a| *a != "-").map(str::to_string),
        pid,
        severity: m.severity.map(|s| s as u8),
        msg,
        token,
        problems,
    }
}

/// Splits a TCP stream into messages (RFC 6587): a frame starting with a
/// digit is octet-counted (`LEN SP MSG`), any other ends at a newline. A
/// frame longer than `MAX_LINE` is cut there; the rest is skipped.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// Bytes of an over-long frame still to skip.
    skip: usize,
    skip_to_newline: bool,
}

/// One frame out of a stream.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub bytes: Vec<u8>,
    pub truncated: bool,
}

impl Framer {
    /// Adds bytes read from the socket; returns the frames now complete.
    pub fn push(&mut self, data: &[u8]) -> Vec<Frame> {
        self.buf.extend_from_slice(data);
        let mut frames = Vec::new();
        loop {
            if self.skip > 0 {
                let n = self.skip.min(self.buf.len());
                self.buf.drain(..n);
                self.skip -= n;
                if self.skip > 0 {
                    return frames;
                }
            }
            if self.skip_to_newline {
                match self.buf.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        self.buf.drain(..=i);
                        self.skip_to_newline = false;
                    }
                    None => {
                        self.buf.clear();
                        return frames;
                    }
                }
            }
            match self.next_frame() {
                Some(f) => frames.push(f),
                None => return frames,
            }
        }
    }

    fn next_frame(&mut self) -> Option<Frame> {
        while self.buf.first().is_some_and(|b| matches!(b, b'\n' | b'\r' | b'\0')) {
            self.buf.remove(0);
        }
        let first = *self.buf.first()?;
        if first.is_ascii_digit() {
            if let Some(space) = self.buf.iter().take(12).position(|b| *b == b' ') {
                if let Some(len) = std::str::from_utf8(&self.buf[..space]).ok().and_then(|s| s.parse::<usize>().ok()) {
                    let start = space + 1;
                    if len > MAX_LINE {
                        if self.buf.len() < start + MAX_LINE {
                            return None;
                        }
                        let bytes = self.buf[start..start + MAX_LINE].to_vec();
                        let have = self.buf.len() - start;
                        let consumed = have.min(len);
                        self.buf.drain(..start + consumed);
                        self.skip = len - consumed;
                        return Some(Frame { bytes, truncated: true });
                    }
                    if self.buf.len() < start + len {
                        return None;
                    }
                    let bytes = self.buf[start..start + len].to_vec();
                    self.buf.drain(..start + len);
                    return Some(Frame { bytes, truncated: false });
                }
            }
        }
        match self.buf.iter().position(|b| *b == b'\n') {
            Some(i) if i <= MAX_LINE => {
                let bytes = self.buf[..i].to_vec();
                self.buf.drain(..=i);
                Some(Frame { bytes, truncated: false })
            }
            _ if self.buf.len() > MAX_LINE => {
                let bytes = self.buf[..MAX_LINE].to_vec();
                self.buf.drain(..MAX_LINE);
                self.skip_to_newline = true;
                Some(Frame { bytes, truncated: true })
            }
            _ => None,
        }
    }

    /// What is left when the sender closes: a last line without newline.
    pub fn finish(&mut self) -> Option<Frame> {
        let rest = std::mem::take(&mut self.buf);
        (!rest.is_empty() && self.skip == 0 && !self.skip_to_newline).then_some(Frame { bytes: rest, truncated: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_2026: i64 = 1_795_000_000_000; // 2026-11-18

    #[test]
    fn rfc3164_gets_year_and_zone_from_the_receiver() {
        let l = parse(
            b"<38>Nov 18 09:15:02 web1 sshd[812]: Failed password for root from 203.0.113.5 port 4242 ssh2",
            NOV_2026,
            3600,
        );
        assert_eq!(l.hostname.as_deref(), Some("web1"));
        assert_eq!(l.app.as_deref(), Some("sshd"));
        assert_eq!(l.pid, Some(812));
        assert_eq!(l.severity, Some(6));
        assert!(l.msg.starts_with("Failed password"));
        let at = jiff::Timestamp::from_millisecond(l.at_ms.expect("time")).expect("ts");
        assert_eq!(at.to_string(), "2026-11-18T08:15:02Z");
        assert!(!l.problems.any());
    }

    #[test]
    fn a_december_line_read_in_january_is_last_year() {
        let jan_2027 = 1_798_800_000_000; // 2027-01-01T...
        let l = parse(b"<13>Dec 31 23:59:00 h app: x", jan_2027, 0);
        let at = jiff::Timestamp::from_millisecond(l.at_ms.expect("time")).expect("ts");
        assert_eq!(at.to_string(), "2026-12-31T23:59:00Z");
    }

    #[test]
    fn rfc5424_with_structured_data() {
        let l = parse(
            b"<165>1 2026-11-18T09:15:02.003+01:00 fw01 filterlog 123 - [meta x=\"1\"][leitstand token=\"s3cret\"] 5,,,100,em0,match,block,in",
            NOV_2026,
            0,
        );
        assert_eq!(l.hostname.as_deref(), Some("fw01"));
        assert_eq!(l.app.as_deref(), Some("filterlog"));
        assert_eq!(l.at_ms, Some(1_794_989_702_003)); // 08:15:02.003Z
        assert!(l.msg.starts_with("5,,,100,em0"), "{}", l.msg);
        assert!(l.msg.ends_with("x=\"1\""), "{}", l.msg);
        assert_eq!(l.token.as_deref(), Some("s3cret"));
    }

    #[test]
    fn bad_lines_are_kept_and_marked() {
        let l = parse(b"<189>date=2026-11-18 time=09:15:02 devname=\"FGT\"", NOV_2026, 0);
        assert!(!l.problems.malformed);
        assert_eq!(l.severity, Some(5));
        assert!(l.msg.starts_with("date="));

        let l = parse(b"just some words", NOV_2026, 0);
        assert!(l.problems.malformed);
        assert_eq!(l.msg, "just some words");

        let l = parse(b"<13>Nov 18 09:15:02 h app: caf\xe9 \xff", NOV_2026, 0);
        assert!(l.problems.invalid_utf8);
        assert!(l.msg.contains('\u{FFFD}'));

        let long = [b'a'; MAX_LINE + 100];
        let l = parse(&long, NOV_2026, 0);
        assert!(l.problems.truncated);
        assert_eq!(l.msg.len(), MAX_LINE);
    }

    #[test]
    fn framer_reads_octet_counted_and_newline_frames_across_reads() {
        let mut f = Framer::default();
        assert!(f.push(b"12 <13>hello w").is_empty());
        let frames = f.push(b"x<13>second line\n<13>thi");
        assert_eq!(
            frames,
            vec![
                Frame { bytes: b"<13>hello wx".to_vec(), truncated: false },
                Frame { bytes: b"<13>second line".to_vec(), truncated: false }
            ]
        );
        assert_eq!(f.finish(), Some(Frame { bytes: b"<13>thi".to_vec(), truncated: false }));
    }

    #[test]
    fn framer_cuts_over_long_frames_and_goes_on() {
        let mut f = Framer::default();
        let mut data = vec![b'x'; MAX_LINE * 2];
        data.extend_from_slice(b"\n<13>next\n");
        let frames = f.push(&data);
        assert_eq!(frames.len(), 2);
        assert!(frames[0].truncated);
        assert_eq!(frames[1].bytes, b"<13>next");

        let mut f = Framer::default();
        let mut data = format!("{} ", MAX_LINE * 3).into_bytes();
        data.extend(vec![b'y'; MAX_LINE * 3]);
        data.extend_from_slice(b"5 <13>z");
        let frames = f.push(&data);
        assert_eq!(frames.len(), 2);
        assert!(frames[0].truncated);
        assert_eq!(frames[1].bytes, b"<13>z");
    }
}
