//! Faults of change management: a bad config push and a bad release. For each: the symptom
//! shows, the probe holds (also across a restart, which fixes neither), the documented rollback
//! clears it, and revert restores the baseline.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const CONFIG: &str = "/etc/docker-optimizer/config.yml";
const PREVIOUS: &str = "/etc/docker-optimizer/config.yml.previous";

/// A multi-stage Dockerfile: what release 1.5.0's regression fails on.
const MULTI_STAGE: &str = "FROM golang:1.22 AS build\nWORKDIR /src\nRUN go build -o /app .\n\n\
                           FROM debian:12\nCOPY --from=build /app /app\nCMD [\"/app\"]\n";

/// A file of the agent container as `docker cp` gets it (works while it restarts); `None` if absent.
fn copy_out(sandbox: &TestSandbox, path: &str) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("file");
    let source = format!("{}:{path}", sandbox.container());
    docker(&["cp", &source, local.to_str().unwrap()])
        .status
        .success()
        .then(|| std::fs::read(&local).unwrap())
}

/// `<status> <exit code>` of the agent container, e.g. `restarting 78`.
fn agent_state(sandbox: &TestSandbox) -> String {
    stdout(&docker(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}}",
        &sandbox.container(),
    ]))
    .trim()
    .to_string()
}

fn assert_crash_loops_on_the_config(sandbox: &TestSandbox, key: &str, value: &str) {
    eventually(
        Duration::from_secs(60),
        "the agent to crash-loop with EX_CONFIG",
        || (agent_state(sandbox) == "restarting 78").then_some(()),
    );
    assert!(
        client()
            .get(format!("{}/health", sandbox.http()))
            .send()
            .is_err(),
        "nothing answers while the agent crash-loops"
    );
    let logs = docker(&["logs", "--tail", "20", &sandbox.container()]);
    let logs = format!("{}{}", stdout(&logs), stderr(&logs));
    let message = format!("configuration error: {key} = \"{value}\" (from {CONFIG}:");
    assert!(logs.contains(&message), "docker logs name the key:\n{logs}");
    assert!(logs.contains(&format!("fix it in {CONFIG}")), "{logs}");
}

fn wait_healthy(sandbox: &TestSandbox) {
    eventually(Duration::from_secs(60), "the agent healthy again", || {
        client()
            .get(format!("{}/health", sandbox.http()))
            .send()
            .ok()
            .filter(|r| r.status().is_success())
    });
}

#[test]
fn bad_config_crash_loops_until_the_config_is_rolled_back() {
    require_docker!();
    let sandbox = TestSandbox::up("bad-config");
    let original = copy_out(&sandbox, CONFIG).expect("the shipped config");
    let id = sandbox.inject("bad-config", &[]);
    assert_crash_loops_on_the_config(&sandbox, "scanner.timeout_seconds", "0");
    assert_eq!(
        copy_out(&sandbox, PREVIOUS).as_deref(),
        Some(original.as_slice()),
        "config management kept the file it replaced"
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // A restart reads the same file: the crash loop goes on, and so does the root cause.
    assert_success(
        &docker(&["restart", &sandbox.container()]),
        "docker restart",
    );
    assert_crash_loops_on_the_config(&sandbox, "scanner.timeout_seconds", "0");
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The documented fix: roll the file back, then restart.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("config.yml");
    let local = local.to_str().unwrap();
    let container = sandbox.container();
    assert_success(
        &docker(&["cp", &format!("{container}:{PREVIOUS}"), local]),
        "docker cp the previous config out",
    );
    assert_success(
        &docker(&["cp", local, &format!("{container}:{CONFIG}")]),
        "docker cp it back as config.yml",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    assert_success(&docker(&["restart", &container]), "docker restart");
    wait_healthy(&sandbox);

    sandbox.revert(&id);
    assert_eq!(sandbox.root_cause_present(&id), None, "the record is gone");
    assert_eq!(copy_out(&sandbox, CONFIG), Some(original));
    assert_eq!(copy_out(&sandbox, PREVIOUS), None);
    assert!(sandbox.get("/health").status().is_success());
}

#[test]
fn bad_config_revert_restores_the_exact_file_and_a_healthy_agent() {
    require_docker!();
    let sandbox = TestSandbox::up("bad-config-revert");
    let original = copy_out(&sandbox, CONFIG).expect("the shipped config");
    let id = sandbox.inject("bad-config", &["cache.max_size=-1"]);
    assert_crash_loops_on_the_config(&sandbox, "cache.max_size", "-1");
    let pushed = String::from_utf8(copy_out(&sandbox, CONFIG).unwrap()).unwrap();
    assert!(pushed.contains("  max_size: -1\n"), "{pushed}");

    sandbox.revert(&id);
    assert_eq!(copy_out(&sandbox, CONFIG), Some(original));
    assert_eq!(copy_out(&sandbox, PREVIOUS), None);
    assert_eq!(agent_state(&sandbox), "running 0");
    let health: Value = sandbox.get("/health").json().unwrap();
    assert_eq!(health["status"], "healthy", "{health}");
}

#[test]
fn bad_config_refuses_a_push_the_agent_would_accept() {
    require_docker!();
    let sandbox = TestSandbox::up("bad-config-valid");
    let output = firedrill()
        .args([
            "fault",
            "inject",
            "bad-config",
            "--sandbox",
            &sandbox.name,
            "--set",
            "cache.max_size=500",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("the agent accepts this configuration"),
        "{}",
        stderr(&output)
    );
    assert_eq!(copy_out(&sandbox, PREVIOUS), None, "nothing was pushed");
    assert_eq!(agent_state(&sandbox), "running 0");
}

#[test]
fn bad_config_is_also_rolled_back_by_redeploying_the_release() {
    require_docker!();
    let sandbox = TestSandbox::up("bad-config-redeploy");
    let id = sandbox.inject("bad-config", &["server.workers=0"]);
    assert_crash_loops_on_the_config(&sandbox, "server.workers", "0");

    // The file lives in the container, not on the data volume: a new container of the release
    // comes with the release's shipped config.
    sandbox.deploy("1.4.2");
    assert_eq!(agent_state(&sandbox), "running 0");
    assert_eq!(sandbox.root_cause_present(&id), Some(false));

    sandbox.revert(&id);
    assert_eq!(copy_out(&sandbox, PREVIOUS), None);
    assert!(sandbox.get("/health").status().is_success());
}

/// A crash-looping agent can look up to the deploy's inspect and be between two starts a moment
/// later, when the engine refuses to rename it (`sandbox … not found`). The deploy must land at
/// any moment of the loop; CI once caught that moment.
#[test]
fn a_deploy_lands_at_any_moment_of_a_crash_loop() {
    require_docker!();
    let sandbox = TestSandbox::up("deploy-into-crash-loop");
    for attempt in 0..12u64 {
        let id = sandbox.inject("bad-config", &["server.workers=0"]);
        // Spread the deploys over the loop's phases: starting, up for a moment, backing off.
        std::thread::sleep(Duration::from_millis(attempt * 130));
        sandbox.deploy("1.4.2");
        assert_eq!(
            sandbox.root_cause_present(&id),
            Some(false),
            "attempt {attempt}"
        );
        sandbox.revert(&id);
    }
    assert!(sandbox.get("/health").status().is_success());
}

fn version(sandbox: &TestSandbox) -> String {
    sandbox.get("/").json::<Value>().unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string()
}

fn optimize_multi_stage(sandbox: &TestSandbox) -> u16 {
    sandbox
        .post("/optimize", &json!({ "dockerfile": MULTI_STAGE }))
        .status()
        .as_u16()
}

#[test]
fn bad_release_fails_requests_until_it_is_rolled_back() {
    require_docker!();
    let sandbox = TestSandbox::up("bad-release");
    assert_eq!(optimize_multi_stage(&sandbox), 200);
    let id = sandbox.inject("bad-release", &[]);

    // Same URL, new release, and part of the traffic fails.
    assert_eq!(version(&sandbox), "1.5.0");
    assert_eq!(
        metric_value(
            &sandbox.metrics(),
            "docker_optimizer_build_info",
            &[("version", "1.5.0")]
        ),
        1.0
    );
    assert_eq!(optimize_multi_stage(&sandbox), 500);
    let stats = eventually(
        Duration::from_secs(90),
        "the traffic's error rate past the 5 % critical threshold",
        || Some(sandbox.traffic_json("/stats")).filter(|s| s["error_rate"].as_f64() > Some(0.05)),
    );
    eprintln!(
        "traffic on 1.5.0: error rate {}, p50 {} ms, p95 {} ms",
        stats["error_rate"], stats["p50_ms"], stats["p95_ms"]
    );
    let logs = stdout(&docker(&["logs", "--tail", "200", &sandbox.container()]));
    assert!(
        logs.lines()
            .any(|l| l.contains("\"level\":\"ERROR\"") || l.contains("\"error\"")),
        "error lines in docker logs:\n{logs}"
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // A restart runs the same image: nothing changes.
    sandbox.restart_agent();
    assert_eq!(version(&sandbox), "1.5.0");
    assert_eq!(optimize_multi_stage(&sandbox), 500);
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The documented fix: roll back to the previous release.
    sandbox.deploy("1.4.2");
    assert_eq!(version(&sandbox), "1.4.2");
    assert_eq!(optimize_multi_stage(&sandbox), 200);
    assert_eq!(sandbox.root_cause_present(&id), Some(false));

    sandbox.revert(&id);
    assert_eq!(sandbox.root_cause_present(&id), None, "the record is gone");
    assert_eq!(version(&sandbox), "1.4.2");
}

#[test]
fn bad_release_revert_restores_the_baseline_release_at_the_same_url() {
    require_docker!();
    let sandbox = TestSandbox::up_with("bad-release-revert", &["--version", "1.3.0"]);
    let id = sandbox.inject("bad-release", &[]);
    assert_eq!(version(&sandbox), "1.5.0");
    sandbox.revert(&id);
    assert_eq!(version(&sandbox), "1.3.0");
    assert_eq!(optimize_multi_stage(&sandbox), 200);
    let label = stdout(&docker(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"io.firedrill.release\"}}",
        &sandbox.container(),
    ]));
    assert_eq!(label.trim(), "1.3.0");
}
