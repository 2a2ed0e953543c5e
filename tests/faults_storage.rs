//! Storage faults: an expiring and an expired certificate, and a filling data volume. For each:
//! the symptom shows, the probe holds (also across a restart, which fixes none of them), the
//! documented fix clears it, and revert restores the baseline.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn cert_serial(sandbox: &TestSandbox) -> String {
    sandbox.agentctl_json(&["cert", "show"])["serial"]
        .as_str()
        .unwrap()
        .to_string()
}

fn health(sandbox: &TestSandbox) -> (u16, Value) {
    let response = sandbox.get("/health");
    (response.status().as_u16(), response.json().unwrap())
}

fn days_until_expiry(sandbox: &TestSandbox) -> f64 {
    let expiry = metric_value(
        &sandbox.metrics(),
        "docker_optimizer_certificate_expiry_timestamp_seconds",
        &[],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    (expiry - now) / 86_400.0
}

#[test]
fn cert_expiring_degrades_health_until_renewed() {
    require_docker!();
    let sandbox = TestSandbox::up("cert-expiring");
    let original = cert_serial(&sandbox);
    let id = sandbox.inject("cert-expiring", &["days=5"]);
    let (status, body) = health(&sandbox);
    assert_eq!(
        (status, body["checks"]["tls"]["status"].as_str()),
        (200, Some("degraded")),
        "{body}"
    );
    let days = days_until_expiry(&sandbox);
    assert!((4.0..=5.0).contains(&days), "{days} days left");
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The documented fix: renew, swapped in live.
    assert_success(&sandbox.exec(&["agentctl", "cert", "renew"]), "cert renew");
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    assert_eq!(health(&sandbox).1["checks"]["tls"]["status"], "healthy");
    sandbox.revert(&id);
    assert_eq!(cert_serial(&sandbox), original);
}

#[test]
fn cert_expired_fails_health_across_a_restart_until_renewed() {
    require_docker!();
    let sandbox = TestSandbox::up("cert-expired");
    let original = cert_serial(&sandbox);
    let id = sandbox.inject("cert-expired", &[]);
    let (status, body) = health(&sandbox);
    assert_eq!(
        (status, body["checks"]["tls"]["status"].as_str()),
        (503, Some("unhealthy")),
        "{body}"
    );
    assert!(days_until_expiry(&sandbox) < 0.0);
    // A strict HTTPS client refuses the handshake.
    let strict = reqwest::blocking::Client::new()
        .get(format!("{}/health/live", sandbox.https()))
        .send();
    assert!(strict.is_err());
    assert_eq!(sandbox.root_cause_present(&id), Some(true));
    sandbox.restart_agent();
    assert_eq!(
        sandbox.root_cause_present(&id),
        Some(true),
        "a restart serves the same certificate"
    );

    assert_success(&sandbox.exec(&["agentctl", "cert", "renew"]), "cert renew");
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    assert_eq!(health(&sandbox).0, 200);
    sandbox.revert(&id);
    assert_eq!(cert_serial(&sandbox), original);
    assert!(days_until_expiry(&sandbox) > 80.0);
}

fn disk_percent(sandbox: &TestSandbox) -> f64 {
    sandbox.agentctl_json(&["status"])["disk"]["percent"]
        .as_f64()
        .unwrap()
}

#[test]
fn disk_fill_grows_and_holds_across_a_restart_until_cleaned_up() {
    require_docker!();
    let sandbox = TestSandbox::up("disk-fill");
    let id = sandbox.inject("disk-fill", &["percent=85", "grow_to=92", "grow_after=2s"]);
    let injected = Instant::now();
    eventually(Duration::from_secs(20), "the disk check degraded", || {
        let (status, body) = health(&sandbox);
        (status == 200 && body["checks"]["disk"]["status"] == "degraded").then_some(())
    });
    eprintln!(
        "disk-fill: disk check degraded after {:?}",
        injected.elapsed()
    );
    eventually(Duration::from_secs(30), "the second stage", || {
        (disk_percent(&sandbox) >= 90.0).then_some(())
    });
    eprintln!(
        "disk-fill: second stage seen after {:?}",
        injected.elapsed()
    );
    let used = metric_value(&sandbox.metrics(), "docker_optimizer_disk_usage_bytes", &[]);
    let quota = metric_value(&sandbox.metrics(), "docker_optimizer_disk_quota_bytes", &[]);
    assert!(used / quota >= 0.9, "{used} of {quota}");
    let rotated = stdout(&sandbox.exec(&["ls", "/var/log/docker-optimizer"]));
    assert!(rotated.contains("agent.log.1"), "{rotated}");
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The volume persists across a restart.
    sandbox.restart_agent();
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The documented fix: clean up temp files and rotated logs, prune by retention.
    assert_success(&sandbox.exec(&["agentctl", "cleanup"]), "cleanup");
    assert_success(
        &sandbox.exec(&["agentctl", "db", "prune", "--older-than", "30d"]),
        "prune",
    );
    eventually(Duration::from_secs(10), "the probe to clear", || {
        (sandbox.root_cause_present(&id) == Some(false)).then_some(())
    });
    assert!(sandbox
        .exec(&["test", "-f", "/var/lib/docker-optimizer/history.redb"])
        .status
        .success());
    sandbox.revert(&id);
}

#[test]
fn disk_fill_revert_removes_exactly_what_it_wrote() {
    require_docker!();
    let sandbox = TestSandbox::up("disk-fill-revert");
    // What the volume holds, less the agent's in-flight scan inputs (the traffic comes and goes).
    let listing = |sandbox: &TestSandbox| {
        stdout(&sandbox.exec(&[
            "ls",
            "/var/lib/docker-optimizer/tmp",
            "/var/log/docker-optimizer",
        ]))
        .lines()
        .filter(|name| !name.starts_with("scan-"))
        .collect::<Vec<_>>()
        .join("\n")
    };
    let before = listing(&sandbox);
    let id = sandbox.inject("disk-fill", &["grow_to=95", "grow_after=10m"]);
    assert_ne!(listing(&sandbox), before);
    sandbox.revert(&id);
    assert_eq!(listing(&sandbox), before);
    let writers = stdout(&sandbox.exec(&["ps", "-o", "args"]));
    assert!(
        !writers.contains("urandom"),
        "the second-stage writer is gone: {writers}"
    );
    eventually(
        Duration::from_secs(10),
        "usage back to the baseline",
        || (disk_percent(&sandbox) < 20.0).then_some(()),
    );
}
