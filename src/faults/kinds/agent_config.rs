//! Faults that live in the agent's configuration file: set keys in
//! `/etc/docker-optimizer/config.yml` as an operator editing it would (comments and layout kept),
//! apply them with `agentctl reload`, read what is in effect, and put the exact original back.

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, AGENT_USER};

/// The agent's configuration file (root-owned, 0644).
pub const CONFIG_FILE: &str = optimizer_agent::paths::CONFIG_FILE;
const CONFIG_MODE: u32 = 0o644;

/// Writes `values` into `section` of the config file and reloads the agent. Returns the baseline
/// (the original file, byte for byte) for [`restore`].
pub async fn set_and_reload(
    target: &FaultTarget,
    section: &str,
    values: &[(&str, String)],
) -> Result<Value> {
    let original = target
        .read_file(CONFIG_FILE)
        .await?
        .ok_or_else(|| Error::FaultUnavailable {
            kind: format!("{section} settings"),
            reason: format!("{CONFIG_FILE} does not exist in {}", target.container()),
        })?;
    let original = String::from_utf8_lossy(&original).into_owned();
    let edited = with_values(&original, section, values);
    target
        .write_file(CONFIG_FILE, edited.as_bytes(), CONFIG_MODE, 0)
        .await?;
    if let Err(error) = target.agentctl_json(&["reload"]).await {
        // Refused: leave nothing half-done behind.
        target
            .write_file(CONFIG_FILE, original.as_bytes(), CONFIG_MODE, 0)
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
        .write_file(CONFIG_FILE, original.as_bytes(), CONFIG_MODE, 0)
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
