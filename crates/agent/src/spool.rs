//! The spool (AGT-3): a bounded on-disk log of records in segment files, so
//! the agent keeps collecting while the server is away and delivers
//! everything, in order, when it is back.
//!
//! Frame of one record: `crc32 u32 | len u32 | seq u64 | priority u8 | payload`
//! (little endian; the CRC covers everything after itself; the payload is the
//! record as JSON). Every append is written and `fdatasync`ed before
//! [`Spool::append`] returns. Records are deleted only after the server has
//! acknowledged them ([`Spool::ack`]); the acknowledged sequence is kept in a
//! file replaced atomically.
//!
//! When the spool grows past its limit, the oldest metrics go first (their
//! segment is rewritten without them); only when no metrics are left are the
//! oldest other records given up. A torn tail or a record that fails its
//! checksum is detected at open, cut off, and counted; it never stops the
//! agent.

use leitstand_proto::{Priority, Record, Sequenced};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const HEADER: usize = 4 + 4 + 8 + 1;
/// A length above this is damage, not a record.
pub const MAX_RECORD_BYTES: usize = 4 * 1024 * 1024;
const ACKED_FILE: &str = "acked";

/// Bounds of the spool.
#[derive(Debug, Clone, Copy)]
pub struct SpoolLimits {
    /// Most bytes all segments may hold together.
    pub max_bytes: u64,
    /// A segment is closed and a new one begun past this size.
    pub segment_bytes: u64,
}

impl Default for SpoolLimits {
    fn default() -> Self {
        Self { max_bytes: 64 * 1024 * 1024, segment_bytes: 1024 * 1024 }
    }
}

/// What the spool had to give up or found damaged since the last report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Losses {
    pub dropped_metrics: u64,
    pub dropped_events: u64,
    pub corrupted_records: u64,
    pub torn_bytes: u64,
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    bytes: u64,
    last_seq: u64,
    low: u64,
    high: u64,
}

/// One decoded frame.
struct Frame {
    seq: u64,
    priority: u8,
    start: usize,
    end: usize,
}

/// The outcome of reading a segment file.
struct Scan {
    frames: Vec<Frame>,
    good_bytes: usize,
    corrupted: u64,
    torn: u64,
}

fn scan(bytes: &[u8], after_seq: u64) -> Scan {
    let mut s = Scan { frames: vec![], good_bytes: 0, corrupted: 0, torn: 0 };
    let mut pos = 0;
    let mut last = after_seq;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < HEADER {
            s.torn = rest.len() as u64;
            break;
        }
        let crc = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let len = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        if len > MAX_RECORD_BYTES {
            s.corrupted += 1;
            s.torn = rest.len() as u64;
            break;
        }
        if rest.len() < HEADER + len {
            // Written only in part: the agent died mid-append.
            s.torn = rest.len() as u64;
            break;
        }
        let body = &rest[4..HEADER + len];
        let seq = u64::from_le_bytes(body[4..12].try_into().unwrap_or_default());
        if crc32fast::hash(body) != crc || seq <= last {
            // The length cannot be trusted either: nothing after this is.
            s.corrupted += 1;
            s.torn = rest.len() as u64;
            break;
        }
        s.frames.push(Frame { seq, priority: body[12], start: pos + HEADER, end: pos + HEADER + len });
        last = seq;
        pos += HEADER + len;
        s.good_bytes = pos;
    }
    s
}

fn encode(seq: u64, record: &Record) -> io::Result<Vec<u8>> {
    let payload = serde_json::to_vec(record).map_err(io::Error::other)?;
    if payload.len() > MAX_RECORD_BYTES {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "record larger than the spool's record limit"));
    }
    let mut frame = Vec::with_capacity(HEADER + payload.len());
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&seq.to_le_bytes());
    frame.push(record.priority() as u8);
    frame.extend_from_slice(&payload);
    let crc = crc32fast::hash(&frame[4..]);
    frame[..4].copy_from_slice(&crc.to_le_bytes());
    Ok(frame)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `data` to `path` so that either the old or the new content survives
/// a crash.
fn replace_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

pub struct Spool {
    dir: PathBuf,
    limits: SpoolLimits,
    segments: Vec<Segment>,
    acked: u64,
    next_seq: u64,
    losses: Losses,
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, checking every segment.
    pub fn open(dir: &Path, limits: SpoolLimits) -> io::Result<Spool> {
        if limits.max_bytes < 2 * limits.segment_bytes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "spool max_bytes must be at least twice segment_bytes",
            ));
        }
        fs::create_dir_all(dir)?;
        let acked = match fs::read_to_string(dir.join(ACKED_FILE)) {
            Ok(s) => s.trim().parse().unwrap_or(0),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        let mut names: Vec<(u64, PathBuf)> = fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let first = name.strip_prefix("seg-")?.strip_suffix(".log")?.parse().ok()?;
                Some((first, e.path()))
            })
            .collect();
        names.sort();
        let mut spool = Spool {
            dir: dir.to_owned(),
            limits,
            segments: vec![],
            acked,
            next_seq: acked + 1,
            losses: Losses::default(),
        };
        let mut last = 0;
        for (_, path) in names {
            let bytes = fs::read(&path)?;
            let s = scan(&bytes, last);
            if s.good_bytes < bytes.len() {
                OpenOptions::new().write(true).open(&path)?.set_len(s.good_bytes as u64)?;
            }
            spool.losses.corrupted_records += s.corrupted;
            spool.losses.torn_bytes += s.torn;
            let Some(tail) = s.frames.last() else {
                fs::remove_file(&path)?;
                continue;
            };
            last = tail.seq;
            let low = s.frames.iter().filter(|f| f.priority == Priority::Low as u8).count() as u64;
            spool.segments.push(Segment {
                path,
                bytes: s.good_bytes as u64,
                last_seq: tail.seq,
                low,
                high: s.frames.len() as u64 - low,
            });
        }
        spool.next_seq = spool.next_seq.max(last + 1);
        spool.delete_acked()?;
        Ok(spool)
    }

    /// Appends a record durably; returns its sequence number.
    pub fn append(&mut self, record: &Record) -> io::Result<u64> {
        let seq = self.next_seq;
        let frame = encode(seq, record)?;
        let roll = self.segments.last().is_none_or(|s| s.bytes >= self.limits.segment_bytes);
        if roll {
            let path = self.dir.join(format!("seg-{seq:020}.log"));
            File::create(&path)?;
            sync_dir(&self.dir)?;
            self.segments.push(Segment { path, bytes: 0, last_seq: 0, low: 0, high: 0 });
        }
        let seg = self.segments.last_mut().ok_or_else(|| io::Error::other("no segment"))?;
        let mut f = OpenOptions::new().append(true).open(&seg.path)?;
        f.write_all(&frame)?;
        f.sync_data()?;
        seg.bytes += frame.len() as u64;
        seg.last_seq = seq;
        match record.priority() {
            Priority::Low => seg.low += 1,
            Priority::High => seg.high += 1,
        }
        self.next_seq += 1;
        self.enforce_limit()?;
        Ok(seq)
    }

    /// Keeps the spool within `max_bytes`: oldest metrics first, then the
    /// oldest of the rest. The segment being written is kept.
    fn enforce_limit(&mut self) -> io::Result<()> {
        while self.bytes() > self.limits.max_bytes && self.segments.len() > 1 {
            let closed = self.segments.len() - 1;
            if let Some(i) = self.segments[..closed].iter().position(|s| s.low > 0) {
                self.drop_metrics(i)?;
            } else {
                let seg = self.segments.remove(0);
                fs::remove_file(&seg.path)?;
                self.losses.dropped_events += seg.high;
            }
        }
        Ok(())
    }

    /// Rewrites segment `i` without its metrics.
    fn drop_metrics(&mut self, i: usize) -> io::Result<()> {
        let seg = &mut self.segments[i];
        let bytes = fs::read(&seg.path)?;
        let s = scan(&bytes, 0);
        let mut kept = Vec::with_capacity(bytes.len());
        for f in s.frames.iter().filter(|f| f.priority != Priority::Low as u8) {
            kept.extend_from_slice(&bytes[f.start - HEADER..f.end]);
        }
        self.losses.dropped_metrics += seg.low;
        if kept.is_empty() {
            fs::remove_file(&seg.path)?;
            sync_dir(&self.dir)?;
            self.segments.remove(i);
        } else {
            replace_file(&seg.path, &kept)?;
            seg.bytes = kept.len() as u64;
            seg.low = 0;
        }
        Ok(())
    }

    /// Records not yet acknowledged, oldest first, at most `max_records` and
    /// about `max_bytes` of payload.
    pub fn pending(&self, max_records: usize, max_bytes: usize) -> io::Result<Vec<Sequenced>> {
        let mut out = vec![];
        let mut size = 0;
        for seg in self.segments.iter().filter(|s| s.last_seq > self.acked) {
            let bytes = fs::read(&seg.path)?;
            for f in scan(&bytes, 0).frames.into_iter().filter(|f| f.seq > self.acked) {
                if out.len() >= max_records || (size > 0 && size + (f.end - f.start) > max_bytes) {
                    return Ok(out);
                }
                size += f.end - f.start;
                let record: Record = serde_json::from_slice(&bytes[f.start..f.end]).map_err(io::Error::other)?;
                out.push(Sequenced { seq: f.seq, record });
            }
        }
        Ok(out)
    }

    /// The server stored everything up to `up_to`: forget it.
    pub fn ack(&mut self, up_to: u64) -> io::Result<()> {
        let up_to = up_to.min(self.next_seq - 1);
        if up_to <= self.acked {
            return Ok(());
        }
        replace_file(&self.dir.join(ACKED_FILE), up_to.to_string().as_bytes())?;
        self.acked = up_to;
        self.delete_acked()
    }

    fn delete_acked(&mut self) -> io::Result<()> {
        let before = self.segments.len();
        // The segment being written stays until it is full.
        while self.segments.len() > 1 && self.segments[0].last_seq <= self.acked {
            let seg = self.segments.remove(0);
            fs::remove_file(&seg.path)?;
        }
        if self.segments.len() != before {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Losses since the last call, as a record to report; `None` when none.
    pub fn take_losses(&mut self, at_ms: i64) -> Option<Vec<Record>> {
        let l = std::mem::take(&mut self.losses);
        let mut out = vec![];
        if l.corrupted_records > 0 || l.torn_bytes > 0 {
            out.push(Record::SpoolDamage { at_ms, corrupted_records: l.corrupted_records, torn_bytes: l.torn_bytes });
        }
        if l.dropped_metrics > 0 || l.dropped_events > 0 {
            out.push(Record::Dropped { at_ms, metrics: l.dropped_metrics, events: l.dropped_events });
        }
        (!out.is_empty()).then_some(out)
    }

    pub fn losses(&self) -> Losses {
        self.losses
    }

    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// The sequence the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}
