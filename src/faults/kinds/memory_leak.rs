//! `memory-leak`: a config change lifted the response cache's bounds (`cache.max_size` 1000000,
//! a week's TTL) "for a backfill", and a build pipeline started sending a distinct Dockerfile per
//! commit. Every answer is a cache miss that is kept: the agent's own memory grows steadily until
//! the container's 256 MiB limit OOM-kills it, the restart policy restarts it, and it regrows.

use optimizer_agent::traffic::control::{StreamOperation, Template, UniqueInputs};
use serde_json::{json, Value};

use super::traffic_surge::traffic_control;
use super::Fault;
use crate::error::{Error, Result};
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause, AGENT_USER};

pub struct MemoryLeak;

pub const DOC: FaultDoc = FaultDoc {
    kind: "memory-leak",
    summary: "The cache bounds were lifted in config while a client sends a distinct Dockerfile per \
              request: the agent keeps every answer and its memory climbs until the OOM killer ends it.",
    params: &[ParamDoc {
        name: "rate_mib_s",
        default: "2",
        kind: ParamType::Number { min: 0.5, max: 4.0 },
        help: "how fast the agent's resident memory grows, in MiB per second",
    }],
    symptoms: "memory climbing steadily in `docker stats` and process_resident_memory_bytes, \
               docker_optimizer_cache_entries climbing with it (cache misses, no hits, on \
               `agentctl cache stats`); `agentctl config show` has cache.max_size 1000000; left alone, \
               the container is OOM-killed at 256 MiB (exit 137, OOMKilled) and restarted",
    mitigated_by: "restart the agent: memory drops (the cache starts again from its saved index, at \
                   most 4 MiB), then regrows at the same rate; `agentctl cache clear` empties the \
                   cache but the process keeps the memory it had taken",
    resolved_by: "bound the cache again in /etc/docker-optimizer/config.yml (cache.max_size back to the \
                  shipped 1000; the probe accepts up to ~1090) and `agentctl reload`: entries stop at \
                  the bound and memory levels off within about a minute (near 185 MiB, 72 % of the \
                  limit, if the cache was still small; what it had taken is returned at the next \
                  restart)",
    runbook: "memory-leaks",
};

const CONFIG_FILE: &str = "/etc/docker-optimizer/config.yml";
/// The traffic's stream of per-commit Dockerfiles this fault runs.
const STREAM: &str = "catalogue-backfill";
/// The lifted bounds, as the hasty change wrote them.
const LIFTED_MAX_SIZE: &str = "1000000";
const LIFTED_TTL_SECONDS: &str = "604800";
/// Size of each generated Dockerfile (the traffic's `manifests` template, cheap to optimize).
/// Larger inputs cost the agent less CPU per MiB of leak (a request's fixed cost, the scanner
/// run, is spread over more bytes: at 2 MiB/s the agent uses ~37 % of its CPU in a debug build),
/// smaller ones keep the cache small once it is bounded again: at the default bound of 1000
/// entries this one stays near 100 MiB.
const INPUT_BYTES: usize = 96 * 1024;
/// Resident memory one cached answer to such an input costs the agent, measured: process RSS grew
/// 102.2 MB over 949 new cache entries in 48 s, linearly (2.03 MiB/s asked 2).
const RSS_BYTES_PER_ENTRY: f64 = 107_700.0;
/// A bound is sane while the agent it allows settles below the 80 % memory warning. Measured: with
/// max_size 1000 (103 MiB of answers) under this stream, RSS levels off about a minute after the
/// cache is full, near 185 MiB (72 % of 256 MiB): each cached MiB costs ~1.6 MiB of RSS once the
/// allocator's reuse settles, over ~20 MiB of base. 112 MiB of answers would settle near 80 %.
const SANE_CACHE_BYTES: f64 = 112.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

impl Fault for MemoryLeak {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        let original = read_config(target).await?;
        let lifted = lift_cache_bounds(&original);
        // As the root-owned file it is (uid 0).
        target
            .write_file(CONFIG_FILE, lifted.as_bytes(), 0o644, 0)
            .await?;
        target.agentctl_json(&["reload"]).await?;
        let requests_per_second = params.number("rate_mib_s") * MIB / RSS_BYTES_PER_ENTRY;
        traffic_control::start_unique_inputs(
            target,
            STREAM,
            &UniqueInputs {
                rate: requests_per_second,
                bytes: INPUT_BYTES,
                operation: StreamOperation::Optimize,
                template: Template::Manifests,
            },
        )
        .await?;
        Ok(json!({ "config": original, "unique_inputs_per_second": requests_per_second }))
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        traffic_control::stop_unique_inputs(target, STREAM).await?;
        let original = record.baseline["config"].as_str().unwrap_or_default();
        target
            .write_file(CONFIG_FILE, original.as_bytes(), 0o644, 0)
            .await?;
        // A stopped or restarting agent reads the file when it starts; a running one reloads.
        if target
            .exec(AGENT_USER, &["agentctl", "reload", "--json"])
            .await?
            .success()
        {
            target.agentctl_json(&["cache", "clear"]).await?;
        }
        Ok(())
    }

    async fn probe(target: &FaultTarget, _record: &FaultRecord) -> Result<RootCause> {
        let max_size = match target.agentctl_json(&["cache", "stats"]).await {
            Ok(stats) => stats["max_size"].as_f64().unwrap_or_default(),
            // Restarting (e.g. after the OOM kill): the file is what it will run with.
            Err(_) => configured_max_size(&read_config(target).await?),
        };
        let cache_bytes = max_size * RSS_BYTES_PER_ENTRY;
        let detail = format!(
            "cache.max_size {max_size}: with the traffic's answers (~{:.0} KiB each) the cache may \
             hold {:.0} MiB, against at most {:.0} MiB that keep the agent below its memory warning",
            RSS_BYTES_PER_ENTRY / 1024.0,
            cache_bytes / MIB,
            SANE_CACHE_BYTES / MIB
        );
        Ok(if cache_bytes > SANE_CACHE_BYTES {
            RootCause::present(detail)
        } else {
            RootCause::cleared(detail)
        })
    }
}

async fn read_config(target: &FaultTarget) -> Result<String> {
    let bytes = target
        .read_file(CONFIG_FILE)
        .await?
        .ok_or_else(|| Error::FaultAction {
            container: target.container().to_string(),
            command: format!("read {CONFIG_FILE}"),
            detail: "the agent has no configuration file".to_string(),
        })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The config with the cache bounds lifted, edited the way a person does it: the two values in
/// place, with a note, the rest of the file untouched. A file without a block-style `cache:`
/// section holding both keys is rewritten whole with them set.
fn lift_cache_bounds(config: &str) -> String {
    let mut in_cache = false;
    let mut lines: Vec<String> = Vec::new();
    let mut edited = (false, false);
    for line in config.lines() {
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if !indented && !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            in_cache = line.trim_end() == "cache:";
        }
        let key = line.trim_start();
        let indent = &line[..line.len() - key.len()];
        if in_cache && key.starts_with("max_size:") {
            lines.push(format!(
                "{indent}max_size: {LIFTED_MAX_SIZE}  # no eviction during the catalogue backfill"
            ));
            edited.0 = true;
        } else if in_cache && key.starts_with("ttl_seconds:") {
            lines.push(format!("{indent}ttl_seconds: {LIFTED_TTL_SECONDS}"));
            edited.1 = true;
        } else {
            lines.push(line.to_string());
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    if edited != (true, true) {
        // No block-style cache section to edit: the whole file is rewritten with the keys set.
        let mut parsed: serde_yaml::Value =
            serde_yaml::from_str(config).unwrap_or(serde_yaml::Value::Null);
        if !parsed.is_mapping() {
            parsed = serde_yaml::Value::Mapping(Default::default());
        }
        let cache = &mut parsed["cache"];
        if !cache.is_mapping() {
            *cache = serde_yaml::Value::Mapping(Default::default());
        }
        cache["max_size"] = LIFTED_MAX_SIZE.parse::<u64>().unwrap_or_default().into();
        cache["ttl_seconds"] = LIFTED_TTL_SECONDS.parse::<u64>().unwrap_or_default().into();
        text = serde_yaml::to_string(&parsed).unwrap_or(text);
    }
    text
}

/// `cache.max_size` as the file sets it (the shipped default 1000 when it does not).
fn configured_max_size(config: &str) -> f64 {
    serde_yaml::from_str::<serde_yaml::Value>(config)
        .ok()
        .and_then(|v| v["cache"]["max_size"].as_f64())
        .unwrap_or(1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = "# comment\nserver:\n  port: 8080\ncache:\n  max_size: 1000\n  ttl_seconds: 3600\nscanner:\n  max_size: 7\n";

    #[test]
    fn the_bounds_are_lifted_in_place_and_nothing_else_changes() {
        let lifted = lift_cache_bounds(SHIPPED);
        assert_eq!(
            lifted,
            "# comment\nserver:\n  port: 8080\ncache:\n  max_size: 1000000  # no eviction during the catalogue backfill\n  ttl_seconds: 604800\nscanner:\n  max_size: 7\n"
        );
        assert_eq!(configured_max_size(&lifted), 1_000_000.0);
        assert_eq!(configured_max_size(SHIPPED), 1000.0);
    }

    #[test]
    fn a_flow_style_or_missing_cache_section_is_set_too() {
        for config in ["cache: { max_size: 5 }\n", "server:\n  port: 8080\n", ""] {
            let lifted = lift_cache_bounds(config);
            assert_eq!(configured_max_size(&lifted), 1_000_000.0, "{config:?}");
        }
    }

    #[test]
    fn the_default_bound_is_sane_and_the_lifted_one_is_not() {
        const { assert!(1000.0 * RSS_BYTES_PER_ENTRY <= SANE_CACHE_BYTES) };
        const { assert!(1_000_000.0 * RSS_BYTES_PER_ENTRY > SANE_CACHE_BYTES) };
    }
}
