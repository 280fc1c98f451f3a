//! Request counts and latency histograms, rendered for Prometheus.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Request counts by route and status, latency histograms by route.
#[derive(Default)]
pub struct Metrics {
    counts: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Series>>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        if let Ok(mut c) = self.counts.lock() {
            *c.entry((method.into(), route.into(), status)).or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let s = l.entry((method.into(), route.into())).or_default();
            s.count += 1;
            s.sum += secs;
            for (n, b) in s.buckets.iter_mut().zip(BUCKETS.iter()) {
                if secs <= *b {
                    *n += 1;
                }
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP idbridge_http_requests_total HTTP requests by method, route and status.\n# TYPE idbridge_http_requests_total counter\n");
        if let Ok(c) = self.counts.lock() {
            for ((m, r, s), n) in c.iter() {
                let _ = writeln!(out, "idbridge_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {n}");
            }
        }
        out.push_str("# HELP idbridge_http_request_duration_seconds HTTP request latency by method and route.\n# TYPE idbridge_http_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for ((m, r), s) in l.iter() {
                for (n, b) in s.buckets.iter().zip(BUCKETS.iter()) {
                    let _ = writeln!(out, "idbridge_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"{b}\"}} {n}");
                }
                let _ = writeln!(out, "idbridge_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"+Inf\"}} {}", s.count);
                let _ = writeln!(
                    out,
                    "idbridge_http_request_duration_seconds_sum{{method=\"{m}\",route=\"{r}\"}} {}",
                    s.sum
                );
                let _ = writeln!(out, "idbridge_http_request_duration_seconds_count{{method=\"{m}\",route=\"{r}\"}} {}", s.count);
            }
        }
        out
    }
}
