//! The human output of every command: aligned plain text, as `kubectl`/`systemctl` users expect.

use serde_json::Value;

use super::api::{AgentStatus, CacheStats, Job, ScannerStatus, TlsStatus};
use super::format::{aligned_pairs, bytes, percent, plain, seconds, table, timestamp};
use super::report::{CertificateReload, DbAction, Report};
use super::scanner_db::{DbInfo, DbOnDisk};
use crate::scanner::STALE_AFTER_DAYS;
use crate::tls::CertInfo;

/// How much of an input's SHA-256 `jobs list` shows; enough to tell inputs apart.
const SHA_PREFIX_CHARS: usize = 12;

pub fn text(report: &Report) -> String {
    match report {
        Report::Status(answer) => status(&answer.view),
        Report::Jobs(answer) => jobs(&answer.view),
        Report::JobCancelled(answer) => {
            let job = &answer.view;
            match &job.denied_input {
                Some(sha) => format!(
                    "cancelled job {}; its input sha256:{sha} is denied from now on",
                    plain(&job.id)
                ),
                None => format!("cancelled job {}", plain(&job.id)),
            }
        }
        Report::CacheStats(answer) => cache_stats(&answer.view),
        Report::CacheCleared(answer) => {
            format!("cleared {} cache entries", answer.view.cleared)
        }
        Report::ScannerStatus(status) => scanner_status(&status.0.view, &status.1),
        Report::ScannerDb { action, info } => scanner_db(*action, info),
        Report::Certificate(certificate) => certificate_details(certificate),
        Report::CertificateRenewed {
            certificate,
            reload,
        } => certificate_renewed(certificate, reload),
        Report::ConfigValid { file } => format!("configuration OK: {}", file.display()),
        Report::Config(answer) => config(&answer.raw),
        Report::Reloaded(answer) => reloaded(&answer.view.changes),
        Report::Cleanup(answer) => cleanup(&answer.view),
        Report::Pruned { older_than, answer } => format!(
            "pruned {} history records older than {} ({} remaining)",
            answer.view.pruned, older_than.text, answer.view.remaining
        ),
        Report::Version(version) => format!("agentctl {version}"),
    }
}

fn status(status: &AgentStatus) -> String {
    let mut rows = vec![
        (
            "version".to_string(),
            format!(
                "{} (pid {}, up {})",
                status.version,
                status.pid.map_or("-".to_string(), |pid| pid.to_string()),
                status.uptime_seconds.map_or("-".to_string(), seconds)
            ),
        ),
        ("health".to_string(), status.health.status.clone()),
    ];
    for (name, check) in &status.health.checks {
        let detail = match &check.detail {
            Value::Null => String::new(),
            detail => plain(detail),
        };
        rows.push((format!("  {name}"), format!("{:<9} {detail}", check.status)));
    }
    rows.extend([
        (
            "jobs".to_string(),
            format!("{} in flight", status.jobs_in_flight),
        ),
        (
            "denylist".to_string(),
            count_or_dash(status.denied_inputs, "denied input(s)"),
        ),
        (
            "history".to_string(),
            count_or_dash(status.history_records, "record(s)"),
        ),
        ("cache".to_string(), cache_summary(&status.cache)),
        (
            "disk".to_string(),
            format!(
                "{} of {} ({:.1} %)",
                bytes(status.disk.used_bytes),
                bytes(status.disk.quota_bytes),
                status.disk.percent
            ),
        ),
        (
            "certificate".to_string(),
            certificate_summary(status.tls.as_ref()),
        ),
        ("scanner".to_string(), scanner_summary(&status.scanner)),
    ]);
    aligned_pairs(&rows)
}

fn certificate_summary(tls: Option<&TlsStatus>) -> String {
    match tls {
        None => "HTTPS disabled".to_string(),
        Some(TlsStatus {
            not_after,
            days_left: Some(days),
        }) => format!(
            "valid until {} ({})",
            timestamp(not_after),
            days_left(*days)
        ),
        Some(TlsStatus {
            not_after,
            days_left: None,
        }) => format!("valid until {}", timestamp(not_after)),
    }
}

/// `12 records`, or `-` when the agent could not count.
fn count_or_dash(count: Option<u64>, noun: &str) -> String {
    count.map_or("-".to_string(), |n| format!("{n} {noun}"))
}

fn jobs(jobs: &[Job]) -> String {
    if jobs.is_empty() {
        return "no jobs in flight".to_string();
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|job| {
            vec![
                plain(&job.id),
                job.operation.clone(),
                job.state.clone(),
                seconds(job.elapsed_seconds),
                job.input_sha256.chars().take(SHA_PREFIX_CHARS).collect(),
            ]
        })
        .collect();
    table(&["ID", "OPERATION", "STATE", "ELAPSED", "INPUT"], &rows)
}

fn cache_summary(cache: &CacheStats) -> String {
    format!(
        "{}/{} entries, hit rate {} ({} hits, {} misses)",
        cache.entries,
        cache.max_size,
        percent(cache.hits, cache.hits + cache.misses),
        cache.hits,
        cache.misses
    )
}

fn cache_stats(cache: &CacheStats) -> String {
    aligned_pairs(&[
        (
            "entries".to_string(),
            format!("{} of {}", cache.entries, cache.max_size),
        ),
        ("ttl".to_string(), seconds(cache.ttl_seconds as f64)),
        ("hits".to_string(), cache.hits.to_string()),
        ("misses".to_string(), cache.misses.to_string()),
        (
            "hit rate".to_string(),
            percent(cache.hits, cache.hits + cache.misses),
        ),
    ])
}

fn scanner_summary(scanner: &ScannerStatus) -> String {
    if !scanner.enabled {
        return "disabled".to_string();
    }
    let mut summary = format!(
        "{} scans, {} failed",
        scanner.scans_total, scanner.failures_total
    );
    if let Some(last) = &scanner.last_scan {
        summary.push_str(&format!(
            ", last {} at {}",
            last.outcome,
            timestamp(&last.at)
        ));
    }
    summary
}

fn scanner_status(scanner: &ScannerStatus, on_disk: &DbOnDisk) -> String {
    let binary = if scanner.binary_present {
        scanner.binary.clone()
    } else {
        format!("{} (MISSING)", scanner.binary)
    };
    let last_scan = match &scanner.last_scan {
        None => "none yet".to_string(),
        Some(last) => {
            let mut line = format!("{} at {}", last.outcome, timestamp(&last.at));
            if let Some(detail) = last.detail.as_deref().filter(|d| !d.is_empty()) {
                line.push_str(&format!(": {detail}"));
            }
            line
        }
    };
    aligned_pairs(&[
        ("enabled".to_string(), yes_no(scanner.enabled)),
        ("binary".to_string(), binary),
        ("database".to_string(), scanner.db_path.clone()),
        ("  state".to_string(), database_state(&on_disk.database)),
        (
            "  lock".to_string(),
            match &on_disk.lock {
                None => "free".to_string(),
                Some(holder) => format!("HELD by {holder}: scans wait for it"),
            },
        ),
        (
            "timeout".to_string(),
            seconds(scanner.timeout_seconds as f64),
        ),
        ("scans".to_string(), scanner.scans_total.to_string()),
        (
            "failures".to_string(),
            format!(
                "{} ({})",
                scanner.failures_total,
                percent(scanner.failures_total, scanner.scans_total)
            ),
        ),
        ("last scan".to_string(), last_scan),
    ])
}

/// One line on the DB: its age (flagged when stale) or why it does not verify.
fn database_state(database: &Result<DbInfo, String>) -> String {
    match database {
        Ok(info) if info.stale => format!(
            "STALE: updated {} ({} day(s) ago, stale after {STALE_AFTER_DAYS}); scans miss newer \
             vulnerabilities; run `agentctl scanner db update`",
            info.updated_at, info.age_days
        ),
        Ok(info) => format!(
            "ok, {} entries, updated {} ({} day(s) ago)",
            info.entries, info.updated_at, info.age_days
        ),
        Err(error) => format!("BROKEN: {error}"),
    }
}

fn scanner_db(action: DbAction, info: &DbInfo) -> String {
    let headline = match action {
        DbAction::Verified => "scanner database OK",
        DbAction::Updated => "scanner database updated from the offline mirror",
    };
    let details = aligned_pairs(&[
        ("path".to_string(), info.path.display().to_string()),
        ("entries".to_string(), info.entries.to_string()),
        (
            "updated".to_string(),
            format!(
                "{} ({} day(s) ago{})",
                info.updated_at,
                info.age_days,
                if info.stale { ", STALE" } else { "" }
            ),
        ),
        ("checksum".to_string(), info.checksum.clone()),
    ]);
    format!("{headline}\n{details}")
}

fn certificate_details(certificate: &CertInfo) -> String {
    aligned_pairs(&[
        ("subject".to_string(), certificate.subject.clone()),
        ("serial".to_string(), certificate.serial.clone()),
        (
            "not before".to_string(),
            timestamp(&certificate.not_before.into()),
        ),
        (
            "not after".to_string(),
            timestamp(&certificate.not_after.into()),
        ),
        ("expires".to_string(), days_left(certificate.days_left)),
    ])
}

fn certificate_renewed(certificate: &CertInfo, reload: &CertificateReload) -> String {
    let outcome = match reload {
        CertificateReload::Reloaded(_) => {
            "the agent reloaded it: HTTPS now serves the new certificate".to_string()
        }
        CertificateReload::AgentNotRunning => {
            "the agent is not running: it will use the new certificate when it starts".to_string()
        }
        CertificateReload::Refused(error) => {
            format!("the agent could not reload and still serves the old certificate: {error}")
        }
    };
    format!(
        "certificate renewed, serial {}, valid until {}\n{outcome}",
        certificate.serial,
        timestamp(&certificate.not_after.into())
    )
}

/// `GET /admin/config`: `{"file", "config": {section: {key: value}}, "sources": {"section.key":
/// source}}` rendered as the file and one `KEY VALUE SOURCE` table.
fn config(answer: &Value) -> String {
    let sources = answer.get("sources");
    let mut rows = Vec::new();
    for (section, keys) in answer
        .get("config")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for (key, value) in keys.as_object().into_iter().flatten() {
            let dotted = format!("{section}.{key}");
            let source = sources
                .and_then(|s| s.get(&dotted))
                .map_or("-".to_string(), plain);
            rows.push(vec![dotted, plain(value), source]);
        }
    }
    let file = answer.get("file").map_or("-".to_string(), plain);
    format!(
        "configuration file {file}\n{}",
        table(&["KEY", "VALUE", "SOURCE"], &rows)
    )
}

fn reloaded(changes: &[Value]) -> String {
    if changes.is_empty() {
        return "reloaded: nothing changed".to_string();
    }
    let mut text = format!("reloaded: {} change(s)", changes.len());
    for change in changes {
        text.push_str(&format!("\n  {}", plain(change)));
    }
    text
}

fn cleanup(cleanup: &super::api::Cleanup) -> String {
    let (verb, total) = if cleanup.dry_run {
        ("would remove", "would free")
    } else {
        ("removed", "freed")
    };
    if cleanup.removed.is_empty() {
        return "nothing to clean up".to_string();
    }
    let mut text = String::new();
    for file in &cleanup.removed {
        text.push_str(&format!("{verb} {} ({})\n", file.path, bytes(file.bytes)));
    }
    text.push_str(&format!(
        "{total} {} in {} file(s)",
        bytes(cleanup.freed_bytes),
        cleanup.removed.len()
    ));
    text
}

fn days_left(days: i64) -> String {
    match days {
        d if d < 0 => format!("EXPIRED {} day(s) ago", -d),
        0 => "expires today".to_string(),
        d => format!("{d} day(s) left"),
    }
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}
