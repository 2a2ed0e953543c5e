//! `firedrill check` and `firedrill list` through the real binary: the shipped scenarios are
//! valid, and each kind of mistake in a scenario file gets its exact `path:line:col: message`
//! line and exit code 2. No Docker engine needed.

use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

const FIXTURES: &str = "tests/fixtures/scenarios";
/// The line `check` ends with when the shipped runbook folder holds every procedure.
const RUNBOOKS_OK: &str = "ok   runbooks scenarios/runbooks: 16 procedures\n";

/// The binary under test, run from the package root (so `scenarios/` is the shipped folder).
fn firedrill() -> Command {
    let mut command = Command::cargo_bin("firedrill").expect("the firedrill binary is built");
    command
        .env_remove("FIREDRILL_LOG")
        .env_remove("FIREDRILL_SCENARIOS")
        .env_remove("FIREDRILL_RUNBOOKS");
    command
}

fn run(command: &mut Command) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("firedrill runs");
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// `firedrill check` of fixture `name` prints exactly one problem, `line:col: message`, and
/// fails as bad input.
fn assert_mistake(name: &str, place_and_message: &str) {
    let path = format!("{FIXTURES}/{name}.yaml");
    let (code, stdout, stderr) = run(firedrill().args(["check", &path]));
    assert_eq!(stdout, format!("{path}:{place_and_message}\n{RUNBOOKS_OK}"));
    assert_eq!(
        stderr,
        "firedrill: error: 1 of 1 scenario files invalid (each problem is listed above)\n"
    );
    assert_eq!(code, Some(2));
}

#[test]
fn every_shipped_scenario_checks_ok() {
    let (code, stdout, stderr) = run(firedrill().arg("check"));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.lines().all(|line| line.starts_with("ok   ")),
        "{stdout}"
    );
    for line in [
        "ok   scenarios/high-cpu-usage.yaml  high-cpu-usage (high-cpu-usage)",
        "ok   scenarios/memory-leaks.yaml  memory-leaks (memory-leaks)",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line} in:\n{stdout}");
    }
    assert_eq!(stderr, "");
}

#[test]
fn a_scenario_is_named_by_id_or_path() {
    let (code, stdout, _) =
        run(firedrill().args(["check", "memory-leaks", "scenarios/high-cpu-usage.yaml"]));
    assert_eq!(code, Some(0));
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    assert_eq!(
        stdout,
        format!(
            "ok   scenarios/memory-leaks.yaml  memory-leaks (memory-leaks)\n\
             ok   scenarios/high-cpu-usage.yaml  high-cpu-usage (high-cpu-usage)\n{RUNBOOKS_OK}"
        )
    );
    // Elsewhere, ids are looked up in the folder this build came from.
    let (code, stdout, _) = run(firedrill()
        .current_dir(std::env::temp_dir())
        .args(["check", "memory-leaks"]));
    assert_eq!(code, Some(0));
    assert_eq!(
        stdout,
        format!(
            "ok   {folder}/memory-leaks.yaml  memory-leaks (memory-leaks)\n\
             ok   runbooks {folder}/runbooks: 16 procedures\n"
        )
    );
}

#[test]
fn an_unknown_id_is_refused_with_the_known_ones() {
    let (code, stdout, stderr) = run(firedrill().args(["check", "no-such-scenario"]));
    assert_eq!(code, Some(2));
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with(
            "firedrill: error: unknown scenario 'no-such-scenario': not a file, nor an id in \
             scenarios; known ids: "
        ),
        "{stderr}"
    );
    assert!(stderr.contains("high-cpu-usage"), "{stderr}");
    assert!(stderr.contains("memory-leaks"), "{stderr}");
}

#[test]
fn a_folder_of_broken_scenarios_reports_every_file() {
    let files = std::fs::read_dir(FIXTURES).unwrap().count();
    let (code, stdout, stderr) = run(firedrill()
        .env("FIREDRILL_SCENARIOS", FIXTURES)
        .env("FIREDRILL_RUNBOOKS", "scenarios/runbooks")
        .arg("check"));
    assert_eq!(code, Some(2));
    // A problem line per file, then the 16 runbooks none of them drills.
    assert_eq!(stdout.lines().count(), files + 16, "{stdout}");
    assert_eq!(
        stderr,
        format!(
            "firedrill: error: {files} of {files} scenario files invalid (each problem is listed \
             above)\n"
        )
    );
}

/// A copy of the shipped runbook folder, edited by `edit(file name, text)`.
fn runbooks_copy(edit: impl Fn(&str, String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir("scenarios/runbooks").unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(dir.path().join(&name), edit(&name, text)).unwrap();
    }
    dir
}

#[test]
fn a_runbook_procedure_a_scenario_names_must_exist() {
    let runbooks = runbooks_copy(|name, text| match name {
        "incident-response.md" => text.replace("## High CPU usage", "## High CPU"),
        _ => text,
    });
    let folder = runbooks.path().display().to_string();
    let (code, stdout, stderr) = run(firedrill()
        .env("FIREDRILL_RUNBOOKS", runbooks.path())
        .args(["check", "high-cpu-usage"]));
    assert_eq!(code, Some(2), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "scenarios/high-cpu-usage.yaml:3:10: runbook `high-cpu-usage` has no procedure \
                 in {folder}/incident-response.md; expected a `## ` heading whose anchor is \
                 `high-cpu-usage` there"
            ),
            format!(
                "{folder}/incident-response.md: no procedure `high-cpu-usage`; expected a `## ` \
                 heading whose anchor is `high-cpu-usage` (e.g. `## High cpu usage`)"
            ),
        ]
    );
    assert_eq!(
        stderr,
        "firedrill: error: 1 of 1 scenario files invalid (each problem is listed above)\n"
    );
}

#[test]
fn every_procedure_needs_its_six_parts_and_an_expected_time() {
    let runbooks = runbooks_copy(|name, text| match name {
        "maintenance.md" => text
            .replacen("### Prevention", "### Afterwards", 1)
            .replacen("**Expected time to resolution:**", "Takes about", 1),
        _ => text,
    });
    let (code, stdout, stderr) = run(firedrill()
        .env("FIREDRILL_RUNBOOKS", runbooks.path())
        .args(["check", "high-cpu-usage"]));
    assert_eq!(code, Some(2), "{stdout}");
    let problems: Vec<&str> = stdout.lines().skip(1).collect();
    let at = format!("{}/maintenance.md:", runbooks.path().display());
    assert_eq!(problems.len(), 2, "{stdout}");
    assert!(problems.iter().all(|p| p.starts_with(&at)), "{stdout}");
    assert!(
        problems[0].ends_with(
            ": procedure `dependency-updates` has the parts [Overview, Detection, Initial \
             Response, Investigation, Resolution, Afterwards]; expected [Overview, Detection, \
             Initial Response, Investigation, Resolution, Prevention]"
        ),
        "{stdout}"
    );
    assert!(
        problems[1].ends_with(
            ": procedure `dependency-updates` states no expected time to resolution; expected \
             a line `**Expected time to resolution:** 15 minutes` in its Overview"
        ),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        "firedrill: error: 2 problem(s) with the runbooks (each is listed above)\n"
    );
}

#[test]
fn checking_the_folder_needs_a_scenario_for_every_runbook() {
    let scenarios = tempfile::tempdir().unwrap();
    std::fs::copy(
        "scenarios/high-cpu-usage.yaml",
        scenarios.path().join("high-cpu-usage.yaml"),
    )
    .unwrap();
    let (code, stdout, stderr) = run(firedrill()
        .env("FIREDRILL_SCENARIOS", scenarios.path())
        .env("FIREDRILL_RUNBOOKS", "scenarios/runbooks")
        .arg("check"));
    assert_eq!(code, Some(2), "{stdout}");
    let uncovered: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains(": no scenario drills runbook `"))
        .collect();
    assert_eq!(uncovered.len(), 15, "{stdout}");
    assert_eq!(
        uncovered[0],
        format!(
            "{}: no scenario drills runbook `memory-leaks` \
             (runbooks/incident-response.md#memory-leaks); expected at least one",
            scenarios.path().display()
        )
    );
    assert_eq!(
        stderr,
        "firedrill: error: 15 problem(s) with the runbooks (each is listed above)\n"
    );
}

#[test]
fn yaml_syntax_error() {
    assert_mistake(
        "bad-syntax",
        "12:10: did not find expected ',' or ']', while parsing a flow sequence at line 11 \
         column 13",
    );
}

#[test]
fn unknown_field() {
    assert_mistake(
        "unknown-field",
        "14:1: unknown field `procedur`, expected one of `id`, `title`, `runbook`, `difficulty`, \
         `briefing`, `sandbox`, `faults`, `alerts`, `diagnosis`, `resolution`, `procedure`, \
         `penalties`, `hints`, `targets`, `change_budget`, `time_limit`, `reference_solution`",
    );
}

#[test]
fn wrong_type() {
    assert_mistake(
        "wrong-type",
        "23:13: procedure[1].weight: invalid type: string \"heavy\", expected u32",
    );
}

#[test]
fn unknown_runbook_id() {
    assert_mistake(
        "unknown-runbook",
        "4:10: unknown runbook `high-cpu`; expected one of: high-cpu-usage, memory-leaks, \
         security-scanner-failures, service-unavailable, dependency-updates, security-patches, \
         database-cleanup, certificate-renewal, alert-triage, performance-degradation, \
         capacity-planning, metric-validation, rolling-updates, rollback, configuration-changes, \
         scaling",
    );
}

#[test]
fn unknown_fault_kind() {
    assert_mistake(
        "unknown-fault-kind",
        "8:11: unknown fault kind `cpu-burnn`; expected one of: cpu-runaway, cpu-burn, \
         memory-leak, scanner-missing, scanner-db-corrupt, scanner-hang, scanner-db-stale, \
         service-hang, crash-loop, disk-fill, latency, error-rate, cert-expiring, cert-expired, \
         bad-config, bad-release, traffic-surge, resource-squeeze, metrics-stale, \
         vulnerable-dependency, base-image-cve, config-change, scale-request, \
         capacity-forecast (see `firedrill fault list`)",
    );
}

#[test]
fn bad_fault_parameter() {
    assert_mistake(
        "bad-fault-param",
        "9:27: bad parameter 'rate_mib_s=9' for fault memory-leak: rate_mib_s must be between \
         0.5 and 4",
    );
}

#[test]
fn onset_past_the_time_limit() {
    assert_mistake(
        "onset-past-time-limit",
        "9:12: the onset window ends at 35m (after 25m + within 10m); expected it to end before \
         the time limit (30m)",
    );
}

#[test]
fn targets_out_of_order() {
    assert_mistake(
        "targets-out-of-order",
        "24:37: acknowledge target 2m is later than detect 1m; expected acknowledge <= detect <= \
         resolve <= time_limit",
    );
}

#[test]
fn duplicate_step_id() {
    assert_mistake(
        "duplicate-step-id",
        "19:9: step id `list-jobs` is used twice (first at line 15); expected unique ids",
    );
}

#[test]
fn after_naming_an_unknown_step() {
    assert_mistake(
        "unknown-after",
        "22:13: `after` names `list-job`, which is not a step of the procedure; expected the id \
         of an earlier step",
    );
}

#[test]
fn bad_regex() {
    assert_mistake(
        "bad-regex",
        "17:22: `^agentctl jobs (list` is not a valid regex: unclosed group",
    );
}

#[test]
fn empty_reference_solution() {
    assert_mistake(
        "empty-reference-solution",
        "26:21: the reference solution is empty; expected the runbook's fix as timed steps, e.g. \
         - { at: 30s, exec: \"agentctl status\" }",
    );
}

#[test]
fn unknown_alert_in_the_overrides() {
    assert_mistake(
        "unknown-alert-override",
        "13:16: unknown alert 'AgentHighCPU' in the alert overrides; known alerts: AgentHighCpu, \
         AgentHighMemory, AgentSlowResponses, AgentHighErrorRate, AgentDiskFilling, AgentDown, \
         AgentSecurityScanFailures, AgentErrorsHigh, AgentSlowOptimization, AgentUnhealthy, \
         CertificateExpiringSoon, CertificateExpired, ScannerDbStale, AgentImageVulnerable, \
         AgentMetricsStale, AgentRestarting, AgentOomKilled, AgentCpuThrottled",
    );
}

#[test]
fn list_json_names_the_shipped_scenarios() {
    let (code, stdout, stderr) = run(firedrill().args(["list", "--json"]));
    assert_eq!(code, Some(0), "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).expect("a JSON array");
    let entry = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {listed}"))
            .clone()
    };
    assert_eq!(
        entry("high-cpu-usage"),
        serde_json::json!({
            "id": "high-cpu-usage",
            "title": "A runaway optimization job",
            "runbook": "high-cpu-usage",
            "difficulty": "easy",
            "path": "scenarios/high-cpu-usage.yaml",
        })
    );
    assert_eq!(
        entry("memory-leaks"),
        serde_json::json!({
            "id": "memory-leaks",
            "title": "Memory that only grows",
            "runbook": "memory-leaks",
            "difficulty": "medium",
            "path": "scenarios/memory-leaks.yaml",
        })
    );
}

#[test]
fn list_shows_valid_scenarios_and_reports_the_others() {
    let (code, stdout, stderr) = run(firedrill().env("FIREDRILL_SCENARIOS", FIXTURES).arg("list"));
    assert_eq!(code, Some(2));
    assert_eq!(stdout, format!("no valid scenarios in {FIXTURES}\n"));
    assert!(
        stderr.contains(&format!(
            "{FIXTURES}/unknown-runbook.yaml:4:10: unknown runbook `high-cpu`"
        )),
        "{stderr}"
    );
    let (code, stdout, _) = run(firedrill().arg("list"));
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("ID "), "{stdout}");
    assert!(stdout.contains("\nmemory-leaks "), "{stdout}");
}
