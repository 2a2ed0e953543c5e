//! `bad-config`: a configuration-management push carrying an invalid value. As such tools do, the
//! file it replaced is kept beside it (`config.yml.previous`), and the agent is restarted to pick
//! the new one up, so it stops at once with `EX_CONFIG` and its restart policy turns that into a
//! crash loop. The agent's own message names the key, the value and the fix.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::agent_config::{
    read_config, read_text, remove_config_file, saved_baseline, validate, with_value, CONFIG_FILE,
    CONFIG_MODE, CONFIG_OWNER,
};
use super::Fault;
use crate::docker::sandbox;
use crate::error::{Error, Result};
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};
use crate::interrupt::Interrupt;

pub struct BadConfig;

/// The keys a push can break, each a parameter named after it. Wide bounds on purpose: the
/// agent, not firedrill, decides what is out of range (inject checks the push really is invalid).
const fn key(name: &'static str, help: &'static str) -> ParamDoc {
    ParamDoc {
        name,
        default: UNCHANGED,
        kind: ParamType::Number {
            min: -1e9,
            max: 1e12,
        },
        help,
    }
}

/// A parameter left at this is not part of the push.
const UNCHANGED: &str = "-";

/// What the push carries when no key is given.
const DEFAULT_PUSH: (&str, &str) = ("scanner.timeout_seconds", "0");

pub const DOC: FaultDoc = FaultDoc {
    kind: "bad-config",
    summary:
        "A config push put an invalid value in /etc/docker-optimizer/config.yml (the old file \
              kept as config.yml.previous) and restarted the agent, which now refuses to start. \
              Set one or more keys to push; with none, scanner.timeout_seconds=0.",
    params: &[
        key(
            "scanner.timeout_seconds",
            "push this scanner timeout (valid: 1-600; the default push is 0)",
        ),
        key(
            "cache.max_size",
            "push this cache size (valid: 1-1000000), e.g. -1",
        ),
        key(
            "cache.ttl_seconds",
            "push this cache TTL (valid: 1-604800), e.g. 0",
        ),
        key(
            "server.workers",
            "push this worker count (valid: 1-64), e.g. 0",
        ),
        key(
            "storage.quota_mb",
            "push this storage quota (valid: 1-1048576), e.g. 0",
        ),
    ],
    symptoms:
        "the agent crash-loops: `docker ps` shows Restarting, exit code 78 (EX_CONFIG); every \
               URL refuses connections and the traffic's error rate goes to 100 %; `docker logs` \
               repeats one line naming the key, the value, file:line:col and the fix; \
               config.yml.previous beside config.yml shows what changed",
    mitigated_by: "-",
    resolved_by: "roll the config back (`docker cp` config.yml.previous out and back in as \
                  config.yml, or correct the value) and `docker restart` the agent; a restart \
                  alone crash-loops again on the same file. Redeploying the release \
                  (`firedrill sandbox deploy`) also clears it, with every local config change: \
                  the file is the image's, not the data volume's",
    runbook: "configuration-changes",
};

/// Where config management keeps the file it replaced.
const PREVIOUS_FILE: &str = "/etc/docker-optimizer/config.yml.previous";
/// The config files are root's, readable by the agent.
/// How long a replaced agent gets to drain on SIGTERM when restarted.
const RESTART_GRACE_SECONDS: i32 = 10;

/// What `revert` restores: the files as they were before the push.
#[derive(Debug, Serialize, Deserialize)]
struct Baseline {
    config: String,
    /// `config.yml.previous` before the push (normally absent).
    previous: Option<String>,
    /// The `(key, value)` pairs pushed.
    pushed: Vec<(String, String)>,
}

impl Fault for BadConfig {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        let push = push_of(params);
        let original = read_config(target, DOC.kind).await?;
        let previous = read_text(target, PREVIOUS_FILE).await?;
        let pushed = push.iter().fold(original.clone(), |text, (key, value)| {
            with_value(&text, key, value)
        });
        // A push the agent would accept (or one its environment overrides) breaks nothing.
        if validate(target, &pushed).await?.is_ok() {
            let pairs: Vec<String> = push.iter().map(|(k, v)| format!("{k}={v}")).collect();
            return Err(Error::BadFaultParameter {
                kind: DOC.kind.to_string(),
                pair: pairs.join(" "),
                reason: "the agent accepts this configuration (a valid value, or one its \
                         DOCKER_OPTIMIZER_* environment overrides); push a value it refuses"
                    .to_string(),
            });
        }
        target
            .write_file(
                PREVIOUS_FILE,
                original.as_bytes(),
                CONFIG_MODE,
                CONFIG_OWNER,
            )
            .await?;
        target
            .write_file(CONFIG_FILE, pushed.as_bytes(), CONFIG_MODE, CONFIG_OWNER)
            .await?;
        target.restart(RESTART_GRACE_SECONDS).await?;
        let baseline = Baseline {
            config: original,
            previous,
            pushed: push,
        };
        Ok(serde_json::to_value(baseline).expect("the baseline serialises"))
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        let baseline: Baseline = saved_baseline(target, record)?;
        let now = read_text(target, CONFIG_FILE).await?;
        target
            .write_file(
                CONFIG_FILE,
                baseline.config.as_bytes(),
                CONFIG_MODE,
                CONFIG_OWNER,
            )
            .await?;
        if let Some(previous) = &baseline.previous {
            target
                .write_file(
                    PREVIOUS_FILE,
                    previous.as_bytes(),
                    CONFIG_MODE,
                    CONFIG_OWNER,
                )
                .await?;
        }
        // A trainee who fixed it by hand may already run on an equivalent file: leave that agent be.
        if now.as_deref() != Some(baseline.config.as_str()) || !running(target).await? {
            target.restart(RESTART_GRACE_SECONDS).await?;
        }
        let http = target.sandbox.http.clone().unwrap_or_default();
        sandbox::wait_healthy(
            &target.docker,
            &target.sandbox.name,
            target.container(),
            &http,
            &Interrupt::default(),
        )
        .await?;
        if baseline.previous.is_none() {
            remove_config_file(target, PREVIOUS_FILE).await?;
        }
        Ok(())
    }

    async fn probe(target: &FaultTarget, _record: &FaultRecord) -> Result<RootCause> {
        let Some(text) = read_text(target, CONFIG_FILE).await? else {
            return Ok(RootCause::cleared(format!(
                "{CONFIG_FILE} is absent: the agent runs on its defaults"
            )));
        };
        Ok(match validate(target, &text).await? {
            Ok(()) => RootCause::cleared(format!("{CONFIG_FILE} passes validation")),
            Err(message) => RootCause::present(message),
        })
    }
}

/// The `(key, value)` pairs to push: every key given, or the default push.
fn push_of(params: &Params) -> Vec<(String, String)> {
    let given: Vec<(String, String)> = params
        .iter()
        .filter(|(_, value)| *value != UNCHANGED)
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    if given.is_empty() {
        vec![(DEFAULT_PUSH.0.to_string(), DEFAULT_PUSH.1.to_string())]
    } else {
        given
    }
}

async fn running(target: &FaultTarget) -> Result<bool> {
    let state = target.inspect().await?.state.unwrap_or_default();
    Ok(state.running == Some(true) && state.restarting != Some(true))
}

#[cfg(test)]
mod tests {
    use optimizer_agent::config;

    use super::*;

    const SHIPPED: &str = include_str!("../../../sandbox/assets/config.yml");

    #[test]
    fn a_push_changes_only_the_one_value() {
        let pushed = with_value(SHIPPED, "scanner.timeout_seconds", "0");
        let changed: Vec<(&str, &str)> = SHIPPED
            .lines()
            .zip(pushed.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(changed, [("  timeout_seconds: 10", "  timeout_seconds: 0")]);
        assert_eq!(SHIPPED.lines().count(), pushed.lines().count());
    }

    #[test]
    fn the_key_is_found_in_its_own_section_only() {
        // `timeout_seconds` also exists as `server.request_timeout_seconds`: no prefix match.
        let text = "server:\n  request_timeout_seconds: 30\ncache:\n  max_size: 1000\n";
        assert_eq!(
            with_value(text, "cache.max_size", "-1"),
            "server:\n  request_timeout_seconds: 30\ncache:\n  max_size: -1\n"
        );
        assert_eq!(
            with_value(text, "scanner.timeout_seconds", "0"),
            format!("{text}scanner:\n  timeout_seconds: 0\n")
        );
        assert_eq!(
            with_value(text, "cache.ttl_seconds", "0"),
            "server:\n  request_timeout_seconds: 30\ncache:\n  ttl_seconds: 0\n  max_size: 1000\n"
        );
    }

    #[test]
    fn the_pushed_file_fails_the_agents_own_validation_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yml");
        std::fs::write(&file, with_value(SHIPPED, "cache.max_size", "-1")).unwrap();
        let error = config::load_with_env(&file, |_| None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("cache.max_size = \"-1\""), "{error}");
    }

    #[test]
    fn with_no_key_given_the_default_push_applies() {
        let kind = crate::faults::FaultKind::BadConfig;
        let none = Params::parse(kind, &[]).unwrap();
        assert_eq!(
            push_of(&none),
            [("scanner.timeout_seconds".to_string(), "0".to_string())]
        );
        let one = Params::parse(kind, &["cache.max_size=-1".to_string()]).unwrap();
        assert_eq!(
            push_of(&one),
            [("cache.max_size".to_string(), "-1".to_string())]
        );
    }
}
