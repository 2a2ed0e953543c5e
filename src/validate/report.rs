//! How a validation run is reported: the JSON file (`firedrill.validation/v1`), JUnit XML (a
//! suite per scenario, a test case per check, so CI shows `scenario › check`), and the summary
//! printed at the end. Pure.

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};

use super::checks::CheckResult;
use crate::drill::responder::StepRun;
use crate::ui::elapsed;

pub const SCHEMA: &str = "firedrill.validation/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Whether every scenario passed every check.
    pub passed: bool,
    pub duration_s: f64,
    pub scenarios: Vec<ScenarioValidation>,
}

/// One scenario's validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioValidation {
    pub scenario: String,
    pub runbook: String,
    pub path: String,
    pub passed: bool,
    pub duration_s: f64,
    /// The drill's session and result file (for its timeline), when it ran.
    pub session: Option<String>,
    pub result_file: Option<String>,
    /// Why the drill could not run at all (the engine, the image...); the checks are then empty.
    pub error: Option<String>,
    /// When the resolution had to come by, in seconds from the injection.
    pub deadline_s: f64,
    pub resolve_s: Option<f64>,
    pub checks: Vec<CheckResult>,
    pub steps: Vec<StepRun>,
}

impl ValidationReport {
    pub fn new(scenarios: Vec<ScenarioValidation>, duration: Duration) -> ValidationReport {
        ValidationReport {
            schema: SCHEMA.to_string(),
            passed: scenarios.iter().all(|s| s.passed),
            duration_s: (duration.as_secs_f64() * 10.0).round() / 10.0,
            scenarios,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serialises")
    }

    pub fn to_junit(&self) -> String {
        let mut report = quick_junit::Report::new("firedrill validate");
        report.set_time(Duration::from_secs_f64(self.duration_s));
        for scenario in &self.scenarios {
            let mut suite = TestSuite::new(scenario.scenario.as_str());
            suite.set_time(Duration::from_secs_f64(scenario.duration_s));
            suite.add_property(("runbook", scenario.runbook.as_str()));
            suite.add_property(("path", scenario.path.as_str()));
            if let Some(session) = &scenario.session {
                suite.add_property(("session", session.as_str()));
            }
            if let Some(error) = &scenario.error {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message(error.as_str());
                let mut case = TestCase::new("drill", status);
                case.set_classname(scenario.scenario.as_str());
                suite.add_test_case(case);
            }
            for check in &scenario.checks {
                let status = if check.passed {
                    TestCaseStatus::success()
                } else {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status.set_message(check.detail.as_str());
                    status
                };
                let mut case = TestCase::new(check.name.as_str(), status);
                case.set_classname(scenario.scenario.as_str());
                if check.passed {
                    case.set_system_out(check.detail.as_str());
                }
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        report.to_string().expect("the JUnit report serialises")
    }

    /// The lines printed at the end: per scenario a verdict, and each failed check's detail.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for scenario in &self.scenarios {
            let verdict = if scenario.passed { "PASS" } else { "FAIL" };
            let resolved = scenario
                .resolve_s
                .map(|at| format!("resolved at {}", elapsed(Duration::from_secs_f64(at))))
                .unwrap_or_else(|| "not resolved".to_string());
            let _ = writeln!(
                out,
                "{verdict} {} ({}): {resolved}, deadline {}, took {}",
                scenario.scenario,
                scenario.runbook,
                elapsed(Duration::from_secs_f64(scenario.deadline_s)),
                elapsed(Duration::from_secs_f64(scenario.duration_s))
            );
            if let Some(error) = &scenario.error {
                let _ = writeln!(out, "  drill: {error}");
            }
            for check in scenario.checks.iter().filter(|c| !c.passed) {
                let _ = writeln!(out, "  {}: {}", check.name, check.detail);
            }
        }
        let failed = self.scenarios.iter().filter(|s| !s.passed).count();
        let _ = writeln!(
            out,
            "{} of {} scenarios passed validation in {}",
            self.scenarios.len() - failed,
            self.scenarios.len(),
            elapsed(Duration::from_secs_f64(self.duration_s))
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, passed: bool, detail: &str) -> CheckResult {
        CheckResult {
            name: name.into(),
            passed,
            detail: detail.into(),
        }
    }

    fn report() -> ValidationReport {
        let passing = ScenarioValidation {
            scenario: "high-cpu-usage".into(),
            runbook: "high-cpu-usage".into(),
            path: "scenarios/high-cpu-usage.yaml".into(),
            passed: true,
            duration_s: 190.0,
            session: Some("drill-a1b2c3".into()),
            result_file: Some("firedrill-results/drill-a1b2c3.json".into()),
            error: None,
            deadline_s: 900.0,
            resolve_s: Some(148.2),
            checks: vec![
                check("expected-alerts", true, "fired: AgentHighCpu at 41s"),
                check(
                    "negative-control",
                    true,
                    "the root cause held for 1m 03s without an action (12 probes)",
                ),
            ],
            steps: Vec::new(),
        };
        let failing = ScenarioValidation {
            scenario: "wrong-fix".into(),
            runbook: "memory-leaks".into(),
            path: "tests/fixtures/validate/wrong-fix.yaml".into(),
            passed: false,
            duration_s: 250.0,
            session: Some("drill-d4e5f6".into()),
            result_file: None,
            error: None,
            deadline_s: 240.0,
            resolve_s: None,
            checks: vec![
                check("reference-steps", true, "3 steps, each exited 0"),
                check(
                    "resolved-in-time",
                    false,
                    "the drill ended timed out without a resolution by 4m 00s (the scenario's resolve target) <&>",
                ),
            ],
            steps: Vec::new(),
        };
        ValidationReport::new(vec![passing, failing], Duration::from_secs(260))
    }

    #[test]
    fn the_summary_names_each_failed_check() {
        insta::assert_snapshot!(report().summary());
    }

    #[test]
    fn junit_has_a_suite_per_scenario_and_a_case_per_check() {
        insta::assert_snapshot!(report().to_junit());
    }

    #[test]
    fn the_json_report_round_trips() {
        let report = report();
        assert!(!report.passed);
        let back: ValidationReport = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(back, report);
        assert_eq!(back.schema, SCHEMA);
    }
}
