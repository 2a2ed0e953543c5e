//! Faults of the service itself: injected latency and errors (fault-injection settings left on
//! in the config), a frozen metrics exporter and a deadlocked agent. For each: the symptom shows,
//! the probe holds (across a restart where a restart does not fix it), the documented fix clears
//! it, and revert restores the baseline.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const CONFIG_FILE: &str = "/etc/docker-optimizer/config.yml";

fn config_file(sandbox: &TestSandbox) -> String {
    let output = sandbox.exec(&["cat", CONFIG_FILE]);
    assert_success(&output, "cat config");
    stdout(&output)
}

/// The documented fix of the config faults: edit the file as root (its owner) in the
/// container, as an operator would, then reload.
fn set_in_config_and_reload(sandbox: &TestSandbox, key: &str, value: &str) {
    let expression = format!("s/^  {key}: .*/  {key}: {value}/");
    assert_success(
        &sandbox.exec_root(&["sed", "-i", &expression, CONFIG_FILE]),
        "edit the config",
    );
    sandbox.agentctl_json(&["reload"]);
}

fn effective(sandbox: &TestSandbox, section: &str, key: &str) -> Value {
    let shown = sandbox.agentctl_json(&["config", "show"]);
    assert_eq!(
        shown["sources"][format!("{section}.{key}")],
        "file",
        "{shown}"
    );
    shown["config"][section][key].clone()
}

/// Waits for the traffic window to hold only requests sent after `since` (60 s), then some.
fn wait_for_a_full_window_since(since: Instant) {
    let full = Duration::from_secs(65);
    if let Some(left) = full.checked_sub(since.elapsed()) {
        std::thread::sleep(left);
    }
}

fn logs(sandbox: &TestSandbox) -> String {
    let output = docker(&["logs", &sandbox.container()]);
    format!("{}{}", stdout(&output), stderr(&output))
}

#[test]
fn latency_raises_the_p95_until_the_testing_settings_are_removed() {
    require_docker!();
    let sandbox = TestSandbox::up("latency");
    let original = config_file(&sandbox);
    let baseline = eventually(Duration::from_secs(60), "baseline traffic", || {
        let stats = sandbox.traffic_json("/stats");
        (stats["requests"].as_u64() >= Some(20)).then_some(stats)
    });
    let injected_at = Instant::now();
    let id = sandbox.inject("latency", &["p95_ms=1500"]);
    assert_eq!(effective(&sandbox, "testing", "latency_ratio"), 0.25);
    assert!(effective(&sandbox, "testing", "latency_ms").as_u64() > Some(1000));
    assert!(logs(&sandbox).contains("fault injection is enabled"));
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    eventually(Duration::from_secs(60), "p95 above 1 s", || {
        let stats = sandbox.traffic_json("/stats");
        (stats["p95_ms"].as_f64() > Some(1000.0)).then_some(())
    });
    eprintln!(
        "latency: p95 above 1 s {:.0}s after inject",
        injected_at.elapsed().as_secs_f64()
    );
    wait_for_a_full_window_since(injected_at);
    let stats = sandbox.traffic_json("/stats");
    let p95 = stats["p95_ms"].as_f64().unwrap();
    eprintln!("latency: baseline {baseline}\nlatency: with the fault {stats}");
    assert!(
        (1350.0..=1650.0).contains(&p95),
        "p95 {p95} ms within 10 % of 1500"
    );
    assert!(stats["p50_ms"].as_f64().unwrap() < 750.0, "{stats}");
    assert_eq!(stats["errors"], 0, "{stats}");

    // The setting is in the file: a restart brings it back.
    sandbox.restart_agent();
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The documented fix.
    set_in_config_and_reload(&sandbox, "latency_ms", "0");
    set_in_config_and_reload(&sandbox, "latency_ratio", "0");
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    let dockerfile = serde_json::json!({ "dockerfile": "FROM alpine:3.19\nRUN echo hi\n" });
    for _ in 0..8 {
        let started = Instant::now();
        assert!(sandbox.post("/analyze", &dockerfile).status().is_success());
        assert!(started.elapsed() < Duration::from_millis(1000));
    }
    sandbox.revert(&id);
    assert_eq!(config_file(&sandbox), original);
}

#[test]
fn error_rate_fails_a_share_of_requests_until_the_testing_setting_is_removed() {
    require_docker!();
    let sandbox = TestSandbox::up("error-rate");
    let injected_at = Instant::now();
    let id = sandbox.inject("error-rate", &["percent=10"]);
    assert!(logs(&sandbox).contains("fault injection is enabled"));
    assert_eq!(sandbox.root_cause_present(&id), Some(true));
    eventually(Duration::from_secs(60), "the first injected error", || {
        (sandbox.traffic_json("/stats")["errors"].as_u64() > Some(0)).then_some(())
    });
    eprintln!(
        "error-rate: first error {:.0}s after inject",
        injected_at.elapsed().as_secs_f64()
    );
    wait_for_a_full_window_since(injected_at);
    let stats = sandbox.traffic_json("/stats");
    eprintln!("error-rate: with the fault {stats}");
    let rate = stats["error_rate"].as_f64().unwrap() * 100.0;
    assert!(
        (8.0..=12.0).contains(&rate),
        "error rate {rate} % within 2 points of 10"
    );
    assert!(
        stats["last_error"]
            .as_str()
            .unwrap()
            .contains("HTTP 503 Service Unavailable: request aborted by fault injection"),
        "{stats}"
    );
    let health = sandbox.get("/health");
    assert!(health.status().is_success());
    let metrics = sandbox.metrics();
    assert!(
        metric_value(
            &metrics,
            "docker_optimizer_errors_total",
            &[("error_type", "fault_injection")]
        ) > 0.0
    );

    sandbox.restart_agent();
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    set_in_config_and_reload(&sandbox, "error_ratio", "0");
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    sandbox.revert(&id);
}

#[test]
fn config_faults_revert_to_the_exact_original_file() {
    require_docker!();
    let sandbox = TestSandbox::up("config-revert");
    let original = config_file(&sandbox);
    for kind in ["error-rate", "latency", "metrics-stale"] {
        let id = sandbox.inject(kind, &[]);
        assert_ne!(config_file(&sandbox), original, "{kind} edits the config");
        sandbox.revert(&id);
        assert_eq!(config_file(&sandbox), original, "{kind} reverted");
    }
    let shown = sandbox.agentctl_json(&["config", "show"]);
    assert_eq!(shown["config"]["testing"]["error_ratio"], 0.0);
    assert_eq!(shown["config"]["testing"]["latency_ms"], 0);
    assert_eq!(shown["config"]["metrics"]["refresh_seconds"], 0);
}

/// `(requests counted, uptime)` as `/metrics` reports them.
fn exported(sandbox: &TestSandbox) -> (f64, f64) {
    let metrics = sandbox.metrics();
    (
        metric_value(&metrics, "docker_optimizer_requests_total", &[]),
        metric_value(&metrics, "docker_optimizer_uptime_seconds", &[]),
    )
}

fn health_uptime(sandbox: &TestSandbox) -> u64 {
    let health: Value = sandbox.get("/health").json().unwrap();
    health["uptime_seconds"].as_u64().unwrap()
}

fn assert_frozen(sandbox: &TestSandbox) {
    let before = (exported(sandbox), health_uptime(sandbox));
    std::thread::sleep(Duration::from_secs(3));
    let after = (exported(sandbox), health_uptime(sandbox));
    assert_eq!(before.0, after.0, "/metrics frozen");
    assert!(after.1 > before.1, "/health uptime moves on");
}

#[test]
fn metrics_stale_freezes_the_exporter_until_the_refresh_is_fixed() {
    require_docker!();
    let sandbox = TestSandbox::up("metrics-stale");
    let original = config_file(&sandbox);
    let id = sandbox.inject("metrics-stale", &[]);
    assert_eq!(effective(&sandbox, "metrics", "refresh_seconds"), 86_400);
    assert_frozen(&sandbox);
    assert!(sandbox.traffic_json("/stats")["requests"].as_u64() > Some(0));
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // A restart renders one fresh snapshot, which freezes again.
    sandbox.restart_agent();
    assert_eq!(sandbox.root_cause_present(&id), Some(true));
    assert_frozen(&sandbox);

    set_in_config_and_reload(&sandbox, "refresh_seconds", "0");
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    let before = exported(&sandbox);
    std::thread::sleep(Duration::from_millis(1500));
    let after = exported(&sandbox);
    assert!(
        after.1 > before.1,
        "uptime moves again: {before:?} {after:?}"
    );
    sandbox.revert(&id);
    assert_eq!(config_file(&sandbox), original);
}

/// Whether `/health/live` answers within 2 s.
fn answers_live(sandbox: &TestSandbox) -> bool {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
        .get(format!("{}/health/live", sandbox.http()))
        .send()
        .is_ok()
}

#[test]
fn service_hang_leaves_the_port_open_and_silent_until_a_restart() {
    require_docker!();
    let sandbox = TestSandbox::up("service-hang");
    let injected_at = Instant::now();
    let id = sandbox.inject("service-hang", &[]);
    eprintln!(
        "service-hang: hung {:.1}s after the signal",
        injected_at.elapsed().as_secs_f64()
    );
    assert!(!answers_live(&sandbox), "/health/live answers no more");
    assert_eq!(sandbox.root_cause_present(&id), Some(true));
    let state = stdout(&docker(&[
        "inspect",
        "--format",
        "{{.State.Status}}",
        &sandbox.container(),
    ]));
    assert_eq!(state.trim(), "running");
    // The operator CLI hangs too: it gives up after its own timeout, or `timeout` stops it.
    let status = sandbox.exec(&["timeout", "5", "agentctl", "status"]);
    assert!(!status.status.success());
    assert!(logs(&sandbox).contains("diagnostics dump requested"));
    // Asleep, not spinning.
    let cpu = sandbox.cpu_percent();
    assert!(cpu < 30.0, "CPU {cpu}% of a deadlocked agent");
    // Capture diagnostics: every thread of the agent is asleep (S).
    let threads =
        stdout(&sandbox.exec(&["sh", "-c", "cat /proc/$(pidof optimizer-agent)/task/*/stat"]));
    assert!(threads.lines().count() > 4, "{threads}");
    assert!(
        threads.lines().all(|line| !line.contains(") R ")),
        "{threads}"
    );

    // The documented fix: restart. It truly fixes it.
    sandbox.restart_agent();
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    assert!(sandbox.get("/health").status().is_success());
    sandbox.revert(&id);
    assert_eq!(sandbox.root_cause_present(&id), None);
}

#[test]
fn service_hang_revert_restarts_the_agent() {
    require_docker!();
    let sandbox = TestSandbox::up("service-hang-revert");
    let id = sandbox.inject("service-hang", &[]);
    assert!(!answers_live(&sandbox));
    sandbox.revert(&id);
    assert!(answers_live(&sandbox));
    assert!(sandbox.get("/health").status().is_success());
    sandbox.agentctl_json(&["status"]);
}
