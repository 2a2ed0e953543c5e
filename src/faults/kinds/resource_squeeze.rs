//! `resource-squeeze`: the agent's CPU limit lowered live, as `docker update --cpus` does.

use serde_json::{json, Value};

use super::Fault;
use crate::error::Result;
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::ParamType;
use crate::faults::params::Params;
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

pub struct ResourceSqueeze;

pub const DOC: FaultDoc = FaultDoc {
    kind: "resource-squeeze",
    summary: "The agent container's CPU limit was lowered live (`docker update --cpus`).",
    params: &[ParamDoc {
        name: "cpus",
        default: "0.02",
        kind: ParamType::Number {
            min: 0.01,
            max: 0.9,
        },
        help: "the lowered CPU limit, in CPUs (the normal traffic needs a few % of a CPU: \
               below that the agent is throttled most of the time)",
    }],
    symptoms:
        "the container is throttled at its CPU quota in about half of its scheduling periods \
               (cpu_stats.throttling_data in the engine's stats, cAdvisor's \
               container_cpu_cfs_throttled_periods_total), so requests queue behind the quota and \
               latency rises while `docker stats` CPU % stays a few %; `docker inspect` shows \
               NanoCpus below the sandbox's 1 CPU",
    mitigated_by: "-",
    resolved_by: "`docker update --cpus 1 <container>` (a restart keeps the lowered limit)",
    runbook: "capacity-planning",
};

const NANO: f64 = 1_000_000_000.0;

impl Fault for ResourceSqueeze {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        let baseline = target.nano_cpus().await?;
        let squeezed = (params.number("cpus") * NANO) as i64;
        target.set_nano_cpus(squeezed).await?;
        Ok(json!({ "nano_cpus": baseline }))
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        let baseline = record.baseline["nano_cpus"].as_i64().unwrap_or(NANO as i64);
        target.set_nano_cpus(baseline).await
    }

    async fn probe(target: &FaultTarget, record: &FaultRecord) -> Result<RootCause> {
        let baseline = record.baseline["nano_cpus"].as_i64().unwrap_or(NANO as i64);
        let now = target.nano_cpus().await?;
        let detail = format!(
            "CPU limit {:.2} CPUs (sandbox baseline {:.2})",
            now as f64 / NANO,
            baseline as f64 / NANO
        );
        Ok(if now < baseline {
            RootCause::present(detail)
        } else {
            RootCause::cleared(detail)
        })
    }
}
