//! Every `agentctl` command through `docker exec`, as an operator runs it.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[test]
fn status_version_and_config_commands() {
    require_docker!();
    let sandbox = TestSandbox::up("ctl-status");
    let status = sandbox.agentctl_json(&["status"]);
    assert_eq!(status["version"], "1.4.2");
    assert_eq!(status["health"]["status"], "healthy", "{status}");
    assert!(status["disk"]["quota_bytes"].as_u64().unwrap() > 0);

    let human = sandbox.exec(&["agentctl", "status"]);
    assert_success(&human, "agentctl status");
    assert!(stdout(&human).contains("healthy"));

    let version = sandbox.exec(&["agentctl", "version"]);
    assert_success(&version, "agentctl version");
    assert!(stdout(&version).contains("1.4.2"));

    let validate = sandbox.exec(&["agentctl", "config", "validate"]);
    assert_success(&validate, "agentctl config validate");
    let shown = sandbox.agentctl_json(&["config", "show"]);
    assert!(shown.to_string().contains("max_size"), "{shown}");

    let reload = sandbox.exec(&["agentctl", "reload"]);
    assert_success(&reload, "agentctl reload");
}

#[test]
fn jobs_and_cache_commands() {
    require_docker!();
    let sandbox = TestSandbox::up("ctl-jobs");
    let jobs = sandbox.agentctl_json(&["jobs", "list"]);
    assert!(jobs.is_array(), "{jobs}");

    let cancel_missing = sandbox.exec(&["agentctl", "jobs", "cancel", "999999"]);
    assert_eq!(cancel_missing.status.code(), Some(1));
    assert!(
        (stdout(&cancel_missing) + &stderr(&cancel_missing)).contains("no job 999999"),
        "{}",
        stderr(&cancel_missing)
    );

    let dockerfile = "FROM node:14\nRUN npm install lodash@4.17.15\n";
    for _ in 0..2 {
        sandbox.post("/optimize", &json!({ "dockerfile": dockerfile }));
    }
    let cache = sandbox.agentctl_json(&["cache", "stats"]);
    assert!(cache["entries"].as_u64().unwrap() >= 1, "{cache}");
    assert!(cache["hits"].as_u64().unwrap() >= 1, "{cache}");
    let cleared = sandbox.agentctl_json(&["cache", "clear"]);
    assert!(cleared["cleared"].as_u64().unwrap() >= 1, "{cleared}");
}

#[test]
fn scanner_commands() {
    require_docker!();
    let sandbox = TestSandbox::up("ctl-scanner");
    let status = sandbox.agentctl_json(&["scanner", "status"]);
    assert_eq!(status["binary_present"], true, "{status}");

    let verify = sandbox.exec(&["agentctl", "scanner", "db", "verify"]);
    assert_success(&verify, "scanner db verify");

    // A corrupted database fails verification, and an update from the mirror repairs it.
    assert_success(
        &sandbox.exec(&[
            "sh",
            "-c",
            "echo garbage > /var/lib/trivy/db/vulnerabilities.json",
        ]),
        "corrupting the scanner DB",
    );
    let broken = sandbox.exec(&["agentctl", "scanner", "db", "verify"]);
    assert_eq!(broken.status.code(), Some(1), "{}", stdout(&broken));
    let update = sandbox.exec(&["agentctl", "scanner", "db", "update"]);
    assert_success(&update, "scanner db update");
    assert_success(
        &sandbox.exec(&["agentctl", "scanner", "db", "verify"]),
        "verify after update",
    );
}

#[test]
fn certificate_commands_renew_without_downtime() {
    require_docker!();
    let sandbox = TestSandbox::up("ctl-cert");
    let shown = sandbox.agentctl_json(&["cert", "show"]);
    let days = shown["days_left"].as_i64().unwrap();
    assert!((89..=90).contains(&days), "{shown}");

    let renew = sandbox.exec(&["agentctl", "cert", "renew", "--days", "30"]);
    assert_success(&renew, "cert renew");
    let renewed = sandbox.agentctl_json(&["cert", "show"]);
    assert!(
        (29..=30).contains(&renewed["days_left"].as_i64().unwrap()),
        "{renewed}"
    );
    assert_ne!(renewed["serial"], shown["serial"]);

    // The HTTPS listener serves the new certificate: its expiry metric moved, with no restart.
    let expiry = eventually(
        Duration::from_secs(10),
        "the new certificate in /metrics",
        || {
            let value = metric_value(
                &sandbox.metrics(),
                "docker_optimizer_certificate_expiry_timestamp_seconds",
                &[],
            );
            (value as i64 == renewed["not_after"].as_i64().unwrap()).then_some(value)
        },
    );
    assert!(expiry > 0.0);
    let https = client()
        .get(format!("{}/health", sandbox.https()))
        .send()
        .expect("HTTPS still answers after renewal");
    assert!(https.status().is_success());
    let restarts = stdout(&docker(&[
        "inspect",
        "--format",
        "{{.RestartCount}}",
        &sandbox.container(),
    ]));
    assert_eq!(restarts.trim(), "0");
}

#[test]
fn maintenance_commands_keep_the_history_database() {
    require_docker!();
    let sandbox = TestSandbox::up("ctl-maint");
    sandbox.post(
        "/optimize",
        &json!({ "dockerfile": "FROM alpine:3.12\nRUN apk add curl\n" }),
    );
    assert_success(
        &sandbox.exec(&[
            "sh",
            "-c",
            "head -c 100000 /dev/zero > /var/lib/docker-optimizer/tmp/stale.tmp",
        ]),
        "writing a temp file",
    );
    let dry: Value = sandbox.agentctl_json(&["cleanup", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert!(dry.to_string().contains("stale.tmp"), "{dry}");
    assert_success(
        &sandbox.exec(&["ls", "/var/lib/docker-optimizer/tmp/stale.tmp"]),
        "a dry run removes nothing",
    );
    let real = sandbox.agentctl_json(&["cleanup"]);
    assert!(real["freed_bytes"].as_u64().unwrap() >= 100_000, "{real}");
    assert!(!sandbox
        .exec(&["ls", "/var/lib/docker-optimizer/tmp/stale.tmp"])
        .status
        .success());
    assert_success(
        &sandbox.exec(&["ls", "/var/lib/docker-optimizer/history.redb"]),
        "cleanup keeps the history database",
    );

    let kept = sandbox.agentctl_json(&["db", "prune", "--older-than", "30d"]);
    assert_eq!(kept["pruned"], 0, "{kept}");
    assert!(kept["remaining"].as_u64().unwrap() >= 1, "{kept}");
}

#[test]
fn usage_errors_exit_2() {
    require_docker!();
    let sandbox = TestSandbox::up("ctl-usage");
    let output = sandbox.exec(&["agentctl", "no-such-command"]);
    assert_eq!(output.status.code(), Some(2));
}
