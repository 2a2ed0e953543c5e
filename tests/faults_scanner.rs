//! Scanner faults: missing binary, corrupt DB, stale DB, hung DB update. For each: the symptom
//! shows, the probe holds (across a restart where one does not fix it), the documented fix
//! clears it, and revert restores the baseline.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// Vulnerable in any DB: python 3.8 (critical) and pyyaml 5.3 (critical).
const OLD_PYTHON: &str = "FROM python:3.8\nRUN pip install pyyaml==5.3\n";
/// Only advisories published in the feed's last weeks: gunicorn (high), golang (medium), express (medium).
const RECENT_CVES: &str =
    "FROM golang:1.21\nRUN pip install gunicorn==21.2.0\nRUN npm install express@4.18.2\n";

/// `POST /optimize` of `dockerfile`, made unique so the agent's cache does not answer it.
fn optimize(sandbox: &TestSandbox, dockerfile: &str) -> Value {
    static NONCE: AtomicUsize = AtomicUsize::new(0);
    let unique = format!(
        "{dockerfile}# request {}-{}\n",
        std::process::id(),
        NONCE.fetch_add(1, Ordering::Relaxed)
    );
    let response = sandbox.post("/optimize", &json!({ "dockerfile": unique }));
    assert!(response.status().is_success(), "{}", response.status());
    response.json::<Value>().unwrap()["scan_summary"].clone()
}

fn scan_failures(sandbox: &TestSandbox, reason: &str) -> f64 {
    metric_value(
        &sandbox.metrics(),
        "docker_optimizer_security_scan_failures_total",
        &[("reason", reason)],
    )
}

fn agent_logs(sandbox: &TestSandbox) -> String {
    let output = docker(&["logs", "--tail", "200", &sandbox.container()]);
    stdout(&output) + &stderr(&output)
}

fn db_bytes(sandbox: &TestSandbox) -> Vec<u8> {
    sandbox
        .exec(&["cat", "/var/lib/trivy/db/vulnerabilities.json"])
        .stdout
}

#[test]
fn scanner_missing_fails_open_until_the_binary_is_restored() {
    require_docker!();
    let sandbox = TestSandbox::up("scan-missing");
    let id = sandbox.inject("scanner-missing", &[]);
    let injected = Instant::now();
    // The client traffic alone makes the failures climb.
    eventually(Duration::from_secs(30), "missing-scanner failures", || {
        (scan_failures(&sandbox, "missing") >= 1.0).then_some(())
    });
    eprintln!(
        "scanner-missing: first failure after {:?}",
        injected.elapsed()
    );
    let summary = optimize(&sandbox, OLD_PYTHON);
    assert_eq!(
        (summary["grade"].as_str(), summary["scanner"].as_str()),
        (Some("A"), Some("failed"))
    );
    assert!(agent_logs(&sandbox).contains("not found"));
    let health: Value = sandbox.get("/health").json().unwrap();
    assert_eq!(health["checks"]["scanner"]["status"], "healthy", "{health}");
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The container's writable layer survives a restart: still missing.
    sandbox.restart_agent();
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    assert_success(
        &sandbox.exec_root(&["ln", "-s", "optimizer-agent", "/usr/local/bin/trivy"]),
        "restore the scanner",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    assert_eq!(optimize(&sandbox, OLD_PYTHON)["scanner"], "ok");
    sandbox.revert(&id);
    assert_eq!(
        stdout(&sandbox.exec(&["readlink", "/usr/local/bin/trivy"])).trim(),
        "optimizer-agent"
    );
}

#[test]
fn scanner_db_corrupt_fails_scans_until_verified_and_updated() {
    require_docker!();
    let sandbox = TestSandbox::up("scan-corrupt");
    let id = sandbox.inject("scanner-db-corrupt", &[]);
    let summary = optimize(&sandbox, OLD_PYTHON);
    assert_eq!(
        (summary["grade"].as_str(), summary["scanner"].as_str()),
        (Some("A"), Some("failed"))
    );
    assert!(scan_failures(&sandbox, "failed") >= 1.0);
    assert!(agent_logs(&sandbox).contains("is not valid JSON (truncated or corrupt?)"));
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The documented fix: verify (fails, exit 1), then update from the mirror.
    let verify = sandbox.exec(&["agentctl", "scanner", "db", "verify"]);
    assert_eq!(verify.status.code(), Some(1), "{}", stderr(&verify));
    assert!(stderr(&verify).contains("not valid JSON"));
    assert_success(
        &sandbox.exec(&["agentctl", "scanner", "db", "update"]),
        "db update",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    let summary = optimize(&sandbox, OLD_PYTHON);
    assert_eq!(summary["scanner"], "ok");
    assert!(summary["critical"].as_u64() >= Some(2), "{summary}");
    sandbox.revert(&id);
}

#[test]
fn scanner_db_stale_misses_recent_cves_until_updated() {
    require_docker!();
    let sandbox = TestSandbox::up("scan-stale");
    let fresh = optimize(&sandbox, RECENT_CVES);
    assert_eq!(
        (fresh["grade"].as_str(), fresh["high"].as_u64()),
        (Some("B"), Some(1)),
        "{fresh}"
    );
    let original = db_bytes(&sandbox);

    let id = sandbox.inject("scanner-db-stale", &["age_days=45"]);
    let stale = optimize(&sandbox, RECENT_CVES);
    assert_eq!(
        (
            stale["grade"].as_str(),
            stale["scanner"].as_str(),
            stale["high"].as_u64()
        ),
        (Some("A"), Some("ok"), Some(0)),
        "{stale}"
    );
    let logs = agent_logs(&sandbox);
    assert!(
        logs.contains("scanner warning") && logs.contains("is 45 days old"),
        "{logs}"
    );
    let status = stdout(&sandbox.exec(&["agentctl", "scanner", "status"]));
    assert!(
        status.contains("STALE: updated") && status.contains("(45 day(s) ago"),
        "{status}"
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(true));
    sandbox.restart_agent();
    assert_eq!(
        sandbox.root_cause_present(&id),
        Some(true),
        "a restart keeps the old DB"
    );

    assert_success(
        &sandbox.exec(&["agentctl", "scanner", "db", "update"]),
        "db update",
    );
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    assert_eq!(optimize(&sandbox, RECENT_CVES)["grade"], "B");

    sandbox.revert(&id);
    assert_eq!(
        db_bytes(&sandbox),
        original,
        "revert puts back the exact DB"
    );
}

fn hung_update_pid(sandbox: &TestSandbox) -> Option<String> {
    stdout(&sandbox.exec(&["ps", "-o", "pid,args"]))
        .lines()
        .find(|line| line.contains("trivy db update"))
        .and_then(|line| line.split_whitespace().next().map(str::to_string))
}

#[test]
fn scanner_hang_times_scans_out_until_the_hung_update_is_killed() {
    require_docker!();
    let sandbox = TestSandbox::up("scan-hang");
    let id = sandbox.inject("scanner-hang", &[]);
    let pid = hung_update_pid(&sandbox).expect("ps shows the stuck `trivy db update`");
    let status = stdout(&sandbox.exec(&["agentctl", "scanner", "status"]));
    assert!(status.contains(&format!("HELD by pid {pid}")), "{status}");

    // One request proves it: it waits out the agent's 10 s scanner timeout and fails open.
    let started = Instant::now();
    let summary = optimize(&sandbox, OLD_PYTHON);
    let took = started.elapsed();
    eprintln!("scanner-hang: one request took {took:?}");
    assert!(took >= Duration::from_secs(9), "{took:?}");
    assert_eq!(
        (summary["grade"].as_str(), summary["scanner"].as_str()),
        (Some("A"), Some("failed"))
    );
    assert!(scan_failures(&sandbox, "timeout") >= 1.0);
    assert_eq!(sandbox.root_cause_present(&id), Some(true));

    // The documented fix: kill the lock holder; the lock frees and scans run again.
    assert_success(&sandbox.exec(&["kill", &pid]), "kill the hung update");
    eventually(Duration::from_secs(10), "the lock to free", || {
        (sandbox.root_cause_present(&id) == Some(false)).then_some(())
    });
    assert_eq!(optimize(&sandbox, OLD_PYTHON)["scanner"], "ok");
    sandbox.revert(&id);
    let leftovers = sandbox.exec(&["ls", "/var/lib/trivy/db/db.lock", "/tmp/trivy-mirror"]);
    assert!(
        !leftovers.status.success(),
        "revert leaves no lock file or mirror FIFO"
    );

    // A restart ends the hung update too (exec'd processes die with the container).
    let id = sandbox.inject("scanner-hang", &[]);
    sandbox.restart_agent();
    assert_eq!(sandbox.root_cause_present(&id), Some(false));
    assert_eq!(hung_update_pid(&sandbox), None);
    sandbox.revert(&id);
}

#[test]
fn scanner_faults_revert_to_the_exact_baseline() {
    require_docker!();
    let sandbox = TestSandbox::up("scan-revert");
    let original = db_bytes(&sandbox);
    let missing = sandbox.inject("scanner-missing", &[]);
    let corrupt = sandbox.inject("scanner-db-corrupt", &[]);
    assert_ne!(db_bytes(&sandbox), original);
    sandbox.revert(&corrupt);
    assert_eq!(db_bytes(&sandbox), original);
    let stale = sandbox.inject("scanner-db-stale", &[]);
    assert_ne!(db_bytes(&sandbox), original);
    sandbox.revert(&stale);
    assert_eq!(db_bytes(&sandbox), original);
    sandbox.revert(&missing);
    assert_eq!(
        stdout(&sandbox.exec(&["readlink", "/usr/local/bin/trivy"])).trim(),
        "optimizer-agent"
    );
    assert_eq!(optimize(&sandbox, OLD_PYTHON)["scanner"], "ok");
}
