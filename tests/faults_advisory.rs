//! Faults of supply-chain security: an advisory against one of the agent's dependencies and one
//! against a package of its base image. For each: the agent's self-scan reports it, the probe
//! holds across a restart, a DB update and a redeploy of the same release, the security patch
//! release clears it, and revert withdraws the advisory.

mod common;

use std::time::Duration;

use common::*;

const SBOM: &str = "/usr/local/share/docker-optimizer/sbom.cdx.json";
const DB: &str = "/var/lib/trivy/db/vulnerabilities.json";

fn image_vulnerabilities(sandbox: &TestSandbox, severity: &str) -> f64 {
    metric_value(
        &sandbox.metrics(),
        "docker_optimizer_image_vulnerabilities",
        &[("severity", severity)],
    )
}

/// Waits until the agent's self-scan reports `count` findings of `severity`.
fn assert_self_scan_reports(sandbox: &TestSandbox, severity: &str, count: f64) {
    sandbox.wait_until_live(Duration::from_secs(30));
    eventually(
        Duration::from_secs(30),
        &format!("the self-scan to report {count} {severity} findings"),
        || (image_vulnerabilities(sandbox, severity) == count).then_some(()),
    );
}

fn advisory_id(sandbox: &TestSandbox, id: &str) -> String {
    let status = sandbox.fault_status(id).expect("the fault is recorded");
    status["baseline"]["advisory"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the record names its advisory: {status}"))
        .to_string()
}

fn deploy_and_wait(sandbox: &TestSandbox, version: &str) {
    sandbox.deploy(version);
    sandbox.wait_until_live(Duration::from_secs(60));
}

#[test]
fn vulnerable_dependency_holds_until_the_patch_release_ships_the_fix() {
    require_docker!();
    let sandbox = TestSandbox::up("vuln-dep");
    assert_self_scan_reports(&sandbox, "critical", 0.0);
    let id = sandbox.inject("vulnerable-dependency", &["package=rustls"]);
    let advisory = advisory_id(&sandbox, &id);
    assert!(advisory.starts_with("FIREDRILL-"), "{advisory}");

    // What the trainee sees: the metric, the agent's log, and trivy on the image's SBOM.
    assert_self_scan_reports(&sandbox, "critical", 1.0);
    let logs = docker(&["logs", "--tail", "50", &sandbox.container()]);
    let logs = stdout(&logs);
    assert!(
        logs.lines().any(|line| line.contains("self-scan")
            && line.contains(&advisory)
            && line.contains("rustls")),
        "the agent logs the finding:\n{logs}"
    );
    let scan = sandbox.exec(&["trivy", "sbom", SBOM]);
    assert_success(&scan, "trivy sbom");
    assert!(stdout(&scan).contains(&advisory), "{}", stdout(&scan));
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // Neither a restart nor a DB update from the mirror fixes a vulnerable dependency.
    sandbox.restart_agent();
    assert_self_scan_reports(&sandbox, "critical", 1.0);
    assert_success(
        &sandbox.exec(&["agentctl", "scanner", "db", "update"]),
        "agentctl scanner db update",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The documented fix: the security patch release. The DB still carries the advisory (the
    // scanner cache outlives the deploy); the new image's SBOM ships the fixed version.
    deploy_and_wait(&sandbox, "1.4.3");
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    assert!(stdout(&sandbox.exec(&["cat", DB])).contains(&advisory));
    assert_self_scan_reports(&sandbox, "critical", 0.0);

    sandbox.revert(&id);
    assert_eq!(sandbox.root_cause_present(&id), None, "the record is gone");
    assert!(!stdout(&sandbox.exec(&["cat", DB])).contains(&advisory));
}

#[test]
fn base_image_cve_survives_a_redeploy_of_the_same_release_and_reverts_cleanly() {
    require_docker!();
    let sandbox = TestSandbox::up("base-cve");
    let refused = firedrill()
        .args([
            "fault",
            "inject",
            "base-image-cve",
            "--sandbox",
            &sandbox.name,
        ])
        .args(["--set", "package=no-such-package"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("the image does not ship 'no-such-package'; it ships: "),
        "{}",
        stderr(&refused)
    );

    let id = sandbox.inject("base-image-cve", &["package=libc6", "severity=high"]);
    let advisory = advisory_id(&sandbox, &id);
    assert_self_scan_reports(&sandbox, "high", 1.0);
    let scan = sandbox.exec(&["trivy", "sbom", "--format", "json", SBOM]);
    assert!(
        stdout(&scan).contains("\"PkgName\": \"libc6\""),
        "{}",
        stdout(&scan)
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // Redeploying the same release brings the same base back: still affected, still reported.
    deploy_and_wait(&sandbox, "1.4.2");
    assert_eq!(sandbox.root_cause_present(&id), Some(true));
    assert_self_scan_reports(&sandbox, "high", 1.0);

    // Revert withdraws the advisory from the DB and the mirror: the self-scan is clean again.
    sandbox.revert(&id);
    assert_self_scan_reports(&sandbox, "high", 0.0);
    assert!(!stdout(&sandbox.exec(&["cat", DB])).contains(&advisory));
    let mirror = sandbox.exec(&["cat", "/usr/share/trivy/mirror/vulnerabilities.json"]);
    assert!(!stdout(&mirror).contains(&advisory));

    // A sandbox on the patch release has nothing to be vulnerable in.
    deploy_and_wait(&sandbox, "1.4.3");
    let refused = firedrill()
        .args([
            "fault",
            "inject",
            "base-image-cve",
            "--sandbox",
            &sandbox.name,
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("already ships the security patches"),
        "{}",
        stderr(&refused)
    );
}
