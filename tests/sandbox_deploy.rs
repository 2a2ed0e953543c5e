//! `firedrill sandbox deploy`: a release rolled out the way a platform does it. The URLs stay,
//! the data survives, the traffic carries on, and only the release changes.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

fn inspect(sandbox: &TestSandbox, format: &str) -> String {
    stdout(&docker(&[
        "inspect",
        "--format",
        format,
        &sandbox.container(),
    ]))
    .trim()
    .to_string()
}

/// Requests the agent counted since it started (its counters start at zero in a new container).
fn requests_counted(sandbox: &TestSandbox) -> f64 {
    metric_value(&sandbox.metrics(), "docker_optimizer_requests_total", &[])
}

#[test]
fn deploy_rolls_the_release_and_keeps_urls_data_env_limits_and_traffic() {
    require_docker!();
    let sandbox = TestSandbox::up_with("deploy", &["--env", "DOCKER_OPTIMIZER_CACHE_MAX_SIZE=500"]);
    assert_eq!(
        sandbox.get("/").json::<Value>().unwrap()["version"],
        "1.4.2"
    );
    let limits_format = "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}";
    let limits = inspect(&sandbox, limits_format);
    let session = inspect(
        &sandbox,
        "{{index .Config.Labels \"io.firedrill.session\"}}",
    );

    // A record in the history database, written before any deploy.
    let written = sandbox.post(
        "/optimize",
        &json!({"dockerfile": "FROM debian:latest\nRUN apt-get update\n"}),
    );
    assert!(written.status().is_success(), "{}", written.status());
    let written_at = Instant::now();
    // Nothing the deployed containers write can be as old as the record (see the prune below).
    std::thread::sleep(Duration::from_secs(2));

    let nothing_yet = firedrill()
        .args(["sandbox", "rollback", "--name", &sandbox.name])
        .output()
        .unwrap();
    assert_refused(&nothing_yet, "has no previous release to roll back to");

    let older = sandbox.deploy("1.3.0");
    assert_eq!(older["version"], "1.3.0");
    assert_eq!(older["previous_version"], "1.4.2");
    assert_eq!(older["health"], "healthy");
    for url in [
        "http",
        "https",
        "traffic_stats",
        "container",
        "volume",
        "session",
    ] {
        assert_eq!(older[url], sandbox.info[url], "{url} is kept");
    }
    assert_ne!(older["container_id"], sandbox.info["container_id"]);
    // Same URL, new release.
    assert_eq!(
        sandbox.get("/").json::<Value>().unwrap()["version"],
        "1.3.0"
    );
    assert_eq!(
        metric_value(
            &sandbox.metrics(),
            "docker_optimizer_build_info",
            &[("version", "1.3.0")]
        ),
        1.0
    );
    assert_eq!(
        inspect(
            &sandbox,
            "{{index .Config.Labels \"io.firedrill.release\"}}"
        ),
        "1.3.0"
    );

    // A rollback deploys the release the last deploy replaced, as a platform's does.
    let rollback = firedrill()
        .args(["sandbox", "rollback", "--name", &sandbox.name, "--json"])
        .output()
        .unwrap();
    assert_success(&rollback, "sandbox rollback");
    let back: Value = serde_json::from_slice(&rollback.stdout).unwrap();
    assert_eq!(back["version"], "1.4.2");
    assert_eq!(back["previous_version"], "1.3.0");
    assert_eq!(back["http"], sandbox.info["http"]);
    assert_eq!(
        sandbox.get("/").json::<Value>().unwrap()["version"],
        "1.4.2"
    );

    // Everything else is as `up` made it.
    assert_eq!(inspect(&sandbox, limits_format), limits);
    assert_eq!(
        inspect(
            &sandbox,
            "{{index .Config.Labels \"io.firedrill.session\"}}"
        ),
        session
    );
    let config = sandbox.agentctl_json(&["config", "show"]);
    assert_eq!(
        config["config"]["cache"]["max_size"], 500,
        "the env is kept"
    );
    assert_eq!(config["sources"]["cache.max_size"], "env");
    let leftovers = stdout(&docker(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("name={}", sandbox.container()),
    ]));
    assert_eq!(
        leftovers.trim(),
        sandbox.container(),
        "no replaced container is left"
    );

    // The traffic reaches the new agent through the same network alias.
    eventually(
        Duration::from_secs(30),
        "the traffic's requests reaching the deployed agent",
        || (requests_counted(&sandbox) >= 5.0).then_some(()),
    );
    let stats: Value = client()
        .get(format!("{}/stats", sandbox.traffic_stats()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(stats["requests"].as_u64().unwrap() > 0, "{stats}");

    // The history database survived both deploys: the record is still there to prune.
    let age = written_at.elapsed().as_secs().saturating_sub(1).max(1);
    let pruned = sandbox.agentctl_json(&["db", "prune", "--older-than", &format!("{age}s")]);
    assert!(
        pruned["pruned"].as_u64().unwrap() >= 1,
        "a record from before the deploys is still in the database: {pruned}"
    );
}

#[test]
fn deploy_refuses_unknown_versions_and_sandboxes() {
    let unknown_version = firedrill()
        .args(["sandbox", "deploy", "--name", "x", "--version", "9.9.9"])
        .output()
        .unwrap();
    assert_eq!(unknown_version.status.code(), Some(2));
    let message = stderr(&unknown_version);
    assert!(
        message.contains("unknown agent version '9.9.9'"),
        "{message}"
    );
    assert!(message.contains("1.5.0"), "{message}");

    require_docker!();
    let unknown_sandbox = firedrill()
        .args([
            "sandbox",
            "deploy",
            "--name",
            &unique_name("nowhere"),
            "--version",
            "1.3.0",
        ])
        .output()
        .unwrap();
    assert_refused(&unknown_sandbox, "no sandbox named");
}
