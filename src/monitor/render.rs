//! Alert events as a drill terminal shows them, and as one JSON object per line for the log.

use std::collections::BTreeMap;

use serde::Serialize;

use super::engine::{AlertEvent, AlertEventKind, AlertState};
use super::rules::Severity;

/// One console line, e.g.
/// `[FIRING critical] AgentHighCpu: CPU at 97 % … — runbook high-cpu-usage` or
/// `[RESOLVED] AgentHighCpu (critical) after 2m 05s`.
pub fn page_line(event: &AlertEvent) -> String {
    let alert = &event.alert;
    match event.kind {
        AlertEventKind::Firing => format!(
            "[FIRING {}] {}: {} — runbook {}",
            alert.severity, alert.alert, alert.summary, alert.runbook
        ),
        AlertEventKind::Resolved => {
            let lasted = alert
                .ended_at
                .and_then(|end| end.duration_since(alert.started_at).ok())
                .unwrap_or_default();
            format!(
                "[RESOLVED] {} ({}) after {}",
                alert.alert,
                alert.severity,
                crate::ui::elapsed(lasted)
            )
        }
    }
}

/// One compact JSON object (no trailing newline) with the event and the alert's essentials.
pub fn jsonl_line(event: &AlertEvent) -> String {
    let alert = &event.alert;
    let line = JsonlLine {
        event: event.kind,
        alert: &alert.alert,
        severity: alert.severity,
        state: alert.state,
        value: alert.value,
        threshold: alert.threshold,
        summary: &alert.summary,
        runbook: &alert.runbook,
        labels: &alert.labels,
        fingerprint: &alert.fingerprint,
        starts_at: super::rfc3339(alert.started_at),
        ends_at: alert.ended_at.map(super::rfc3339),
    };
    serde_json::to_string(&line).expect("an alert line serialises")
}

#[derive(Serialize)]
struct JsonlLine<'a> {
    event: AlertEventKind,
    alert: &'a str,
    severity: Severity,
    state: AlertState,
    value: f64,
    threshold: f64,
    summary: &'a str,
    runbook: &'a str,
    labels: &'a BTreeMap<String, String>,
    fingerprint: &'a str,
    starts_at: String,
    ends_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::monitor::engine::AlertEngine;
    use crate::monitor::rules::RuleSet;
    use crate::monitor::signal::{Sample, Signal};

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    /// A CPU drill: warning, escalation to critical, de-escalation, recovery.
    fn cpu_drill() -> Vec<AlertEvent> {
        let mut engine = AlertEngine::new(
            RuleSet::defaults(),
            BTreeMap::from([("sandbox".to_string(), "blue".to_string())]),
        );
        [
            (0, 75.0),
            (30, 75.0),
            (40, 97.0),
            (70, 97.0),
            (195, 80.0),
            (3_800, 20.0),
        ]
        .into_iter()
        .flat_map(|(secs, percent)| {
            engine.observe(&Sample::new(at(secs)).with(Signal::CpuPercent, percent))
        })
        .collect()
    }

    #[test]
    fn page_lines_read_as_a_drill_terminal_shows_them() {
        let lines: Vec<String> = cpu_drill().iter().map(page_line).collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn jsonl_lines_are_one_compact_object_each() {
        let lines: Vec<String> = cpu_drill().iter().map(jsonl_line).collect();
        for line in &lines {
            assert!(!line.contains('\n'));
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        insta::assert_snapshot!(lines.join("\n"));
    }
}
