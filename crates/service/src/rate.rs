//! Token buckets per agent (batches a host may send) and per tenant (syslog
//! lines), so one sender, broken or hostile, cannot crowd out the others.

use leitstand_domain::HostId;
use std::collections::HashMap;
use std::hash::Hash;

/// One bucket per key, refilled continuously.
pub(crate) struct Buckets<K = HostId> {
    hosts: HashMap<K, (f64, i64)>,
}

impl<K> Default for Buckets<K> {
    fn default() -> Self {
        Self { hosts: HashMap::new() }
    }
}

impl<K: Hash + Eq> Buckets<K> {
    /// Takes one token for `host` at `now_ms`; `Err(seconds)` to wait when
    /// the bucket is empty.
    pub(crate) fn take(&mut self, host: K, now_ms: i64, per_second: f64, burst: u32) -> Result<(), u64> {
        let burst = f64::from(burst.max(1));
        if self.hosts.len() > 100_000 {
            self.hosts.clear(); // bounded; forgetting only ever lets more through
        }
        let (tokens, last) = self.hosts.entry(host).or_insert((burst, now_ms));
        let elapsed = (now_ms - *last).max(0) as f64 / 1000.0;
        *tokens = (*tokens + elapsed * per_second).min(burst);
        *last = now_ms;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_second.max(0.001)).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let mut b = Buckets::default();
        let h = HostId(1);
        for _ in 0..3 {
            assert!(b.take(h, 0, 1.0, 3).is_ok());
        }
        assert_eq!(b.take(h, 0, 1.0, 3), Err(1));
        assert!(b.take(HostId(2), 0, 1.0, 3).is_ok(), "other agents are unaffected");
        assert!(b.take(h, 1000, 1.0, 3).is_ok(), "one more after a second");
        assert!(b.take(h, 1000, 1.0, 3).is_err());
    }
}
