//! The trainee's verbs and `firedrill report` through the real binary, without Docker: verbs
//! with no drill running say so and fail as bad input; a result file renders as Markdown, HTML
//! and JSON; a broken result file is refused with where and what.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use assert_cmd::Command;
use firedrill::drill::timeline::{Action, Event, Outcome, Timeline};
use firedrill::report::{write_atomically, ResultFile, RunMeta};
use firedrill::scenario::load;
use firedrill::scenario::model::ActionSource;

fn firedrill(state: &Path) -> Command {
    let mut command = Command::cargo_bin("firedrill").expect("the firedrill binary is built");
    command
        .env_remove("FIREDRILL_LOG")
        .env("FIREDRILL_STATE_DIR", state);
    command
}

/// A resolved high-cpu-usage drill, written as `<dir>/drill-test.json`.
fn result_file(dir: &Path) -> std::path::PathBuf {
    let scenario = load(Path::new("scenarios/high-cpu-usage.yaml")).expect("the shipped scenario");
    let mut timeline = Timeline::default();
    timeline.push(-20.0, Event::DrillStarted);
    timeline.push(
        0.0,
        Event::FaultInjected {
            kind: "cpu-runaway".to_string(),
        },
    );
    timeline.push(
        32.0,
        Event::AlertFiring {
            alert: "AgentHighCpu".to_string(),
            severity: "critical".to_string(),
            summary: "CPU at 99 % of the container's limit (critical above 90 %)".to_string(),
        },
    );
    timeline.push(50.0, Event::Acknowledged);
    timeline.push(
        70.0,
        Event::Action(Action {
            source: ActionSource::Exec,
            text: "agentctl jobs list".to_string(),
        }),
    );
    timeline.push(
        90.0,
        Event::Diagnosed {
            runbook: "high-cpu-usage".to_string(),
            correct: true,
        },
    );
    timeline.push(
        120.0,
        Event::Action(Action {
            source: ActionSource::Exec,
            text: "agentctl jobs cancel 7 --deny".to_string(),
        }),
    );
    timeline.push(125.0, Event::Mitigated);
    timeline.push(185.0, Event::Resolved);
    timeline.push(
        185.0,
        Event::Ended {
            outcome: Outcome::Resolved,
        },
    );
    let scorecard = firedrill::score::score(&scenario, &timeline, false);
    let meta = RunMeta {
        session: "drill-test".to_string(),
        trainee: "ada".to_string(),
        seed: 7,
        guided: false,
        fault_injected_at: UNIX_EPOCH + Duration::from_secs(1_795_759_205),
    };
    write_atomically(
        dir,
        &ResultFile::new(meta, &scenario, &timeline, &scorecard),
    )
    .unwrap()
}

#[test]
fn verbs_without_a_running_drill_say_so() {
    let state = tempfile::tempdir().unwrap();
    for verb in [
        vec!["ack"],
        vec!["diagnose", "high-cpu-usage"],
        vec!["note", "looking", "at", "jobs"],
        vec!["hint"],
        vec!["status", "--json"],
        vec!["abort"],
    ] {
        let output = firedrill(state.path()).args(&verb).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{verb:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("no drill is running"), "{verb:?}: {stderr}");
    }
    let output = firedrill(state.path())
        .args(["ack", "--session", "drill-nope"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("no running drill with session 'drill-nope'"));
}

#[test]
fn a_result_renders_as_markdown_html_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let result = result_file(dir.path());
    let result = result.to_str().unwrap();

    let markdown = firedrill(dir.path())
        .args(["report", result])
        .output()
        .unwrap();
    assert!(markdown.status.success());
    let markdown = String::from_utf8(markdown.stdout).unwrap();
    assert!(
        markdown.contains("runbooks/incident-response.md#high-cpu-usage"),
        "{markdown}"
    );
    assert!(markdown.contains("ada"), "{markdown}");

    let page = dir.path().join("report.html");
    let html = firedrill(dir.path())
        .args(["report", result, result, "--format", "html", "-o"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        html.status.success(),
        "{}",
        String::from_utf8_lossy(&html.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"),
        "{html}"
    );

    let json = firedrill(dir.path())
        .args(["report", result, "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["schema"], "firedrill.result/v1");
    assert_eq!(json["outcome"], "resolved");
    assert_eq!(json["times"]["resolve_s"], 185.0);
}

#[test]
fn a_broken_result_file_is_refused_with_where_and_what() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "{\n  \"schema\": \"firedrill.result/v1\",\n  oops\n}\n",
    )
    .unwrap();
    let output = firedrill(dir.path())
        .arg("report")
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:3:3: not JSON", broken.display())),
        "{stderr}"
    );
    let other = dir.path().join("other.json");
    std::fs::write(&other, "{\"schema\": \"something/v9\"}").unwrap();
    let output = firedrill(dir.path())
        .arg("report")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("expected \"firedrill.result/v1\""));
}
