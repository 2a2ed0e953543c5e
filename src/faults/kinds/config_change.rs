//! `config-change`: a planned change, not a breakage. Configuration management staged a reviewed
//! file beside the live one (`config.yml.new`) that raises the cache and the scanner timeout for
//! a newly onboarded team; applying it is the on-call engineer's task, on a live service. The
//! "root cause" is the gap between what was requested and what the agent runs on: it holds until
//! the agent runs with the requested values, however they got there. How safely they got there
//! (a reload drops nothing, a restart drops the requests in flight) is the drill's change budget.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::agent_config::{
    effective_value, read_config, read_text, remove_config_file, saved_baseline, validate,
    with_value, CONFIG_FILE, CONFIG_MODE, CONFIG_OWNER,
};
use super::Fault;
use crate::error::{Error, Result};
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

pub struct ConfigChange;

/// Where configuration management stages a file for the operator to apply.
pub const STAGED_FILE: &str = "/etc/docker-optimizer/config.yml.new";

/// The keys the change sets, each a parameter named after it, with the value requested.
const CHANGE: [(&str, &str); 2] = [
    ("cache.max_size", "4000"),
    ("scanner.timeout_seconds", "30"),
];

pub const DOC: FaultDoc = FaultDoc {
    kind: "config-change",
    summary: "A planned change: configuration management staged a reviewed config.yml.new \
              (larger cache, longer scanner timeout) for the on-call engineer to apply to the \
              live agent. Nothing is broken; the change is not in effect until applied.",
    params: &[
        ParamDoc {
            name: CHANGE[0].0,
            default: CHANGE[0].1,
            kind: ParamType::Number {
                min: 1.0,
                max: 1_000_000.0,
            },
            help: "the cache size the change requests (the shipped config has 1000)",
        },
        ParamDoc {
            name: CHANGE[1].0,
            default: CHANGE[1].1,
            kind: ParamType::Number {
                min: 1.0,
                max: 600.0,
            },
            help: "the scanner timeout in seconds the change requests (the shipped config has 10)",
        },
    ],
    symptoms: "nothing is wrong: /etc/docker-optimizer/config.yml.new sits beside config.yml; \
               `diff` shows the requested keys; `agentctl config show` still shows the old \
               values; traffic is healthy",
    mitigated_by: "-",
    resolved_by: "validate the staged file (`agentctl config validate --file config.yml.new`), \
                  install it as config.yml (`docker exec -u 0 <agent> cp ...`) and apply it live \
                  with `agentctl reload` (both keys reload without a restart), then check \
                  `agentctl config show`; a restart applies it too, but drops the requests in \
                  flight, which the change budget counts",
    runbook: "configuration-changes",
};

/// What `revert` restores.
#[derive(Debug, Serialize, Deserialize)]
struct Baseline {
    config: String,
    /// A staged file that was there before (normally none).
    staged: Option<String>,
    /// The `(key, value)` pairs requested.
    requested: Vec<(String, String)>,
}

impl Fault for ConfigChange {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        let requested: Vec<(String, String)> = CHANGE
            .iter()
            .map(|(key, _)| (key.to_string(), params.get(key).to_string()))
            .collect();
        let original = read_config(target, DOC.kind).await?;
        let pairs = || {
            requested
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if gaps(target, &requested).await?.is_empty() {
            return Err(Error::BadFaultParameter {
                kind: DOC.kind.to_string(),
                pair: pairs(),
                reason: "the agent already runs with these values: there is nothing to change"
                    .to_string(),
            });
        }
        let staged = requested
            .iter()
            .fold(original.clone(), |text, (key, value)| {
                with_value(&text, key, value)
            });
        // A reviewed change is one the agent accepts; staging a broken file is `bad-config`'s job.
        if let Err(message) = validate(target, &staged).await? {
            return Err(Error::BadFaultParameter {
                kind: DOC.kind.to_string(),
                pair: pairs(),
                reason: format!("the agent would refuse the staged file: {message}"),
            });
        }
        let before = read_text(target, STAGED_FILE).await?;
        target
            .write_file(STAGED_FILE, staged.as_bytes(), CONFIG_MODE, CONFIG_OWNER)
            .await?;
        let baseline = Baseline {
            config: original,
            staged: before,
            requested,
        };
        Ok(serde_json::to_value(baseline).expect("the baseline serialises"))
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        let baseline: Baseline = saved_baseline(target, record)?;
        if read_text(target, CONFIG_FILE).await?.as_deref() != Some(baseline.config.as_str()) {
            target
                .write_file(
                    CONFIG_FILE,
                    baseline.config.as_bytes(),
                    CONFIG_MODE,
                    CONFIG_OWNER,
                )
                .await?;
            if target.is_running().await? {
                target.agentctl_json(&["reload"]).await?;
            }
        }
        match &baseline.staged {
            Some(text) => {
                target
                    .write_file(STAGED_FILE, text.as_bytes(), CONFIG_MODE, CONFIG_OWNER)
                    .await
            }
            None => remove_config_file(target, STAGED_FILE).await,
        }
    }

    async fn probe(target: &FaultTarget, record: &FaultRecord) -> Result<RootCause> {
        let baseline: Baseline = saved_baseline(target, record)?;
        let gaps = gaps(target, &baseline.requested).await?;
        Ok(if gaps.is_empty() {
            let applied: Vec<String> = baseline
                .requested
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            RootCause::cleared(format!("in effect: {}", applied.join(", ")))
        } else {
            RootCause::present(format!(
                "not yet in effect: {} (staged in {STAGED_FILE})",
                gaps.join(", ")
            ))
        })
    }
}

/// The requested keys whose value in effect differs, as `key: now (requested value)`.
async fn gaps(target: &FaultTarget, requested: &[(String, String)]) -> Result<Vec<String>> {
    let mut gaps = Vec::new();
    for (dotted, value) in requested {
        let (section, key) = dotted.split_once('.').unwrap_or(("", dotted));
        let (now, from) = effective_value(target, section, key).await?;
        let wanted: f64 = value.parse().unwrap_or_default();
        if (now - wanted).abs() > f64::EPSILON {
            gaps.push(format!("{dotted}: {now} in {from} (requested {value})"));
        }
    }
    Ok(gaps)
}
