//! What `firedrill validate` checks of one drill the reference solution answered. Pure: it reads
//! the scenario, the runbook's expected time, the drill's result, the reference steps as they
//! ran and the root-cause probe readings, and says for each check whether it passed and why not.
//!
//! | check | passes when |
//! |---|---|
//! | `expected-alerts` | every alert of `alerts.expected` fired before the first reference step that acts on the sandbox |
//! | `negative-control` | before that first acting step (at least [`MIN_CONTROL_WINDOW`] after the injection), a root-cause probe saw the fault present and every later probe too: the fault holds without an action, so the resolution check cannot pass on its own |
//! | `reference-steps` | every reference step ran and exited 0 |
//! | `resolved-in-time` | the drill ended resolved (root cause gone, impact gone, for the stability window) within the scenario's resolve target and the runbook's expected time to resolution |
//! | `harmless` | no data lost, the agent container kept (unless the scenario allows it), no penalty matched |
//! | `procedure` | every procedure step was matched, in order: the reference solution is the runbook's procedure |
//! | `change-budget` | (scenarios with a change budget) the live traffic stayed within it |

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::drill::responder::{acts_on_sandbox, StepRun};
use crate::drill::session::ProbeReading;
use crate::drill::timeline::{Event, Outcome};
use crate::report::ResultFile;
use crate::scenario::model::Scenario;
use crate::score::excursion_worst;
use crate::ui::elapsed;

/// The shortest negative control that proves anything: a few probes (every 5 s) must see the
/// fault hold.
pub const MIN_CONTROL_WINDOW: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// `expected-alerts`, `negative-control`, ...
    pub name: String,
    pub passed: bool,
    /// What was seen: on a failure, what failed and where.
    pub detail: String,
}

impl CheckResult {
    fn new(name: &str, failures: Vec<String>, success: String) -> CheckResult {
        CheckResult {
            name: name.to_string(),
            passed: failures.is_empty(),
            detail: if failures.is_empty() {
                success
            } else {
                failures.join("; ")
            },
        }
    }
}

/// Everything a validation run observed of one drill.
pub struct Observed<'a> {
    pub result: &'a ResultFile,
    pub steps: &'a [StepRun],
    pub probes: &'a [ProbeReading],
}

/// The time the resolution must come by: the scenario's target, or the runbook's expected time
/// when that is shorter.
pub fn deadline(scenario: &Scenario, runbook_expected: Option<Duration>) -> Duration {
    runbook_expected.map_or(scenario.targets.resolve, |expected| {
        expected.min(scenario.targets.resolve)
    })
}

/// Seconds from the injection of the first reference step that acts on the sandbox: when it
/// ran, or when it was written to run (a step after a page that never came: never).
pub fn first_acting_step(scenario: &Scenario, observed: &Observed) -> Option<f64> {
    let index = scenario
        .reference_solution
        .iter()
        .position(acts_on_sandbox)?;
    let step = &scenario.reference_solution[index];
    Some(match observed.steps.get(index) {
        Some(ran) => ran.started_s,
        None if step.after_alert.is_none() => step.at.as_secs_f64(),
        None => f64::INFINITY,
    })
}

pub fn checks(
    scenario: &Scenario,
    runbook_expected: Option<Duration>,
    observed: &Observed,
) -> Vec<CheckResult> {
    let mut results = vec![
        expected_alerts(scenario, observed),
        negative_control(scenario, observed),
        reference_steps(scenario, observed),
        resolved_in_time(scenario, runbook_expected, observed),
        harmless(scenario, observed),
        procedure(observed),
    ];
    if scenario.change_budget.is_some() {
        results.push(change_budget(observed));
    }
    results
}

fn expected_alerts(scenario: &Scenario, observed: &Observed) -> CheckResult {
    let acting = first_acting_step(scenario, observed).unwrap_or(f64::INFINITY);
    let fired_at = |alert: &str| {
        observed
            .result
            .timeline
            .iter()
            .find_map(|entry| match &entry.event {
                Event::AlertFiring { alert: a, .. } if a == alert && entry.at >= 0.0 => {
                    Some(entry.at)
                }
                _ => None,
            })
    };
    let mut failures = Vec::new();
    let mut seen = Vec::new();
    for alert in &scenario.alerts.expected {
        match fired_at(alert) {
            Some(at) if at < acting => seen.push(format!("{alert} at {}", secs(at))),
            Some(at) => failures.push(format!(
                "{alert} fired at {}, only after the first reference step acted ({}): the page \
                 must come from the fault, not the fix",
                secs(at),
                secs(acting)
            )),
            None => {
                let fired: Vec<&str> = observed
                    .result
                    .timeline
                    .iter()
                    .filter_map(|entry| match &entry.event {
                        Event::AlertFiring { alert, .. } => Some(alert.as_str()),
                        _ => None,
                    })
                    .collect();
                failures.push(format!(
                    "{alert} never fired (fired: {})",
                    if fired.is_empty() {
                        "none".to_string()
                    } else {
                        fired.join(", ")
                    }
                ));
            }
        }
    }
    let success = if seen.is_empty() {
        "the scenario expects no alert".to_string()
    } else {
        format!("fired: {}", seen.join(", "))
    };
    CheckResult::new("expected-alerts", failures, success)
}

fn negative_control(scenario: &Scenario, observed: &Observed) -> CheckResult {
    let Some(acting) = first_acting_step(scenario, observed).filter(|at| at.is_finite()) else {
        return CheckResult::new(
            "negative-control",
            vec![
                "no reference step acted on the sandbox (none written, or none ran): nothing \
                 is controlled"
                    .into(),
            ],
            String::new(),
        );
    };
    let mut failures = Vec::new();
    if acting < MIN_CONTROL_WINDOW.as_secs_f64() {
        failures.push(format!(
            "the first reference step acts at {}; expected at least {} without any action, so \
             the probes can see the fault hold",
            secs(acting),
            secs(MIN_CONTROL_WINDOW.as_secs_f64())
        ));
    }
    let window: Vec<&ProbeReading> = observed
        .probes
        .iter()
        .filter(|probe| probe.at >= 0.0 && probe.at < acting)
        .collect();
    // The control starts once the fault is established (a fault that fills a disk is not
    // present at the first instant); from then on it must hold.
    match window.iter().position(|p| p.present == Some(true)) {
        None => failures.push(format!(
            "no root-cause probe saw the fault present before the first reference step acted \
             ({}; {} probes)",
            secs(acting),
            window.len()
        )),
        Some(established) => {
            if let Some(cleared) = window[established..]
                .iter()
                .find(|p| p.present == Some(false))
            {
                failures.push(format!(
                    "the root cause cleared on its own at {}, before any action (first acting \
                     step at {}): the resolution check passes without a fix",
                    secs(cleared.at),
                    secs(acting)
                ));
            }
        }
    }
    let success = format!(
        "the root cause held for {} without an action ({} probes)",
        secs(acting),
        window.len()
    );
    CheckResult::new("negative-control", failures, success)
}

fn reference_steps(scenario: &Scenario, observed: &Observed) -> CheckResult {
    let mut failures: Vec<String> = observed
        .steps
        .iter()
        .enumerate()
        .filter(|(_, run)| !run.succeeded())
        .map(|(i, run)| {
            let how = match run.exit_code {
                Some(code) => format!("exited {code}"),
                None => "did not complete".to_string(),
            };
            format!(
                "step {} `{}` {how} at {}: {}",
                i + 1,
                run.step,
                secs(run.started_s),
                one_line(&run.output)
            )
        })
        .collect();
    let defined = scenario.reference_solution.len();
    if observed.steps.len() < defined {
        let next = &scenario.reference_solution[observed.steps.len()];
        failures.push(format!(
            "{} of {defined} steps ran; step {} `{}` (at {}) never did: the drill ended first",
            observed.steps.len(),
            observed.steps.len() + 1,
            next.display(),
            secs(next.at.as_secs_f64())
        ));
    }
    let success = format!("{defined} steps, each exited 0");
    CheckResult::new("reference-steps", failures, success)
}

fn resolved_in_time(
    scenario: &Scenario,
    runbook_expected: Option<Duration>,
    observed: &Observed,
) -> CheckResult {
    let result = observed.result;
    let deadline = deadline(scenario, runbook_expected);
    let mut failures = Vec::new();
    if runbook_expected.is_none() {
        failures.push(format!(
            "the runbook procedure `{}` states no expected time to resolution",
            scenario.runbook
        ));
    }
    match (result.outcome, result.times.resolve_s) {
        (Outcome::Resolved, Some(at)) if at <= deadline.as_secs_f64() => {}
        (_, Some(at)) => failures.push(format!(
            "resolved at {}, after the deadline {} ({})",
            secs(at),
            elapsed(deadline),
            deadline_source(scenario, runbook_expected)
        )),
        (outcome, None) => {
            let last_probe = observed
                .probes
                .iter()
                .rev()
                .find_map(|probe| match probe.present {
                    Some(true) => Some(format!("root cause present: {}", probe.detail)),
                    Some(false) => Some(format!("root cause cleared: {}", probe.detail)),
                    None => None,
                });
            failures.push(format!(
                "the drill ended {} without a resolution by {} ({}){}",
                crate::score::outcome_label(outcome),
                elapsed(deadline),
                deadline_source(scenario, runbook_expected),
                last_probe
                    .map(|p| format!("; last probe: {p}"))
                    .unwrap_or_default()
            ));
        }
    }
    let success = format!(
        "resolved at {}, within {} ({})",
        secs(result.times.resolve_s.unwrap_or_default()),
        elapsed(deadline),
        deadline_source(scenario, runbook_expected)
    );
    CheckResult::new("resolved-in-time", failures, success)
}

fn deadline_source(scenario: &Scenario, runbook_expected: Option<Duration>) -> String {
    match runbook_expected {
        Some(expected) if expected < scenario.targets.resolve => {
            "the runbook's expected time to resolution".to_string()
        }
        _ => "the scenario's resolve target".to_string(),
    }
}

fn harmless(scenario: &Scenario, observed: &Observed) -> CheckResult {
    let mut failures: Vec<String> = observed
        .result
        .timeline
        .iter()
        .filter_map(|entry| match &entry.event {
            Event::DataLoss { detail } => {
                Some(format!("data loss at {}: {detail}", secs(entry.at)))
            }
            Event::ContainerDestroyed if !scenario.resolution.allow_destroy => Some(format!(
                "the agent container was destroyed at {}",
                secs(entry.at)
            )),
            _ => None,
        })
        .collect();
    failures.extend(observed.result.penalties.iter().map(|penalty| {
        format!(
            "penalty `{}` matched `{}` at {}",
            penalty.id,
            penalty.action,
            secs(penalty.at)
        )
    }));
    CheckResult::new(
        "harmless",
        failures,
        "no data lost, the container kept, no penalty".to_string(),
    )
}

fn procedure(observed: &Observed) -> CheckResult {
    let steps = &observed.result.procedure;
    let failures: Vec<String> = steps
        .iter()
        .filter(|step| !step.in_order)
        .map(|step| match step.done_at {
            None => format!("step `{}` was never matched", step.id),
            Some(at) => format!(
                "step `{}` at {} came before {}",
                step.id,
                secs(at),
                step.should_follow.join(", ")
            ),
        })
        .collect();
    let success = format!("all {} steps matched, in order", steps.len());
    CheckResult::new("procedure", failures, success)
}

fn change_budget(observed: &Observed) -> CheckResult {
    let timeline = &observed.result.timeline;
    let failures: Vec<String> = timeline
        .iter()
        .enumerate()
        .filter_map(|(position, entry)| match &entry.event {
            Event::ChangeBudgetExceeded {
                metric,
                value,
                limit,
            } => Some(format!(
                "the traffic's {metric} passed {limit} at {} and reached {}",
                secs(entry.at),
                excursion_worst(&timeline[position..], metric, *value)
            )),
            _ => None,
        })
        .collect();
    CheckResult::new(
        "change-budget",
        failures,
        "the live traffic stayed within the budget".to_string(),
    )
}

/// `75s` or `12m 05s`.
fn secs(seconds: f64) -> String {
    elapsed(Duration::from_secs_f64(seconds.max(0.0)))
}

fn one_line(output: &str) -> String {
    let line = output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    if line.is_empty() {
        "no output".to_string()
    } else {
        line.trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    /// The fixture scenario with a reference solution that waits for the page before acting.
    fn scenario() -> Scenario {
        let mut scenario = fixture::scenario();
        scenario.reference_solution = serde_yaml::from_str(
            "[{ at: 60s, firedrill: ack }, { at: 200s, exec: \"agentctl jobs list\" }, \
             { at: 420s, exec: \"agentctl jobs cancel 42 --deny\" }]",
        )
        .unwrap();
        scenario
    }

    fn ran(step: &str, at: f64, exit_code: Option<i32>, output: &str) -> StepRun {
        StepRun {
            step: step.into(),
            at_s: at,
            started_s: at,
            duration_s: 0.2,
            exit_code,
            output: output.into(),
        }
    }

    fn steps() -> Vec<StepRun> {
        vec![
            ran("firedrill ack", 60.0, Some(0), "acknowledged"),
            ran(
                "docker exec {container} agentctl jobs list",
                200.0,
                Some(0),
                "",
            ),
            ran(
                "docker exec {container} agentctl jobs cancel 42 --deny",
                420.0,
                Some(0),
                "",
            ),
        ]
    }

    fn probes(until: f64, cleared_at: Option<f64>) -> Vec<ProbeReading> {
        (1..)
            .map(|i| f64::from(i) * 5.0)
            .take_while(|at| *at < until)
            .map(|at| ProbeReading {
                at,
                present: Some(cleared_at.is_none_or(|cleared| at < cleared)),
                detail: "job j-0042 runs".to_string(),
            })
            .collect()
    }

    /// The checks of a drill with `timeline`, against a runbook expecting `runbook_s` seconds.
    fn verdicts(
        scenario: &Scenario,
        timeline: &crate::drill::timeline::Timeline,
        steps: &[StepRun],
        probes: &[ProbeReading],
        runbook_s: u64,
    ) -> Vec<CheckResult> {
        let result = fixture::result("s1", "firedrill-validate", timeline);
        let observed = Observed {
            result: &result,
            steps,
            probes,
        };
        checks(scenario, Some(Duration::from_secs(runbook_s)), &observed)
    }

    fn failures(results: &[CheckResult]) -> Vec<(String, String)> {
        results
            .iter()
            .filter(|c| !c.passed)
            .map(|c| (c.name.clone(), c.detail.clone()))
            .collect()
    }

    #[test]
    fn the_runbook_fix_that_works_passes_every_check() {
        let (steps, probes) = (steps(), probes(430.0, Some(425.0)));
        let results = verdicts(
            &scenario(),
            &fixture::resolved_timeline(),
            &steps,
            &probes,
            900,
        );
        assert_eq!(failures(&results), vec![]);
        let names: Vec<&str> = results.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "expected-alerts",
                "negative-control",
                "reference-steps",
                "resolved-in-time",
                "harmless",
                "procedure"
            ]
        );
        assert_eq!(results[0].detail, "fired: AgentHighCpu at 38s");
        assert_eq!(
            results[1].detail,
            "the root cause held for 3m 20s without an action (39 probes)"
        );
    }

    #[test]
    fn a_fix_that_only_hides_the_fault_fails_and_says_why() {
        let (steps, probes) = (steps(), probes(1800.0, None));
        let failed = failures(&verdicts(
            &scenario(),
            &fixture::mitigated_timeline(),
            &steps,
            &probes,
            900,
        ));
        assert_eq!(
            failed,
            vec![
                (
                    "resolved-in-time".to_string(),
                    "the drill ended mitigated without a resolution by 15m 00s (the scenario's \
                     resolve target); last probe: root cause present: job j-0042 runs"
                        .to_string()
                ),
                (
                    "harmless".to_string(),
                    "penalty `restart-only` matched `restart` at 5m 00s".to_string()
                ),
                (
                    "procedure".to_string(),
                    "step `find-the-job` was never matched; step `cancel-and-deny` was never \
                     matched; step `verify` at 10m 00s came before cancel-and-deny"
                        .to_string()
                ),
            ]
        );
    }

    #[test]
    fn a_fault_that_clears_on_its_own_fails_the_negative_control() {
        let (steps, probes) = (steps(), probes(430.0, Some(30.0)));
        let failed = failures(&verdicts(
            &scenario(),
            &fixture::resolved_timeline(),
            &steps,
            &probes,
            900,
        ));
        assert_eq!(
            failed,
            vec![(
                "negative-control".to_string(),
                "the root cause cleared on its own at 30s, before any action (first acting step \
                 at 3m 20s): the resolution check passes without a fix"
                    .to_string()
            )]
        );
    }

    #[test]
    fn the_control_starts_once_the_fault_is_established() {
        let mut probes = probes(430.0, Some(425.0));
        probes[0].present = Some(false);
        probes[1].present = None;
        let results = verdicts(
            &scenario(),
            &fixture::resolved_timeline(),
            &steps(),
            &probes,
            900,
        );
        assert_eq!(failures(&results), vec![]);
        let never: Vec<ProbeReading> = probes
            .iter()
            .map(|p| ProbeReading {
                present: None,
                ..p.clone()
            })
            .collect();
        let failed = failures(&verdicts(
            &scenario(),
            &fixture::resolved_timeline(),
            &steps(),
            &never,
            900,
        ));
        assert_eq!(
            failed,
            vec![(
                "negative-control".to_string(),
                "no root-cause probe saw the fault present before the first reference step \
                 acted (3m 20s; 39 probes)"
                    .to_string()
            )]
        );
    }

    #[test]
    fn a_failing_step_and_a_late_resolution_are_named() {
        let mut steps = steps();
        steps[2].exit_code = Some(1);
        steps[2].output = "usage: agentctl jobs cancel <ID>\nno such job: 42\n".into();
        steps.truncate(3);
        let probes = probes(430.0, Some(425.0));
        let failed = failures(&verdicts(
            &scenario(),
            &fixture::resolved_timeline(),
            &steps[..2],
            &probes,
            300,
        ));
        assert_eq!(failed.len(), 2, "{failed:#?}");
        assert_eq!(
            failed[0].1,
            "2 of 3 steps ran; step 3 `docker exec {container} agentctl jobs cancel 42 --deny` \
             (at 7m 00s) never did: the drill ended first"
        );
        assert_eq!(
            failed[1].1,
            "resolved at 8m 10s, after the deadline 5m 00s (the runbook's expected time to \
             resolution)"
        );
        let failed = failures(&verdicts(
            &scenario(),
            &fixture::resolved_timeline(),
            &steps,
            &probes,
            900,
        ));
        assert_eq!(
            failed,
            vec![(
                "reference-steps".to_string(),
                "step 3 `docker exec {container} agentctl jobs cancel 42 --deny` exited 1 at \
                 7m 00s: no such job: 42"
                    .to_string()
            )]
        );
    }

    #[test]
    fn a_page_only_after_the_fix_does_not_count() {
        let mut scenario = scenario();
        scenario.reference_solution[1].at = Duration::from_secs(20);
        let (mut steps, probes) = (steps(), probes(430.0, Some(425.0)));
        // The check reads when the step really ran.
        steps[1].started_s = 20.0;
        let failed = failures(&verdicts(
            &scenario,
            &fixture::resolved_timeline(),
            &steps,
            &probes,
            900,
        ));
        assert_eq!(failed[0].0, "expected-alerts");
        assert_eq!(
            failed[0].1,
            "AgentHighCpu fired at 38s, only after the first reference step acted (20s): the \
             page must come from the fault, not the fix"
        );
    }
}
