//! Typed views of the operator API's answers, for the text rendering. Fields the text does not
//! show are not listed; `--json` prints the agent's answer as it came. Missing fields take
//! their defaults so a slightly different agent release still renders.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// `GET /admin/status`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AgentStatus {
    pub version: String,
    pub pid: Option<u64>,
    pub uptime_seconds: Option<f64>,
    pub health: Health,
    pub jobs_in_flight: u64,
    pub denied_inputs: Option<u64>,
    pub history_records: Option<u64>,
    pub cache: CacheStats,
    pub disk: DiskUsage,
    /// `null` when HTTPS is disabled.
    pub tls: Option<TlsStatus>,
    pub scanner: ScannerStatus,
}

/// The `health` part of the status, as `GET /health` has it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Health {
    pub status: String,
    pub checks: BTreeMap<String, HealthCheck>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HealthCheck {
    pub status: String,
    /// Text, or an object of figures, depending on the check.
    pub detail: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DiskUsage {
    pub used_bytes: u64,
    pub quota_bytes: u64,
    pub percent: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TlsStatus {
    /// Unix seconds, or a timestamp text.
    pub not_after: Value,
    pub days_left: Option<i64>,
}

/// An entry of `GET /admin/jobs`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Job {
    /// A number or a text, shown as it is.
    pub id: Value,
    pub operation: String,
    pub input_sha256: String,
    pub elapsed_seconds: f64,
    pub state: String,
}

/// `POST /admin/jobs/{id}/cancel`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CancelledJob {
    pub id: Value,
    pub cancelled: bool,
    pub denied_input: Option<String>,
}

/// `GET /admin/cache`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CacheStats {
    pub entries: u64,
    pub max_size: u64,
    pub ttl_seconds: u64,
    pub hits: u64,
    pub misses: u64,
}

/// `POST /admin/cache/clear`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CacheCleared {
    pub cleared: u64,
}

/// `GET /admin/scanner`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
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

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LastScan {
    /// Unix seconds, or a timestamp text.
    pub at: Value,
    pub outcome: String,
    pub detail: Option<String>,
}

/// `POST /admin/reload`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Reloaded {
    /// What changed: texts, or objects describing a key's change.
    pub changes: Vec<Value>,
}

/// `POST /admin/cleanup`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Cleanup {
    pub dry_run: bool,
    pub removed: Vec<RemovedFile>,
    pub freed_bytes: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RemovedFile {
    pub path: String,
    pub bytes: u64,
}

/// `POST /admin/db/prune`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Pruned {
    pub pruned: u64,
    pub remaining: u64,
}
