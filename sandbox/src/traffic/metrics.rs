//! The Prometheus side of the traffic's statistics (`GET /metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::outcome::{Endpoint, Outcome};

/// Histogram buckets in seconds: fine below the agent's usual tens of milliseconds, then up to
/// the 10 s request timeout so timeouts land in a bucket of their own.
const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    outcome: &'static str,
}

pub struct TrafficMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Histogram,
    in_flight: Gauge,
}

impl TrafficMetrics {
    pub fn new() -> TrafficMetrics {
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Histogram::new(DURATION_BUCKETS);
        let in_flight = Gauge::default();
        let mut registry = Registry::default();
        // The text encoder appends `_total` to counters.
        registry.register(
            "firedrill_traffic_requests",
            "Requests of the synthetic traffic by endpoint and outcome",
            requests.clone(),
        );
        registry.register(
            "firedrill_traffic_request_duration_seconds",
            "Client-side latency of the synthetic traffic's requests",
            duration.clone(),
        );
        registry.register(
            "firedrill_traffic_in_flight",
            "Requests sent and not yet answered",
            in_flight.clone(),
        );
        TrafficMetrics {
            registry,
            requests,
            duration,
            in_flight,
        }
    }

    pub fn observe(&self, endpoint: Endpoint, outcome: Outcome, latency_seconds: Option<f64>) {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.label(),
                outcome: outcome.label(),
            })
            .inc();
        if let Some(seconds) = latency_seconds {
            self.duration.observe(seconds);
        }
    }

    pub fn set_in_flight(&self, requests: usize) {
        self.in_flight.set(requests as i64);
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_carries_the_contract_names() {
        let metrics = TrafficMetrics::new();
        metrics.observe(Endpoint::Optimize, Outcome::Success, Some(0.02));
        metrics.observe(Endpoint::Health, Outcome::Overload, None);
        let text = metrics.encode();
        assert!(text.contains(
            r#"firedrill_traffic_requests_total{endpoint="optimize",outcome="success"} 1"#
        ));
        assert!(text.contains(
            r#"firedrill_traffic_requests_total{endpoint="health",outcome="overload"} 1"#
        ));
        assert!(text.contains("firedrill_traffic_request_duration_seconds_count 1"));
        assert!(text.contains("firedrill_traffic_in_flight 0"));
    }
}
