//! Request counts and latency histograms, kept by `metrics-exporter-prometheus`.
//!
//! Each server has its own recorder (not the process-wide one), so several
//! servers in one process — the tests start many — count separately.

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

const REQUESTS: &str = "idbridge_http_requests_total";
const LATENCY: &str = "idbridge_http_request_duration_seconds";
const BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];
/// Requests between two foldings of the latency samples into their buckets.
/// Why: the exporter keeps every sample (16 bytes each) until something
/// drains them, and only a scrape or an upkeep does; a server nobody scraped
/// grew by 5 MB every 300k requests, without bound (`bench/scale.sh`).
const FOLD_EVERY: u64 = 4096;

/// Request counts by route and status, latency histograms by route.
pub struct Metrics {
    recorder: PrometheusRecorder,
    /// Handles already registered, by route, then method and status. Why:
    /// building, hashing and looking up the labels on every request was 2%
    /// of a lookup's CPU; a handle found here is one read lock.
    handles: RwLock<HashMap<String, Vec<Handles>>>,
    /// Requests observed, and foldings run (see [`FOLD_EVERY`]).
    observed: AtomicU64,
    folds: AtomicU64,
}

/// A method and status on a route, and its request counter and latency.
type Handles = (String, u16, Counter, Histogram);

impl Default for Metrics {
    fn default() -> Self {
        // Only an empty bucket list is refused, and ours is fixed.
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(LATENCY.into()), &BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!(REQUESTS, "HTTP requests by method, route and status.");
            metrics::describe_histogram!(LATENCY, "HTTP request latency by method and route.");
        });
        Self {
            recorder,
            handles: RwLock::default(),
            observed: AtomicU64::new(0),
            folds: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, took: Duration) {
        let (count, latency) = self.handles(method, route, status);
        count.increment(1);
        latency.record(took.as_secs_f64());
        if self.observed.fetch_add(1, Ordering::Relaxed) % FOLD_EVERY == FOLD_EVERY - 1 {
            self.recorder.handle().run_upkeep();
            self.folds.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Foldings of the latency samples run so far.
    pub fn folds(&self) -> u64 {
        self.folds.load(Ordering::Relaxed)
    }

    fn handles(&self, method: &str, route: &str, status: u16) -> (Counter, Histogram) {
        let same = |h: &&Handles| h.0 == method && h.1 == status;
        // A poisoned map only means a panic elsewhere: its handles are sound.
        let known = self.handles.read().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = known.get(route).and_then(|v| v.iter().find(same)) {
            return (h.2.clone(), h.3.clone());
        }
        drop(known);
        let (m, r) = (method.to_string(), route.to_string());
        let (count, latency) = metrics::with_local_recorder(&self.recorder, || {
            (
                metrics::counter!(REQUESTS, "method" => m.clone(), "route" => r.clone(), "status" => status.to_string()),
                metrics::histogram!(LATENCY, "method" => m.clone(), "route" => r.clone()),
            )
        });
        let mut known = self.handles.write().unwrap_or_else(|e| e.into_inner());
        let on_route = known.entry(r).or_default();
        if !on_route.iter().any(|h| same(&h)) {
            on_route.push((m, status, count.clone(), latency.clone()));
        }
        (count, latency)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kept handles count under their own labels: a route's statuses and
    /// methods do not share a counter, and latency is by method and route.
    #[test]
    fn each_method_route_and_status_counts_apart() {
        let m = Metrics::default();
        let ms = Duration::from_millis(1);
        for (method, route, status) in [
            ("GET", "/a", 200),
            ("GET", "/a", 404),
            ("GET", "/a", 200),
            ("POST", "/a", 200),
            ("GET", "/b", 200),
        ] {
            m.observe(method, route, status, ms);
        }
        let text = m.render();
        for (labels, n) in [
            (r#"method="GET",route="/a",status="200""#, 2),
            (r#"method="GET",route="/a",status="404""#, 1),
            (r#"method="POST",route="/a",status="200""#, 1),
            (r#"method="GET",route="/b",status="200""#, 1),
        ] {
            let line = format!("{REQUESTS}{{{labels}}} {n}\n");
            assert!(text.contains(&line), "{line} in\n{text}");
        }
        let count = format!("{LATENCY}_count{{method=\"GET\",route=\"/a\"}} 3\n");
        assert!(text.contains(&count), "{count} in\n{text}");
    }

    /// However long nobody scrapes, the latency samples are folded into their
    /// buckets every [`FOLD_EVERY`] requests, and none is lost by it.
    #[test]
    fn samples_are_folded_without_a_scrape_and_still_counted() {
        let m = Metrics::default();
        let n = FOLD_EVERY * 3 + 5;
        for i in 0..n {
            m.observe("GET", "/a", 200, Duration::from_micros(100 + i % 7));
        }
        assert_eq!(m.folds(), 3);
        let text = m.render();
        let count = format!("{LATENCY}_count{{method=\"GET\",route=\"/a\"}} {n}\n");
        assert!(text.contains(&count), "{count} in\n{text}");
        // All under a millisecond: every sample went into the right bucket.
        let bucket = format!("{LATENCY}_bucket{{method=\"GET\",route=\"/a\",le=\"0.001\"}} {n}\n");
        assert!(text.contains(&bucket), "{bucket} in\n{text}");
    }
}
