//! `latency`: fault-injection settings for resilience testing (`testing.latency_ms`,
//! `testing.latency_ratio`) left enabled in the production config, so a quarter of the
//! `/optimize` and `/analyze` requests wait before being processed and the p95 climbs to
//! `p95_ms`. It is the agent's own doing, live-applied by `agentctl reload`, and it persists in
//! the config file, so a restart brings it straight back.

use std::time::Duration;

use serde_json::{json, Value};

use super::agent_config;
use super::Fault;
use crate::error::Result;
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

pub struct Latency;

pub const DOC: FaultDoc = FaultDoc {
    kind: "latency",
    summary:
        "Fault-injection settings from a resilience test were left on in the production config: \
              a quarter of the requests are delayed, p95 latency climbs.",
    params: &[ParamDoc {
        name: "p95_ms",
        default: "1500",
        kind: ParamType::Number {
            min: 200.0,
            max: 8000.0,
        },
        help: "the client-side p95 latency to reach, in milliseconds (calibrated against the \
               sandbox's baseline latency)",
    }],
    symptoms:
        "p95 (and p99) latency of the client traffic at about p95_ms while p50 stays normal; \
               processing-duration histogram grows a tail; no errors, /health healthy, CPU idle; \
               the agent logs a warning at start and at each reload that fault injection is \
               enabled; `agentctl config show` lists testing.latency_ms and testing.latency_ratio \
               from the file",
    mitigated_by: "-",
    resolved_by: "set testing.latency_ms and testing.latency_ratio back to 0 (or remove them) in \
                  /etc/docker-optimizer/config.yml and `agentctl reload`; a restart does not help: \
                  the setting is in the file",
    runbook: "performance-degradation",
};

/// Section and keys of the agent's fault-injection settings.
const SECTION: &str = "testing";
const DELAY_KEY: &str = "latency_ms";
const SHARE_KEY: &str = "latency_ratio";

/// Share of `/optimize` and `/analyze` requests delayed. Above 5 % of all requests (`/health`
/// is 5 % of the traffic and never delayed), so the p95 falls among delayed requests and sits at
/// the delay plus an ordinary processing time, while the median is untouched.
const DELAYED_SHARE: f64 = 0.25;

/// The delay is never shorter than this, whatever the baseline.
const MIN_DELAY_MS: f64 = 50.0;

impl Fault for Latency {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        let wanted_p95 = params.number("p95_ms");
        // The p95 lands on a delayed request of ordinary processing time (about the 80th
        // percentile of the delayed ones, which with the cache is near the median, not the tail):
        // take the baseline median off the delay.
        let baseline_p50 = baseline_traffic_ms(target, "p50_ms").await.unwrap_or(0.0);
        let delay_ms = (wanted_p95 - baseline_p50).max(MIN_DELAY_MS).round() as u64;
        let mut baseline = agent_config::set_and_reload(
            target,
            SECTION,
            &[
                (DELAY_KEY, delay_ms.to_string()),
                (SHARE_KEY, DELAYED_SHARE.to_string()),
            ],
        )
        .await?;
        baseline["calibration"] = json!({
            "baseline_p50_ms": baseline_p50,
            "latency_ms": delay_ms,
            "latency_ratio": DELAYED_SHARE,
        });
        Ok(baseline)
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        agent_config::restore(target, record).await
    }

    async fn probe(target: &FaultTarget, _record: &FaultRecord) -> Result<RootCause> {
        let (delay, from) = agent_config::effective_value(target, SECTION, DELAY_KEY).await?;
        let (share, _) = agent_config::effective_value(target, SECTION, SHARE_KEY).await?;
        let detail = format!(
            "{SECTION}.{DELAY_KEY} = {delay}, {SECTION}.{SHARE_KEY} = {share} (from {from})"
        );
        Ok(if delay > 0.0 && share > 0.0 {
            RootCause::present(detail)
        } else {
            RootCause::cleared(detail)
        })
    }
}

/// A latency figure (`p50_ms`, ...) of the sandbox's client traffic before the fault, if the
/// traffic reports one.
async fn baseline_traffic_ms(target: &FaultTarget, figure: &str) -> Option<f64> {
    let url = format!("{}/stats", target.sandbox.traffic_stats.as_deref()?);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .ok()?;
    let stats: Value = client.get(url).send().await.ok()?.json().await.ok()?;
    stats[figure].as_f64()
}
