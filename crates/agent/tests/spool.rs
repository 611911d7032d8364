//! The spool on real files: order, acknowledgement, bounds, damage.

use leitstand_agent::spool::{Losses, Spool, SpoolLimits};
use leitstand_proto::{Record, Sample};
use std::path::Path;

fn metrics(i: i64) -> Record {
    Record::Metrics { at_ms: i, samples: vec![Sample::new("cpu_usage_percent", i as f64).with("cpu", "total")] }
}

fn event(i: i64) -> Record {
    Record::Heartbeat { at_ms: i }
}

const SMALL: SpoolLimits = SpoolLimits { max_bytes: 8 * 1024, segment_bytes: 1024 };

fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    v.sort();
    v
}

#[test]
fn records_come_back_in_order_until_acknowledged() {
    let dir = tempfile::tempdir().expect("dir");
    let mut s = Spool::open(dir.path(), SMALL).expect("open");
    for i in 1..=30 {
        assert_eq!(s.append(&metrics(i)).expect("append"), i as u64);
    }
    let p = s.pending(10, usize::MAX).expect("pending");
    assert_eq!(p.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    assert_eq!(p[0].record, metrics(1));
    s.ack(10).expect("ack");
    let p = s.pending(100, usize::MAX).expect("pending");
    assert_eq!(p.first().map(|r| r.seq), Some(11));
    assert_eq!(p.len(), 20);
    assert!(segments(dir.path()).len() < 6, "acknowledged segments are deleted");
    // Acknowledging beyond what exists is harmless.
    s.ack(1_000).expect("ack all");
    assert!(s.pending(100, usize::MAX).expect("pending").is_empty());
    assert_eq!(s.append(&metrics(31)).expect("append"), 31);
}

#[test]
fn reopening_keeps_what_was_not_acknowledged_and_never_reuses_a_sequence() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let mut s = Spool::open(dir.path(), SMALL).expect("open");
        for i in 1..=20 {
            s.append(&metrics(i)).expect("append");
        }
        s.ack(20).expect("ack");
    }
    {
        let mut s = Spool::open(dir.path(), SMALL).expect("reopen");
        assert!(s.pending(100, usize::MAX).expect("pending").is_empty());
        assert_eq!(s.append(&event(21)).expect("append"), 21, "sequences continue after everything was acked");
        s.append(&event(22)).expect("append");
    }
    let s = Spool::open(dir.path(), SMALL).expect("reopen");
    let p = s.pending(100, usize::MAX).expect("pending");
    assert_eq!(p.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![21, 22]);
    assert_eq!(s.losses(), Losses::default());
}

#[test]
fn a_full_spool_drops_the_oldest_metrics_first_and_keeps_the_newest() {
    let dir = tempfile::tempdir().expect("dir");
    let mut s = Spool::open(dir.path(), SMALL).expect("open");
    s.append(&event(0)).expect("an old event");
    for i in 1..=400 {
        s.append(&metrics(i)).expect("append");
    }
    assert!(s.bytes() <= SMALL.max_bytes, "{} bytes", s.bytes());
    let l = s.losses();
    assert!(l.dropped_metrics > 0);
    assert_eq!(l.dropped_events, 0, "events stay while metrics can go");
    let p = s.pending(10_000, usize::MAX).expect("pending");
    assert_eq!(p[0].record, event(0), "the old event survived");
    assert_eq!(p.last().map(|r| r.record.clone()), Some(metrics(400)), "the newest sample is kept");
    assert_eq!(p.len() as u64 - 1 + l.dropped_metrics, 400, "every sample is either kept or counted");
    assert!(p.windows(2).all(|w| w[0].seq < w[1].seq));
    // The losses are reported once, as records.
    let report = s.take_losses(1).expect("report");
    assert!(matches!(report[0], Record::Dropped { metrics, events: 0, .. } if metrics == l.dropped_metrics));
    assert!(s.take_losses(2).is_none());
}

#[test]
fn with_only_events_left_the_oldest_events_go() {
    let dir = tempfile::tempdir().expect("dir");
    let mut s = Spool::open(dir.path(), SMALL).expect("open");
    for i in 1..=600 {
        s.append(&event(i)).expect("append");
    }
    assert!(s.bytes() <= SMALL.max_bytes);
    let l = s.losses();
    assert!(l.dropped_events > 0);
    let p = s.pending(10_000, usize::MAX).expect("pending");
    assert_eq!(p.last().map(|r| r.seq), Some(600));
    assert_eq!(p.len() as u64 + l.dropped_events, 600);
}

#[test]
fn a_torn_tail_is_cut_off_counted_and_the_spool_goes_on() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let mut s = Spool::open(dir.path(), SMALL).expect("open");
        for i in 1..=5 {
            s.append(&metrics(i)).expect("append");
        }
    }
    // The agent died half-way through writing the last record.
    let last = segments(dir.path()).pop().expect("segment");
    let len = std::fs::metadata(&last).expect("meta").len();
    std::fs::OpenOptions::new().write(true).open(&last).expect("open").set_len(len - 7).expect("truncate");
    let mut s = Spool::open(dir.path(), SMALL).expect("opens despite the torn tail");
    assert!(s.losses().torn_bytes > 0);
    let p = s.pending(100, usize::MAX).expect("pending");
    assert_eq!(p.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(s.append(&metrics(6)).expect("append"), 5, "the lost sequence is reused only because it never left");
    assert_eq!(s.pending(100, usize::MAX).expect("pending").len(), 5);
    let report = s.take_losses(1).expect("report");
    assert!(matches!(report[0], Record::SpoolDamage { torn_bytes, .. } if torn_bytes > 0));
}

#[test]
fn a_corrupted_record_is_detected_counted_and_does_not_stop_the_agent() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let mut s = Spool::open(dir.path(), SMALL).expect("open");
        for i in 1..=40 {
            s.append(&metrics(i)).expect("append");
        }
    }
    let segs = segments(dir.path());
    assert!(segs.len() >= 3);
    // Flip a byte in the middle of the second segment.
    let victim = &segs[1];
    let mut bytes = std::fs::read(victim).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(victim, &bytes).expect("write");
    let mut s = Spool::open(dir.path(), SMALL).expect("opens despite the damage");
    let l = s.losses();
    assert_eq!(l.corrupted_records, 1);
    let p = s.pending(1000, usize::MAX).expect("pending");
    let seqs: Vec<u64> = p.iter().map(|r| r.seq).collect();
    assert!(seqs.contains(&1) && seqs.contains(&40), "records before and after the damage are kept");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert!(s.append(&metrics(41)).expect("append") > 40);
    // A segment of garbage is no crash either.
    std::fs::write(dir.path().join("seg-00000000000000000002.log"), b"\xff\xff\xff\xffgarbage").expect("garbage");
    Spool::open(dir.path(), SMALL).expect("opens");
}

#[test]
fn batches_are_bounded_by_records_and_bytes() {
    let dir = tempfile::tempdir().expect("dir");
    let mut s = Spool::open(dir.path(), SpoolLimits::default()).expect("open");
    for i in 1..=50 {
        s.append(&metrics(i)).expect("append");
    }
    assert_eq!(s.pending(7, usize::MAX).expect("pending").len(), 7);
    let one = s.pending(1, usize::MAX).expect("one");
    let size = serde_json::to_vec(&one[0].record).expect("json").len();
    assert_eq!(s.pending(100, size * 3).expect("pending").len(), 3);
    assert_eq!(s.pending(100, 1).expect("pending").len(), 1, "one record always goes, however large");
}

#[test]
fn limits_that_cannot_work_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = SpoolLimits { max_bytes: 1000, segment_bytes: 1000 };
    assert!(Spool::open(dir.path(), bad).is_err());
}
