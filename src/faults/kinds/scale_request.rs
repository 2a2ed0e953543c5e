//! `scale-request`: a planned change, not a breakage. A launch is coming and the capacity review
//! asked for more agent replicas behind the service's name before it; nothing is wrong yet. The
//! "root cause" is the shortfall: it holds until the sandbox runs the requested number of agent
//! containers. How safely they were added (no client errors while the traffic moves onto them)
//! is the drill's change budget, not this probe's business.

use serde_json::{json, Value};

use super::Fault;
use crate::error::{Error, Result};
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

pub struct ScaleRequest;

pub const DOC: FaultDoc = FaultDoc {
    kind: "scale-request",
    summary: "A planned change: the capacity review asks for more agent replicas behind the \
              service before a launch. Nothing is broken; the sandbox runs fewer agents than \
              requested until someone scales it.",
    params: &[ParamDoc {
        name: "replicas",
        default: "2",
        kind: ParamType::Number { min: 2.0, max: 4.0 },
        help: "the agent containers requested, the primary included (more than the sandbox runs)",
    }],
    symptoms: "nothing is wrong: `firedrill sandbox status` shows fewer replicas than the \
               request; traffic is healthy",
    mitigated_by: "-",
    resolved_by: "`firedrill sandbox scale --name <sandbox> --replicas N`, which waits until \
                  each new replica answers healthy; a restart or redeploy of the single agent \
                  on the way costs the clients their requests in flight",
    runbook: "scaling",
};

impl Fault for ScaleRequest {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        let requested = params.number("replicas").round() as usize;
        let running = target.running_agents().await?.len();
        if running >= requested {
            return Err(Error::BadFaultParameter {
                kind: DOC.kind.to_string(),
                pair: format!("replicas={requested}"),
                reason: format!(
                    "sandbox {} already runs {running} agent container(s): request more",
                    target.sandbox.name
                ),
            });
        }
        Ok(json!({ "replicas_before": running, "replicas_requested": requested }))
    }

    /// The request is withdrawn: the replicas the trainee started are the trainee's change, and
    /// `sandbox down` removes them with the sandbox.
    async fn revert(_target: &FaultTarget, _record: &FaultRecord) -> Result<()> {
        Ok(())
    }

    async fn probe(target: &FaultTarget, record: &FaultRecord) -> Result<RootCause> {
        let requested = record.baseline["replicas_requested"].as_u64().unwrap_or(2) as usize;
        let running = target.running_agents().await?.len();
        let detail = format!("{running} of {requested} requested agent container(s) running");
        Ok(if running >= requested {
            RootCause::cleared(detail)
        } else {
            RootCause::present(detail)
        })
    }
}
