//! `cpu-runaway`: a client keeps submitting a Dockerfile whose build arguments refer to each other
//! in a cycle (`ARG BASE_IMAGE=${RUNTIME_IMAGE}`, `ARG RUNTIME_IMAGE=${BASE_IMAGE}`). The agent's
//! own build-argument resolution never settles on it (a real defect of its optimizer, see
//! `sandbox/src/optimizer/variables.rs`): the job spins one core until it is cancelled, the
//! request times out with a 504, and the client, a CI job with retries, sends it again.

use optimizer_agent::traffic::control::PoisonClient;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::traffic_surge::traffic_control;
use super::Fault;
use crate::error::Result;
use crate::faults::catalogue::FaultDoc;
use crate::faults::params::Params;
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause, AGENT_USER};

pub struct CpuRunaway;

/// Seconds the agent gets to stop cleanly when revert restarts it.
const RESTART_GRACE_SECONDS: i32 = 10;

pub const DOC: FaultDoc = FaultDoc {
    kind: "cpu-runaway",
    summary: "A client keeps re-submitting a Dockerfile the optimizer never finishes: a runaway job \
              spins a core and comes back after every restart.",
    params: &[],
    symptoms: "agent at ~100 % of its CPU limit in `docker stats` and `top` (optimizer-agent itself, \
               not a stray process); `agentctl jobs list` shows an optimize job in `processing` for \
               minutes, another one joins every ~30 s as the client retries; the client's requests \
               end in 504 (`processing took longer than 30s` in the logs); other requests slow down",
    mitigated_by: "restart the agent: the job dies with it, but the client re-submits the input within \
                   seconds and the runaway is back",
    resolved_by: "`agentctl jobs cancel <ID> --deny`: cancels every job on that input and deny-lists \
                  it (persisted), so the re-submissions get 403 instead of a new runaway",
    runbook: "high-cpu-usage",
};

/// The client waits this long after each attempt before it re-submits.
const RETRY_PAUSE_MS: u64 = 2000;
/// Where the agent persists its deny-list (an array of input SHA-256s).
const DENYLIST_FILE: &str = "/var/lib/docker-optimizer/denylist.json";

/// The input: an ordinary service Dockerfile whose base image is chosen by build arguments, with
/// a refactoring slip that made the two defaults point at each other. The build number keeps
/// every injection's input (and so its SHA-256) its own.
fn poison_dockerfile(build: u32) -> String {
    format!(
        "# reporting-service: base image chosen by the build pipeline\n\
         ARG BASE_IMAGE=${{RUNTIME_IMAGE}}\n\
         ARG RUNTIME_IMAGE=${{BASE_IMAGE}}\n\
         FROM ${{BASE_IMAGE}}\n\
         LABEL com.example.build=\"{build}\"\n\
         WORKDIR /app\n\
         RUN apt-get update\n\
         RUN apt-get install -y curl ca-certificates\n\
         COPY . /app\n\
         CMD [\"/app/bin/report-server\"]\n"
    )
}

impl Fault for CpuRunaway {
    async fn inject(target: &FaultTarget, _params: &Params) -> Result<Value> {
        let dockerfile = poison_dockerfile(rand::random::<u32>() % 100_000);
        // The agent's key of the input (jobs, deny-list): the SHA-256 of the text as sent.
        let input_sha256 = hex::encode(Sha256::digest(dockerfile.as_bytes()));
        let denied_before = denied_inputs(target).await?;
        traffic_control::start_poison(
            target,
            &PoisonClient {
                dockerfile: dockerfile.clone(),
                pause_ms: RETRY_PAUSE_MS,
            },
        )
        .await?;
        Ok(json!({
            "input_sha256": input_sha256,
            "dockerfile": dockerfile,
            "denylist_file": denied_before,
        }))
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        traffic_control::stop_poison(target).await?;
        let sha = input_of(record);
        if !target.is_running().await? {
            return restore_denylist(target, record, sha).await;
        }
        for job in runaway_jobs(target, sha).await? {
            // Gone meanwhile (it ended or was cancelled) is as good as cancelled.
            target
                .exec(AGENT_USER, &["agentctl", "jobs", "cancel", &job, "--json"])
                .await?;
        }
        restore_denylist(target, record, sha).await
    }

    async fn probe(target: &FaultTarget, record: &FaultRecord) -> Result<RootCause> {
        let sha = input_of(record);
        let denied = denied_inputs(target)
            .await?
            .is_some_and(|list| list.iter().any(|h| h == sha));
        let jobs = if target.is_running().await? {
            runaway_jobs(target, sha).await?
        } else {
            Vec::new()
        };
        let short = &sha[..12.min(sha.len())];
        Ok(match (denied, jobs.is_empty()) {
            (true, true) => RootCause::cleared(format!(
                "input {short}… is deny-listed and no job on it runs"
            )),
            (true, false) => RootCause::present(format!(
                "input {short}… is deny-listed but job(s) {} still run on it",
                jobs.join(", ")
            )),
            (false, _) => RootCause::present(format!(
                "input {short}… is not deny-listed: the client re-submits it ({} runaway job(s) now)",
                jobs.len()
            )),
        })
    }
}

fn input_of(record: &FaultRecord) -> &str {
    record.baseline["input_sha256"].as_str().unwrap_or_default()
}

/// The persisted deny-list; `None` when the file does not exist.
async fn denied_inputs(target: &FaultTarget) -> Result<Option<Vec<String>>> {
    Ok(target
        .read_file(DENYLIST_FILE)
        .await?
        .map(|bytes| serde_json::from_slice(&bytes).unwrap_or_default()))
}

/// Ids of the jobs in flight on `input_sha256`.
async fn runaway_jobs(target: &FaultTarget, input_sha256: &str) -> Result<Vec<String>> {
    let jobs = target.agentctl_json(&["jobs", "list"]).await?;
    Ok(jobs
        .as_array()
        .into_iter()
        .flatten()
        .filter(|job| job["input_sha256"] == input_sha256)
        .filter_map(|job| job["id"].as_u64().map(|id| id.to_string()))
        .collect())
}

/// Leaves the deny-list as the baseline had it: an entry for this fault's input that the
/// trainee added is taken out again. The agent reads the list at start only, so it is restarted
/// when the running agent holds the entry.
async fn restore_denylist(target: &FaultTarget, record: &FaultRecord, sha: &str) -> Result<()> {
    let denied_before = record.baseline["denylist_file"]
        .as_array()
        .is_some_and(|list| list.iter().any(|h| h == sha));
    let Some(now) = denied_inputs(target).await? else {
        return Ok(());
    };
    if denied_before || !now.iter().any(|h| h == sha) {
        return Ok(());
    }
    let kept: Vec<&String> = now.iter().filter(|h| *h != sha).collect();
    let bytes = serde_json::to_vec_pretty(&kept).unwrap_or_default();
    target
        .write_file(
            DENYLIST_FILE,
            &bytes,
            0o644,
            AGENT_USER.parse().unwrap_or(10001),
        )
        .await?;
    // The agent reads its deny-list at start only.
    target.restart(RESTART_GRACE_SECONDS).await
}
