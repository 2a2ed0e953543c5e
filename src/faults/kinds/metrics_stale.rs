//! `metrics-stale`: the agent's `/metrics` snapshot cache (`metrics.refresh_seconds`) set to a
//! day, so the exporter serves one frozen snapshot while the service keeps working: counters,
//! histograms and uptime stop moving, dashboards flatline and rate-based alerts go quiet.

use serde_json::{json, Value};

use super::Fault;
use crate::error::Result;
use crate::faults::catalogue::FaultDoc;
use crate::faults::params::Params;
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

use super::agent_config;

pub struct MetricsStale;

pub const DOC: FaultDoc = FaultDoc {
    kind: "metrics-stale",
    summary: "The metrics snapshot refresh was set to a day (`metrics.refresh_seconds: 86400`): \
              /metrics serves a frozen snapshot while the agent works normally.",
    params: &[],
    symptoms: "every /metrics scrape returns the same text: docker_optimizer_requests_total, the \
               processing-duration histogram and docker_optimizer_uptime_seconds stop moving while \
               the traffic is served (client stats, access log and /health uptime move on); \
               rate() of the counters drops to 0; `agentctl config show` lists \
               metrics.refresh_seconds 86400 from the file",
    mitigated_by: "-",
    resolved_by: "set metrics.refresh_seconds back to 0 (live) or a few seconds in \
                  /etc/docker-optimizer/config.yml and `agentctl reload`; a restart only renders one \
                  fresh snapshot, which then freezes again",
    runbook: "metric-validation",
};

const SECTION: &str = "metrics";
const KEY: &str = "refresh_seconds";
/// A day: far longer than any scrape interval.
const FROZEN_SECONDS: u64 = 86_400;
/// Longer than the slowest usual scrape interval (a minute): past it, scrapes see stale figures.
const STALE_ABOVE_SECONDS: f64 = 60.0;

impl Fault for MetricsStale {
    async fn inject(target: &FaultTarget, _params: &Params) -> Result<Value> {
        let mut baseline =
            agent_config::set_and_reload(target, SECTION, &[(KEY, FROZEN_SECONDS.to_string())])
                .await?;
        baseline["refresh_seconds"] = json!(FROZEN_SECONDS);
        Ok(baseline)
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        agent_config::restore(target, record).await
    }

    async fn probe(target: &FaultTarget, _record: &FaultRecord) -> Result<RootCause> {
        let (refresh, from) = agent_config::effective_value(target, SECTION, KEY).await?;
        let detail = format!(
            "{SECTION}.{KEY} = {refresh} (from {from}); stale above {STALE_ABOVE_SECONDS}s"
        );
        Ok(if refresh > STALE_ABOVE_SECONDS {
            RootCause::present(detail)
        } else {
            RootCause::cleared(detail)
        })
    }
}
