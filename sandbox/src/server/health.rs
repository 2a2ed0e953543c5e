//! Health: one check per part of the agent and an overall status, the worst of them.
//!
//! The checks are pure functions of figures the caller gathers, so they are tested on their own.
//! Like the real agent's, the scanner check is shallow (configured, not run): a broken scanner does
//! not show here, only in the scan-failure metric and the logs.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::cache::CacheStats;
use super::quota::DiskUsage;
use crate::tls::CertInfo;

/// Disk usage (percent of the quota) above which the disk check is degraded.
pub const DISK_DEGRADED_PERCENT: f64 = 80.0;
/// Disk usage (percent of the quota) above which the disk check is unhealthy.
pub const DISK_UNHEALTHY_PERCENT: f64 = 95.0;
/// Days of certificate validity left under which the TLS check is degraded.
pub const CERT_DEGRADED_DAYS: i64 = 14;

/// Ordered from best to worst, so the overall status is the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Degraded,
    Unhealthy,
}

impl HealthStatus {
    /// The value of `docker_optimizer_health_status`.
    pub fn metric_value(self) -> i64 {
        match self {
            HealthStatus::Healthy => 1,
            HealthStatus::Degraded => 2,
            HealthStatus::Unhealthy => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub status: HealthStatus,
    pub detail: String,
}

impl Check {
    fn new(status: HealthStatus, detail: impl Into<String>) -> Check {
        Check {
            status,
            detail: detail.into(),
        }
    }
}

/// The body of `GET /health` (and `health` of `GET /admin/status`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub status: HealthStatus,
    pub version: String,
    pub uptime_seconds: u64,
    pub checks: BTreeMap<&'static str, Check>,
}

/// The TLS certificate as the health check sees it.
#[derive(Debug, Clone)]
pub enum TlsView {
    Disabled,
    Serving(CertInfo),
}

/// What the checks look at.
#[derive(Debug, Clone)]
pub struct HealthInputs<'a> {
    pub scanner_enabled: bool,
    pub scanner_binary: &'a Path,
    pub cache: CacheStats,
    pub disk: DiskUsage,
    pub config_file: &'a Path,
    /// The message of the last failed reload, if the last reload failed.
    pub config_reload_error: Option<String>,
    pub tls: TlsView,
    /// Unix seconds.
    pub now: i64,
}

/// Runs every check; the overall status is the worst.
pub fn evaluate(inputs: &HealthInputs<'_>, version: &str, uptime_seconds: u64) -> HealthReport {
    let checks = BTreeMap::from([
        (
            "scanner",
            check_scanner(inputs.scanner_enabled, inputs.scanner_binary),
        ),
        ("cache", check_cache(&inputs.cache)),
        ("disk", check_disk(&inputs.disk)),
        (
            "config",
            check_config(inputs.config_file, inputs.config_reload_error.as_deref()),
        ),
        ("tls", check_tls(&inputs.tls, inputs.now)),
    ]);
    let status = checks
        .values()
        .map(|check| check.status)
        .max()
        .unwrap_or(HealthStatus::Healthy);
    HealthReport {
        status,
        version: version.to_string(),
        uptime_seconds,
        checks,
    }
}

fn check_scanner(enabled: bool, binary: &Path) -> Check {
    if enabled {
        Check::new(
            HealthStatus::Healthy,
            format!("configured: {}", binary.display()),
        )
    } else {
        Check::new(
            HealthStatus::Degraded,
            "disabled by configuration; answers are not scanned",
        )
    }
}

fn check_cache(stats: &CacheStats) -> Check {
    if stats.entries > stats.max_size {
        Check::new(
            HealthStatus::Degraded,
            format!(
                "{} entries, over the limit of {}",
                stats.entries, stats.max_size
            ),
        )
    } else {
        Check::new(
            HealthStatus::Healthy,
            format!("{} of {} entries", stats.entries, stats.max_size),
        )
    }
}

fn check_disk(disk: &DiskUsage) -> Check {
    let status = if disk.percent > DISK_UNHEALTHY_PERCENT {
        HealthStatus::Unhealthy
    } else if disk.percent > DISK_DEGRADED_PERCENT {
        HealthStatus::Degraded
    } else {
        HealthStatus::Healthy
    };
    let detail = format!(
        "{:.1}% of the storage quota used ({} of {} bytes)",
        disk.percent, disk.used_bytes, disk.quota_bytes
    );
    Check::new(status, detail)
}

fn check_config(file: &Path, reload_error: Option<&str>) -> Check {
    match reload_error {
        None => Check::new(
            HealthStatus::Healthy,
            format!("loaded from {}", file.display()),
        ),
        Some(error) => Check::new(
            HealthStatus::Degraded,
            format!("last reload failed, still running on the previous configuration: {error}"),
        ),
    }
}

fn check_tls(tls: &TlsView, now: i64) -> Check {
    match tls {
        TlsView::Disabled => Check::new(HealthStatus::Healthy, "disabled by configuration"),
        TlsView::Serving(cert) if cert.is_expired_at(now) => Check::new(
            HealthStatus::Unhealthy,
            format!(
                "certificate {} expired {} days ago",
                cert.serial, -cert.days_left
            ),
        ),
        TlsView::Serving(cert) if cert.days_left < CERT_DEGRADED_DAYS => Check::new(
            HealthStatus::Degraded,
            format!(
                "certificate {} expires in {} days",
                cert.serial, cert.days_left
            ),
        ),
        TlsView::Serving(cert) => Check::new(
            HealthStatus::Healthy,
            format!(
                "certificate {} valid for {} more days",
                cert.serial, cert.days_left
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn cert(days_left: i64) -> CertInfo {
        CertInfo {
            subject: "CN=localhost".into(),
            serial: "01".into(),
            not_before: NOW - 86_400,
            not_after: NOW + days_left * 86_400 + 3600,
            days_left,
        }
    }

    fn healthy_inputs() -> HealthInputs<'static> {
        HealthInputs {
            scanner_enabled: true,
            scanner_binary: Path::new("/usr/local/bin/trivy"),
            cache: CacheStats {
                entries: 5,
                max_size: 10,
                ttl_seconds: 60,
                hits: 0,
                misses: 0,
            },
            disk: DiskUsage {
                used_bytes: 10,
                quota_bytes: 100,
                percent: 10.0,
            },
            config_file: Path::new("/etc/docker-optimizer/config.yml"),
            config_reload_error: None,
            tls: TlsView::Serving(cert(60)),
            now: NOW,
        }
    }

    fn disk(percent: f64) -> DiskUsage {
        DiskUsage {
            used_bytes: percent as u64,
            quota_bytes: 100,
            percent,
        }
    }

    #[test]
    fn all_good_is_healthy() {
        let report = evaluate(&healthy_inputs(), "1.4.2", 7);
        assert_eq!(report.status, HealthStatus::Healthy);
        assert_eq!(report.checks.len(), 5);
        assert_eq!(report.status.metric_value(), 1);
    }

    #[test]
    fn the_overall_status_is_the_worst_check() {
        let mut inputs = healthy_inputs();
        inputs.disk = disk(85.0);
        assert_eq!(evaluate(&inputs, "v", 0).status, HealthStatus::Degraded);
        inputs.tls = TlsView::Serving(cert(-1));
        let report = evaluate(&inputs, "v", 0);
        assert_eq!(report.status, HealthStatus::Unhealthy);
        assert_eq!(report.checks["disk"].status, HealthStatus::Degraded);
    }

    #[test]
    fn disk_thresholds() {
        assert_eq!(check_disk(&disk(80.0)).status, HealthStatus::Healthy);
        assert_eq!(check_disk(&disk(80.5)).status, HealthStatus::Degraded);
        assert_eq!(check_disk(&disk(95.0)).status, HealthStatus::Degraded);
        assert_eq!(check_disk(&disk(97.0)).status, HealthStatus::Unhealthy);
    }

    #[test]
    fn certificate_thresholds() {
        assert_eq!(
            check_tls(&TlsView::Serving(cert(30)), NOW).status,
            HealthStatus::Healthy
        );
        assert_eq!(
            check_tls(&TlsView::Serving(cert(13)), NOW).status,
            HealthStatus::Degraded
        );
        assert_eq!(
            check_tls(&TlsView::Serving(cert(-2)), NOW).status,
            HealthStatus::Unhealthy
        );
        assert_eq!(
            check_tls(&TlsView::Disabled, NOW).status,
            HealthStatus::Healthy
        );
    }

    #[test]
    fn a_failed_reload_and_an_overfull_cache_degrade() {
        let mut inputs = healthy_inputs();
        inputs.config_reload_error = Some("configuration error: ...".into());
        assert_eq!(
            evaluate(&inputs, "v", 0).checks["config"].status,
            HealthStatus::Degraded
        );
        inputs.cache.entries = 11;
        assert_eq!(
            evaluate(&inputs, "v", 0).checks["cache"].status,
            HealthStatus::Degraded
        );
    }

    #[test]
    fn a_broken_scanner_does_not_show_but_a_disabled_one_does() {
        let mut inputs = healthy_inputs();
        inputs.scanner_binary = Path::new("/nonexistent/trivy");
        assert_eq!(evaluate(&inputs, "v", 0).status, HealthStatus::Healthy);
        inputs.scanner_enabled = false;
        assert_eq!(
            evaluate(&inputs, "v", 0).checks["scanner"].status,
            HealthStatus::Degraded
        );
    }
}
