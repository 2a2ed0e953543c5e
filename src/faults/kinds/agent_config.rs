//! The agent's configuration file, for the faults that live in it: read it, set keys in
//! `/etc/docker-optimizer/config.yml` as an operator editing it would (comments and layout kept),
//! validate a text as the agent would load it, apply it with `agentctl reload`, read what is in
//! effect, and put the exact original back (files put beside it removed).

use std::collections::HashMap;

use optimizer_agent::config;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, AGENT_USER, ROOT};

/// The agent's configuration file (root-owned, 0644).
pub const CONFIG_FILE: &str = optimizer_agent::paths::CONFIG_FILE;
pub const CONFIG_MODE: u32 = 0o644;
/// root: the agent reads its configuration but may not change it.
pub const CONFIG_OWNER: u64 = 0;

/// Writes `values` into `section` of the config file and reloads the agent. Returns the baseline
/// (the original file, byte for byte) for [`restore`].
pub async fn set_and_reload(
    target: &FaultTarget,
    section: &str,
    values: &[(&str, String)],
) -> Result<Value> {
    let original = read_config(target, &format!("{section} settings")).await?;
    let edited = with_values(&original, section, values);
    target
        .write_file(CONFIG_FILE, edited.as_bytes(), CONFIG_MODE, CONFIG_OWNER)
        .await?;
    if let Err(error) = target.agentctl_json(&["reload"]).await {
        // Refused: leave nothing half-done behind.
        target
            .write_file(CONFIG_FILE, original.as_bytes(), CONFIG_MODE, CONFIG_OWNER)
            .await?;
        return Err(error);
    }
    Ok(json!({ "config_file": original }))
}

/// Puts the original config file back and reloads (when the agent is up to be told).
pub async fn restore(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
    let Some(original) = record.baseline["config_file"].as_str() else {
        return Ok(());
    };
    target
        .write_file(CONFIG_FILE, original.as_bytes(), CONFIG_MODE, CONFIG_OWNER)
        .await?;
    if target.is_running().await? {
        target.agentctl_json(&["reload"]).await?;
    }
    Ok(())
}

/// The value of `section.key` in effect, and where it was read: the running agent's
/// configuration, or the file when the agent cannot answer (what its next start applies).
pub async fn effective_value(
    target: &FaultTarget,
    section: &str,
    key: &str,
) -> Result<(f64, &'static str)> {
    if target.is_running().await? {
        let output = target
            .exec(AGENT_USER, &["agentctl", "config", "show", "--json"])
            .await?;
        if output.success() {
            if let Ok(shown) = serde_json::from_str::<Value>(&output.stdout) {
                let value = &shown["config"][section][key];
                return Ok((value.as_f64().unwrap_or_default(), "agentctl config show"));
            }
        }
    }
    let text = target.read_file(CONFIG_FILE).await?.unwrap_or_default();
    let file: serde_yaml::Value = serde_yaml::from_slice(&text).unwrap_or_default();
    let value = &file[section][key];
    let number = value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
        .unwrap_or_default();
    Ok((number, CONFIG_FILE))
}

/// `text` with `section.key` set to `value`, everything else (comments, order) untouched, as a
/// templated push changes one value. A key the file lacks is added to its section.
pub fn with_value(text: &str, dotted_key: &str, value: &str) -> String {
    let (section, key) = dotted_key.split_once('.').unwrap_or(("", dotted_key));
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut section_line = None;
    let mut replaced = false;
    let mut in_section = false;
    for (index, line) in lines.iter_mut().enumerate() {
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        if indent == 0 {
            in_section = content
                .strip_prefix(section)
                .is_some_and(|rest| rest.trim_start().starts_with(':'));
            if in_section {
                section_line = Some(index);
            }
        } else if in_section
            && content
                .strip_prefix(key)
                .is_some_and(|rest| rest.starts_with(':'))
        {
            *line = format!("{}{key}: {value}", &line[..indent]);
            replaced = true;
            break;
        }
    }
    if !replaced {
        match section_line {
            Some(index) => lines.insert(index + 1, format!("  {key}: {value}")),
            None => lines.extend([format!("{section}:"), format!("  {key}: {value}")]),
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// `text` with each `key: value` of `values` set inside the top-level `section`, in the order
/// given (see [`with_value`]).
pub fn with_values(text: &str, section: &str, values: &[(&str, String)]) -> String {
    // A missing key goes right under the section's header, so adding the last one first keeps
    // the order asked for.
    values
        .iter()
        .rev()
        .fold(text.to_string(), |edited, (key, value)| {
            with_value(&edited, &format!("{section}.{key}"), value)
        })
}

/// Validates a config file's text as the agent would load it in this container (its
/// `DOCKER_OPTIMIZER_*` environment included). `Err` carries the agent's own one-line message.
pub async fn validate(target: &FaultTarget, text: &str) -> Result<Result<(), String>> {
    let env: HashMap<String, String> = target
        .inspect()
        .await?
        .config
        .and_then(|c| c.env)
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| entry.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let io_error = |source| Error::Io {
        action: "writing a copy of the config to validate in",
        path: std::env::temp_dir(),
        source,
    };
    let dir = tempfile::tempdir().map_err(io_error)?;
    let copy = dir.path().join("config.yml");
    std::fs::write(&copy, text).map_err(io_error)?;
    Ok(
        match config::load_with_env(&copy, |name| env.get(name).cloned()) {
            Ok(_) => Ok(()),
            // Name the file where it lives, not the host copy.
            Err(error) => Err(error
                .to_string()
                .replace(&copy.display().to_string(), CONFIG_FILE)),
        },
    )
}

/// A text file of the agent container; `None` when it does not exist.
pub async fn read_text(target: &FaultTarget, path: &str) -> Result<Option<String>> {
    Ok(target
        .read_file(path)
        .await?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// The agent's configuration file, which a fault of `kind` edits: missing, it cannot be injected.
pub async fn read_config(target: &FaultTarget, kind: &str) -> Result<String> {
    read_text(target, CONFIG_FILE)
        .await?
        .ok_or_else(|| Error::FaultUnavailable {
            kind: kind.to_string(),
            reason: format!("{CONFIG_FILE} is missing in {}", target.container()),
        })
}

/// What a config fault's inject saved for its revert and probe.
pub fn saved_baseline<T: serde::de::DeserializeOwned>(
    target: &FaultTarget,
    record: &FaultRecord,
) -> Result<T> {
    serde_json::from_value(record.baseline.clone()).map_err(|e| Error::FaultAction {
        container: target.container().to_string(),
        command: "reading the saved config".to_string(),
        detail: e.to_string(),
    })
}

/// Removes a file a config fault put beside the configuration (none there is fine).
pub async fn remove_config_file(target: &FaultTarget, path: &str) -> Result<()> {
    if target.read_file(path).await?.is_none() {
        return Ok(());
    }
    if target.read_file("/bin/busybox").await?.is_none() {
        // No `rm` in an image without shell tools; the stale copy harms nothing.
        tracing::warn!("left {path} in {}: no shell tools", target.container());
        return Ok(());
    }
    // root owns /etc/docker-optimizer, so root may unlink there even without capabilities.
    target.exec_ok(ROOT, &["rm", "-f", path]).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../sandbox/assets/config.yml");

    #[test]
    fn values_replace_the_keys_in_place_and_keep_comments() {
        let edited = with_values(
            SHIPPED,
            "testing",
            &[
                ("latency_ms", "1480".to_string()),
                ("latency_ratio", "0.25".to_string()),
            ],
        );
        assert!(edited.contains("testing:\n  # Fault injection"), "{edited}");
        assert!(edited.contains("  latency_ms: 1480\n  latency_ratio: 0.25\n  error_ratio: 0\n"));
        assert_eq!(edited.lines().count(), SHIPPED.lines().count());
        let parsed: serde_yaml::Value = serde_yaml::from_str(&edited).unwrap();
        assert_eq!(parsed["testing"]["latency_ms"].as_u64(), Some(1480));
        assert_eq!(parsed["metrics"]["refresh_seconds"].as_u64(), Some(0));
    }

    #[test]
    fn a_missing_key_or_section_is_added() {
        let edited = with_values(
            "cache:\n  max_size: 5\nmetrics:\n  other: 1\n",
            "metrics",
            &[("refresh_seconds", "86400".to_string())],
        );
        assert_eq!(
            edited,
            "cache:\n  max_size: 5\nmetrics:\n  refresh_seconds: 86400\n  other: 1\n"
        );
        let edited = with_values(
            "cache:\n  max_size: 5\n",
            "testing",
            &[("error_ratio", "0.1".to_string())],
        );
        assert_eq!(
            edited,
            "cache:\n  max_size: 5\ntesting:\n  error_ratio: 0.1\n"
        );
    }
}
