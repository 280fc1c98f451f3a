//! Request counts and latency histograms, kept by `metrics-exporter-prometheus`.
//!
//! Each server has its own recorder (not the process-wide one), so several
//! servers in one process — the tests start many — count separately.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use std::time::Duration;

const REQUESTS: &str = "idbridge_http_requests_total";
const LATENCY: &str = "idbridge_http_request_duration_seconds";
const BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

/// Request counts by route and status, latency histograms by route.
pub struct Metrics {
    recorder: PrometheusRecorder,
}

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
        Self { recorder }
    }
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, took: Duration) {
        let (method, route) = (method.to_string(), route.to_string());
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
                .increment(1);
            metrics::histogram!(LATENCY, "method" => method, "route" => route)
                .record(took.as_secs_f64());
        });
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }
}
