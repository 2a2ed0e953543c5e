//! The agent scans its own image: the SBOM the image carries ([`paths::SBOM_FILE`]) against the
//! scanner's DB, at start and whenever the DB changes (an update, a newly published advisory).
//! The same watch exports the DB's last update as a timestamp, for staleness alerts.
//! A vulnerable dependency or base package then shows as
//! `docker_optimizer_image_vulnerabilities{severity}` and a warning in the log, the way a
//! registry's continuous scan reports on a running image.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;

use super::scanning;
use super::state::AppState;
use crate::paths;
use crate::scanner::{self, Database, ScanReport};

/// How often the DB is checked for a change.
const CHECK_INTERVAL: Duration = Duration::from_secs(5);

pub fn spawn(state: Arc<AppState>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let sbom = Path::new(paths::SBOM_FILE);
        let mut scanned: Option<SystemTime> = None;
        let mut ticks = tokio::time::interval(CHECK_INTERVAL);
        loop {
            ticks.tick().await;
            let config = state.config();
            let scanner = &config.config.scanner;
            let db_changed_at = std::fs::metadata(&scanner.db_path)
                .and_then(|meta| meta.modified())
                .ok();
            if db_changed_at.is_none() || db_changed_at == scanned {
                continue;
            }
            record_db_age(&state, &scanner.db_path).await;
            // Outside an image (tests, a developer's run) there is no SBOM to scan.
            if !scanner.enabled || !sbom.is_file() {
                scanned = db_changed_at;
                continue;
            }
            let settings = scanning::settings(scanner, &state.tmp_dir());
            match scanner::scan_sbom(&settings, sbom).await {
                Ok(report) => {
                    record(&state, &report);
                    scanned = db_changed_at;
                }
                // Tried again at the next tick; the scanner's own failures show elsewhere.
                Err(error) => {
                    tracing::warn!(error = %error, "self-scan of the agent's image failed")
                }
            }
        }
    })
}

/// Exports when the DB was last updated, so a stale DB can alert before anyone scans.
async fn record_db_age(state: &AppState, db: &Path) {
    let db = db.to_path_buf();
    // A DB that does not verify keeps the last good figure: scan failures tell that story.
    if let Ok(Ok(database)) = tokio::task::spawn_blocking(move || Database::load(&db)).await {
        state
            .metrics
            .set_scanner_db_updated(database.updated_at_unix());
    }
}

fn record(state: &AppState, report: &ScanReport) {
    let counts = report.counts();
    for (severity, count) in [
        ("critical", counts.critical),
        ("high", counts.high),
        ("medium", counts.medium),
        ("low", counts.low),
    ] {
        state.metrics.set_image_vulnerabilities(severity, count);
    }
    if report.vulnerabilities.is_empty() {
        tracing::info!(
            sbom = paths::SBOM_FILE,
            "self-scan: the agent's image has no known vulnerabilities"
        );
        return;
    }
    let findings: Vec<String> = report
        .vulnerabilities
        .iter()
        .map(|v| {
            format!(
                "{} {} {} {} (fixed in {})",
                v.id,
                v.severity.as_str(),
                v.package,
                v.installed_version,
                v.fixed_version.as_deref().unwrap_or("no release yet")
            )
        })
        .collect();
    tracing::warn!(
        sbom = paths::SBOM_FILE,
        critical = counts.critical,
        high = counts.high,
        medium = counts.medium,
        low = counts.low,
        findings = %findings.join("; "),
        "self-scan: the agent's own image has known vulnerabilities; see `trivy sbom {}`",
        paths::SBOM_FILE
    );
}
