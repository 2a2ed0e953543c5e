//! The alert state machine: each rule goes inactive → pending → firing → resolved as samples
//! arrive, the Prometheus way, and a firing critical inhibits the warning of the same alert, the
//! Alertmanager way.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::rules::{Rule, RuleSet, Severity};
use super::signal::Sample;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition holds, not yet for the rule's `for`.
    Pending,
    Firing,
    Resolved,
}

/// One alert instance, shaped like what Prometheus hands Alertmanager.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The alert name (`alertname` label).
    pub alert: String,
    pub severity: Severity,
    pub state: AlertState,
    /// The latest reading that held the condition (a resolved alert keeps its last breaching
    /// reading, as Prometheus does).
    pub value: f64,
    pub threshold: f64,
    pub summary: String,
    pub description: String,
    pub runbook: String,
    /// `alertname`, `severity`, `runbook` and the engine's common labels.
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `runbook_url`.
    pub annotations: BTreeMap<String, String>,
    /// When it fired (when it became pending, for a pending alert).
    #[serde(with = "super::rfc3339_serde")]
    pub started_at: SystemTime,
    #[serde(with = "super::rfc3339_serde::option")]
    pub ended_at: Option<SystemTime>,
    /// 16 hex digits of SHA-256 over the sorted labels: the same alert of the same sandbox
    /// always gets the same fingerprint.
    pub fingerprint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertEventKind {
    Firing,
    Resolved,
}

/// A page: an alert started or stopped firing for the trainee.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEvent {
    pub kind: AlertEventKind,
    pub alert: Alert,
}

#[derive(Debug, Clone)]
enum RuleState {
    Inactive,
    Pending {
        since: SystemTime,
        value: f64,
    },
    /// `paged` is whether the trainee's last page about it said firing: false while a critical
    /// of the same alert inhibits it.
    Firing {
        alert: Box<Alert>,
        paged: bool,
    },
}

/// Evaluates a rule set against samples, one state per rule.
#[derive(Debug, Clone)]
pub struct AlertEngine {
    rules: RuleSet,
    labels: BTreeMap<String, String>,
    states: Vec<RuleState>,
}

impl AlertEngine {
    /// An engine whose alerts all carry `labels` (e.g. `sandbox`, `session`) besides their own.
    pub fn new(rules: RuleSet, labels: BTreeMap<String, String>) -> AlertEngine {
        let states = vec![RuleState::Inactive; rules.rules().len()];
        AlertEngine {
            rules,
            labels,
            states,
        }
    }

    /// Runs every rule on `sample` and returns the pages it causes: first the alerts that
    /// resolved, then those that started firing, each in rule order, so a de-escalation reads
    /// "critical resolved" before "warning firing".
    ///
    /// A warning inhibited by its critical pages nothing while inhibited. When the critical
    /// resolves and the warning still holds, the warning pages `Firing` again, once, keeping its
    /// original `started_at`; if it stopped holding meanwhile, it ends silently.
    pub fn observe(&mut self, sample: &Sample) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        for (rule, state) in self.rules.iter().zip(self.states.iter_mut()) {
            let breach = sample.get(rule.signal).filter(|&value| rule.holds(value));
            let previous = std::mem::replace(state, RuleState::Inactive);
            *state = match (previous, breach) {
                (RuleState::Inactive | RuleState::Pending { .. }, None) => RuleState::Inactive,
                (RuleState::Inactive, Some(value)) => {
                    promote(rule, &self.labels, sample.at, sample.at, value)
                }
                (RuleState::Pending { since, .. }, Some(value)) => {
                    promote(rule, &self.labels, since, sample.at, value)
                }
                (RuleState::Firing { mut alert, paged }, Some(value)) => {
                    set_value(rule, &mut alert, value);
                    RuleState::Firing { alert, paged }
                }
                (RuleState::Firing { mut alert, paged }, None) => {
                    if paged {
                        alert.state = AlertState::Resolved;
                        alert.ended_at = Some(sample.at);
                        events.push(AlertEvent {
                            kind: AlertEventKind::Resolved,
                            alert: *alert,
                        });
                    }
                    RuleState::Inactive
                }
            };
        }

        let inhibiting = self.firing_criticals();
        for state in &mut self.states {
            if let RuleState::Firing { alert, paged } = state {
                let visible =
                    !(alert.severity == Severity::Warning && inhibiting.contains(&alert.alert));
                if visible && !*paged {
                    events.push(AlertEvent {
                        kind: AlertEventKind::Firing,
                        alert: (**alert).clone(),
                    });
                }
                *paged = visible;
            }
        }
        events
    }

    /// The alerts firing now, after inhibition, in rule order.
    pub fn firing(&self) -> Vec<Alert> {
        self.states
            .iter()
            .filter_map(|state| match state {
                RuleState::Firing { alert, paged: true } => Some((**alert).clone()),
                _ => None,
            })
            .collect()
    }

    /// The alerts whose condition holds but not yet for their rule's `for`, in rule order.
    pub fn pending(&self) -> Vec<Alert> {
        self.rules
            .iter()
            .zip(&self.states)
            .filter_map(|(rule, state)| match state {
                RuleState::Pending { since, value } => Some(new_alert(
                    rule,
                    &self.labels,
                    AlertState::Pending,
                    *value,
                    *since,
                )),
                _ => None,
            })
            .collect()
    }

    /// Names of the alerts whose critical rule fires: their warnings are inhibited.
    fn firing_criticals(&self) -> BTreeSet<String> {
        self.states
            .iter()
            .filter_map(|state| match state {
                RuleState::Firing { alert, .. } if alert.severity == Severity::Critical => {
                    Some(alert.alert.clone())
                }
                _ => None,
            })
            .collect()
    }
}

/// The state of a rule whose condition holds at `at` and has held since `since`.
fn promote(
    rule: &Rule,
    labels: &BTreeMap<String, String>,
    since: SystemTime,
    at: SystemTime,
    value: f64,
) -> RuleState {
    // A clock stepping back counts as no time elapsed rather than as an error.
    let held = at.duration_since(since).unwrap_or_default();
    if held >= rule.for_ {
        RuleState::Firing {
            alert: Box::new(new_alert(rule, labels, AlertState::Firing, value, at)),
            paged: false,
        }
    } else {
        RuleState::Pending { since, value }
    }
}

fn new_alert(
    rule: &Rule,
    common: &BTreeMap<String, String>,
    state: AlertState,
    value: f64,
    started_at: SystemTime,
) -> Alert {
    let mut labels = common.clone();
    labels.insert("alertname".to_string(), rule.alert.clone());
    labels.insert("severity".to_string(), rule.severity.to_string());
    labels.insert("runbook".to_string(), rule.runbook.clone());
    let fingerprint = fingerprint(&labels);
    let mut alert = Alert {
        alert: rule.alert.clone(),
        severity: rule.severity,
        state,
        value,
        threshold: rule.threshold,
        summary: String::new(),
        description: String::new(),
        runbook: rule.runbook.clone(),
        labels,
        annotations: BTreeMap::from([("runbook_url".to_string(), rule.runbook_url())]),
        started_at,
        ended_at: None,
        fingerprint,
    };
    set_value(rule, &mut alert, value);
    alert
}

/// Records a new reading and the texts that quote it.
fn set_value(rule: &Rule, alert: &mut Alert, value: f64) {
    alert.value = value;
    alert.summary = rule.summary_for(value);
    alert.description = rule.description_for(value);
    alert
        .annotations
        .insert("summary".to_string(), alert.summary.clone());
    alert
        .annotations
        .insert("description".to_string(), alert.description.clone());
}

/// The 0xff separator cannot occur in UTF-8 text, so no two label sets hash the same input.
fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, value) in labels {
        hasher.update(name.as_bytes());
        hasher.update([0xff]);
        hasher.update(value.as_bytes());
        hasher.update([0xff]);
    }
    hex::encode(&hasher.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::monitor::rules::RuleOverride;
    use crate::monitor::signal::Signal;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn labels(sandbox: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("sandbox".to_string(), sandbox.to_string()),
            ("session".to_string(), "s-1".to_string()),
        ])
    }

    fn engine() -> AlertEngine {
        AlertEngine::new(RuleSet::defaults(), labels("blue"))
    }

    fn cpu(secs: u64, percent: f64) -> Sample {
        Sample::new(at(secs)).with(Signal::CpuPercent, percent)
    }

    /// Each event as `kind severity alert`, for compact assertions.
    fn pages(events: &[AlertEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| {
                let kind = match e.kind {
                    AlertEventKind::Firing => "firing",
                    AlertEventKind::Resolved => "resolved",
                };
                format!("{kind} {} {}", e.alert.severity, e.alert.alert)
            })
            .collect()
    }

    #[test]
    fn a_breach_is_pending_until_it_has_held_for_the_rules_for() {
        let mut engine = engine();
        assert!(engine.observe(&cpu(0, 75.0)).is_empty());
        assert!(engine.observe(&cpu(29, 76.0)).is_empty());
        let pending = engine.pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].state, AlertState::Pending);
        assert_eq!(pending[0].started_at, at(0));
        assert_eq!(pending[0].value, 76.0);
        assert!(engine.firing().is_empty());

        let events = engine.observe(&cpu(30, 77.0));
        assert_eq!(pages(&events), ["firing warning AgentHighCpu"]);
        let alert = &events[0].alert;
        assert_eq!(alert.state, AlertState::Firing);
        assert_eq!(alert.started_at, at(30));
        assert_eq!(alert.ended_at, None);
        assert_eq!(alert.value, 77.0);
        assert!(engine.pending().is_empty());
        assert_eq!(engine.firing().len(), 1);
        assert!(engine.observe(&cpu(40, 78.0)).is_empty(), "pages once");
    }

    #[test]
    fn a_rule_with_for_zero_fires_on_its_first_breaching_sample() {
        let mut engine = engine();
        let events = engine.observe(&Sample::new(at(0)).with(Signal::OomKilled, 1.0));
        assert_eq!(pages(&events), ["firing critical AgentOomKilled"]);
        assert_eq!(events[0].alert.started_at, at(0));
    }

    #[test]
    fn a_blip_shorter_than_for_never_fires_and_the_next_breach_starts_over() {
        let mut engine = engine();
        for (secs, percent) in [(0, 75.0), (10, 60.0), (20, 75.0), (45, 75.0)] {
            assert!(engine.observe(&cpu(secs, percent)).is_empty(), "at {secs}s");
        }
        assert_eq!(engine.pending()[0].started_at, at(20));
        let events = engine.observe(&cpu(50, 75.0));
        assert_eq!(pages(&events), ["firing warning AgentHighCpu"]);
    }

    #[test]
    fn a_cleared_condition_resolves_with_its_end_time_and_last_breaching_value() {
        let mut engine = engine();
        engine.observe(&cpu(0, 75.0));
        engine.observe(&cpu(30, 79.0));
        let events = engine.observe(&cpu(155, 40.0));
        assert_eq!(pages(&events), ["resolved warning AgentHighCpu"]);
        let alert = &events[0].alert;
        assert_eq!(alert.state, AlertState::Resolved);
        assert_eq!(alert.started_at, at(30));
        assert_eq!(alert.ended_at, Some(at(155)));
        assert_eq!(alert.value, 79.0);
        assert!(engine.firing().is_empty());
        assert!(engine.observe(&cpu(165, 40.0)).is_empty());
    }

    #[test]
    fn a_firing_critical_inhibits_its_warning_which_pages_again_once_when_it_resolves() {
        let mut engine = engine();
        engine.observe(&cpu(0, 75.0));
        assert_eq!(
            pages(&engine.observe(&cpu(30, 75.0))),
            ["firing warning AgentHighCpu"]
        );
        assert!(engine.observe(&cpu(40, 97.0)).is_empty());
        assert_eq!(
            pages(&engine.observe(&cpu(70, 97.0))),
            ["firing critical AgentHighCpu"]
        );
        let firing = engine.firing();
        assert_eq!(firing.len(), 1);
        assert_eq!(firing[0].severity, Severity::Critical);

        let events = engine.observe(&cpu(100, 80.0));
        assert_eq!(
            pages(&events),
            [
                "resolved critical AgentHighCpu",
                "firing warning AgentHighCpu"
            ]
        );
        assert_eq!(
            events[1].alert.started_at,
            at(30),
            "the warning never ended"
        );
        assert_eq!(events[1].alert.value, 80.0);
        assert!(engine.observe(&cpu(110, 80.0)).is_empty());
        assert_eq!(
            pages(&engine.observe(&cpu(120, 50.0))),
            ["resolved warning AgentHighCpu"]
        );
    }

    #[test]
    fn a_warning_that_ends_while_inhibited_ends_silently() {
        let mut engine = engine();
        engine.observe(&cpu(0, 97.0));
        // Both fire on the same sample: the critical alone pages.
        assert_eq!(
            pages(&engine.observe(&cpu(30, 97.0))),
            ["firing critical AgentHighCpu"]
        );
        assert_eq!(
            pages(&engine.observe(&cpu(40, 50.0))),
            ["resolved critical AgentHighCpu"]
        );
        assert!(engine.firing().is_empty());
    }

    #[test]
    fn a_missing_signal_resolves_a_firing_alert_and_drops_a_pending_one() {
        let mut engine = engine();
        let events = engine.observe(
            &Sample::new(at(0))
                .with(Signal::OomKilled, 1.0)
                .with(Signal::CpuPercent, 75.0),
        );
        assert_eq!(pages(&events), ["firing critical AgentOomKilled"]);
        assert_eq!(engine.pending().len(), 1);

        let events = engine.observe(&Sample::new(at(10)));
        assert_eq!(pages(&events), ["resolved critical AgentOomKilled"]);
        assert_eq!(events[0].alert.ended_at, Some(at(10)));
        assert!(engine.pending().is_empty());
    }

    #[test]
    fn events_come_resolved_first_then_firing_each_in_rule_order() {
        let mut engine = AlertEngine::new(
            RuleSet::defaults()
                .with_overrides(&[RuleOverride {
                    alert: "AgentDown".to_string(),
                    for_: Some(Duration::ZERO),
                    ..RuleOverride::default()
                }])
                .unwrap(),
            labels("blue"),
        );
        engine.observe(&Sample::new(at(0)).with(Signal::OomKilled, 1.0));
        let events = engine.observe(
            &Sample::new(at(5))
                .with(Signal::OomKilled, 0.0)
                .with(Signal::RestartsLast5m, 3.0)
                .with(Signal::ScannerDbAgeDays, 45.0)
                .with(Signal::CertificateDaysLeft, -2.0)
                .with(Signal::Up, 0.0),
        );
        assert_eq!(
            pages(&events),
            [
                "resolved critical AgentOomKilled",
                "firing critical AgentDown",
                "firing warning CertificateExpiringSoon",
                "firing critical CertificateExpired",
                "firing warning ScannerDbStale",
                "firing warning AgentRestarting",
            ]
        );
    }

    #[test]
    fn alerts_carry_labels_annotations_and_the_latest_reading() {
        let mut engine = engine();
        engine.observe(&cpu(0, 95.0));
        engine.observe(&cpu(30, 96.0));
        engine.observe(&cpu(40, 97.4));
        let alert = &engine.firing()[0];
        assert_eq!(alert.value, 97.4);
        assert_eq!(alert.threshold, 90.0);
        assert_eq!(alert.runbook, "high-cpu-usage");
        assert_eq!(
            alert.labels,
            BTreeMap::from(
                [
                    ("alertname", "AgentHighCpu"),
                    ("runbook", "high-cpu-usage"),
                    ("sandbox", "blue"),
                    ("session", "s-1"),
                    ("severity", "critical"),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string()))
            )
        );
        assert_eq!(
            alert.summary,
            "CPU at 97.4 % of the container's limit (critical above 90 %)"
        );
        assert_eq!(alert.annotations["summary"], alert.summary);
        assert_eq!(alert.annotations["description"], alert.description);
        assert_eq!(
            alert.annotations["runbook_url"],
            "runbooks/incident-response.md#high-cpu-usage"
        );
    }

    #[test]
    fn fingerprints_depend_only_on_the_labels() {
        let fire = |sandbox: &str, percent: f64| {
            let mut engine = AlertEngine::new(RuleSet::defaults(), labels(sandbox));
            engine.observe(&cpu(0, percent));
            engine.observe(&cpu(30, percent));
            engine.firing()[0].fingerprint.clone()
        };
        let blue = fire("blue", 75.0);
        assert_eq!(blue, "1d67911152e37011");
        assert_eq!(fire("blue", 79.0), blue);
        assert_ne!(fire("green", 75.0), blue);
        assert_ne!(fire("blue", 97.0), blue, "critical differs from warning");
    }
}
