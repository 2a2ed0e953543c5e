//! Whole drills through the CLI against the real engine, driven by scripted responders: one
//! that follows the runbook at known moments (the measured times match them), one that does
//! nothing (times out, no resolution points), one that only restarts the agent (ends
//! mitigated, scores lower), one that deletes the history database (data-loss deduction), and
//! one that aborts, by verb or by Ctrl-C (the result says so and nothing is left behind).

mod common;

use std::time::{Duration, SystemTime};

use common::drill::DrillRun;
use common::*;
use serde_json::Value;

/// `firedrill run <scenario>` by trainee `bot`, the fault 2 s in, with `extra` options.
fn start(scenario: &str, extra: &[&str]) -> DrillRun {
    let mut args = vec![scenario, "--trainee", "bot", "--onset", "2s"];
    args.extend_from_slice(extra);
    DrillRun::start(&args)
}

/// Seconds of `at` after the result's `fault_injected_at`.
fn since_injection(result: &Value, at: SystemTime) -> f64 {
    let injected = humantime::parse_rfc3339(result["fault_injected_at"].as_str().unwrap()).unwrap();
    at.duration_since(injected).unwrap().as_secs_f64()
}

#[test]
fn a_responder_following_the_runbook_resolves_and_its_times_are_measured() {
    require_docker!();
    let drill = start("high-cpu-usage", &["--time-limit", "5m"]);
    drill.wait_line(Duration::from_secs(120), |l| {
        l.contains("[FIRING") && l.contains("AgentHighCpu")
    });
    let acked = SystemTime::now();
    drill.verb(&["ack"]);
    let status = firedrill()
        .args(["status", "--session", &drill.session])
        .output()
        .unwrap();
    assert_success(&status, "firedrill status");
    assert!(
        stdout(&status).contains("firing: AgentHighCpu ("),
        "the status names the page: {}",
        stdout(&status)
    );
    assert_success(&drill.exec(&["agentctl", "status"]), "agentctl status");
    assert_success(
        &drill.exec(&["agentctl", "jobs", "list"]),
        "agentctl jobs list",
    );
    let diagnosed = SystemTime::now();
    drill.verb(&["diagnose", "high-cpu-usage"]);
    assert_success(
        &drill.exec(&[
            "sh",
            "-c",
            "agentctl jobs cancel $(agentctl jobs list --json | grep '\"id\"' | head -n 1 | sed 's/[^0-9]//g') --deny",
        ]),
        "cancel the runaway job with --deny",
    );
    let (code, result) = drill.finish(Duration::from_secs(240));
    assert_eq!(code, Some(0), "{result:#}");
    assert_eq!(result["outcome"], "resolved");
    let measured = |key: &str| result["times"][key].as_f64().unwrap();
    assert!(
        (measured("acknowledge_s") - since_injection(&result, acked)).abs() <= 1.0,
        "ack measured {} vs done {}",
        measured("acknowledge_s"),
        since_injection(&result, acked)
    );
    assert!((measured("detect_s") - since_injection(&result, diagnosed)).abs() <= 1.0);
    let steps: Vec<(&str, bool)> = result["procedure"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), !s["done_at"].is_null()))
        .collect();
    assert_eq!(
        steps,
        [
            ("confirm-cpu", true),
            ("list-jobs", true),
            ("cancel-and-deny", true),
            ("verify", false)
        ]
    );
    assert!(
        result["score"]["total"].as_u64().unwrap() >= 80,
        "{:#}",
        result["score"]
    );
    let actions = result["actions"].to_string();
    assert!(
        !actions.contains("test -s") && !actions.contains("--json\""),
        "firedrill's own execs are not the trainee's: {actions}"
    );
}

#[test]
fn a_responder_who_does_nothing_times_out_without_resolution_points() {
    require_docker!();
    let drill = start("high-cpu-usage", &["--time-limit", "45s"]);
    let (code, result) = drill.finish(Duration::from_secs(120));
    assert_eq!(code, Some(1));
    assert_eq!(result["outcome"], "timed_out");
    let resolution = result["score"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "resolution")
        .unwrap()
        .clone();
    assert_eq!(resolution["points"], 0, "{resolution}");
    assert!(result["times"]["resolve_s"].is_null());
}

#[test]
fn a_responder_who_only_restarts_ends_mitigated_and_scores_lower() {
    require_docker!();
    // The leak pages at about 80 % of 256 MiB (~100 s at 2 MiB/s); after a restart it needs as
    // long again, so at the 150 s limit the impact is gone and the root cause is not.
    let drill = start(
        "tests/fixtures/drills/fast-memory-leak.yaml",
        &["--time-limit", "150s"],
    );
    drill.wait_line(Duration::from_secs(150), |l| {
        l.contains("[FIRING") && l.contains("AgentHighMemory")
    });
    drill.verb(&["ack"]);
    assert_success(&docker(&["restart", &drill.container]), "docker restart");
    let (code, result) = drill.finish(Duration::from_secs(120));
    assert_eq!(code, Some(1));
    assert_eq!(result["outcome"], "mitigated", "{:#}", result["timeline"]);
    let score = &result["score"];
    let resolution = score["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "resolution")
        .unwrap();
    assert!(resolution["points"].as_u64().unwrap() <= 10, "{resolution}");
    assert!(
        score["deductions"]
            .to_string()
            .contains("Restarted the agent"),
        "{score}"
    );
    assert!(score["total"].as_u64().unwrap() < 60, "{score}");
}

#[test]
fn deleting_the_history_database_costs_the_data_loss_deduction() {
    require_docker!();
    let drill = start("high-cpu-usage", &["--time-limit", "40s"]);
    // The fault starts 2 s after the briefing; the database goes after it.
    std::thread::sleep(Duration::from_secs(5));
    assert_success(
        &drill.exec(&["rm", "-f", "/var/lib/docker-optimizer/history.redb"]),
        "rm history.redb",
    );
    let (_, result) = drill.finish(Duration::from_secs(120));
    let deductions = result["score"]["deductions"].to_string();
    assert!(deductions.contains("data_loss"), "{deductions}");
    assert!(result["timeline"].to_string().contains("data_loss"));
}

#[test]
fn abort_reverts_removes_the_sandbox_and_saves_an_aborted_result() {
    require_docker!();
    let drill = start("high-cpu-usage", &[]);
    std::thread::sleep(Duration::from_secs(4));
    drill.verb(&["note", "giving", "up"]);
    drill.verb(&["abort"]);
    let (code, result) = drill.finish(Duration::from_secs(60));
    assert_eq!(code, Some(130));
    assert_eq!(result["outcome"], "aborted");
    assert_eq!(result["score"]["total"], 0);
    assert!(result["timeline"].to_string().contains("giving up"));
}

#[test]
fn ctrl_c_reverts_removes_the_sandbox_and_saves_an_aborted_result() {
    require_docker!();
    let drill = start("high-cpu-usage", &[]);
    std::thread::sleep(Duration::from_secs(4));
    let pid = drill.pid().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let (code, result) = drill.finish(Duration::from_secs(60));
    assert_eq!(code, Some(130));
    assert_eq!(result["outcome"], "aborted");
    assert!(result["timeline"].to_string().contains("fault_injected"));
}
