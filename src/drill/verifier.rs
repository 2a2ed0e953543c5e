//! The resolution verifier: from what the drill runner observes every few seconds (is the
//! impact there, what the fault's root-cause probe says, is the history database intact, is
//! the agent container there), the timeline events that decide the outcome.
//!
//! - **Mitigated**: the impact was seen and is gone (health good, no page-worthy alert).
//! - **Resolved**: the root cause is cleared and the impact gone, continuously for the
//!   scenario's stability window. A restart that only hides the symptom never gets here: the
//!   probe still says present.
//! - **Harmless**: the history database intact and the container not destroyed; a loss is an
//!   event of its own, whatever the outcome.
//!
//! Pure: the runner stamps each observation with its time since the injection.

use std::time::Duration;

use super::timeline::{Event, Outcome};
use crate::scenario::model::ResolutionSpec;

/// One round of observations. `None` means not known this round (a probe that failed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// Seconds since the fault's injection.
    pub at: f64,
    /// Whether the drill's impact shows: an alert of the scenario firing, or the agent down.
    pub impact: bool,
    /// The root-cause probe: present or not, with its detail.
    pub root_cause: Option<(bool, String)>,
    /// Whether the history database is still there and readable; `Some(false)` with the reason.
    pub history_intact: Option<(bool, String)>,
    /// Whether an agent container of the sandbox exists (a deploy replaces it: still there).
    pub container_present: bool,
}

#[derive(Debug, Clone)]
pub struct Verifier {
    stability: Duration,
    impact_seen: bool,
    impact: bool,
    mitigated: bool,
    root_cause_present: bool,
    /// Since when both the root cause is cleared and the impact gone.
    clean_since: Option<f64>,
    resolved: bool,
    data_lost: bool,
    destroyed: bool,
}

impl Verifier {
    pub fn new(spec: &ResolutionSpec) -> Verifier {
        Verifier {
            stability: spec.stability,
            impact_seen: false,
            impact: false,
            mitigated: false,
            root_cause_present: true,
            clean_since: None,
            resolved: false,
            data_lost: false,
            destroyed: false,
        }
    }

    /// The events `observation` causes, in the order they happened.
    pub fn observe(&mut self, observation: &Observation) -> Vec<Event> {
        let mut events = Vec::new();
        if let Some((false, detail)) = &observation.history_intact {
            if !self.data_lost {
                self.data_lost = true;
                events.push(Event::DataLoss {
                    detail: detail.clone(),
                });
            }
        }
        if !observation.container_present && !self.destroyed {
            self.destroyed = true;
            events.push(Event::ContainerDestroyed);
        }
        if observation.impact {
            if self.mitigated {
                self.mitigated = false;
                events.push(Event::ImpactReturned);
            }
            self.impact_seen = true;
        } else if self.impact_seen && !self.mitigated {
            self.mitigated = true;
            events.push(Event::Mitigated);
        }
        self.impact = observation.impact;
        if let Some((present, detail)) = &observation.root_cause {
            if *present != self.root_cause_present {
                self.root_cause_present = *present;
                events.push(if *present {
                    Event::RootCausePresent {
                        detail: detail.clone(),
                    }
                } else {
                    Event::RootCauseCleared {
                        detail: detail.clone(),
                    }
                });
            }
        }
        let clean = !self.root_cause_present && !self.impact && observation.container_present;
        self.clean_since = match (clean, self.clean_since) {
            (true, Some(since)) => Some(since),
            (true, None) => Some(observation.at),
            (false, _) => None,
        };
        if let Some(since) = self.clean_since {
            if !self.resolved && observation.at - since >= self.stability.as_secs_f64() {
                self.resolved = true;
                events.push(Event::Resolved);
            }
        }
        events
    }

    pub fn is_resolved(&self) -> bool {
        self.resolved
    }

    /// How a drill that ends now (time limit, abort) ended, short of being resolved.
    pub fn outcome_without_resolution(&self, aborted: bool) -> Outcome {
        if aborted {
            Outcome::Aborted
        } else if self.resolved {
            Outcome::Resolved
        } else if self.mitigated {
            Outcome::Mitigated
        } else {
            Outcome::TimedOut
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(stability_s: u64) -> ResolutionSpec {
        ResolutionSpec {
            stability: Duration::from_secs(stability_s),
            allow_destroy: false,
        }
    }

    fn seen(at: f64, impact: bool, root_cause: bool) -> Observation {
        Observation {
            at,
            impact,
            root_cause: Some((root_cause, format!("probe at {at}"))),
            history_intact: Some((true, String::new())),
            container_present: true,
        }
    }

    fn names(events: &[Event]) -> Vec<&'static str> {
        events
            .iter()
            .map(|e| match e {
                Event::Mitigated => "mitigated",
                Event::ImpactReturned => "impact_returned",
                Event::RootCauseCleared { .. } => "root_cause_cleared",
                Event::RootCausePresent { .. } => "root_cause_present",
                Event::Resolved => "resolved",
                Event::DataLoss { .. } => "data_loss",
                Event::ContainerDestroyed => "container_destroyed",
                _ => "other",
            })
            .collect()
    }

    #[test]
    fn a_fix_resolves_after_the_stability_window() {
        let mut verifier = Verifier::new(&spec(60));
        assert!(
            verifier.observe(&seen(0.0, false, true)).is_empty(),
            "no impact yet"
        );
        assert!(verifier.observe(&seen(30.0, true, true)).is_empty());
        assert_eq!(
            names(&verifier.observe(&seen(100.0, false, false))),
            ["mitigated", "root_cause_cleared"]
        );
        assert!(verifier.observe(&seen(159.0, false, false)).is_empty());
        assert_eq!(
            names(&verifier.observe(&seen(160.0, false, false))),
            ["resolved"]
        );
        assert!(verifier.is_resolved());
        assert!(
            verifier.observe(&seen(200.0, false, false)).is_empty(),
            "once"
        );
    }

    #[test]
    fn a_restart_that_hides_the_symptom_only_mitigates() {
        let mut verifier = Verifier::new(&spec(30));
        verifier.observe(&seen(10.0, true, true));
        assert_eq!(
            names(&verifier.observe(&seen(50.0, false, true))),
            ["mitigated"]
        );
        assert!(verifier.observe(&seen(500.0, false, true)).is_empty());
        assert_eq!(
            verifier.outcome_without_resolution(false),
            Outcome::Mitigated
        );
        assert_eq!(
            names(&verifier.observe(&seen(520.0, true, true))),
            ["impact_returned"]
        );
        assert_eq!(
            verifier.outcome_without_resolution(false),
            Outcome::TimedOut
        );
        assert_eq!(verifier.outcome_without_resolution(true), Outcome::Aborted);
    }

    #[test]
    fn an_impact_or_root_cause_that_returns_restarts_the_window() {
        let mut verifier = Verifier::new(&spec(60));
        verifier.observe(&seen(10.0, true, true));
        verifier.observe(&seen(20.0, false, false));
        assert_eq!(
            names(&verifier.observe(&seen(50.0, false, true))),
            ["root_cause_present"]
        );
        verifier.observe(&seen(60.0, false, false));
        assert!(
            verifier.observe(&seen(110.0, false, false)).is_empty(),
            "60 s from 60"
        );
        assert_eq!(
            names(&verifier.observe(&seen(120.0, false, false))),
            ["resolved"]
        );
    }

    #[test]
    fn data_loss_and_a_destroyed_container_are_reported_once() {
        let mut verifier = Verifier::new(&spec(60));
        let mut lost = seen(5.0, true, true);
        lost.history_intact = Some((false, "history.redb is gone".to_string()));
        lost.container_present = false;
        assert_eq!(
            names(&verifier.observe(&lost)),
            ["data_loss", "container_destroyed"]
        );
        lost.at = 6.0;
        assert!(verifier.observe(&lost).is_empty());
    }
}
