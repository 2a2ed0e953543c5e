//! The gauges the alert rules watch, and one moment's readings of them.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// One gauge the samplers produce. Each rule compares one of them with a threshold in the
/// signal's own unit, documented on each variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Percent of the container's CPU limit: `docker stats` CPU % divided by the limit in cores
    /// (100 = the whole limit is busy).
    CpuPercent,
    /// Percent of the container's memory limit, `docker stats` style (inactive file cache not
    /// counted).
    MemoryPercent,
    /// Percent of the CFS scheduling periods (over the last 30 s) in which the container was
    /// throttled at its CPU quota: a limit too low for the work, even when the CPU % looks low.
    CpuThrottledPercent,
    /// Seconds: client-side p95 latency of the synthetic traffic over the last 30 s.
    ResponseTimeP95Seconds,
    /// Percent of the synthetic traffic's requests over the last 30 s that failed (5xx, 429,
    /// timeout, connection error).
    ErrorRatePercent,
    /// Percent of the agent's storage quota used under its data directory.
    DiskPercent,
    /// 1 when the health endpoint answered in time and the container runs, 0 otherwise.
    Up,
    /// The agent's `docker_optimizer_health_status`: 1 healthy, 2 degraded, 3 unhealthy,
    /// 4 critical.
    HealthStatus,
    /// Failures per minute: rate of `docker_optimizer_security_scan_failures_total`.
    ScanFailuresPerMinute,
    /// Percent of the agent's `docker_optimizer_requests_total` with `status="error"` over the
    /// last minute.
    AgentErrorRatePercent,
    /// Seconds: agent-side p95 of `docker_optimizer_processing_duration_seconds`.
    OptimizationP95Seconds,
    /// Days until the served TLS certificate expires; negative once it has.
    CertificateDaysLeft,
    /// Days since the scanner's vulnerability DB was last updated.
    ScannerDbAgeDays,
    /// Count of critical and high findings of the agent's scan of its own image SBOM
    /// (`docker_optimizer_image_vulnerabilities`).
    ImageVulnerabilities,
    /// Seconds since the agent's `/metrics` text last changed while traffic flows: a frozen
    /// exporter.
    MetricsAgeSeconds,
    /// Container restarts in the last 5 minutes.
    #[serde(rename = "restarts_last_5m")]
    RestartsLast5m,
    /// 1 when the container was OOM-killed in the last 5 minutes, else 0.
    OomKilled,
}

impl Signal {
    /// Every signal, in declaration order.
    pub const ALL: [Signal; 17] = [
        Signal::CpuPercent,
        Signal::MemoryPercent,
        Signal::CpuThrottledPercent,
        Signal::ResponseTimeP95Seconds,
        Signal::ErrorRatePercent,
        Signal::DiskPercent,
        Signal::Up,
        Signal::HealthStatus,
        Signal::ScanFailuresPerMinute,
        Signal::AgentErrorRatePercent,
        Signal::OptimizationP95Seconds,
        Signal::CertificateDaysLeft,
        Signal::ScannerDbAgeDays,
        Signal::ImageVulnerabilities,
        Signal::MetricsAgeSeconds,
        Signal::RestartsLast5m,
        Signal::OomKilled,
    ];
}

/// The readings of one sampling round. A signal absent from `values` has no data this round:
/// as with an absent Prometheus series, no rule on it holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    #[serde(with = "super::rfc3339_serde")]
    pub at: SystemTime,
    pub values: BTreeMap<Signal, f64>,
}

impl Sample {
    /// An empty sample taken at `at`.
    pub fn new(at: SystemTime) -> Sample {
        Sample {
            at,
            values: BTreeMap::new(),
        }
    }

    /// The sample with `signal` read as `value` (a later reading of the same signal wins).
    pub fn with(mut self, signal: Signal, value: f64) -> Sample {
        self.values.insert(signal, value);
        self
    }

    /// The reading of `signal`, if this round has one.
    pub fn get(&self, signal: Signal) -> Option<f64> {
        self.values.get(&signal).copied()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn signals_serialise_as_snake_case_and_all_lists_each_once() {
        assert_eq!(
            serde_json::to_value(Signal::ResponseTimeP95Seconds).unwrap(),
            "response_time_p95_seconds"
        );
        assert_eq!(
            serde_json::to_value(Signal::RestartsLast5m).unwrap(),
            "restarts_last_5m"
        );
        let parsed: Signal = serde_json::from_str("\"oom_killed\"").unwrap();
        assert_eq!(parsed, Signal::OomKilled);
        let mut sorted = Signal::ALL.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, Signal::ALL.to_vec());
    }

    #[test]
    fn a_sample_holds_what_it_was_given_and_nothing_else() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let sample = Sample::new(at)
            .with(Signal::CpuPercent, 50.0)
            .with(Signal::CpuPercent, 97.0)
            .with(Signal::Up, 1.0);
        assert_eq!(sample.at, at);
        assert_eq!(sample.get(Signal::CpuPercent), Some(97.0));
        assert_eq!(sample.get(Signal::Up), Some(1.0));
        assert_eq!(sample.get(Signal::DiskPercent), None);
        assert_eq!(
            serde_json::to_value(&sample).unwrap(),
            serde_json::json!({
                "at": "2023-11-14T22:13:20.000Z",
                "values": {"cpu_percent": 97.0, "up": 1.0}
            })
        );
    }
}
