//! The agent's `/metrics`, read the way Prometheus and its rules would: the gauges as they are,
//! the counters and the histogram as rates over a window of recent scrapes. Pure: the sampler
//! hands in the text and the time of each scrape.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use prometheus_parse::{Scrape, Value};

use super::signal::{Sample, Signal};

/// How far back counter rates and the latency histogram look (Prometheus' `[1m]`).
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Gauges older than this are no data (Prometheus' staleness period).
const STALE_AFTER: Duration = Duration::from_secs(300);

/// The figures of one scrape that the rules use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentFigures {
    pub health_status: Option<f64>,
    pub disk_usage_bytes: Option<f64>,
    pub disk_quota_bytes: Option<f64>,
    /// Unix seconds; absent (or 0) when TLS is off.
    pub certificate_expiry: Option<f64>,
    /// Unix seconds of the scanner DB's last update.
    pub scanner_db_updated: Option<f64>,
    /// Critical plus high findings of the image self-scan.
    pub image_vulnerabilities: Option<f64>,
    pub scan_failures_total: f64,
    pub requests_total: f64,
    pub request_errors_total: f64,
    /// Cumulative `(upper bound, count)` of the processing-duration histogram, all operations.
    pub duration_buckets: Vec<(f64, f64)>,
}

impl AgentFigures {
    /// The figures in an exposition text (OpenMetrics or Prometheus text format).
    pub fn parse(text: &str) -> std::io::Result<AgentFigures> {
        let scrape = Scrape::parse(text.lines().map(|line| Ok(line.to_string())))?;
        let scalar = |name: &str, label: Option<(&str, &[&str])>| -> Option<f64> {
            let values: Vec<f64> = scrape
                .samples
                .iter()
                .filter(|s| s.metric == name)
                .filter(|s| {
                    label.is_none_or(|(key, wanted)| {
                        s.labels.get(key).is_some_and(|v| wanted.contains(&v))
                    })
                })
                .filter_map(|s| match s.value {
                    Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
                    _ => None,
                })
                .collect();
            (!values.is_empty()).then(|| values.iter().sum())
        };
        let mut buckets: Vec<(f64, f64)> = Vec::new();
        for sample in scrape
            .samples
            .iter()
            .filter(|s| s.metric == "docker_optimizer_processing_duration_seconds")
        {
            if let Value::Histogram(counts) = &sample.value {
                for count in counts {
                    match buckets.iter_mut().find(|(le, _)| *le == count.less_than) {
                        Some((_, total)) => *total += count.count,
                        None => buckets.push((count.less_than, count.count)),
                    }
                }
            }
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(AgentFigures {
            health_status: scalar("docker_optimizer_health_status", None),
            disk_usage_bytes: scalar("docker_optimizer_disk_usage_bytes", None),
            disk_quota_bytes: scalar("docker_optimizer_disk_quota_bytes", None),
            certificate_expiry: scalar(
                "docker_optimizer_certificate_expiry_timestamp_seconds",
                None,
            )
            .filter(|&at| at > 0.0),
            scanner_db_updated: scalar(
                "docker_optimizer_scanner_db_updated_timestamp_seconds",
                None,
            )
            .filter(|&at| at > 0.0),
            image_vulnerabilities: scalar(
                "docker_optimizer_image_vulnerabilities",
                Some(("severity", &["critical", "high"])),
            ),
            scan_failures_total: scalar("docker_optimizer_security_scan_failures_total", None)
                .unwrap_or(0.0),
            requests_total: scalar("docker_optimizer_requests_total", None).unwrap_or(0.0),
            request_errors_total: scalar(
                "docker_optimizer_requests_total",
                Some(("status", &["error"])),
            )
            .unwrap_or(0.0),
            duration_buckets: buckets,
        })
    }
}

/// Recent scrapes of one agent, for rates and for noticing a frozen exporter.
#[derive(Debug, Default)]
pub struct ScrapeHistory {
    scrapes: VecDeque<(SystemTime, AgentFigures)>,
    last_text: Option<String>,
    last_change: Option<SystemTime>,
    /// Whether the latest attempt failed: a frozen exporter is told from a dead one by this.
    failing: bool,
}

impl ScrapeHistory {
    /// Records a scrape that got no answer (the agent down, hung or restarting).
    pub fn record_failure(&mut self) {
        self.failing = true;
    }

    /// Records the scrape `text` taken at `at` (unparsable text counts as no scrape).
    pub fn record(&mut self, at: SystemTime, text: &str) {
        self.failing = false;
        if self.last_text.as_deref() != Some(text) {
            self.last_text = Some(text.to_string());
            self.last_change = Some(at);
        }
        let Ok(figures) = AgentFigures::parse(text) else {
            return;
        };
        // A counter going down means the agent restarted: rates start again from here.
        if let Some((_, previous)) = self.scrapes.back() {
            if figures.requests_total < previous.requests_total
                || figures.scan_failures_total < previous.scan_failures_total
            {
                self.scrapes.clear();
            }
        }
        self.scrapes.push_back((at, figures));
        while let Some((oldest, _)) = self.scrapes.front() {
            let age = at.duration_since(*oldest).unwrap_or_default();
            if age <= RATE_WINDOW || self.scrapes.len() <= 2 {
                break;
            }
            self.scrapes.pop_front();
        }
    }

    /// Adds the signals the scrapes give to `sample` (taken at `now`).
    pub fn signals(&self, sample: Sample, now: SystemTime) -> Sample {
        let mut sample = sample;
        if let (Some(changed), false) = (self.last_change, self.failing) {
            let age = now.duration_since(changed).unwrap_or_default();
            sample = sample.with(Signal::MetricsAgeSeconds, age.as_secs_f64());
        }
        let (Some((first_at, first)), Some((last_at, last))) =
            (self.scrapes.front(), self.scrapes.back())
        else {
            return sample;
        };
        if now.duration_since(*last_at).unwrap_or_default() > STALE_AFTER {
            return sample;
        }
        let unix_now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        const DAY: f64 = 86_400.0;
        let gauges = [
            (Signal::HealthStatus, last.health_status),
            (
                Signal::DiskPercent,
                last.disk_usage_bytes
                    .zip(last.disk_quota_bytes.filter(|&q| q > 0.0))
                    .map(|(used, quota)| used * 100.0 / quota),
            ),
            (
                Signal::CertificateDaysLeft,
                last.certificate_expiry.map(|at| (at - unix_now) / DAY),
            ),
            (
                Signal::ScannerDbAgeDays,
                last.scanner_db_updated.map(|at| (unix_now - at) / DAY),
            ),
            (Signal::ImageVulnerabilities, last.image_vulnerabilities),
        ];
        for (signal, value) in gauges {
            if let Some(value) = value {
                sample = sample.with(signal, value);
            }
        }
        let span = now
            .duration_since(*first_at)
            .unwrap_or_default()
            .as_secs_f64();
        // Rates need two scrapes some time apart, as `rate()` needs two points.
        if self.scrapes.len() < 2 || span < 1.0 {
            return sample;
        }
        let failures = last.scan_failures_total - first.scan_failures_total;
        sample = sample.with(Signal::ScanFailuresPerMinute, failures * 60.0 / span);
        let requests = last.requests_total - first.requests_total;
        if requests > 0.0 {
            let errors = last.request_errors_total - first.request_errors_total;
            sample = sample.with(Signal::AgentErrorRatePercent, errors * 100.0 / requests);
        }
        if let Some(p95) = histogram_quantile(0.95, &first.duration_buckets, &last.duration_buckets)
        {
            sample = sample.with(Signal::OptimizationP95Seconds, p95);
        }
        sample
    }
}

/// `histogram_quantile(q, increase(buckets[window]))`, as PromQL computes it: linear
/// interpolation inside the bucket the rank falls in; the highest finite bound when it falls in
/// `+Inf`. `None` when nothing was observed in between.
fn histogram_quantile(q: f64, before: &[(f64, f64)], after: &[(f64, f64)]) -> Option<f64> {
    let increase: Vec<(f64, f64)> = after
        .iter()
        .map(|&(le, count)| {
            let earlier = before
                .iter()
                .find(|(b, _)| *b == le)
                .map_or(0.0, |(_, c)| *c);
            (le, (count - earlier).max(0.0))
        })
        .collect();
    let total = increase.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower_bound = 0.0;
    let mut below = 0.0;
    for &(le, cumulative) in &increase {
        if cumulative >= rank {
            if le.is_infinite() {
                return Some(lower_bound);
            }
            let in_bucket = cumulative - below;
            let fraction = if in_bucket > 0.0 {
                (rank - below) / in_bucket
            } else {
                1.0
            };
            return Some(lower_bound + (le - lower_bound) * fraction);
        }
        lower_bound = le;
        below = cumulative;
    }
    Some(lower_bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposition(requests: u64, errors: u64, failures: u64, slow: u64) -> String {
        format!(
            "# TYPE docker_optimizer_requests counter\n\
             docker_optimizer_requests_total{{operation_type=\"optimize\",status=\"success\"}} {requests}\n\
             docker_optimizer_requests_total{{operation_type=\"optimize\",status=\"error\"}} {errors}\n\
             # TYPE docker_optimizer_security_scan_failures counter\n\
             docker_optimizer_security_scan_failures_total{{reason=\"missing\"}} {failures}\n\
             docker_optimizer_security_scan_failures_total{{reason=\"timeout\"}} 0\n\
             # TYPE docker_optimizer_processing_duration_seconds histogram\n\
             docker_optimizer_processing_duration_seconds_bucket{{operation_type=\"optimize\",le=\"0.1\"}} {requests}\n\
             docker_optimizer_processing_duration_seconds_bucket{{operation_type=\"optimize\",le=\"10.0\"}} {}\n\
             docker_optimizer_processing_duration_seconds_bucket{{operation_type=\"optimize\",le=\"+Inf\"}} {}\n\
             docker_optimizer_processing_duration_seconds_sum{{operation_type=\"optimize\"}} 1.0\n\
             docker_optimizer_processing_duration_seconds_count{{operation_type=\"optimize\"}} {}\n\
             # TYPE docker_optimizer_health_status gauge\n\
             docker_optimizer_health_status 2\n\
             # TYPE docker_optimizer_disk_usage_bytes gauge\n\
             docker_optimizer_disk_usage_bytes 850\n\
             # TYPE docker_optimizer_disk_quota_bytes gauge\n\
             docker_optimizer_disk_quota_bytes 1000\n\
             # TYPE docker_optimizer_image_vulnerabilities gauge\n\
             docker_optimizer_image_vulnerabilities{{severity=\"critical\"}} 1\n\
             docker_optimizer_image_vulnerabilities{{severity=\"high\"}} 2\n\
             docker_optimizer_image_vulnerabilities{{severity=\"low\"}} 7\n\
             # TYPE docker_optimizer_certificate_expiry_timestamp_seconds gauge\n\
             docker_optimizer_certificate_expiry_timestamp_seconds 1000000\n",
            requests + slow,
            requests + slow,
            requests + slow,
        )
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn gauges_come_from_the_last_scrape() {
        let mut history = ScrapeHistory::default();
        history.record(at(100), &exposition(10, 0, 0, 0));
        let sample = history.signals(Sample::new(at(100)), at(100));
        assert_eq!(sample.get(Signal::HealthStatus), Some(2.0));
        assert_eq!(sample.get(Signal::DiskPercent), Some(85.0));
        assert_eq!(sample.get(Signal::ImageVulnerabilities), Some(3.0));
        let days = sample.get(Signal::CertificateDaysLeft).unwrap();
        assert!((days - (1_000_000.0 - 100.0) / 86_400.0).abs() < 1e-9);
        assert_eq!(sample.get(Signal::MetricsAgeSeconds), Some(0.0));
        assert_eq!(
            sample.get(Signal::ScanFailuresPerMinute),
            None,
            "one scrape"
        );
    }

    #[test]
    fn counters_become_rates_over_the_window() {
        let mut history = ScrapeHistory::default();
        history.record(at(0), &exposition(100, 0, 0, 0));
        history.record(at(30), &exposition(190, 10, 15, 0));
        let sample = history.signals(Sample::new(at(30)), at(30));
        assert_eq!(sample.get(Signal::ScanFailuresPerMinute), Some(30.0));
        assert_eq!(sample.get(Signal::AgentErrorRatePercent), Some(10.0));
    }

    #[test]
    fn the_latency_quantile_interpolates_inside_the_bucket() {
        let mut history = ScrapeHistory::default();
        history.record(at(0), &exposition(0, 0, 0, 0));
        // 50 fast requests (<= 0.1 s), 50 slow ones (0.1 .. 10 s): p95 is 90 % into the slow bucket.
        history.record(at(10), &exposition(50, 0, 0, 50));
        let p95 = history
            .signals(Sample::new(at(10)), at(10))
            .get(Signal::OptimizationP95Seconds)
            .unwrap();
        assert!((p95 - (0.1 + 9.9 * 0.9)).abs() < 1e-9, "{p95}");
    }

    #[test]
    fn a_frozen_exporter_ages_and_a_restart_resets_the_rates() {
        let mut history = ScrapeHistory::default();
        let text = exposition(100, 5, 3, 0);
        history.record(at(0), &text);
        history.record(at(45), &text);
        let sample = history.signals(Sample::new(at(45)), at(45));
        assert_eq!(sample.get(Signal::MetricsAgeSeconds), Some(45.0));
        history.record(at(50), &exposition(2, 0, 0, 0));
        let sample = history.signals(Sample::new(at(50)), at(50));
        assert_eq!(sample.get(Signal::MetricsAgeSeconds), Some(0.0));
        assert_eq!(
            sample.get(Signal::ScanFailuresPerMinute),
            None,
            "counters reset"
        );
        // A dead exporter is not a frozen one; its gauges go stale after five minutes.
        history.record_failure();
        let sample = history.signals(Sample::new(at(60)), at(60));
        assert_eq!(sample.get(Signal::MetricsAgeSeconds), None);
        assert_eq!(sample.get(Signal::DiskPercent), Some(85.0));
        let sample = history.signals(Sample::new(at(400)), at(400));
        assert_eq!(sample.get(Signal::DiskPercent), None);
    }

    #[test]
    fn old_scrapes_leave_the_window() {
        let mut history = ScrapeHistory::default();
        history.record(at(0), &exposition(0, 0, 0, 0));
        history.record(at(100), &exposition(10, 0, 10, 0));
        history.record(at(130), &exposition(10, 0, 10, 0));
        // The first scrape is 130 s old: the rate covers 100..130, where nothing failed.
        let sample = history.signals(Sample::new(at(130)), at(130));
        assert_eq!(sample.get(Signal::ScanFailuresPerMinute), Some(0.0));
    }
}
