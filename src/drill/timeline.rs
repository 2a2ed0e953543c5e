//! One drill's timeline: everything that happened, in order, each entry stamped in seconds from
//! the fault's injection (negative before it). The drill runner writes it; scoring and reports
//! only read it, so a result file can be re-scored and re-rendered without Docker.

use serde::{Deserialize, Serialize};

use crate::scenario::model::ActionSource;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Seconds from the fault's injection.
    pub at: f64,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened. Serialised with a `type` tag: `{"at": 12.5, "type": "alert_firing", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The briefing was shown and the drill timer started.
    DrillStarted,
    FaultInjected {
        kind: String,
    },
    /// A sample crossed a rule's threshold: the alert is pending, and pages if it holds for
    /// the rule's `for`.
    ThresholdCrossed {
        alert: String,
        severity: String,
        value: f64,
        threshold: f64,
    },
    AlertFiring {
        alert: String,
        severity: String,
        summary: String,
    },
    AlertResolved {
        alert: String,
        severity: String,
    },
    /// `firedrill ack`.
    Acknowledged,
    /// `firedrill diagnose <runbook>`; `correct` when the scenario accepts it.
    Diagnosed {
        runbook: String,
        correct: bool,
    },
    /// `firedrill note <text>`.
    Note {
        text: String,
    },
    /// A hint released to the trainee (by the timer in guided mode, or asked with `firedrill hint`).
    HintShown {
        index: usize,
        text: String,
    },
    /// Something the trainee did to the sandbox (firedrill's own actions are left out).
    Action(Action),
    /// The impact is gone: health good and every signal under its thresholds.
    Mitigated,
    /// The impact is back after a mitigation.
    ImpactReturned,
    /// The fault's root-cause probe says cleared.
    RootCauseCleared {
        detail: String,
    },
    /// The root-cause probe says present again (a restart only hid it).
    RootCausePresent {
        detail: String,
    },
    /// Root cause cleared and impact gone for the scenario's whole stability window.
    Resolved,
    /// Something that must survive was lost (the history database).
    DataLoss {
        detail: String,
    },
    /// The agent container was removed or recreated by the trainee.
    ContainerDestroyed,
    /// The live client traffic broke a limit of the scenario's change budget: `metric` is
    /// `error rate %` or `p95 s`, `value` what it reached when it crossed `limit`.
    ChangeBudgetExceeded {
        metric: String,
        value: f64,
        limit: f64,
    },
    /// The excursion over a change-budget limit that `ChangeBudgetExceeded` began is over (back
    /// within the limit, or the drill ended): `worst` is the most `metric` reached during it,
    /// what the clients actually paid.
    ChangeBudgetExcursionEnded {
        metric: String,
        worst: f64,
        limit: f64,
    },
    Ended {
        outcome: Outcome,
    },
}

/// One observed action of the trainee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub source: ActionSource,
    /// The text matchers look at: `restart` (docker), `agentctl jobs list` (exec),
    /// `GET /metrics` (http), `diagnose memory-leaks` (firedrill).
    pub text: String,
}

/// How a drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Root cause gone and stable for the stability window.
    Resolved,
    /// Impact gone at the end, root cause still there (e.g. a restart that only hid it).
    Mitigated,
    /// The time limit passed first.
    TimedOut,
    /// Ctrl-C, SIGTERM or `firedrill abort`.
    Aborted,
}

impl Timeline {
    pub fn push(&mut self, at: f64, event: Event) {
        self.entries.push(Entry { at, event });
    }

    /// The time of the first entry `pick` accepts.
    pub fn first(&self, pick: impl Fn(&Event) -> bool) -> Option<f64> {
        self.entries.iter().find(|e| pick(&e.event)).map(|e| e.at)
    }

    /// The trainee's actions with their times, in order.
    pub fn actions(&self) -> impl Iterator<Item = (f64, &Action)> {
        self.entries.iter().filter_map(|e| match &e.event {
            Event::Action(action) => Some((e.at, action)),
            _ => None,
        })
    }

    /// What procedure matchers look at: the trainee's actions, and the verbs as `firedrill`
    /// actions (`ack`, `diagnose <runbook>`, `note <text>`, `hint`), so a step can be "tell the
    /// drill what you found" (`{ firedrill: "^note " }`).
    pub fn matchable_actions(&self) -> impl Iterator<Item = (f64, Action)> + '_ {
        self.entries.iter().filter_map(|e| {
            let verb = |text: String| Action {
                source: ActionSource::Firedrill,
                text,
            };
            let action = match &e.event {
                Event::Action(action) => action.clone(),
                Event::Acknowledged => verb("ack".to_string()),
                Event::Diagnosed { runbook, .. } => verb(format!("diagnose {runbook}")),
                Event::Note { text } => verb(format!("note {text}")),
                Event::HintShown { .. } => verb("hint".to_string()),
                _ => return None,
            };
            Some((e.at, action))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_serialise_flat_with_a_type_tag() {
        let mut timeline = Timeline::default();
        timeline.push(-30.0, Event::DrillStarted);
        timeline.push(
            12.5,
            Event::Action(Action {
                source: ActionSource::Exec,
                text: "agentctl jobs list".to_string(),
            }),
        );
        timeline.push(
            20.0,
            Event::Ended {
                outcome: Outcome::TimedOut,
            },
        );
        let json = serde_json::to_value(&timeline).unwrap();
        assert_eq!(
            json["entries"][0],
            serde_json::json!({"at": -30.0, "type": "drill_started"})
        );
        assert_eq!(
            json["entries"][1],
            serde_json::json!({"at": 12.5, "type": "action", "source": "exec", "text": "agentctl jobs list"})
        );
        assert_eq!(json["entries"][2]["outcome"], "timed_out");
        let back: Timeline = serde_json::from_value(json).unwrap();
        assert_eq!(back, timeline);
        assert_eq!(
            timeline.first(|e| matches!(e, Event::Ended { .. })),
            Some(20.0)
        );
        assert_eq!(timeline.actions().count(), 1);
    }
}
