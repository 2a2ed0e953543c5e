//! `traffic-surge`: demand multiplied. A newly onboarded team's CI starts linting every build's
//! generated Dockerfile (~192 KiB, never cached: `/analyze`), so the agent needs `demand` times
//! the CPU its limit gives it. Nothing is broken: demand outgrew the agent's capacity, so the fix
//! an SRE applies is capacity (`docker update --cpus`), not a restart.

#[path = "traffic_control.rs"]
pub(super) mod traffic_control;

use std::time::Duration;

use futures_util::StreamExt;
use optimizer_agent::traffic::control::{StreamOperation, Template, UniqueInputs, MAX_UNIQUE_RATE};
use serde_json::{json, Value};

use super::Fault;
use crate::docker::stats;
use crate::error::{Error, Result};
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

pub struct TrafficSurge;

pub const DOC: FaultDoc = FaultDoc {
    kind: "traffic-surge",
    summary: "Client traffic multiplied by a new team's CI linting large Dockerfiles: the agent's \
              CPU limit is no longer enough for the demand.",
    params: &[ParamDoc {
        name: "demand",
        default: "1.5",
        kind: ParamType::Number { min: 1.1, max: 4.0 },
        help: "the CPU the traffic needs, in multiples of the agent's CPU limit (the surge's \
               rate is calibrated at inject against the measured cost of one analysis)",
    }],
    symptoms: "agent CPU pinned at its limit in `docker stats` within ~10 s, client p95/p99 latency \
               and in-flight requests climbing on the traffic's /stats, then timeouts and `overload` \
               refusals; docker_optimizer_requests_total{operation_type=\"analyze\"} rising fast, \
               many trivy processes in `top`; nothing in the agent's logs is an error: it is busy, \
               not broken",
    mitigated_by: "- (a restart only drops the requests in flight; the demand stays)",
    resolved_by: "add capacity: raise the agent's CPU limit live with `docker update --cpus N <agent>` to \
                  what the surge needs (demand x the sandbox's limit, at most the host's CPUs), or add \
                  replicas (`firedrill sandbox scale --replicas N`) that give as much together; the \
                  surge itself is legitimate demand, not something to block (revert ends it)",
    runbook: "scaling",
};

const NANO: f64 = 1_000_000_000.0;
/// The new team's CI, as a traffic stream.
const STREAM: &str = "new-team-ci";
/// Its Dockerfiles: generated per build, large, the expensive layout.
const INPUT_BYTES: usize = 192 * 1024;
/// The rate the cost of one analysis is measured at.
const PROBE_RATE: f64 = 20.0;
/// The client's CPU limit during the surge: a quarter of a CPU cannot send hundreds of
/// 192 KiB requests a second.
const SURGE_CLIENT_NANO_CPUS: i64 = 1_000_000_000;

impl Fault for TrafficSurge {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        let before = traffic_control::state(target).await?;
        let nano_cpus = target.nano_cpus().await?;
        let client =
            target
                .sandbox
                .traffic_container
                .clone()
                .ok_or_else(|| Error::FaultUnavailable {
                    kind: DOC.kind.to_string(),
                    reason: "the sandbox has no traffic container".to_string(),
                })?;
        let client_nano_cpus = target.nano_cpus_of(&client).await?;
        let idle_cpu = mean_cpu_percent(target, 3).await?;
        target
            .set_nano_cpus_of(&client, SURGE_CLIENT_NANO_CPUS)
            .await?;
        traffic_control::start_unique_inputs(target, STREAM, &surge(PROBE_RATE)).await?;
        // Calibrate: what one analysis per second costs this agent, on this machine, in this
        // build, so `demand` means the same on a laptop and in CI.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let probe_cpu = mean_cpu_percent(target, 3).await?;
        let cost_per_request = ((probe_cpu - idle_cpu) / PROBE_RATE).max(0.05);
        let limit_percent = if nano_cpus > 0 {
            nano_cpus as f64 / NANO * 100.0
        } else {
            100.0
        };
        let wanted = params.number("demand") * limit_percent - idle_cpu;
        let rate = (wanted / cost_per_request).clamp(PROBE_RATE, MAX_UNIQUE_RATE);
        traffic_control::start_unique_inputs(target, STREAM, &surge(rate)).await?;
        Ok(json!({
            "rate": before.rate,
            "nano_cpus": nano_cpus,
            "client_nano_cpus": client_nano_cpus,
            "surge_rate": rate,
            "cpu_percent_per_request": cost_per_request,
        }))
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        traffic_control::stop_unique_inputs(target, STREAM).await?;
        if let (Some(client), Some(baseline)) = (
            target.sandbox.traffic_container.as_deref(),
            record.baseline["client_nano_cpus"].as_i64(),
        ) {
            target.set_nano_cpus_of(client, baseline).await?;
        }
        // Capacity the trainee added goes back too: the next drill starts from the same sandbox.
        if let Some(baseline) = record.baseline["nano_cpus"].as_i64() {
            if target.nano_cpus().await? != baseline {
                target.set_nano_cpus(baseline).await?;
            }
        }
        Ok(())
    }

    async fn probe(target: &FaultTarget, record: &FaultRecord) -> Result<RootCause> {
        let baseline_rate = record.baseline["rate"].as_f64().unwrap_or(2.0);
        let traffic = traffic_control::state(target).await?;
        let Some(surge) = traffic.unique_inputs.get(STREAM) else {
            return Ok(RootCause::cleared(format!(
                "the surge is over: traffic back at {} requests/s",
                traffic.rate
            )));
        };
        let rate = traffic.rate + surge.rate;
        let host = target.host_nano_cpus().await?;
        let needed = needed_nano_cpus(record, host);
        // The traffic spreads over every running agent, so replicas add capacity as a higher
        // limit does.
        let now = target.agent_capacity(host).await?;
        let detail = format!(
            "traffic at {rate} requests/s ({:.1}x); the agents may use {:.2} CPUs, the surge needs {:.2}",
            rate / baseline_rate,
            now as f64 / NANO,
            needed as f64 / NANO
        );
        Ok(if now >= needed {
            RootCause::cleared(detail)
        } else {
            RootCause::present(detail)
        })
    }
}

fn surge(rate: f64) -> UniqueInputs {
    UniqueInputs {
        rate,
        bytes: INPUT_BYTES,
        operation: StreamOperation::Analyze,
        template: Template::BuildSteps,
    }
}

/// The agent's mean CPU (% of one core, as `docker stats`) over `samples` seconds.
async fn mean_cpu_percent(target: &FaultTarget, samples: usize) -> Result<f64> {
    let readings: Vec<f64> = stats::samples(&target.docker, target.container())
        .skip(1)
        .take(samples)
        .map(|sample| sample.map(|s| s.cpu_percent))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    Ok(readings.iter().sum::<f64>() / readings.len().max(1) as f64)
}

/// The CPU the surge needs: the sandbox's limit times the demand, at most the host's CPUs
/// (the most `docker update --cpus` accepts).
fn needed_nano_cpus(record: &FaultRecord, host: i64) -> i64 {
    let baseline = match record.baseline["nano_cpus"].as_i64() {
        Some(limit) if limit > 0 => limit,
        _ => NANO as i64,
    };
    let demand = record.params.number("demand");
    let wanted = (baseline as f64 * demand) as i64;
    wanted.min(host)
}
