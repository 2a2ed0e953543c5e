//! `scanner-db-corrupt`: the scanner's vulnerability DB was cut short, as by a download that
//! died half-way or a full disk during an update. Every scan fails on it; the agent fails open.

use std::path::Path;

use optimizer_agent::paths::TRIVY_DB;
use optimizer_agent::scanner::Database;
use serde_json::{json, Value};

use super::Fault;
use crate::error::{Error, Result};
use crate::faults::catalogue::FaultDoc;
use crate::faults::params::Params;
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

pub struct ScannerDbCorrupt;

pub const DOC: FaultDoc = FaultDoc {
    kind: "scanner-db-corrupt",
    summary: "The scanner's vulnerability DB is truncated (an update that died half-way).",
    params: &[],
    symptoms: "docker_optimizer_security_scan_failures_total{reason=\"failed\"} climbs with the traffic; \
               warning logs `security scan failed ... vulnerability DB /var/lib/trivy/db/vulnerabilities.json \
               is not valid JSON (truncated or corrupt?)`; every answer still grades A (fail open); /health \
               stays healthy; `agentctl scanner status` marks the database BROKEN",
    mitigated_by: "-",
    resolved_by: "`agentctl scanner db verify` (fails, exit 1, naming the problem) then \
                  `agentctl scanner db update` (refreshes it from the image's offline mirror); a restart \
                  keeps the broken file",
    runbook: "security-scanner-failures",
};

/// How much of the DB survives the interrupted write.
const KEPT_FRACTION: f64 = 0.6;

impl Fault for ScannerDbCorrupt {
    async fn inject(target: &FaultTarget, _params: &Params) -> Result<Value> {
        let original = read_db(target, DOC.kind).await?;
        let kept = (original.len() as f64 * KEPT_FRACTION) as usize;
        write_db(target, &original.as_bytes()[..kept]).await?;
        Ok(json!({ "db": TRIVY_DB, "original": original }))
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        restore_db(target, record).await
    }

    async fn probe(target: &FaultTarget, _record: &FaultRecord) -> Result<RootCause> {
        Ok(match target.read_file(TRIVY_DB).await? {
            None => RootCause::present(format!("{TRIVY_DB} does not exist")),
            Some(bytes) => match Database::from_bytes(Path::new(TRIVY_DB), &bytes) {
                Ok(_) => RootCause::cleared(format!("{TRIVY_DB} verifies")),
                Err(error) => RootCause::present(error.to_string()),
            },
        })
    }
}

/// The DB's current text (it is JSON, so UTF-8), the baseline both DB faults restore.
pub(super) async fn read_db(target: &FaultTarget, kind: &str) -> Result<String> {
    let bytes = target
        .read_file(TRIVY_DB)
        .await?
        .ok_or_else(|| Error::FaultUnavailable {
            kind: kind.to_string(),
            reason: format!("the sandbox has no scanner DB at {TRIVY_DB}"),
        })?;
    String::from_utf8(bytes).map_err(|_| Error::FaultUnavailable {
        kind: kind.to_string(),
        reason: format!("{TRIVY_DB} is not text; recreate the sandbox"),
    })
}

/// Replaces the DB as the agent's user would (the scanner's files are the agent's).
pub(super) async fn write_db(target: &FaultTarget, contents: &[u8]) -> Result<()> {
    target
        .write_file(TRIVY_DB, contents, 0o644, crate::docker::rootfs::AGENT_UID)
        .await
}

/// Puts back the DB saved as `original` in the record's baseline.
pub(super) async fn restore_db(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
    match record.baseline["original"].as_str() {
        Some(original) => write_db(target, original.as_bytes()).await,
        None => Err(Error::FaultAction {
            container: target.container().to_string(),
            command: format!("restore {TRIVY_DB}"),
            detail: "the fault record holds no original DB".to_string(),
        }),
    }
}
