//! `cpu-burn`: a stray process burning CPU inside the agent container. It is not the agent:
//! `top` shows `yes`, which is how a trainee tells it from a runaway job of the agent's own.

use serde_json::{json, Value};

use super::Fault;
use crate::error::Result;
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::ParamType;
use crate::faults::params::Params;
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause, AGENT_USER};

pub struct CpuBurn;

pub const DOC: FaultDoc = FaultDoc {
    kind: "cpu-burn",
    summary: "A stray process in the agent container burns CPU (someone left `yes > /dev/null` running).",
    params: &[ParamDoc {
        name: "processes",
        default: "1",
        kind: ParamType::Number { min: 1.0, max: 4.0 },
        help: "how many busy processes to start",
    }],
    symptoms: "agent container near its CPU limit in `docker stats`; `top` inside shows `yes` at the top, \
               not optimizer-agent; requests slow down as the agent competes for CPU",
    mitigated_by: "-",
    resolved_by: "find the process (`docker top`, `ps`) and kill it; a restart also ends it but hides who started it",
    runbook: "high-cpu-usage",
};

/// The stray program: one busy core each, and a name anyone recognises in `top`.
const STRAY: &str = "yes";

impl Fault for CpuBurn {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        target.require_shell_tools("cpu-burn").await?;
        let processes = params.number("processes") as usize;
        for _ in 0..processes {
            // `exec` replaces the shell, so the process is `yes` itself, as if typed by hand.
            target
                .spawn(AGENT_USER, &["sh", "-c", "exec yes > /dev/null"])
                .await?;
        }
        Ok(json!({ "processes": processes }))
    }

    async fn revert(target: &FaultTarget, _record: &FaultRecord) -> Result<()> {
        let pids = stray_pids(target).await?;
        if !pids.is_empty() {
            let mut cmd = vec!["kill", "-9"];
            cmd.extend(pids.iter().map(String::as_str));
            // As the owner: root in the sandbox has no CAP_KILL. Gone already is as good as killed.
            target.exec(AGENT_USER, &cmd).await?;
        }
        Ok(())
    }

    async fn probe(target: &FaultTarget, _record: &FaultRecord) -> Result<RootCause> {
        let pids = stray_pids(target).await?;
        Ok(if pids.is_empty() {
            RootCause::cleared(format!("no `{STRAY}` process in the agent container"))
        } else {
            RootCause::present(format!(
                "{} stray `{STRAY}` process(es): pid {}",
                pids.len(),
                pids.join(", ")
            ))
        })
    }
}

/// Pids of the stray processes (none, also when the container is not running).
async fn stray_pids(target: &FaultTarget) -> Result<Vec<String>> {
    let running = target
        .inspect()
        .await?
        .state
        .and_then(|s| s.running)
        .unwrap_or(false);
    if !running {
        return Ok(Vec::new());
    }
    let output = target.exec(AGENT_USER, &["pidof", STRAY]).await?;
    Ok(output
        .stdout
        .split_whitespace()
        .map(str::to_string)
        .collect())
}
