//! `firedrill validate` against the real engine: every shipped scenario's reference solution
//! fixes its fault (all checks pass, JSON and JUnit agree), a deliberately wrong reference
//! solution fails with the checks that caught it named, and bad input exits 2 before any drill
//! starts. Nothing is left behind.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// `firedrill validate <args>` with JSON and JUnit reports in a fresh folder.
struct Validation {
    output: std::process::Output,
    json: Value,
    junit: String,
    _dir: tempfile::TempDir,
}

fn validate(args: &[&str], timeout: Duration) -> Validation {
    let dir = tempfile::tempdir().unwrap();
    let (json, junit) = (dir.path().join("report.json"), dir.path().join("junit.xml"));
    let output = firedrill()
        .arg("validate")
        .args(args)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .arg("--results")
        .arg(dir.path().join("results"))
        .timeout(timeout)
        .output()
        .unwrap();
    let read = |path: &Path| {
        std::fs::read_to_string(path).unwrap_or_else(|error| {
            panic!(
                "{} was not written ({error})\nstdout:\n{}\nstderr:\n{}",
                path.display(),
                stdout(&output),
                stderr(&output)
            )
        })
    };
    Validation {
        json: serde_json::from_str(&read(&json)).expect("the JSON report parses"),
        junit: read(&junit),
        output,
        _dir: dir,
    }
}

/// The check called `name` of one scenario of a JSON report.
fn check(scenario: &Value, name: &str) -> Value {
    scenario["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {scenario}"))
        .clone()
}

fn scenario_files() -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir("scenarios")
        .unwrap()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "yaml").then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    ids.sort();
    ids
}

fn assert_nothing_left_behind(report: &Value) {
    for scenario in report["scenarios"].as_array().unwrap() {
        if let Some(session) = scenario["session"].as_str() {
            assert_eq!(leftovers_of(session), Vec::<String>::new(), "{session}");
        }
    }
}

#[test]
fn every_shipped_scenario_passes_validation() {
    require_docker!();
    let run = validate(&[], Duration::from_secs(45 * 60));
    let report = &run.json;
    let failed: Vec<String> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["passed"] != true)
        .map(|s| {
            let checks: Vec<String> = s["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["passed"] != true)
                .map(|c| format!("{}: {}", c["name"], c["detail"]))
                .collect();
            format!("{} {} {}", s["scenario"], s["error"], checks.join(" | "))
        })
        .collect();
    assert!(
        failed.is_empty(),
        "failed validation:\n{}",
        failed.join("\n")
    );
    assert!(run.output.status.success(), "{}", stderr(&run.output));
    assert_eq!(report["schema"], "firedrill.validation/v1");
    assert_eq!(report["passed"], true);
    let validated: Vec<&str> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(validated, scenario_files(), "every scenario file, in order");
    for scenario in report["scenarios"].as_array().unwrap() {
        let names: Vec<&str> = scenario["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        for expected in [
            "expected-alerts",
            "negative-control",
            "reference-steps",
            "resolved-in-time",
            "harmless",
            "procedure",
        ] {
            assert!(
                names.contains(&expected),
                "{}: {names:?}",
                scenario["scenario"]
            );
        }
        assert!(
            scenario["resolve_s"].as_f64().unwrap() <= scenario["deadline_s"].as_f64().unwrap()
        );
    }
    assert!(run
        .junit
        .contains(&format!("tests=\"{}\"", count_checks(report))));
    assert!(run.junit.contains("failures=\"0\""));
    assert_nothing_left_behind(report);
}

fn count_checks(report: &Value) -> usize {
    report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["checks"].as_array().unwrap().len())
        .sum()
}

#[test]
fn a_wrong_reference_solution_fails_naming_the_checks_that_caught_it() {
    require_docker!();
    let run = validate(
        &["tests/fixtures/validate/restart-instead-of-renew.yaml"],
        Duration::from_secs(10 * 60),
    );
    assert_eq!(run.output.status.code(), Some(1), "{}", stderr(&run.output));
    let scenario = &run.json["scenarios"][0];
    assert_eq!(scenario["passed"], false);
    let verdict = |name: &str| check(scenario, name);
    // The fault is real and pages; the steps ran; only the fix is wrong.
    for passing in [
        "expected-alerts",
        "negative-control",
        "reference-steps",
        "harmless",
    ] {
        assert_eq!(
            verdict(passing)["passed"],
            true,
            "{passing}: {}",
            verdict(passing)
        );
    }
    let resolution = verdict("resolved-in-time");
    assert_eq!(resolution["passed"], false);
    let detail = resolution["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("the drill ended timed out without a resolution by 1m 30s"),
        "{detail}"
    );
    assert!(detail.contains("root cause present"), "{detail}");
    let procedure = verdict("procedure");
    assert_eq!(procedure["passed"], false);
    assert_eq!(procedure["detail"], "step `renew` was never matched");
    let summary = stdout(&run.output);
    assert!(
        summary.contains("FAIL restart-instead-of-renew (certificate-renewal)"),
        "{summary}"
    );
    assert!(
        summary.contains("  resolved-in-time: the drill ended timed out"),
        "{summary}"
    );
    assert!(
        summary.contains("0 of 1 scenarios passed validation"),
        "{summary}"
    );
    assert!(run
        .junit
        .contains("<testcase name=\"resolved-in-time\" classname=\"restart-instead-of-renew\">"));
    assert!(run
        .junit
        .contains("<failure message=\"the drill ended timed out"));
    assert_nothing_left_behind(&run.json);
}

#[test]
fn a_change_applied_by_stopping_the_agent_fails_on_what_the_traffic_paid() {
    require_docker!();
    let run = validate(
        &["tests/fixtures/validate/stop-to-apply-config.yaml"],
        Duration::from_secs(10 * 60),
    );
    assert_eq!(run.output.status.code(), Some(1), "{}", stderr(&run.output));
    let scenario = &run.json["scenarios"][0];
    let verdict = |name: &str| check(scenario, name);
    // The change does end up in effect: only how it got there is wrong.
    for passing in ["negative-control", "reference-steps", "resolved-in-time"] {
        assert_eq!(verdict(passing)["passed"], true, "{}", verdict(passing));
    }
    let budget = verdict("change-budget");
    assert_eq!(budget["passed"], false, "{budget}");
    // Where it crossed, and what the stop cost at worst: seconds of refused connections are
    // far more than the one request that crossed 1 %.
    let detail = budget["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("the traffic's error rate % passed 1 at"),
        "{budget}"
    );
    let first = detail.split("; ").next().unwrap();
    let worst: f64 = first
        .rsplit(" reached ")
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no worst value in: {detail}"));
    assert!(worst >= 5.0, "{detail}");
    let harmless = verdict("harmless");
    assert_eq!(harmless["passed"], false, "{harmless}");
    assert!(
        harmless["detail"]
            .as_str()
            .unwrap()
            .contains("penalty `restart-to-apply`"),
        "{harmless}"
    );
    assert_eq!(
        verdict("procedure")["detail"],
        "step `validate` was never matched; step `reload` was never matched"
    );
    assert!(
        stdout(&run.output).contains("FAIL stop-to-apply-config (configuration-changes)"),
        "{}",
        stdout(&run.output)
    );
    assert_nothing_left_behind(&run.json);
}

#[test]
fn bad_input_exits_2_before_any_drill() {
    let unknown = firedrill()
        .args(["validate", "no-such-scenario"])
        .output()
        .unwrap();
    assert_refused(&unknown, "no-such-scenario");
    let broken = firedrill()
        .args(["validate", "tests/fixtures/scenarios/unknown-field.yaml"])
        .output()
        .unwrap();
    assert_refused(&broken, "tests/fixtures/scenarios/unknown-field.yaml:");
    let zero = firedrill()
        .args(["validate", "--parallel", "0", "high-cpu-usage"])
        .output()
        .unwrap();
    assert_eq!(zero.status.code(), Some(2));
}
