//! The sandbox agent's public API, metrics, logs and traffic, through a real sandbox.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const NAIVE_DOCKERFILE: &str = "FROM ubuntu:latest
RUN apt-get update
RUN apt-get install -y curl
COPY app /app
CMD [\"/app/run\"]
";

#[test]
fn optimize_rewrites_a_dockerfile_as_the_rules_say() {
    require_docker!();
    let sandbox = TestSandbox::up("optimize");
    let response = sandbox.post("/optimize", &json!({ "dockerfile": NAIVE_DOCKERFILE }));
    assert_eq!(response.status(), 200);
    let body: Value = response.json().unwrap();
    let optimized = body["optimized_dockerfile"].as_str().unwrap();

    assert!(
        !optimized.contains(":latest"),
        "latest not pinned:\n{optimized}"
    );
    assert!(optimized.contains("FROM ubuntu:"), "{optimized}");
    let update_at = optimized
        .find("apt-get update")
        .expect("apt-get update kept");
    let install_at = optimized
        .find("apt-get install")
        .expect("apt-get install kept");
    assert!(
        !optimized[update_at..install_at].contains("\nRUN "),
        "consecutive RUNs not merged:\n{optimized}"
    );
    assert!(optimized.contains("--no-install-recommends"), "{optimized}");
    assert!(
        optimized.contains("rm -rf /var/lib/apt/lists/*"),
        "{optimized}"
    );
    assert!(
        optimized.contains("\nUSER "),
        "no non-root user:\n{optimized}"
    );
    let user_at = optimized.find("\nUSER ").unwrap();
    let cmd_at = optimized.find("\nCMD ").unwrap();
    assert!(user_at < cmd_at, "USER must come before CMD:\n{optimized}");

    for field in [
        "explanation",
        "security_fixes",
        "layer_optimizations",
        "processing_time_ms",
    ] {
        assert!(!body[field].is_null(), "no {field} in {body}");
    }
    let summary = &body["scan_summary"];
    assert_eq!(summary["scanner"], "ok", "{summary}");
    assert!(["A", "B", "C", "D", "F"].contains(&summary["grade"].as_str().unwrap()));

    let analyzed = sandbox.post("/analyze", &json!({ "dockerfile": NAIVE_DOCKERFILE }));
    assert_eq!(analyzed.status(), 200);
}

#[test]
fn a_missing_dockerfile_gets_400_not_a_crash() {
    require_docker!();
    let sandbox = TestSandbox::up("badreq");
    for body in [
        json!({}),
        json!({ "dockerfile": "" }),
        json!({ "dockerfile": "   " }),
    ] {
        let response = sandbox.post("/optimize", &body);
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().unwrap();
        assert_eq!(error["error"], "dockerfile content is required");
    }
    let garbage = client()
        .post(format!("{}/optimize", sandbox.http()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(garbage.status(), 400);
    assert!(sandbox.get("/health/live").status().is_success());
    let root: Value = sandbox.get("/").json().unwrap();
    assert_eq!(root["version"], "1.4.2");
    assert!(sandbox.get("/health/ready").status().is_success());
}

#[test]
fn metrics_parse_as_prometheus_text_and_carry_the_agent_names() {
    require_docker!();
    let sandbox = TestSandbox::up("metrics");
    sandbox.post("/optimize", &json!({ "dockerfile": NAIVE_DOCKERFILE }));
    let scrape = sandbox.metrics();
    let names: Vec<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    for expected in [
        "docker_optimizer_requests_total",
        // prometheus-parse folds a histogram's _bucket lines into one sample of the base name.
        "docker_optimizer_processing_duration_seconds",
        "docker_optimizer_security_scan_failures_total",
        "docker_optimizer_security_scans_total",
        "docker_optimizer_memory_usage_bytes",
        "docker_optimizer_cache_entries",
        "docker_optimizer_cache_hits_total",
        "docker_optimizer_cache_misses_total",
        "docker_optimizer_health_status",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "docker_optimizer_build_info",
        "docker_optimizer_certificate_expiry_timestamp_seconds",
        "docker_optimizer_disk_usage_bytes",
        "docker_optimizer_disk_quota_bytes",
        "docker_optimizer_jobs_in_flight",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from /metrics"
        );
    }
    assert!(
        metric_value(
            &scrape,
            "docker_optimizer_requests_total",
            &[("operation_type", "optimize")]
        ) >= 1.0
    );
    assert_eq!(
        metric_value(
            &scrape,
            "docker_optimizer_build_info",
            &[("version", "1.4.2")]
        ),
        1.0
    );
    assert_eq!(
        metric_value(&scrape, "docker_optimizer_health_status", &[]),
        1.0
    );
    let expiry = metric_value(
        &scrape,
        "docker_optimizer_certificate_expiry_timestamp_seconds",
        &[],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let days_left = (expiry - now) / 86_400.0;
    assert!(
        (89.0..=90.1).contains(&days_left),
        "certificate expires in {days_left} days"
    );
}

#[test]
fn logs_are_one_json_object_per_line_on_stdout_and_on_disk() {
    require_docker!();
    let sandbox = TestSandbox::up("logs");
    sandbox.post("/optimize", &json!({ "dockerfile": NAIVE_DOCKERFILE }));
    let logs = docker(&["logs", &sandbox.container()]);
    let lines: Vec<String> = stdout(&logs).lines().map(str::to_string).collect();
    assert!(!lines.is_empty(), "the agent logged nothing");
    for line in &lines {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        assert!(
            entry["timestamp"].is_string() && entry["level"].is_string(),
            "{line}"
        );
    }
    let on_disk = sandbox.exec(&["cat", "/var/log/docker-optimizer/agent.log"]);
    assert_success(&on_disk, "reading the log file");
    let first = stdout(&on_disk)
        .lines()
        .next()
        .map(str::to_string)
        .unwrap_or_default();
    serde_json::from_str::<Value>(&first).expect("log file lines are JSON");
}

#[test]
fn client_traffic_moves_the_agent_metrics() {
    require_docker!();
    let sandbox = TestSandbox::up("traffic");
    let requests =
        |s: &TestSandbox| metric_value(&s.metrics(), "docker_optimizer_requests_total", &[]);
    let before = requests(&sandbox);
    eventually(
        Duration::from_secs(30),
        "client traffic to reach the agent",
        || (requests(&sandbox) >= before + 5.0).then_some(()),
    );
    let stats: Value = eventually(Duration::from_secs(30), "traffic statistics", || {
        client()
            .get(format!("{}/stats", sandbox.traffic_stats()))
            .send()
            .ok()?
            .json::<Value>()
            .ok()
            .filter(|s| s["requests"].as_u64().unwrap_or(0) >= 5)
    });
    assert_eq!(
        stats["errors"], 0,
        "a healthy sandbox shows no client errors: {stats}"
    );
    assert!(stats["p95_ms"].as_f64().unwrap() > 0.0, "{stats}");
    let scrape = sandbox.metrics();
    let lookups = metric_value(&scrape, "docker_optimizer_cache_hits_total", &[])
        + metric_value(&scrape, "docker_optimizer_cache_misses_total", &[]);
    assert!(
        lookups >= 1.0,
        "the traffic's requests went through the cache"
    );
    assert!(metric_value(&scrape, "docker_optimizer_cache_entries", &[]) >= 1.0);
}
