//! The agent's Prometheus metrics. The names are the contract (README, "Metrics").
//!
//! Counters are registered without `_total`: prometheus-client appends it. Figures that describe
//! the present (memory, disk, cache size, health, ...) are sampled when scraped.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use std::sync::atomic::AtomicU64;

use super::process_stats::ProcessStats;

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Processing time buckets, seconds: from a cache hit to a scan that runs into its timeout.
const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub operation_type: &'static str,
    /// `success` or `error`.
    pub status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// e.g. `validation`, `denied`, `timeout`, `disk_full`, `internal`.
    pub error_type: &'static str,
    /// `warning`, `error` or `critical`.
    pub severity: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation_type: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SeverityLabels {
    pub severity: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

/// The present-state figures a scrape reports, gathered by the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    pub cache_entries: i64,
    /// 1 healthy, 2 degraded, 3 unhealthy, 4 critical.
    pub health_status: i64,
    /// Unix seconds of the served certificate's `not_after`, when TLS is on.
    pub certificate_expiry: Option<i64>,
    pub disk_usage_bytes: i64,
    pub disk_quota_bytes: i64,
    pub jobs_in_flight: i64,
    pub uptime_seconds: f64,
}

/// Why a scan can fail: the scanner's own reasons, and a temp file refused by the quota.
const SCAN_FAILURE_REASONS: [&str; 5] = ["missing", "timeout", "failed", "bad_output", "disk_full"];

type HistogramFamily = Family<OperationLabels, Histogram, fn() -> Histogram>;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub errors: Family<ErrorLabels, Counter>,
    pub processing_duration: HistogramFamily,
    pub security_scans: Counter,
    pub scan_failures: Family<ReasonLabels, Counter>,
    pub vulnerabilities_found: Family<SeverityLabels, Counter>,
    image_vulnerabilities: Family<SeverityLabels, Gauge>,
    scanner_db_updated: Gauge,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    cache_entries: Gauge,
    health_status: Gauge,
    certificate_expiry: Gauge,
    disk_usage: Gauge,
    disk_quota: Gauge,
    jobs_in_flight: Gauge,
    uptime: Gauge<f64, AtomicU64>,
}

impl Metrics {
    pub fn new(version: &str) -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            errors: Family::default(),
            processing_duration: Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS)),
            security_scans: Counter::default(),
            scan_failures: Family::default(),
            vulnerabilities_found: Family::default(),
            image_vulnerabilities: Family::default(),
            scanner_db_updated: Gauge::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cache_entries: Gauge::default(),
            health_status: Gauge::default(),
            certificate_expiry: Gauge::default(),
            disk_usage: Gauge::default(),
            disk_quota: Gauge::default(),
            jobs_in_flight: Gauge::default(),
            uptime: Gauge::default(),
        };
        let build_info = Family::<VersionLabels, Gauge>::default();
        build_info
            .get_or_create(&VersionLabels {
                version: version.to_string(),
            })
            .set(1);
        // Every failure reason is exported from the start at 0, so the first failure is a step
        // that `rate()` and alert rules see, not a series appearing out of nowhere.
        for reason in SCAN_FAILURE_REASONS {
            let _ = metrics
                .scan_failures
                .get_or_create(&ReasonLabels { reason });
        }
        // The registry holds clones that share their values with the fields.
        let r = &mut metrics.registry;
        r.register(
            "docker_optimizer_requests",
            "Requests by operation and outcome",
            metrics.requests.clone(),
        );
        r.register(
            "docker_optimizer_errors",
            "Errors by type and severity",
            metrics.errors.clone(),
        );
        r.register(
            "docker_optimizer_processing_duration_seconds",
            "Time to answer an operation",
            metrics.processing_duration.clone(),
        );
        r.register(
            "docker_optimizer_security_scans",
            "Security scans started",
            metrics.security_scans.clone(),
        );
        r.register(
            "docker_optimizer_security_scan_failures",
            "Security scans that failed (the answer then fails open)",
            metrics.scan_failures.clone(),
        );
        r.register(
            "docker_optimizer_vulnerabilities_found",
            "Vulnerabilities the scanner reported",
            metrics.vulnerabilities_found.clone(),
        );
        r.register(
            "docker_optimizer_cache_entries",
            "Entries in the response cache",
            metrics.cache_entries.clone(),
        );
        r.register(
            "docker_optimizer_cache_hits",
            "Response cache hits",
            metrics.cache_hits.clone(),
        );
        r.register(
            "docker_optimizer_cache_misses",
            "Response cache misses",
            metrics.cache_misses.clone(),
        );
        r.register(
            "docker_optimizer_health_status",
            "1 healthy, 2 degraded, 3 unhealthy, 4 critical",
            metrics.health_status.clone(),
        );
        r.register(
            "docker_optimizer_build_info",
            "The running release (always 1)",
            build_info,
        );
        r.register(
            "docker_optimizer_certificate_expiry_timestamp_seconds",
            "Unix time the served TLS certificate expires",
            metrics.certificate_expiry.clone(),
        );
        r.register(
            "docker_optimizer_disk_usage_bytes",
            "Bytes used under the data directory",
            metrics.disk_usage.clone(),
        );
        r.register(
            "docker_optimizer_disk_quota_bytes",
            "The storage quota",
            metrics.disk_quota.clone(),
        );
        r.register(
            "docker_optimizer_jobs_in_flight",
            "Jobs being processed",
            metrics.jobs_in_flight.clone(),
        );
        r.register(
            "docker_optimizer_uptime_seconds",
            "Seconds since the agent started",
            metrics.uptime.clone(),
        );
        r.register(
            "docker_optimizer_image_vulnerabilities",
            "Known vulnerabilities in the agent's own image (its SBOM), by severity, as of the last self-scan",
            metrics.image_vulnerabilities.clone(),
        );
        r.register(
            "docker_optimizer_scanner_db_updated_timestamp_seconds",
            "Unix time of the scanner DB's last update (0 until it has been read)",
            metrics.scanner_db_updated.clone(),
        );
        r.register_collector(Box::new(ProcessCollector));
        for severity in ["critical", "high", "medium", "low"] {
            metrics.set_image_vulnerabilities(severity, 0);
        }
        metrics
    }

    pub fn set_scanner_db_updated(&self, unix_seconds: i64) {
        self.scanner_db_updated.set(unix_seconds);
    }

    /// Sets the count of `severity` (lowercase, as in vulnerabilities_found).
    pub fn set_image_vulnerabilities(&self, severity: &'static str, count: u32) {
        self.image_vulnerabilities
            .get_or_create(&SeverityLabels { severity })
            .set(i64::from(count));
    }

    /// The counter of writes refused by the storage quota.
    pub fn disk_full_errors(&self) -> Counter {
        self.errors
            .get_or_create(&ErrorLabels {
                error_type: "disk_full",
                severity: "error",
            })
            .clone()
    }

    pub fn count_error(&self, error_type: &'static str, severity: &'static str) {
        self.errors
            .get_or_create(&ErrorLabels {
                error_type,
                severity,
            })
            .inc();
    }

    /// The text exposition, with the present-state gauges set from `snapshot`.
    pub fn encode(&self, snapshot: &Snapshot) -> String {
        self.cache_entries.set(snapshot.cache_entries);
        self.health_status.set(snapshot.health_status);
        self.certificate_expiry
            .set(snapshot.certificate_expiry.unwrap_or(0));
        self.disk_usage.set(snapshot.disk_usage_bytes);
        self.disk_quota.set(snapshot.disk_quota_bytes);
        self.jobs_in_flight.set(snapshot.jobs_in_flight);
        self.uptime.set(snapshot.uptime_seconds);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// CPU time and resident memory of this process, read from `/proc` at each scrape.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = ProcessStats::read();
        let cpu = ConstCounter::new(stats.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time spent",
            None,
            cpu.metric_type(),
        )?)?;
        let rss = stats.resident_bytes as i64;
        for (name, help) in [
            ("process_resident_memory_bytes", "Resident memory size"),
            (
                "docker_optimizer_memory_usage_bytes",
                "Memory the agent uses (resident set)",
            ),
        ] {
            let gauge = ConstGauge::new(rss);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metric names of the README, as they appear on sample lines.
    const CONTRACT_NAMES: [&str; 21] = [
        "docker_optimizer_requests_total",
        "docker_optimizer_errors_total",
        "docker_optimizer_processing_duration_seconds_bucket",
        "docker_optimizer_security_scans_total",
        "docker_optimizer_security_scan_failures_total",
        "docker_optimizer_vulnerabilities_found_total",
        "docker_optimizer_memory_usage_bytes",
        "docker_optimizer_cache_entries",
        "docker_optimizer_cache_hits_total",
        "docker_optimizer_cache_misses_total",
        "docker_optimizer_health_status",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "docker_optimizer_build_info",
        "docker_optimizer_certificate_expiry_timestamp_seconds",
        "docker_optimizer_disk_usage_bytes",
        "docker_optimizer_disk_quota_bytes",
        "docker_optimizer_jobs_in_flight",
        "docker_optimizer_uptime_seconds",
        "docker_optimizer_image_vulnerabilities",
        "docker_optimizer_scanner_db_updated_timestamp_seconds",
    ];

    fn snapshot() -> Snapshot {
        Snapshot {
            cache_entries: 3,
            health_status: 2,
            certificate_expiry: Some(1_900_000_000),
            disk_usage_bytes: 1024,
            disk_quota_bytes: 4096,
            jobs_in_flight: 1,
            uptime_seconds: 12.5,
        }
    }

    #[test]
    fn every_contract_name_is_in_the_encoded_text() {
        let metrics = Metrics::new("1.4.2");
        metrics
            .requests
            .get_or_create(&RequestLabels {
                operation_type: "optimize",
                status: "success",
            })
            .inc();
        metrics.count_error("validation", "warning");
        metrics
            .processing_duration
            .get_or_create(&OperationLabels {
                operation_type: "optimize",
            })
            .observe(0.02);
        metrics
            .scan_failures
            .get_or_create(&ReasonLabels { reason: "timeout" })
            .inc();
        metrics
            .vulnerabilities_found
            .get_or_create(&SeverityLabels { severity: "high" })
            .inc();
        let text = metrics.encode(&snapshot());
        let sample_names: Vec<&str> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split(['{', ' ']).next())
            .collect();
        for name in CONTRACT_NAMES {
            assert!(sample_names.contains(&name), "{name} missing from:\n{text}");
        }
        assert!(
            text.contains("docker_optimizer_build_info{version=\"1.4.2\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("docker_optimizer_security_scan_failures_total{reason=\"timeout\"} 1"),
            "{text}"
        );
        assert!(text.contains("docker_optimizer_health_status 2"), "{text}");
        assert!(!text.contains("_total_total"), "{text}");
    }

    #[test]
    fn refused_writes_count_as_disk_full_errors() {
        let metrics = Metrics::new("1.4.2");
        metrics.disk_full_errors().inc();
        let text = metrics.encode(&snapshot());
        assert!(
            text.contains(
                "docker_optimizer_errors_total{error_type=\"disk_full\",severity=\"error\"} 1"
            ),
            "{text}"
        );
    }
}
