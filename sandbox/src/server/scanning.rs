//! Running the security scanner, failing open as the real agent does: when the scanner is missing,
//! broken or times out, the answer carries the summary of "no findings" (grade A) and only the
//! `docker_optimizer_security_scan_failures_total{reason}` metric and a warning log line tell.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::config::ScannerConfig;
use crate::optimizer::{self, ScanSummary};
use crate::scanner::{self, ScannerSettings};

use super::metrics::{ReasonLabels, SeverityLabels};
use super::state::AppState;

/// How the most recent scan went (`GET /admin/scanner`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastScan {
    /// Unix seconds.
    pub at: u64,
    /// `ok` or `failed`.
    pub outcome: &'static str,
    pub detail: String,
}

/// `GET /admin/scanner`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScannerStatus {
    pub enabled: bool,
    pub binary: String,
    pub binary_present: bool,
    pub db_path: String,
    pub timeout_seconds: u64,
    pub scans_total: u64,
    pub failures_total: u64,
    pub last_scan: Option<LastScan>,
}

/// What the scanner has done since the agent started.
#[derive(Debug, Default)]
pub struct ScanActivity {
    scans: AtomicU64,
    failures: AtomicU64,
    last: Mutex<Option<LastScan>>,
}

impl ScanActivity {
    pub fn status(&self, config: &ScannerConfig) -> ScannerStatus {
        ScannerStatus {
            enabled: config.enabled,
            binary: config.binary.display().to_string(),
            binary_present: config.binary.is_file(),
            db_path: config.db_path.display().to_string(),
            timeout_seconds: config.timeout_seconds,
            scans_total: self.scans.load(Ordering::Relaxed),
            failures_total: self.failures.load(Ordering::Relaxed),
            last_scan: self.lock().clone(),
        }
    }

    fn record(&self, outcome: &'static str, detail: String) {
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        *self.lock() = Some(LastScan {
            at,
            outcome,
            detail,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<LastScan>> {
        self.last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Scans `dockerfile` and summarizes the findings; any failure gives the fail-open summary.
pub async fn scan_fail_open(state: &AppState, dockerfile: &str) -> ScanSummary {
    let config = state.config().config.scanner.clone();
    if !config.enabled {
        return optimizer::summarize(None);
    }
    state.metrics.security_scans.inc();
    state.scans.scans.fetch_add(1, Ordering::Relaxed);
    let settings = settings(&config, &state.tmp_dir());
    // The scanner writes the input to a temp file under the data directory first.
    let outcome = match state.quota.ensure_room(dockerfile.len() as u64) {
        Err(e) => Err(("disk_full", e.to_string())),
        Ok(()) => scanner::scan(&settings, dockerfile)
            .await
            .map_err(|e| (e.reason(), e.to_string())),
    };
    match outcome {
        Ok(report) => {
            let counts = report.counts();
            let found = [
                ("critical", u64::from(counts.critical)),
                ("high", u64::from(counts.high)),
                ("medium", u64::from(counts.medium)),
                ("low", u64::from(counts.low)),
            ];
            for (severity, count) in found.into_iter().filter(|(_, count)| *count > 0) {
                state
                    .metrics
                    .vulnerabilities_found
                    .get_or_create(&SeverityLabels { severity })
                    .inc_by(count);
            }
            let detail = found
                .map(|(severity, count)| format!("{count} {severity}"))
                .join(", ");
            state.scans.record("ok", detail);
            optimizer::summarize(Some(&report))
        }
        Err((reason, detail)) => {
            tracing::warn!(
                reason,
                error = %detail,
                scanner = %config.binary.display(),
                "security scan failed; answering without scan results (fail open)"
            );
            state
                .metrics
                .scan_failures
                .get_or_create(&ReasonLabels { reason })
                .inc();
            state.scans.failures.fetch_add(1, Ordering::Relaxed);
            state.scans.record("failed", format!("{reason}: {detail}"));
            optimizer::summarize(None)
        }
    }
}

pub(super) fn settings(config: &ScannerConfig, work_dir: &Path) -> ScannerSettings {
    ScannerSettings {
        binary: config.binary.clone(),
        db_path: config.db_path.clone(),
        timeout: Duration::from_secs(config.timeout_seconds),
        work_dir: work_dir.to_path_buf(),
    }
}
