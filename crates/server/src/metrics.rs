//! The server's own metrics in Prometheus text format: requests by route and
//! status, latency histogram, database pool.

use axum::http::{Method, StatusCode};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    agent_refused: Mutex<BTreeMap<&'static str, u64>>,
    series_refused: std::sync::atomic::AtomicU64,
    latency: Mutex<BTreeMap<String, Series>>,
}

impl Metrics {
    pub fn observe(&self, method: &Method, path: &str, status: StatusCode, took: Duration) {
        let secs = took.as_secs_f64();
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_string(), path.to_owned(), status.as_u16())).or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let s = l.entry(path.to_owned()).or_default();
            s.count += 1;
            s.sum += secs;
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    s.buckets[i] += 1;
                }
            }
        }
    }

    /// Counts samples of new series dropped at a host's series limit.
    pub fn series_refused(&self, n: u64) {
        self.series_refused.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts a refused agent request by reason.
    pub fn agent_refused(&self, e: &leitstand_service::ServiceError) {
        use leitstand_service::ServiceError as E;
        let reason = match e {
            E::AgentRefused(m) if m.contains("clock") => "clock_skew",
            E::AgentRefused(m) if m.contains("replayed") => "replay",
            E::AgentRefused(m) if m.contains("revoked") => "revoked",
            E::AgentRefused(m) if m.contains("signature") => "bad_signature",
            E::AgentRefused(_) => "refused",
            E::Unauthenticated => "unsigned",
            _ => "other",
        };
        if let Ok(mut m) = self.agent_refused.lock() {
            *m.entry(reason).or_default() += 1;
        }
    }

    pub fn render(&self, pool: (u32, u32), backend: &str) -> String {
        let mut out = String::new();
        out.push_str("# HELP leitstand_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE leitstand_http_requests_total counter\n");
        if let Ok(r) = self.requests.lock() {
            for ((m, p, s), n) in r.iter() {
                let _ =
                    writeln!(out, "leitstand_http_requests_total{{method=\"{m}\",route=\"{p}\",status=\"{s}\"}} {n}");
            }
        }
        out.push_str("# HELP leitstand_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE leitstand_http_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for (p, s) in l.iter() {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "leitstand_http_request_duration_seconds_bucket{{route=\"{p}\",le=\"{b}\"}} {}",
                        s.buckets[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "leitstand_http_request_duration_seconds_bucket{{route=\"{p}\",le=\"+Inf\"}} {}",
                    s.count
                );
                let _ = writeln!(out, "leitstand_http_request_duration_seconds_sum{{route=\"{p}\"}} {}", s.sum);
                let _ = writeln!(out, "leitstand_http_request_duration_seconds_count{{route=\"{p}\"}} {}", s.count);
            }
        }
        out.push_str("# HELP leitstand_agent_requests_refused_total Agent requests refused, by reason.\n");
        out.push_str("# TYPE leitstand_agent_requests_refused_total counter\n");
        if let Ok(m) = self.agent_refused.lock() {
            for (reason, n) in m.iter() {
                let _ = writeln!(out, "leitstand_agent_requests_refused_total{{reason=\"{reason}\"}} {n}");
            }
        }
        out.push_str("# HELP leitstand_series_refused_total New series dropped because a host reached its limit.\n");
        out.push_str("# TYPE leitstand_series_refused_total counter\n");
        let _ = writeln!(
            out,
            "leitstand_series_refused_total {}",
            self.series_refused.load(std::sync::atomic::Ordering::Relaxed)
        );
        out.push_str("# HELP leitstand_db_pool_connections Open database connections.\n");
        out.push_str("# TYPE leitstand_db_pool_connections gauge\n");
        let _ = writeln!(out, "leitstand_db_pool_connections{{backend=\"{backend}\",state=\"open\"}} {}", pool.0);
        let _ = writeln!(out, "leitstand_db_pool_connections{{backend=\"{backend}\",state=\"idle\"}} {}", pool.1);
        out
    }
}
