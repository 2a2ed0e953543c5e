//! The scanner fails open as the real agent does, and a bad config value stops the agent with
//! an error that names the key, the value and the fix.

mod common;

use common::*;
use serde_json::{json, Value};

/// A Dockerfile with known vulnerabilities in the shipped database (old base, old packages).
const VULNERABLE: &str = "FROM python:3.8\nRUN pip install requests==2.19.0 pyyaml==5.3\n";

fn scan_failures(sandbox: &TestSandbox) -> f64 {
    metric_value(
        &sandbox.metrics(),
        "docker_optimizer_security_scan_failures_total",
        &[],
    )
}

#[test]
fn a_working_scanner_grades_vulnerable_dockerfiles_down() {
    require_docker!();
    let sandbox = TestSandbox::up("scan-ok");
    let body: Value = sandbox
        .post("/optimize", &json!({ "dockerfile": VULNERABLE }))
        .json()
        .unwrap();
    let summary = &body["scan_summary"];
    assert_eq!(summary["scanner"], "ok", "{summary}");
    assert_ne!(summary["grade"], "A", "{summary}");
    assert!(summary["score"].as_u64().unwrap() < 90);
}

#[test]
fn a_missing_scanner_still_answers_grade_a_and_is_counted() {
    require_docker!();
    let sandbox = TestSandbox::up("scan-missing");
    assert_success(
        &sandbox.exec_root(&["rm", "/usr/local/bin/trivy"]),
        "removing trivy",
    );
    let before = scan_failures(&sandbox);
    let body: Value = sandbox
        .post("/optimize", &json!({ "dockerfile": VULNERABLE }))
        .json()
        .unwrap();
    assert_eq!(body["scan_summary"]["grade"], "A", "fails open: {body}");
    assert_eq!(body["scan_summary"]["scanner"], "failed");
    assert!(scan_failures(&sandbox) > before);
    let logs = stdout(&docker(&["logs", &sandbox.container()]));
    assert!(
        logs.lines()
            .any(|l| l.contains("scan") && l.contains("missing")),
        "no log line tells of the missing scanner"
    );
    // Health stays green: only the metric and the logs tell, as with the real agent.
    let health: Value = sandbox.get("/health").json().unwrap();
    assert_eq!(health["status"], "healthy");
}

#[test]
fn a_corrupt_scanner_database_fails_open_too() {
    require_docker!();
    let sandbox = TestSandbox::up("scan-corrupt");
    let garbage = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(garbage.path(), b"{\"schema\": 1, \"entries\": [tru").unwrap();
    assert_success(
        &docker(&[
            "cp",
            garbage.path().to_str().unwrap(),
            &format!(
                "{}:/var/lib/trivy/db/vulnerabilities.json",
                sandbox.container()
            ),
        ]),
        "docker cp of a corrupt DB",
    );
    let before = scan_failures(&sandbox);
    let body: Value = sandbox
        .post("/optimize", &json!({ "dockerfile": VULNERABLE }))
        .json()
        .unwrap();
    assert_eq!(body["scan_summary"]["grade"], "A", "{body}");
    assert!(scan_failures(&sandbox) > before);
}

#[test]
fn a_bad_config_value_stops_the_agent_with_a_clear_error() {
    require_docker!();
    let name = unique_name("badconf");
    let output = firedrill()
        .args([
            "sandbox",
            "up",
            "--name",
            &name,
            "--env",
            "DOCKER_OPTIMIZER_CACHE_MAX_SIZE=-5",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("cache.max_size"), "{message}");
    assert!(message.contains("-5"), "{message}");
    assert!(
        message.contains("DOCKER_OPTIMIZER_CACHE_MAX_SIZE"),
        "{message}"
    );
    // A failed start leaves nothing behind.
    assert_eq!(leftovers_of(&name), Vec::<String>::new());
}

#[test]
fn the_agent_exits_78_on_a_bad_config_value() {
    require_docker!();
    // Make sure the image exists, then run it the plain Docker way with a bad value.
    let sandbox = TestSandbox::up("badconf-run");
    let image = sandbox.info["image"].as_str().unwrap().to_string();
    drop(sandbox);
    let output = docker(&[
        "run",
        "--rm",
        "--label",
        "io.firedrill.managed=true",
        "-e",
        "DOCKER_OPTIMIZER_SCANNER_TIMEOUT_SECONDS=soon",
        &image,
    ]);
    assert_eq!(output.status.code(), Some(78), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("scanner.timeout_seconds"), "{message}");
    assert!(message.contains("soon"), "{message}");
}
