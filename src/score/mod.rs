//! Scoring: a pure function of a scenario and a drill's timeline ([`score`]). It does no I/O and
//! reads no clock, so a result file re-scores to the same card anywhere.
//!
//! # How a drill is scored
//!
//! A drill scores out of 100. Five components add up to at most 100, then deductions are taken
//! off; the total never goes below 0. Every lost point comes with a sentence naming the figure
//! and the target, e.g. `acknowledged after 3m 10s; target 2m: lost 3 of 10`.
//!
//! | grade | total |
//! |---|---|
//! | A | 90 or more |
//! | B | 80–89 |
//! | C | 70–79 |
//! | D | 60–69 |
//! | F | under 60 |
//!
//! ## Times
//!
//! Every time is in seconds from the fault's injection, read from the timeline; it is `null` when
//! it never happened.
//!
//! | time | the first moment |
//! |---|---|
//! | `first_alert_s` | an alert fired |
//! | `acknowledge_s` | the trainee ran `firedrill ack` |
//! | `detect_s` | the trainee ran `firedrill diagnose` with a runbook the scenario accepts |
//! | `mitigate_s` | the impact was gone (health good, every signal under its thresholds) |
//! | `resolve_s` | the root cause was gone and stayed gone, impact too, for the stability window |
//!
//! The outcome is the one the drill ended with; a timeline without an end counts as `resolved`
//! when it holds a resolution, else as `timed_out`.
//!
//! ## The speed curve
//!
//! A time at or under its target earns the component's full points. Past the target the points
//! fall in a straight line to 0 at three times the target:
//! `points = max × (3 × target − time) / (2 × target)`. A time that never happened earns 0.
//! Each component is rounded to the nearest whole point (halves up).
//!
//! ## Components
//!
//! | component | max | how it is earned |
//! |---|---|---|
//! | acknowledge | 10 | `acknowledge_s` against `targets.acknowledge`, on the speed curve |
//! | detection | 20 | `detect_s` against `targets.detect`, on the speed curve |
//! | diagnosis | 15 | 15 for a correct diagnosis, minus 5 for each wrong one submitted before the first correct one (not below 0); 0 if no diagnosis was correct |
//! | resolution | 25 | `resolve_s` against `targets.resolve`, on the speed curve. A drill that never resolved but ended `mitigated` (the impact is gone, the root cause is not: a restart hides it) earns `mitigate_s` on the same curve, at most 10. Otherwise 0 |
//! | procedure | 30 | 30 × (weights of the steps done) ÷ (weights of all steps); a step done out of order counts half its weight. A scenario whose steps weigh nothing gives all 30 |
//!
//! ## Runbook procedure and penalties
//!
//! A matcher `{ <source>: <regex> }` matches an action that comes from that source (`docker`,
//! `exec`, `http`, `firedrill`) and whose text the regex finds a match in, anywhere (use
//! `^…$` to match the whole text). Only actions from the fault's injection on count: what was
//! done before the fault neither fixes nor harms it.
//!
//! A step is done at the first action that matches any of its `any_of` matchers and comes
//! after every step of its `after` list: it is then in order (a verify step counts when the
//! evidence is looked at again after the fix). When no matching action comes after them, the
//! step is done at its first matching action, out of order: it counts half its weight, and the
//! reason names the steps it should have followed.
//!
//! A scenario penalty applies once, at the first action that matches any of its matchers. An
//! action after every step of the penalty's `unless_after` list was done does not count (a
//! restart that reclaims memory once the cache is bounded is the fix, not a shortcut).
//!
//! ## Deductions
//!
//! | what | points |
//! |---|---|
//! | each hint shown (a hint shown twice counts once) | −5; with `--guided` 0, listed as `hint N shown (guided: free)` |
//! | each scenario penalty that matched | its `points` |
//! | data loss (each distinct loss the timeline records) | −30 |
//! | the agent container destroyed (once) | −20, unless the scenario sets `resolution.allow_destroy` |
//! | each limit of the scenario's `change_budget` the live traffic broke (error rate, p95), once per limit | −15 |
//!
//! An aborted drill scores 0: its only deduction takes away everything the components earned.

mod matching;

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::drill::timeline::{Entry, Event, Outcome, Timeline};
use crate::scenario::model::Scenario;

const ACKNOWLEDGE_MAX: u32 = 10;
const DETECTION_MAX: u32 = 20;
const DIAGNOSIS_MAX: u32 = 15;
const WRONG_DIAGNOSIS_COST: u32 = 5;
const RESOLUTION_MAX: u32 = 25;
const MITIGATED_CAP: u32 = 10;
const PROCEDURE_MAX: u32 = 30;
const HINT_COST: i32 = 5;
const DATA_LOSS_COST: i32 = 30;
const DESTROY_COST: i32 = 20;
const CHANGE_BUDGET_COST: i32 = 15;

/// A drill's score with every lost point explained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    /// Out of 100: the components' points plus the deductions, not below 0.
    pub total: u32,
    /// `A`–`F`.
    pub grade: char,
    pub components: Vec<Component>,
    pub deductions: Vec<Deduction>,
    pub times: Times,
    pub outcome: Outcome,
    pub procedure: Vec<StepResult>,
    pub penalties_matched: Vec<PenaltyMatch>,
    /// Every `firedrill diagnose`, in order.
    pub diagnoses: Vec<DiagnosisAttempt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// `acknowledge`, `detection`, `diagnosis`, `resolution` or `procedure`.
    pub name: String,
    pub points: u32,
    pub max: u32,
    /// One sentence per loss; empty when `points == max`.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deduction {
    pub kind: DeductionKind,
    pub reason: String,
    /// Taken off the total: 0 or less.
    pub points: i32,
}

/// What a deduction is for, so a debrief can say what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeductionKind {
    Hint,
    Penalty,
    DataLoss,
    ContainerDestroyed,
    /// The live traffic suffered more than the scenario's change budget allows.
    ChangeBudget,
    Aborted,
}

/// Seconds from the fault's injection; `None` when it never happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Times {
    pub first_alert_s: Option<f64>,
    pub acknowledge_s: Option<f64>,
    pub detect_s: Option<f64>,
    pub mitigate_s: Option<f64>,
    pub resolve_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub id: String,
    pub title: String,
    /// When the first matching action was seen.
    pub done_at: Option<f64>,
    /// Done, and after every step it must follow (false when not done).
    pub in_order: bool,
    pub weight: u32,
    /// For a step done out of order: the steps of its `after` list not done before it.
    pub should_follow: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PenaltyMatch {
    pub id: String,
    pub title: String,
    pub points: u32,
    /// When the first matching action was seen.
    pub at: f64,
    /// That action's text.
    pub action: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisAttempt {
    pub runbook: String,
    pub correct: bool,
    pub at: f64,
}

/// Scores one drill by the rules of the module documentation. `guided` makes hints free.
pub fn score(scenario: &Scenario, timeline: &Timeline, guided: bool) -> Scorecard {
    let times = Times::of(timeline);
    let outcome = outcome_of(timeline);
    let diagnoses: Vec<DiagnosisAttempt> = timeline
        .entries
        .iter()
        .filter_map(|entry| match &entry.event {
            Event::Diagnosed { runbook, correct } => Some(DiagnosisAttempt {
                runbook: runbook.clone(),
                correct: *correct,
                at: entry.at,
            }),
            _ => None,
        })
        .collect();
    let procedure = matching::procedure(&scenario.procedure, timeline);
    let penalties_matched = matching::penalties(&scenario.penalties, &procedure, timeline);
    let targets = &scenario.targets;

    let components = vec![
        on_curve(
            "acknowledge",
            ACKNOWLEDGE_MAX,
            times.acknowledge_s,
            targets.acknowledge,
            "acknowledged",
            "never acknowledged",
        ),
        on_curve(
            "detection",
            DETECTION_MAX,
            times.detect_s,
            targets.detect,
            "diagnosed correctly",
            "never diagnosed correctly",
        ),
        diagnosis(&diagnoses, &scenario.diagnosis.accepted),
        resolution(&times, outcome, targets.resolve),
        procedure_component(&procedure),
    ];
    let earned: i32 = components.iter().map(|c| c.points as i32).sum();
    let deductions = if outcome == Outcome::Aborted {
        vec![Deduction {
            kind: DeductionKind::Aborted,
            reason: "the drill was aborted: an aborted drill scores 0".to_string(),
            points: -earned,
        }]
    } else {
        deductions(scenario, timeline, guided, &penalties_matched)
    };
    let total = (earned + deductions.iter().map(|d| d.points).sum::<i32>()).max(0) as u32;
    Scorecard {
        total,
        grade: grade(total),
        components,
        deductions,
        times,
        outcome,
        procedure,
        penalties_matched,
        diagnoses,
    }
}

impl Times {
    fn of(timeline: &Timeline) -> Times {
        Times {
            first_alert_s: timeline.first(|e| matches!(e, Event::AlertFiring { .. })),
            acknowledge_s: timeline.first(|e| matches!(e, Event::Acknowledged)),
            detect_s: timeline.first(|e| matches!(e, Event::Diagnosed { correct: true, .. })),
            mitigate_s: timeline.first(|e| matches!(e, Event::Mitigated)),
            resolve_s: timeline.first(|e| matches!(e, Event::Resolved)),
        }
    }
}

fn outcome_of(timeline: &Timeline) -> Outcome {
    let ended = timeline.entries.iter().find_map(|entry| match entry.event {
        Event::Ended { outcome } => Some(outcome),
        _ => None,
    });
    ended.unwrap_or(
        if timeline.first(|e| matches!(e, Event::Resolved)).is_some() {
            Outcome::Resolved
        } else {
            Outcome::TimedOut
        },
    )
}

/// `A`–`F` for a total out of 100.
fn grade(total: u32) -> char {
    match total {
        90.. => 'A',
        80..=89 => 'B',
        70..=79 => 'C',
        60..=69 => 'D',
        _ => 'F',
    }
}

/// The points out of `max` a time earns against its target (see "The speed curve").
fn curve_points(max: u32, time: f64, target: Duration) -> u32 {
    let target = target.as_secs_f64();
    let share = if time <= target {
        1.0
    } else if target <= 0.0 {
        0.0
    } else {
        ((3.0 * target - time) / (2.0 * target)).clamp(0.0, 1.0)
    };
    (f64::from(max) * share).round() as u32
}

/// Points a time earns on the speed curve, with the reason when some are lost.
fn on_time(max: u32, time: f64, target: Duration, done: &str) -> (u32, Option<String>) {
    let points = curve_points(max, time, target);
    let reason = (points < max).then(|| {
        format!(
            "{done} after {}; target {}: lost {} of {max}",
            elapsed(time),
            target_time(target),
            max - points
        )
    });
    (points, reason)
}

fn on_curve(
    name: &str,
    max: u32,
    time: Option<f64>,
    target: Duration,
    done: &str,
    never: &str,
) -> Component {
    let (points, reasons) = match time {
        Some(time) => {
            let (points, reason) = on_time(max, time, target, done);
            (points, reason.into_iter().collect())
        }
        None => (
            0,
            vec![format!(
                "{never} (target {}): lost {max} of {max}",
                target_time(target)
            )],
        ),
    };
    Component {
        name: name.to_string(),
        points,
        max,
        reasons,
    }
}

fn diagnosis(diagnoses: &[DiagnosisAttempt], accepted: &[String]) -> Component {
    let max = DIAGNOSIS_MAX;
    let mut reasons = Vec::new();
    let points = match diagnoses.iter().position(|d| d.correct) {
        Some(first_correct) => {
            let mut points = max;
            for wrong in diagnoses[..first_correct].iter().filter(|d| !d.correct) {
                let lost = WRONG_DIAGNOSIS_COST.min(points);
                if lost > 0 {
                    points -= lost;
                    reasons.push(format!(
                        "wrong diagnosis {} at {}, before the correct one: lost {lost} of {max}",
                        wrong.runbook,
                        offset(wrong.at)
                    ));
                }
            }
            points
        }
        None => {
            let accepted = accepted.join(", ");
            let submitted: Vec<&str> = diagnoses.iter().map(|d| d.runbook.as_str()).collect();
            reasons.push(if submitted.is_empty() {
                format!("no diagnosis submitted (accepted: {accepted}): lost {max} of {max}")
            } else {
                format!(
                    "no correct diagnosis (submitted: {}; accepted: {accepted}): lost {max} of {max}",
                    submitted.join(", ")
                )
            });
            0
        }
    };
    Component {
        name: "diagnosis".to_string(),
        points,
        max,
        reasons,
    }
}

fn resolution(times: &Times, outcome: Outcome, target: Duration) -> Component {
    let max = RESOLUTION_MAX;
    let component = |points, reasons| Component {
        name: "resolution".to_string(),
        points,
        max,
        reasons,
    };
    match (times.resolve_s, outcome, times.mitigate_s) {
        (Some(resolved), _, _) => {
            let (points, reason) = on_time(max, resolved, target, "resolved");
            component(points, reason.into_iter().collect())
        }
        (None, Outcome::Mitigated, Some(mitigated)) => {
            let points = curve_points(max, mitigated, target).min(MITIGATED_CAP);
            let mut reasons = vec![format!(
                "the impact is gone but the root cause is still there (a restart hides it): \
                 at most {MITIGATED_CAP} of {max}, lost {}",
                max - MITIGATED_CAP
            )];
            if points < MITIGATED_CAP {
                reasons.push(format!(
                    "mitigated after {}; target {}: lost {} more",
                    elapsed(mitigated),
                    target_time(target),
                    MITIGATED_CAP - points
                ));
            }
            component(points, reasons)
        }
        _ => component(
            0,
            vec![format!(
                "never resolved (the drill ended {}; target {}): lost {max} of {max}",
                outcome_label(outcome),
                target_time(target)
            )],
        ),
    }
}

fn procedure_component(steps: &[StepResult]) -> Component {
    let max = PROCEDURE_MAX;
    let component = |points, reasons| Component {
        name: "procedure".to_string(),
        points,
        max,
        reasons,
    };
    let all: u32 = steps.iter().map(|s| s.weight).sum();
    if all == 0 {
        return component(max, Vec::new());
    }
    let share = |weight: f64| f64::from(max) * weight / f64::from(all);
    let mut earned = 0.0;
    let mut reasons = Vec::new();
    for step in steps {
        let weight = f64::from(step.weight);
        match step.done_at {
            Some(_) if step.in_order => earned += weight,
            Some(at) => {
                earned += weight / 2.0;
                reasons.push(format!(
                    "step {} ({}) done at {}, before {}, which it should follow: \
                     half its weight, lost {} of {max}",
                    step.id,
                    step.title,
                    offset(at),
                    step.should_follow.join(", "),
                    fractional(share(weight / 2.0))
                ));
            }
            None => reasons.push(format!(
                "step {} ({}) not done: lost {} of {max}",
                step.id,
                step.title,
                fractional(share(weight))
            )),
        }
    }
    component(share(earned).round() as u32, reasons)
}

/// The worst value of the change-budget excursion that begins the `entries` (it crossed at
/// `crossed`): what its `ChangeBudgetExcursionEnded` says, when the drill recorded one.
pub fn excursion_worst(entries: &[Entry], metric: &str, crossed: f64) -> f64 {
    entries
        .iter()
        .find_map(|entry| match &entry.event {
            Event::ChangeBudgetExcursionEnded {
                metric: ended,
                worst,
                ..
            } if ended == metric => Some(*worst),
            _ => None,
        })
        .map_or(crossed, |worst| worst.max(crossed))
}

fn deductions(
    scenario: &Scenario,
    timeline: &Timeline,
    guided: bool,
    penalties: &[PenaltyMatch],
) -> Vec<Deduction> {
    let mut dated: Vec<(f64, Deduction)> = Vec::new();
    let mut hints = BTreeSet::new();
    let mut losses = BTreeSet::new();
    let mut destroyed = false;
    let mut budgets_broken = BTreeSet::new();
    for (position, entry) in timeline.entries.iter().enumerate() {
        let deduction = match &entry.event {
            Event::HintShown { index, .. } if hints.insert(*index) => Deduction {
                kind: DeductionKind::Hint,
                reason: if guided {
                    format!("hint {} shown (guided: free)", index + 1)
                } else {
                    format!("hint {} shown", index + 1)
                },
                points: if guided { 0 } else { -HINT_COST },
            },
            Event::DataLoss { detail } if losses.insert(detail.as_str()) => Deduction {
                kind: DeductionKind::DataLoss,
                reason: format!("data loss: {detail}"),
                points: -DATA_LOSS_COST,
            },
            Event::ContainerDestroyed if !destroyed && !scenario.resolution.allow_destroy => {
                destroyed = true;
                Deduction {
                    kind: DeductionKind::ContainerDestroyed,
                    reason: format!(
                        "the agent container was destroyed at {} (this drill does not allow it)",
                        offset(entry.at)
                    ),
                    points: -DESTROY_COST,
                }
            }
            Event::ChangeBudgetExceeded {
                metric,
                value,
                limit,
            } if budgets_broken.insert(metric.as_str()) => Deduction {
                kind: DeductionKind::ChangeBudget,
                reason: format!(
                    "the live traffic's {metric} passed the change budget ({}) at {} and \
                     reached {}",
                    fractional(*limit),
                    offset(entry.at),
                    fractional(excursion_worst(
                        &timeline.entries[position..],
                        metric,
                        *value
                    ))
                ),
                points: -CHANGE_BUDGET_COST,
            },
            _ => continue,
        };
        dated.push((entry.at, deduction));
    }
    dated.extend(penalties.iter().map(|penalty| {
        let deduction = Deduction {
            kind: DeductionKind::Penalty,
            reason: format!(
                "{}: `{}` at {}",
                penalty.title,
                penalty.action,
                offset(penalty.at)
            ),
            points: -(penalty.points as i32),
        };
        (penalty.at, deduction)
    }));
    dated.sort_by(|a, b| a.0.total_cmp(&b.0));
    dated.into_iter().map(|(_, deduction)| deduction).collect()
}

/// Points shown in a reason: whole when they are, else to one decimal.
fn fractional(points: f64) -> String {
    if (points - points.round()).abs() < 0.05 {
        format!("{}", points.round())
    } else {
        format!("{points:.1}")
    }
}

/// A time in seconds as the alert pages write durations (see `crate::ui::elapsed`).
pub(crate) fn elapsed(secs: f64) -> String {
    crate::ui::elapsed(Duration::from_secs(secs.max(0.0) as u64))
}

/// A moment of the timeline: `+1m 05s` after the injection, `-30s` before it.
pub(crate) fn offset(at: f64) -> String {
    if at < 0.0 {
        format!("-{}", elapsed(-at))
    } else {
        format!("+{}", elapsed(at))
    }
}

/// A target as a scenario writes it: `2m`, `1m 30s`.
pub(crate) fn target_time(target: Duration) -> String {
    humantime::format_duration(target).to_string()
}

/// How an outcome reads in a sentence: `resolved`, `mitigated`, `timed out`, `aborted`.
pub(crate) fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Resolved => "resolved",
        Outcome::Mitigated => "mitigated",
        Outcome::TimedOut => "timed out",
        Outcome::Aborted => "aborted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::timeline::Action;
    use crate::scenario::model::ActionSource;

    const SCENARIO: &str = r#"
id: runaway-job
title: A runaway optimization job
runbook: high-cpu-usage
difficulty: easy
briefing: The agent is slow.
faults:
  - kind: cpu-runaway
    onset: { after: 20s }
diagnosis:
  accepted: [high-cpu-usage]
procedure:
  - id: look
    title: List the jobs
    any_of: [{ exec: "agentctl jobs list" }]
    weight: 10
  - id: fix
    title: Cancel the job and deny-list its input
    any_of: [{ exec: "agentctl jobs cancel .* --deny" }, { firedrill: "^deny " }]
    after: [look]
    weight: 20
penalties:
  - id: restart-only
    title: Restarted the agent (the job comes back)
    any_of: [{ docker: "^restart$" }]
    points: 10
hints:
  - { after: 3m, text: Which job runs the longest? }
  - { after: 6m, text: agentctl jobs cancel takes --deny }
targets: { acknowledge: 2m, detect: 5m, resolve: 15m }
time_limit: 30m
reference_solution:
  - { at: 5s, firedrill: ack }
"#;

    fn scenario() -> Scenario {
        serde_yaml::from_str(SCENARIO).expect("the test scenario parses")
    }

    /// A timeline under construction: the briefing at -30 s, the fault at 0.
    struct Drill(Timeline);

    fn drill() -> Drill {
        let mut timeline = Timeline::default();
        timeline.push(-30.0, Event::DrillStarted);
        timeline.push(
            0.0,
            Event::FaultInjected {
                kind: "cpu-runaway".to_string(),
            },
        );
        Drill(timeline)
    }

    impl Drill {
        fn then(mut self, at: f64, event: Event) -> Drill {
            self.0.push(at, event);
            self
        }

        fn act(self, at: f64, source: ActionSource, text: &str) -> Drill {
            let action = Action {
                source,
                text: text.to_string(),
            };
            self.then(at, Event::Action(action))
        }

        fn diagnose(self, at: f64, runbook: &str, correct: bool) -> Drill {
            let runbook = runbook.to_string();
            self.then(at, Event::Diagnosed { runbook, correct })
        }

        fn hint(self, at: f64, index: usize) -> Drill {
            let text = format!("hint text {index}");
            self.then(at, Event::HintShown { index, text })
        }

        fn ended(self, at: f64, outcome: Outcome) -> Drill {
            self.then(at, Event::Ended { outcome })
        }

        fn score(&self) -> Scorecard {
            score(&scenario(), &self.0, false)
        }
    }

    /// Everything on time and in order.
    fn perfect() -> Drill {
        drill()
            .then(
                30.0,
                Event::AlertFiring {
                    alert: "AgentHighCpu".to_string(),
                    severity: "critical".to_string(),
                    summary: "CPU at 97 %".to_string(),
                },
            )
            .then(60.0, Event::Acknowledged)
            .act(90.0, ActionSource::Exec, "agentctl jobs list")
            .diagnose(120.0, "high-cpu-usage", true)
            .act(
                200.0,
                ActionSource::Exec,
                "agentctl jobs cancel j-17 --deny",
            )
            .then(210.0, Event::Mitigated)
            .then(270.0, Event::Resolved)
            .ended(270.0, Outcome::Resolved)
    }

    fn component<'c>(card: &'c Scorecard, name: &str) -> &'c Component {
        card.components
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no component {name}"))
    }

    fn scored(drill: Drill, name: &str) -> (u32, Vec<String>) {
        let card = drill.score();
        let component = component(&card, name);
        (component.points, component.reasons.clone())
    }

    fn reasons(card: &Scorecard) -> Vec<(&str, i32)> {
        card.deductions
            .iter()
            .map(|d| (d.reason.as_str(), d.points))
            .collect()
    }

    #[test]
    fn a_perfect_drill_scores_100_with_nothing_to_explain() {
        let card = perfect().score();
        assert_eq!((card.total, card.grade), (100, 'A'));
        let maxima: Vec<(&str, u32, u32)> = card
            .components
            .iter()
            .map(|c| (c.name.as_str(), c.points, c.max))
            .collect();
        assert_eq!(
            maxima,
            [
                ("acknowledge", 10, 10),
                ("detection", 20, 20),
                ("diagnosis", 15, 15),
                ("resolution", 25, 25),
                ("procedure", 30, 30),
            ]
        );
        assert!(card.components.iter().all(|c| c.reasons.is_empty()));
        assert!(card.deductions.is_empty());
        assert_eq!(card.outcome, Outcome::Resolved);
    }

    #[test]
    fn times_are_the_first_of_each_event_and_none_when_it_never_happened() {
        let card = perfect()
            .then(300.0, Event::Acknowledged)
            .diagnose(310.0, "high-cpu-usage", true)
            .score();
        assert_eq!(
            card.times,
            Times {
                first_alert_s: Some(30.0),
                acknowledge_s: Some(60.0),
                detect_s: Some(120.0),
                mitigate_s: Some(210.0),
                resolve_s: Some(270.0),
            }
        );
        assert_eq!(drill().score().times, Times::default());
    }

    #[test]
    fn detection_counts_from_the_first_correct_diagnosis_only() {
        let card = drill()
            .diagnose(60.0, "memory-leaks", false)
            .diagnose(450.0, "high-cpu-usage", true)
            .score();
        assert_eq!(card.times.detect_s, Some(450.0));
        let detection = component(&card, "detection");
        assert_eq!(detection.points, 15);
        assert_eq!(
            detection.reasons,
            ["diagnosed correctly after 7m 30s; target 5m: lost 5 of 20"]
        );
    }

    #[test]
    fn the_outcome_is_the_end_entry_else_resolved_when_resolved_else_timed_out() {
        let aborted = perfect().ended(400.0, Outcome::Aborted);
        assert_eq!(
            aborted.score().outcome,
            Outcome::Resolved,
            "the first end wins"
        );
        let open = drill().then(500.0, Event::Resolved);
        assert_eq!(open.score().outcome, Outcome::Resolved);
        assert_eq!(drill().score().outcome, Outcome::TimedOut);
        let mitigated = drill().ended(1800.0, Outcome::Mitigated);
        assert_eq!(mitigated.score().outcome, Outcome::Mitigated);
    }

    #[test]
    fn speed_is_full_at_the_target_and_falls_linearly_to_nothing_at_three_times_it() {
        let ack = |at| scored(drill().then(at, Event::Acknowledged), "acknowledge");
        assert_eq!(ack(-5.0), (10, vec![]));
        assert_eq!(ack(120.0), (10, vec![]));
        assert_eq!(ack(240.0).0, 5);
        assert_eq!(
            ack(190.0),
            (
                7,
                vec!["acknowledged after 3m 10s; target 2m: lost 3 of 10".to_string()]
            )
        );
        assert_eq!(ack(360.0).0, 0);
        assert_eq!(ack(5000.0).0, 0);
        assert_eq!(
            scored(drill(), "acknowledge"),
            (
                0,
                vec!["never acknowledged (target 2m): lost 10 of 10".to_string()]
            )
        );
        assert_eq!(
            scored(drill(), "detection").1,
            ["never diagnosed correctly (target 5m): lost 20 of 20"]
        );
    }

    #[test]
    fn a_zero_target_gives_full_points_only_at_the_injection() {
        assert_eq!(curve_points(10, 0.0, Duration::ZERO), 10);
        assert_eq!(curve_points(10, 1.0, Duration::ZERO), 0);
    }

    #[test]
    fn each_wrong_diagnosis_before_the_first_correct_one_costs_5() {
        let (points, reasons) = scored(
            drill()
                .diagnose(60.0, "memory-leaks", false)
                .diagnose(90.0, "service-unavailable", false)
                .diagnose(120.0, "high-cpu-usage", true)
                .diagnose(130.0, "rollback", false),
            "diagnosis",
        );
        assert_eq!(points, 5);
        assert_eq!(
            reasons,
            [
                "wrong diagnosis memory-leaks at +1m 00s, before the correct one: lost 5 of 15",
                "wrong diagnosis service-unavailable at +1m 30s, before the correct one: lost 5 of 15",
            ]
        );
    }

    #[test]
    fn wrong_diagnoses_cost_no_more_than_the_15_points() {
        let guesses = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .fold(drill(), |d, (i, runbook)| {
                d.diagnose(i as f64 * 10.0, runbook, false)
            });
        let (points, reasons) =
            scored(guesses.diagnose(100.0, "high-cpu-usage", true), "diagnosis");
        assert_eq!((points, reasons.len()), (0, 3));
    }

    #[test]
    fn no_correct_diagnosis_scores_nothing_and_says_what_was_submitted() {
        assert_eq!(
            scored(drill(), "diagnosis"),
            (
                0,
                vec![
                    "no diagnosis submitted (accepted: high-cpu-usage): lost 15 of 15".to_string()
                ]
            )
        );
        let wrong = drill().diagnose(60.0, "memory-leaks", false);
        assert_eq!(
            scored(wrong, "diagnosis").1,
            ["no correct diagnosis (submitted: memory-leaks; accepted: high-cpu-usage): lost 15 of 15"]
        );
    }

    #[test]
    fn resolution_is_scored_on_the_curve_against_its_target() {
        let late = drill()
            .then(1200.0, Event::Resolved)
            .ended(1200.0, Outcome::Resolved);
        assert_eq!(
            scored(late, "resolution"),
            (
                21,
                vec!["resolved after 20m 00s; target 15m: lost 4 of 25".to_string()]
            )
        );
    }

    #[test]
    fn a_mitigated_drill_earns_at_most_10_of_25() {
        let mitigated = |at| {
            drill()
                .then(at, Event::Mitigated)
                .ended(1800.0, Outcome::Mitigated)
        };
        let cap = "the impact is gone but the root cause is still there (a restart hides it): \
                   at most 10 of 25, lost 15";
        assert_eq!(
            scored(mitigated(300.0), "resolution"),
            (10, vec![cap.to_string()])
        );
        assert_eq!(scored(mitigated(1800.0), "resolution").0, 10);
        assert_eq!(
            scored(mitigated(2400.0), "resolution"),
            (
                4,
                vec![
                    cap.to_string(),
                    "mitigated after 40m 00s; target 15m: lost 6 more".to_string()
                ]
            )
        );
    }

    #[test]
    fn neither_resolved_nor_mitigated_earns_no_resolution_points() {
        let timed_out = drill()
            .then(300.0, Event::Mitigated)
            .then(400.0, Event::ImpactReturned)
            .ended(1800.0, Outcome::TimedOut);
        assert_eq!(
            scored(timed_out, "resolution"),
            (
                0,
                vec![
                    "never resolved (the drill ended timed out; target 15m): lost 25 of 25"
                        .to_string()
                ]
            )
        );
    }

    #[test]
    fn a_step_is_done_at_its_first_matching_action_of_that_source_after_the_injection() {
        let card = drill()
            .act(-10.0, ActionSource::Exec, "agentctl jobs list")
            .act(20.0, ActionSource::Docker, "agentctl jobs list")
            .act(40.0, ActionSource::Exec, "agentctl jobs list --json")
            .act(50.0, ActionSource::Exec, "agentctl jobs list")
            .act(90.0, ActionSource::Firedrill, "deny j-17")
            .score();
        let done: Vec<(&str, Option<f64>, bool)> = card
            .procedure
            .iter()
            .map(|s| (s.id.as_str(), s.done_at, s.in_order))
            .collect();
        assert_eq!(
            done,
            [("look", Some(40.0), true), ("fix", Some(90.0), true)]
        );
        assert_eq!(component(&card, "procedure").points, 30);
    }

    #[test]
    fn a_missed_step_loses_its_share_of_the_30_points() {
        let (points, reasons) = scored(
            drill().act(40.0, ActionSource::Exec, "agentctl jobs list"),
            "procedure",
        );
        assert_eq!(points, 10);
        assert_eq!(
            reasons,
            ["step fix (Cancel the job and deny-list its input) not done: lost 20 of 30"]
        );
    }

    #[test]
    fn a_step_done_before_the_one_it_follows_counts_half() {
        let swapped = drill()
            .act(40.0, ActionSource::Exec, "agentctl jobs cancel j-17 --deny")
            .act(90.0, ActionSource::Exec, "agentctl jobs list");
        let card = swapped.score();
        let fix = &card.procedure[1];
        assert_eq!(
            (fix.in_order, fix.should_follow.as_slice()),
            (false, &["look".to_string()][..])
        );
        let procedure = component(&card, "procedure");
        assert_eq!(procedure.points, 20);
        assert_eq!(
            procedure.reasons,
            [
                "step fix (Cancel the job and deny-list its input) done at +40s, before look, \
              which it should follow: half its weight, lost 10 of 30"
            ]
        );
        let same_moment = drill()
            .act(40.0, ActionSource::Exec, "agentctl jobs list")
            .act(40.0, ActionSource::Exec, "agentctl jobs cancel j-17 --deny");
        assert!(
            !same_moment.score().procedure[1].in_order,
            "strictly earlier"
        );
    }

    #[test]
    fn a_scenario_without_weights_gives_the_whole_procedure_component() {
        let mut scenario = scenario();
        scenario.procedure.iter_mut().for_each(|s| s.weight = 0);
        let card = score(&scenario, &drill().0, false);
        assert_eq!(component(&card, "procedure").points, 30);
    }

    #[test]
    fn a_pattern_that_does_not_compile_matches_nothing() {
        let mut scenario = scenario();
        scenario.procedure[0].any_of[0].insert(ActionSource::Exec, "agentctl (".to_string());
        let timeline = drill().act(40.0, ActionSource::Exec, "agentctl (").0;
        assert_eq!(
            score(&scenario, &timeline, false).procedure[0].done_at,
            None
        );
    }

    #[test]
    fn a_penalty_counts_once_at_its_first_match() {
        let card = perfect()
            .act(100.0, ActionSource::Docker, "restart")
            .act(150.0, ActionSource::Docker, "restart")
            .act(160.0, ActionSource::Docker, "restart-policy")
            .score();
        assert_eq!(
            card.penalties_matched,
            [PenaltyMatch {
                id: "restart-only".to_string(),
                title: "Restarted the agent (the job comes back)".to_string(),
                points: 10,
                at: 100.0,
                action: "restart".to_string(),
            }]
        );
        assert_eq!(
            reasons(&card),
            [(
                "Restarted the agent (the job comes back): `restart` at +1m 40s",
                -10
            )]
        );
        assert_eq!(card.total, 90);
    }

    #[test]
    fn a_step_counts_its_first_match_after_its_prerequisites_and_verbs_match_too() {
        let mut scenario = scenario();
        scenario.procedure[1].any_of.push(
            [(ActionSource::Firedrill, "^note .*job".to_string())]
                .into_iter()
                .collect(),
        );
        // Jobs listed before the fix and again after it: the second one is in order.
        scenario.procedure[0].after = Vec::new();
        scenario
            .procedure
            .push(crate::scenario::model::ProcedureStep {
                id: "verify".to_string(),
                title: "List the jobs again".to_string(),
                any_of: scenario.procedure[0].any_of.clone(),
                after: vec!["fix".to_string()],
                weight: 10,
            });
        let timeline = drill()
            .act(90.0, ActionSource::Exec, "agentctl jobs list")
            .then(
                150.0,
                Event::Note {
                    text: "cancelled the runaway job".to_string(),
                },
            )
            .act(200.0, ActionSource::Exec, "agentctl jobs list")
            .0;
        let card = score(&scenario, &timeline, false);
        let done: Vec<(Option<f64>, bool)> = card
            .procedure
            .iter()
            .map(|step| (step.done_at, step.in_order))
            .collect();
        assert_eq!(
            done,
            [(Some(90.0), true), (Some(150.0), true), (Some(200.0), true)]
        );
    }

    #[test]
    fn a_penalty_spares_an_action_after_its_unless_after_steps() {
        let mut scenario = scenario();
        scenario.penalties[0].unless_after = vec!["fix".to_string()];
        // The fix is at 200 s: a restart after it reclaims, one before it hides.
        let after_fix = perfect().act(230.0, ActionSource::Docker, "restart");
        assert_eq!(score(&scenario, &after_fix.0, false).penalties_matched, []);
        let before_and_after = perfect().act(100.0, ActionSource::Docker, "restart").act(
            230.0,
            ActionSource::Docker,
            "restart",
        );
        let card = score(&scenario, &before_and_after.0, false);
        assert_eq!(card.penalties_matched.len(), 1);
        assert_eq!(card.penalties_matched[0].at, 100.0);
        // Never fixed: every restart counts, the first one is the penalty.
        let unfixed = drill().act(230.0, ActionSource::Docker, "restart");
        assert_eq!(
            score(&scenario, &unfixed.0, false).penalties_matched[0].at,
            230.0
        );
    }

    #[test]
    fn each_broken_change_budget_limit_costs_15_once() {
        let exceeded = |metric: &str, value: f64| Event::ChangeBudgetExceeded {
            metric: metric.to_string(),
            value,
            limit: 2.0,
        };
        let ended = |metric: &str, worst: f64| Event::ChangeBudgetExcursionEnded {
            metric: metric.to_string(),
            worst,
            limit: 2.0,
        };
        let card = perfect()
            .then(100.0, exceeded("error rate %", 4.5))
            .then(130.0, ended("error rate %", 41.67))
            .then(150.0, exceeded("error rate %", 9.0))
            .then(160.0, exceeded("p95 s", 3.25))
            .score();
        assert_eq!(
            reasons(&card),
            [
                (
                    "the live traffic's error rate % passed the change budget (2) at +1m 40s \
                     and reached 41.7",
                    -15
                ),
                (
                    "the live traffic's p95 s passed the change budget (2) at +2m 40s and \
                     reached 3.2",
                    -15
                )
            ]
        );
        assert_eq!(card.total, 70);
    }

    #[test]
    fn each_hint_costs_5_unless_guided() {
        let hinted = perfect().hint(180.0, 0).hint(200.0, 0).hint(360.0, 1);
        let card = hinted.score();
        assert_eq!(reasons(&card), [("hint 1 shown", -5), ("hint 2 shown", -5)]);
        assert_eq!(card.total, 90);
        let guided = score(&scenario(), &hinted.0, true);
        assert_eq!(
            reasons(&guided),
            [
                ("hint 1 shown (guided: free)", 0),
                ("hint 2 shown (guided: free)", 0)
            ]
        );
        assert_eq!(guided.total, 100);
    }

    #[test]
    fn data_loss_costs_30_each_and_destroying_the_container_20_once() {
        let loss = |detail: &str| Event::DataLoss {
            detail: detail.to_string(),
        };
        let harmful = perfect()
            .then(100.0, loss("history database deleted"))
            .then(101.0, loss("history database deleted"))
            .then(150.0, Event::ContainerDestroyed)
            .then(160.0, Event::ContainerDestroyed);
        let card = harmful.score();
        assert_eq!(
            reasons(&card),
            [
                ("data loss: history database deleted", -30),
                (
                    "the agent container was destroyed at +2m 30s (this drill does not allow it)",
                    -20
                )
            ]
        );
        assert_eq!((card.total, card.grade), (50, 'F'));
        let mut allowing = scenario();
        allowing.resolution.allow_destroy = true;
        assert_eq!(score(&allowing, &harmful.0, false).total, 70);
    }

    #[test]
    fn deductions_are_listed_in_the_order_they_happened() {
        let card = perfect()
            .hint(300.0, 0)
            .act(100.0, ActionSource::Docker, "restart")
            .score();
        let order: Vec<i32> = card.deductions.iter().map(|d| d.points).collect();
        assert_eq!(order, [-10, -5]);
    }

    #[test]
    fn the_total_never_goes_below_zero() {
        let card = ["a", "b", "c", "d"]
            .iter()
            .fold(perfect(), |d, detail| {
                let detail = detail.to_string();
                d.then(100.0, Event::DataLoss { detail })
            })
            .score();
        assert_eq!((card.total, card.grade), (0, 'F'));
    }

    #[test]
    fn an_aborted_drill_scores_zero_with_one_reason() {
        let card = drill()
            .then(60.0, Event::Acknowledged)
            .act(100.0, ActionSource::Docker, "restart")
            .ended(120.0, Outcome::Aborted)
            .score();
        assert_eq!(card.total, 0);
        assert_eq!(
            reasons(&card),
            [("the drill was aborted: an aborted drill scores 0", -10)]
        );
        assert_eq!(
            component(&card, "acknowledge").points,
            10,
            "what was done is still shown"
        );
    }

    #[test]
    fn grades_have_their_documented_bounds() {
        let grades: Vec<char> = [100, 90, 89, 80, 79, 70, 69, 60, 59, 0]
            .into_iter()
            .map(grade)
            .collect();
        assert_eq!(grades, ['A', 'A', 'B', 'B', 'C', 'C', 'D', 'D', 'F', 'F']);
    }

    #[test]
    fn a_scorecard_round_trips_through_json() {
        let card = perfect().hint(100.0, 0).score();
        let json = serde_json::to_value(&card).unwrap();
        assert_eq!(json["grade"], "A");
        assert_eq!(json["outcome"], "resolved");
        assert_eq!(json["times"]["mitigate_s"], 210.0);
        let back: Scorecard = serde_json::from_value(json).unwrap();
        assert_eq!(back, card);
    }

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(elapsed(45.9), "45s");
        assert_eq!(elapsed(125.0), "2m 05s");
        assert_eq!(elapsed(3725.0), "1h 02m 05s");
        assert_eq!(offset(65.0), "+1m 05s");
        assert_eq!(offset(-30.0), "-30s");
        assert_eq!(target_time(Duration::from_secs(90)), "1m 30s");
        assert_eq!(fractional(20.0), "20");
        assert_eq!(fractional(10.0 / 3.0), "3.3");
    }
}
