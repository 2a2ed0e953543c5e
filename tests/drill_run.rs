//! Whole drills through the CLI against the real engine, driven by scripted responders: one
//! that follows the runbook at known moments (the measured times match them), one that does
//! nothing (times out, no resolution points), one that only restarts the agent (ends
//! mitigated, scores lower), one that deletes the history database (data-loss deduction), and
//! one that aborts, by verb or by Ctrl-C (the result says so and nothing is left behind).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use serde_json::Value;

/// `firedrill run` of a scenario, its output read as it comes.
struct DrillRun {
    child: Child,
    lines: mpsc::Receiver<String>,
    results: tempfile::TempDir,
    session: String,
    container: String,
}

impl DrillRun {
    fn start(scenario: &str, extra: &[&str]) -> DrillRun {
        let results = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("firedrill"))
            .args([
                "run",
                scenario,
                "--trainee",
                "bot",
                "--onset",
                "2s",
                "--results",
            ])
            .arg(results.path())
            .args(extra)
            .env("FIREDRILL_STATE_DIR", state_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("firedrill run starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut run = DrillRun {
            child,
            lines,
            results,
            session: String::new(),
            container: String::new(),
        };
        let line = run.wait_line(Duration::from_secs(180), |l| {
            l.starts_with("session drill-")
        });
        // `session drill-1a2b3c: agent firedrill-drill-1a2b3c-agent at http://...`
        run.session = line["session ".len()..]
            .split(':')
            .next()
            .unwrap()
            .to_string();
        run.container = format!("firedrill-{}-agent", run.session);
        run
    }

    fn wait_line(&self, within: Duration, pick: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("the drill printed the awaited line in time");
            let line = self
                .lines
                .recv_timeout(left)
                .expect("the drill is still printing");
            if pick(&line) {
                return line;
            }
        }
    }

    fn verb(&self, args: &[&str]) {
        let output = firedrill()
            .args(args)
            .args(["--session", &self.session])
            .output()
            .unwrap();
        assert_success(&output, &format!("firedrill {args:?}"));
    }

    fn exec(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["exec", self.container.as_str()];
        all.extend_from_slice(args);
        docker(&all)
    }

    /// Waits for the drill to end; its exit code and result file.
    fn finish(mut self, within: Duration) -> (Option<i32>, Value) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the drill did not end in {within:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let path = self.results.path().join(format!("{}.json", self.session));
        let result = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(
            leftovers_of(&self.session).is_empty(),
            "the drill removed its sandbox"
        );
        (status.code(), result)
    }
}

impl Drop for DrillRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = firedrill()
            .args(["sandbox", "down", "--name", &self.session])
            .output();
    }
}

/// Seconds of `at` after the result's `fault_injected_at`.
fn since_injection(result: &Value, at: SystemTime) -> f64 {
    let injected = humantime::parse_rfc3339(result["fault_injected_at"].as_str().unwrap()).unwrap();
    at.duration_since(injected).unwrap().as_secs_f64()
}

#[test]
fn a_responder_following_the_runbook_resolves_and_its_times_are_measured() {
    require_docker!();
    let drill = DrillRun::start("high-cpu-usage", &["--time-limit", "5m"]);
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
    let drill = DrillRun::start("high-cpu-usage", &["--time-limit", "45s"]);
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
    let drill = DrillRun::start(
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
    let drill = DrillRun::start("high-cpu-usage", &["--time-limit", "40s"]);
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
    let drill = DrillRun::start("high-cpu-usage", &[]);
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
    let drill = DrillRun::start("high-cpu-usage", &[]);
    std::thread::sleep(Duration::from_secs(4));
    let pid = drill.child.id().to_string();
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
