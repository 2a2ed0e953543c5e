//! `capacity-forecast`: a planning task, not a breakage. The capacity review forecasts the
//! agent's peak CPU use after a new team onboards next week; today's limit was sized for today's
//! peak. The runbook's sizing rule keeps the peak at 60 % of the capacity, clear of the 70 %
//! warning, so the "root cause" is the gap between the CPU the sandbox's agents may use together
//! and peak ÷ 0.6. It holds until the capacity is provisioned, scaled up (`docker update --cpus`)
//! or out (`sandbox scale`), whichever the trainee's plan chose. Whether the change was made
//! without hurting the live traffic is the drill's change budget.

use serde_json::{json, Value};

use super::Fault;
use crate::error::{Error, Result};
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

pub struct CapacityForecast;

pub const DOC: FaultDoc = FaultDoc {
    kind: "capacity-forecast",
    summary: "A planning task: the capacity review forecasts a peak CPU use the agent's limit \
              cannot hold at the 60 % sizing target; capacity must be provisioned ahead of it. \
              Nothing is broken yet.",
    params: &[ParamDoc {
        name: "peak_cpus",
        default: "1.2",
        kind: ParamType::Number { min: 0.1, max: 8.0 },
        help: "the forecast's peak CPU use of the agent, in CPUs; the capacity asked for is \
               this / 0.6 (more than the sandbox has, at most what the host has)",
    }],
    symptoms: "nothing is wrong today: CPU well under the limit, no throttling, traffic \
               healthy; `docker inspect` shows the limit the forecast outgrows",
    mitigated_by: "-",
    resolved_by: "provision the forecast's capacity ahead of it: raise the CPU limit live \
                  (`docker update --cpus N <agent>`) or add replicas (`firedrill sandbox scale \
                  --replicas N`), so the agents together may use the forecast peak / 0.6 CPUs",
    runbook: "capacity-planning",
};

const NANO: f64 = 1_000_000_000.0;
/// The runbook's sizing rule: the peak sits at 60 % of the capacity, clear of the 70 % warning.
const TARGET_UTILISATION: f64 = 0.6;
/// Rounding in `docker update --cpus` (it takes decimals) is no shortfall.
const TOLERANCE_NANO_CPUS: i64 = 10_000_000;

impl Fault for CapacityForecast {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        let peak = params.number("peak_cpus");
        let host = target.host_nano_cpus().await?;
        let today = target.agent_capacity(host).await?;
        let required = (peak / TARGET_UTILISATION * NANO).round() as i64;
        let refused = |reason: String| Error::BadFaultParameter {
            kind: DOC.kind.to_string(),
            pair: format!("peak_cpus={peak}"),
            reason,
        };
        if required > host + TOLERANCE_NANO_CPUS {
            return Err(refused(format!(
                "the forecast needs {:.2} CPUs and this host has {:.0}: no plan could meet it",
                required as f64 / NANO,
                host as f64 / NANO
            )));
        }
        if today + TOLERANCE_NANO_CPUS >= required {
            return Err(refused(format!(
                "the agents may already use {:.2} CPUs, enough for the forecast's {:.2}: there \
                 is nothing to plan",
                today as f64 / NANO,
                required as f64 / NANO
            )));
        }
        Ok(json!({ "nano_cpus_before": today, "nano_cpus_required": required }))
    }

    /// The forecast is withdrawn: capacity the trainee added is the trainee's change, and
    /// `sandbox down` removes it with the sandbox.
    async fn revert(_target: &FaultTarget, _record: &FaultRecord) -> Result<()> {
        Ok(())
    }

    async fn probe(target: &FaultTarget, record: &FaultRecord) -> Result<RootCause> {
        let required = record.baseline["nano_cpus_required"]
            .as_i64()
            .unwrap_or(i64::MAX);
        let host = target.host_nano_cpus().await?;
        let now = target.agent_capacity(host).await?;
        let detail = format!(
            "the agents may use {:.2} CPUs; the forecast needs {:.2}",
            now as f64 / NANO,
            required as f64 / NANO
        );
        Ok(if now + TOLERANCE_NANO_CPUS >= required {
            RootCause::cleared(detail)
        } else {
            RootCause::present(detail)
        })
    }
}
