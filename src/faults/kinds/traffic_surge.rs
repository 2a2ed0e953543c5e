//! `traffic-surge`: demand multiplied. A newly onboarded team's CI starts linting every build's
//! generated Dockerfile (~192 KiB, never cached: `/analyze`), so the agent gets `factor` times its
//! normal request rate, and the new requests are the expensive kind. Nothing is broken: demand
//! outgrew the agent's capacity, so the fix an SRE applies is capacity (`docker update --cpus`),
//! not a restart.

#[path = "traffic_control.rs"]
pub(super) mod traffic_control;

use optimizer_agent::traffic::control::{StreamOperation, Template, UniqueInputs};
use serde_json::{json, Value};

use super::Fault;
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
        name: "factor",
        default: "5",
        kind: ParamType::Number {
            min: 1.5,
            max: 20.0,
        },
        help: "how many times the normal request rate the agent gets (the extra requests are \
               analyses of ~192 KiB Dockerfiles)",
    }],
    symptoms: "CPU % of the agent up in `docker stats` (about 5 % of a CPU per extra request/s; \
               factor 5 adds 8 requests/s), p95/p99 latency and in-flight requests up on the \
               traffic's /stats, docker_optimizer_requests_total{operation_type=\"analyze\"} \
               rising fast, many trivy processes in `top`; nothing in the logs is an error: the \
               agent is busy, not broken",
    mitigated_by: "- (a restart only drops the requests in flight; the demand stays)",
    resolved_by: "add capacity: raise the agent's CPU limit live with `docker update --cpus N <agent>` to \
                  what the surge needs (factor x the sandbox's limit, at most the host's CPUs); the \
                  surge itself is legitimate demand, not something to block (revert ends it)",
    runbook: "scaling",
};

const NANO: f64 = 1_000_000_000.0;
/// The new team's CI, as a traffic stream.
const STREAM: &str = "new-team-ci";
/// Its Dockerfiles: generated per build, large (each analysis costs the agent ~50 ms of CPU).
const INPUT_BYTES: usize = 192 * 1024;

impl Fault for TrafficSurge {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        let before = traffic_control::state(target).await?;
        let nano_cpus = target.nano_cpus().await?;
        let extra = before.rate * (params.number("factor") - 1.0);
        let stream = UniqueInputs {
            rate: extra,
            bytes: INPUT_BYTES,
            operation: StreamOperation::Analyze,
            template: Template::BuildSteps,
        };
        traffic_control::start_unique_inputs(target, STREAM, &stream).await?;
        Ok(json!({ "rate": before.rate, "nano_cpus": nano_cpus }))
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        traffic_control::stop_unique_inputs(target, STREAM).await?;
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
        let needed = needed_nano_cpus(target, record).await?;
        // No limit at all is more than any surge needs.
        let now = match target.nano_cpus().await? {
            0 => i64::MAX,
            limit => limit,
        };
        let detail = format!(
            "traffic at {rate} requests/s ({:.1}x); agent CPU limit {:.2} CPUs, the surge needs {:.2}",
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

/// The CPU limit the surge needs: the sandbox's limit times the factor, at most the host's CPUs
/// (the most `docker update --cpus` accepts).
async fn needed_nano_cpus(target: &FaultTarget, record: &FaultRecord) -> Result<i64> {
    let baseline = match record.baseline["nano_cpus"].as_i64() {
        Some(limit) if limit > 0 => limit,
        _ => NANO as i64,
    };
    let factor = record.params.number("factor");
    let host_cpus = target
        .docker
        .info()
        .await
        .map_err(Error::docker("reading the engine's CPU count"))?
        .ncpu
        .unwrap_or(1);
    let wanted = (baseline as f64 * factor) as i64;
    Ok(wanted.min(host_cpus * NANO as i64))
}
