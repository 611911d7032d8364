//! Network traffic per interface from `/proc/net/dev`: byte and packet
//! rates, error and drop totals.

use super::{rate, read, CollectError, Collector};
use leitstand_proto::Sample;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

#[derive(Default)]
pub struct Network {
    prev: Option<(Instant, BTreeMap<String, Vec<u64>>)>,
}

// Columns after "iface:": rx bytes packets errs drop fifo frame compressed
// multicast, then tx bytes packets errs drop fifo colls carrier compressed.
const RX_BYTES: usize = 0;
const RX_PACKETS: usize = 1;
const RX_ERRS: usize = 2;
const RX_DROP: usize = 3;
const TX_BYTES: usize = 8;
const TX_PACKETS: usize = 9;
const TX_ERRS: usize = 10;
const TX_DROP: usize = 11;

fn parse(text: &str) -> BTreeMap<String, Vec<u64>> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .filter_map(|(name, rest)| {
            let name = name.trim();
            let v: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            (name != "lo" && v.len() >= 16).then(|| (name.to_owned(), v))
        })
        .collect()
}

impl Collector for Network {
    fn name(&self) -> &'static str {
        "network"
    }

    fn collect(&mut self, root: &Path) -> Result<Vec<Sample>, CollectError> {
        let now = (Instant::now(), parse(&read("network", root, "proc/net/dev")?));
        let mut out = vec![];
        for (iface, v) in &now.1 {
            let s = |name: &str, x: f64| Sample::new(name, x).with("iface", iface);
            out.extend([
                s("net_rx_errors_total", v[RX_ERRS] as f64),
                s("net_tx_errors_total", v[TX_ERRS] as f64),
                s("net_rx_dropped_total", v[RX_DROP] as f64),
                s("net_tx_dropped_total", v[TX_DROP] as f64),
            ]);
            let Some((then, prev)) = &self.prev else { continue };
            let Some(p) = prev.get(iface) else { continue };
            let secs = now.0.duration_since(*then).as_secs_f64();
            out.extend([
                s("net_rx_bytes_per_second", rate(p[RX_BYTES], v[RX_BYTES], secs)),
                s("net_tx_bytes_per_second", rate(p[TX_BYTES], v[TX_BYTES], secs)),
                s("net_rx_packets_per_second", rate(p[RX_PACKETS], v[RX_PACKETS], secs)),
                s("net_tx_packets_per_second", rate(p[TX_PACKETS], v[TX_PACKETS], secs)),
            ]);
        }
        self.prev = Some(now);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::testroot::write;

    const HEAD: &str = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    #[test]
    fn rates_and_error_totals_per_interface() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        let table = |rx: u64| {
            format!(
                "{HEAD}    lo: 999 9 0 0 0 0 0 0 999 9 0 0 0 0 0 0\n  eth0: {rx} 10 2 1 0 0 0 0 500 5 0 3 0 0 0 0\n"
            )
        };
        write(root, &[("proc/net/dev", &table(1000))]);
        let mut n = Network::default();
        let first = n.collect(root).expect("first");
        assert!(first.iter().all(|s| s.labels["iface"] == "eth0"), "loopback is left out");
        assert_eq!(first.iter().find(|s| s.name == "net_rx_errors_total").expect("errs").value, 2.0);
        assert_eq!(first.iter().find(|s| s.name == "net_tx_dropped_total").expect("drop").value, 3.0);
        assert!(!first.iter().any(|s| s.name.ends_with("per_second")));
        write(root, &[("proc/net/dev", &table(5000))]);
        let second = n.collect(root).expect("second");
        assert!(second.iter().find(|s| s.name == "net_rx_bytes_per_second").expect("rate").value > 0.0);
    }
}
