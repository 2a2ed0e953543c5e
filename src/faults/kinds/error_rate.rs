//! `error-rate`: fault-injection settings for resilience testing (`testing.error_ratio`) left
//! enabled in the production config, so a share of the `/optimize` and `/analyze` requests are
//! answered 503 by the agent itself. Live-applied by `agentctl reload`; it persists in the config
//! file, so a restart brings it straight back.

use serde_json::{json, Value};

use super::Fault;
use crate::error::Result;
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

use super::agent_config;

pub struct ErrorRate;

pub const DOC: FaultDoc = FaultDoc {
    kind: "error-rate",
    summary:
        "Fault-injection settings from a resilience test were left on in the production config: \
              a share of the requests fail with 503.",
    params: &[ParamDoc {
        name: "percent",
        default: "10",
        kind: ParamType::Number {
            min: 1.0,
            max: 90.0,
        },
        help: "the client-side error rate to reach, in percent of all requests",
    }],
    symptoms: "client traffic error rate at about `percent` %, all 503 \
               `{\"error\": \"request aborted by fault injection (testing.error_ratio)\"}` on \
               /optimize and /analyze; docker_optimizer_requests_total{status=\"error\"} and \
               docker_optimizer_errors_total{error_type=\"fault_injection\"} climbing; error lines \
               in the logs and a warning at start and at each reload that fault injection is \
               enabled; /health stays healthy; `agentctl config show` lists testing.error_ratio \
               from the file",
    mitigated_by: "-",
    resolved_by:
        "set testing.error_ratio back to 0 (or remove it) in /etc/docker-optimizer/config.yml \
                  and `agentctl reload`; a restart does not help: the setting is in the file",
    runbook: "alert-triage",
};

const SECTION: &str = "testing";
const KEY: &str = "error_ratio";

/// Share of the traffic that goes to `/optimize` and `/analyze` (the rest is `/health`, which
/// fault injection leaves alone): see the request mix in `sandbox/src/traffic/mix.rs`.
const INJECTABLE_SHARE: f64 = 0.95;

impl Fault for ErrorRate {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        let ratio = (params.number("percent") / 100.0 / INJECTABLE_SHARE).min(1.0);
        // Four decimals: exact enough, and what an operator would have typed.
        let ratio = (ratio * 10_000.0).round() / 10_000.0;
        let mut baseline =
            agent_config::set_and_reload(target, SECTION, &[(KEY, ratio.to_string())]).await?;
        baseline["calibration"] = json!({ "error_ratio": ratio });
        Ok(baseline)
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        agent_config::restore(target, record).await
    }

    async fn probe(target: &FaultTarget, _record: &FaultRecord) -> Result<RootCause> {
        let (ratio, from) = agent_config::effective_value(target, SECTION, KEY).await?;
        let detail = format!("{SECTION}.{KEY} = {ratio} (from {from})");
        Ok(if ratio > 0.0 {
            RootCause::present(detail)
        } else {
            RootCause::cleared(detail)
        })
    }
}
