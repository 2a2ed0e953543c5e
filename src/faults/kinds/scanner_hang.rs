//! `scanner-hang`: a `trivy db update` hangs while it holds the DB lock (its mirror never
//! delivers: a stuck download), so every scan waits for the lock until the agent's scanner
//! timeout kills it. Real scanner behaviour: trivy's DB lock stalls concurrent scans.

use std::path::Path;
use std::time::Duration;

use optimizer_agent::paths::{TRIVY_BIN, TRIVY_DB};
use optimizer_agent::scanner::lock::{lock_path, start_ticks_from_stat, LockHolder};
use serde_json::{json, Value};

use super::Fault;
use crate::error::{Error, Result};
use crate::faults::catalogue::FaultDoc;
use crate::faults::params::Params;
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause, AGENT_USER};

pub struct ScannerHang;

pub const DOC: FaultDoc = FaultDoc {
    kind: "scanner-hang",
    summary: "A `trivy db update` hangs on a mirror that never delivers, holding the DB lock every scan waits for.",
    params: &[],
    symptoms: "every scan waits until the agent's scanner timeout (10 s): requests slow (p95 near 10 s), \
               docker_optimizer_security_scan_failures_total{reason=\"timeout\"} climbs, warning logs \
               `scanner timed out after 10s and was killed`, answers still grade A (fail open); `ps` shows \
               the stuck `trivy db update --mirror ...`; `agentctl scanner status` shows the DB lock HELD by it",
    mitigated_by: "-",
    resolved_by: "find the lock holder (`agentctl scanner status`, `ps`) and kill it (`kill <pid>`); the lock \
                  frees and scans run again; then `agentctl scanner db update` to finish the update. A restart \
                  also ends it (exec'd processes die with the container) but destroys the evidence",
    runbook: "security-scanner-failures",
};

/// Where the hung update reads its mirror from: a FIFO nobody ever writes.
const MIRROR_DIR: &str = "/tmp/trivy-mirror";
const MIRROR: &str = "/tmp/trivy-mirror/vulnerabilities.json";
/// How long the update may take to start and take the lock.
const LOCK_TAKEN_WITHIN: Duration = Duration::from_secs(15);

impl Fault for ScannerHang {
    async fn inject(target: &FaultTarget, _params: &Params) -> Result<Value> {
        target.require_shell_tools(DOC.kind).await?;
        if let Some(holder) = live_holder(target).await? {
            return Err(Error::FaultUnavailable {
                kind: DOC.kind.to_string(),
                reason: format!("the scanner DB is already locked by {holder}"),
            });
        }
        target
            .exec_ok(AGENT_USER, &["rm", "-rf", MIRROR_DIR])
            .await?;
        target
            .exec_ok(AGENT_USER, &["mkdir", "-p", MIRROR_DIR])
            .await?;
        target.exec_ok(AGENT_USER, &["mkfifo", MIRROR]).await?;
        target
            .spawn(AGENT_USER, &[TRIVY_BIN, "db", "update", "--mirror", MIRROR])
            .await?;
        let started = tokio::time::Instant::now();
        let holder = loop {
            if let Some(holder) = live_holder(target).await? {
                break holder;
            }
            if started.elapsed() > LOCK_TAKEN_WITHIN {
                return Err(Error::FaultAction {
                    container: target.container().to_string(),
                    command: format!("{TRIVY_BIN} db update --mirror {MIRROR}"),
                    detail: "the update never took the DB lock".to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        Ok(json!({ "mirror": MIRROR, "pid": holder.pid }))
    }

    async fn revert(target: &FaultTarget, _record: &FaultRecord) -> Result<()> {
        let hung = hung_update_pids(target).await?;
        if !hung.is_empty() {
            let mut kill = vec!["kill", "-9"];
            kill.extend(hung.iter().map(String::as_str));
            // As the owner: root in the sandbox has no CAP_KILL. Gone already is as good as killed.
            target.exec(AGENT_USER, &kill).await?;
        }
        // The baseline had no lock: remove the one the hung update left, never another's.
        let lock = lock_file();
        if let Some(holder) = read_holder(target).await? {
            if holder.command.contains(MIRROR) && live_holder(target).await?.is_none() {
                target.exec_ok(AGENT_USER, &["rm", "-f", &lock]).await?;
            }
        }
        target
            .exec_ok(AGENT_USER, &["rm", "-rf", MIRROR_DIR])
            .await?;
        Ok(())
    }

    async fn probe(target: &FaultTarget, _record: &FaultRecord) -> Result<RootCause> {
        Ok(match live_holder(target).await? {
            Some(holder) => RootCause::present(format!(
                "the scanner DB lock is held by {holder}; scans wait for it"
            )),
            None => RootCause::cleared("no live process holds the scanner DB lock"),
        })
    }
}

fn lock_file() -> String {
    lock_path(Path::new(TRIVY_DB)).display().to_string()
}

async fn read_holder(target: &FaultTarget) -> Result<Option<LockHolder>> {
    Ok(target
        .read_file(&lock_file())
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// The lock's holder if it is still running: same pid *and* same start time, as the scanner
/// itself checks (a pid reused after a restart is not the holder).
async fn live_holder(target: &FaultTarget) -> Result<Option<LockHolder>> {
    let Some(holder) = read_holder(target).await? else {
        return Ok(None);
    };
    if !target.is_running().await? {
        return Ok(None);
    }
    let stat = target
        .exec(AGENT_USER, &["cat", &format!("/proc/{}/stat", holder.pid)])
        .await?;
    let alive = stat.success() && start_ticks_from_stat(&stat.stdout) == Some(holder.start_ticks);
    Ok(alive.then_some(holder))
}

/// Pids of `trivy db update` processes reading the fault's mirror.
async fn hung_update_pids(target: &FaultTarget) -> Result<Vec<String>> {
    if !target.is_running().await? {
        return Ok(Vec::new());
    }
    let listing = target
        .exec_ok(AGENT_USER, &["ps", "-o", "pid,args"])
        .await?;
    Ok(listing
        .lines()
        .filter(|line| line.contains("db update") && line.contains(MIRROR))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect())
}
