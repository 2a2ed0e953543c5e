//! `disk-fill`: the agent's data volume fills with what a neglected host accumulates: stale
//! scanner temp files (layer blobs a crashed scan left behind) and rotated logs. Optionally
//! a second stage: a leftover writer grows it further after a while, as a disk that keeps
//! filling does. Everything is real files on the volume, bounded by the agent's storage quota
//! (never the host's disk, never memory: page cache of a volume is not charged to the container).

use std::time::{Duration, SystemTime};

use rand::RngCore;
use serde_json::{json, Value};

use super::Fault;
use crate::docker::rootfs::AGENT_UID;
use crate::error::{Error, Result};
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause, AGENT_USER};

pub struct DiskFill;

pub const DOC: FaultDoc = FaultDoc {
    kind: "disk-fill",
    summary: "The agent's data volume fills up with stale scanner temp files and rotated logs.",
    params: &[
        ParamDoc {
            name: "percent",
            default: "85",
            kind: ParamType::Number {
                min: 50.0,
                max: 99.0,
            },
            help: "fill the data volume to this percentage of the agent's storage quota",
        },
        ParamDoc {
            name: "grow_to",
            default: "0",
            kind: ParamType::Number {
                min: 0.0,
                max: 99.0,
            },
            help: "second stage: grow to this percentage after grow_after (0: no second stage)",
        },
        ParamDoc {
            name: "grow_after",
            default: "60s",
            kind: ParamType::Duration,
            help: "when the second stage starts, after the injection",
        },
    ],
    symptoms: "/health `disk` check degraded above 80 % of the quota (unhealthy, /health 503, above 95 %); \
               docker_optimizer_disk_usage_bytes near docker_optimizer_disk_quota_bytes; `agentctl status` \
               shows the disk figure; `du` finds large trivy-layer-*.tar files under /var/lib/docker-optimizer/tmp \
               and agent.log.N files in /var/log/docker-optimizer; past the quota the agent's own writes fail \
               with `No space left on device` (errors_total{error_type=\"disk_full\"})",
    mitigated_by: "-",
    resolved_by: "`agentctl cleanup` (temp files and rotated logs; `--dry-run` first) and prune history by \
                  retention (`agentctl db prune --older-than 30d`); never delete history.redb. A restart \
                  keeps the files (the volume persists) and ends a second-stage writer",
    runbook: "capacity-planning",
};

const DATA_DIR: &str = optimizer_agent::paths::DATA_DIR;
const TMP_DIR: &str = "/var/lib/docker-optimizer/tmp";
const LOG_DIR: &str = optimizer_agent::paths::LOG_DIR;
/// The disk check's warning threshold: the probe's too.
const DEGRADED_PERCENT: f64 = 80.0;
/// Size of one leftover layer blob.
const BLOB_BYTES: u64 = 4 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;

impl Fault for DiskFill {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        let percent = params.number("percent");
        let grow_to = params.number("grow_to");
        if grow_to != 0.0 && grow_to <= percent {
            return Err(Error::BadFaultParameter {
                kind: DOC.kind.to_string(),
                pair: format!("grow_to={}", params.get("grow_to")),
                reason: format!("grow_to must be above percent ({percent}), or 0"),
            });
        }
        if grow_to != 0.0 {
            target.require_shell_tools(DOC.kind).await?;
        }
        let disk = target.agentctl_json(&["status"]).await?["disk"].clone();
        let used = disk["used_bytes"].as_u64().unwrap_or_default();
        let quota = disk["quota_bytes"].as_u64().unwrap_or_default();
        let goal = (quota as f64 * percent / 100.0) as u64;
        if quota == 0 || used >= goal {
            return Err(Error::FaultUnavailable {
                kind: DOC.kind.to_string(),
                reason: format!(
                    "the data volume already holds {used} of {quota} bytes (goal {percent} %)"
                ),
            });
        }
        let mut budget = goal - used;
        let mut files = Vec::new();

        // Rotated logs first, in the free rotation slots, each at most the rotation size.
        let (max_files, max_file_bytes) = log_rotation(target).await?;
        let existing = target.exec_ok(AGENT_USER, &["ls", LOG_DIR]).await?;
        let mut log_budget = budget / 2;
        for index in 1..=max_files {
            let name = format!("agent.log.{index}");
            if log_budget < MIB || existing.split_whitespace().any(|n| n == name) {
                continue;
            }
            let size = log_budget.min(max_file_bytes);
            let path = format!("{LOG_DIR}/{name}");
            target
                .write_file(&path, &rotated_log(index, size), 0o644, AGENT_UID)
                .await?;
            log_budget -= size;
            budget -= size;
            files.push(path);
        }
        // The rest as leftover scanner temp files.
        while budget > 0 {
            let size = budget.min(BLOB_BYTES);
            let path = blob_path();
            target
                .write_file(&path, &random_bytes(size), 0o644, AGENT_UID)
                .await?;
            budget -= size;
            files.push(path);
        }

        let mut writer = Value::Null;
        if grow_to != 0.0 {
            let path = blob_path();
            let bytes = (quota as f64 * (grow_to - percent) / 100.0) as u64;
            let after = params.duration("grow_after").as_secs();
            let script = format!("sleep {after}; head -c {bytes} /dev/urandom > {path}");
            target.spawn(AGENT_USER, &["sh", "-c", &script]).await?;
            files.push(path.clone());
            writer = json!(path);
        }
        Ok(json!({ "files": files, "second_stage_file": writer, "quota_bytes": quota }))
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        if let Some(marker) = record.baseline["second_stage_file"].as_str() {
            let listing = target
                .exec_ok(AGENT_USER, &["ps", "-o", "pid,args"])
                .await?;
            let pids: Vec<&str> = listing
                .lines()
                .filter(|line| line.contains(marker))
                .filter_map(|line| line.split_whitespace().next())
                .collect();
            if !pids.is_empty() {
                let mut kill = vec!["kill", "-9"];
                kill.extend(pids);
                // Gone already is as good as killed.
                target.exec(AGENT_USER, &kill).await?;
            }
        }
        let files: Vec<&str> = record.baseline["files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !files.is_empty() {
            let mut remove = vec!["rm", "-f"];
            remove.extend(files);
            target.exec_ok(AGENT_USER, &remove).await?;
        }
        Ok(())
    }

    async fn probe(target: &FaultTarget, record: &FaultRecord) -> Result<RootCause> {
        let (percent, source) = match target.agentctl_json(&["status"]).await {
            Ok(status) => (
                status["disk"]["percent"].as_f64().unwrap_or_default(),
                "the agent's disk figure",
            ),
            // The agent is down: measure the volume the way it would.
            Err(_) => {
                let quota = record.baseline["quota_bytes"].as_u64().unwrap_or(1).max(1);
                let du = target.exec_ok(AGENT_USER, &["du", "-sk", DATA_DIR]).await?;
                let kib: u64 = du
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_default();
                (
                    kib as f64 * 1024.0 * 100.0 / quota as f64,
                    "du of the data volume",
                )
            }
        };
        let detail = format!(
            "data volume at {percent:.1} % of the storage quota ({source}; degraded above {DEGRADED_PERCENT} %)"
        );
        Ok(if percent >= DEGRADED_PERCENT {
            RootCause::present(detail)
        } else {
            RootCause::cleared(detail)
        })
    }
}

/// `(logging.max_files, logging.max_file_mb in bytes)` of the agent's configuration.
async fn log_rotation(target: &FaultTarget) -> Result<(u64, u64)> {
    let config = target.agentctl_json(&["config", "show"]).await?;
    let logging = &config["config"]["logging"];
    Ok((
        logging["max_files"].as_u64().unwrap_or(3),
        logging["max_file_mb"].as_u64().unwrap_or(5) * MIB,
    ))
}

/// A leftover layer blob of a scan that never cleaned up after itself.
fn blob_path() -> String {
    format!("{TMP_DIR}/trivy-layer-{:08x}.tar", rand::random::<u32>())
}

fn random_bytes(size: u64) -> Vec<u8> {
    let mut bytes = vec![0; size as usize];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// `size` bytes of the agent's access log as rotation `index` would hold it: the traffic of
/// the hours before the newer files, one JSON object per line, oldest first.
fn rotated_log(index: u64, size: u64) -> Vec<u8> {
    const REQUESTS: [(&str, &str); 4] = [
        ("POST", "/optimize"),
        ("GET", "/health"),
        ("POST", "/optimize"),
        ("POST", "/analyze"),
    ];
    const LINE_SPACING: Duration = Duration::from_millis(500);
    let lines = size / 170 + 1;
    let end = SystemTime::now() - LINE_SPACING * (lines as u32) * (index as u32 - 1);
    let mut log = Vec::with_capacity(size as usize + 256);
    let mut line_number: u64 = 0;
    while (log.len() as u64) < size {
        let at = end - LINE_SPACING * (lines.saturating_sub(line_number) as u32);
        let (method, path) = REQUESTS[(line_number % 4) as usize];
        log.extend_from_slice(
            format!(
                "{{\"timestamp\":\"{}\",\"level\":\"INFO\",\"message\":\"request\",\"method\":\"{method}\",\
                 \"path\":\"{path}\",\"status\":200,\"duration_ms\":{},\"client\":\"172.21.0.2\",\"target\":\"access\"}}\n",
                humantime::format_rfc3339_micros(at),
                line_number % 37
            )
            .as_bytes(),
        );
        line_number += 1;
    }
    log.truncate(size as usize);
    // A rotated file ends with a whole line.
    if let Some(last) = log.iter().rposition(|b| *b == b'\n') {
        log.truncate(last + 1);
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_logs_are_whole_json_lines_within_the_size() {
        let log = rotated_log(2, 100_000);
        assert!(log.len() <= 100_000 && log.len() > 99_000, "{}", log.len());
        let text = String::from_utf8(log).unwrap();
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["target"], "access");
        }
        let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert!(first["timestamp"].as_str() < last["timestamp"].as_str());
    }
}
