//! The scripted responder of `firedrill validate`: runs a scenario's reference solution against
//! a live drill, step by step at its time, the way a person would type it: `docker exec` into
//! the agent, the `docker` CLI, and the `firedrill` CLI (whose drill verbs reach the session
//! over its control socket). Nothing is done through a side door, so the drill audits, scores
//! and verifies the reference solution exactly as it would a trainee's.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::process::Command;
use tokio::sync::watch;

use crate::docker::sandbox::SandboxInfo;
use crate::scenario::model::{SolutionCommand, SolutionStep, DRILL_VERBS};

/// A step that takes longer than this is stopped and fails (a deploy takes seconds).
const STEP_TIMEOUT: Duration = Duration::from_secs(180);
/// How much of a step's output a report keeps: its last lines say what went wrong.
const OUTPUT_TAIL_CHARS: usize = 600;

/// One reference step as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRun {
    /// The step as written (`docker exec {container} agentctl status`).
    pub step: String,
    /// When the scenario said to run it, in seconds from the injection (for a step after a
    /// page, when the page came plus its delay).
    pub at_s: f64,
    /// When it started and how long it took.
    pub started_s: f64,
    pub duration_s: f64,
    /// Its exit code; `None` when it could not start or timed out.
    pub exit_code: Option<i32>,
    /// The end of what it printed (stdout, then stderr), or why it did not run.
    pub output: String,
}

impl StepRun {
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// Whether a step acts on the sandbox: everything but the drill verbs (which only tell the
/// drill something).
pub fn acts_on_sandbox(step: &SolutionStep) -> bool {
    match step.command() {
        Ok(SolutionCommand::Firedrill(words)) => !DRILL_VERBS.contains(&words[0].as_str()),
        _ => true,
    }
}

/// What the placeholders of the steps stand for in this drill.
#[derive(Debug, Clone)]
pub struct Placeholders {
    pairs: Vec<(&'static str, String)>,
    container: String,
    session: String,
}

impl Placeholders {
    pub fn of(info: &SandboxInfo) -> Placeholders {
        let pairs = vec![
            ("{container}", info.container.clone()),
            ("{sandbox}", info.name.clone()),
            ("{session}", info.session.clone()),
            ("{volume}", info.volume.clone()),
            ("{image}", info.image.clone()),
            ("{network}", info.network.clone()),
            (
                "{traffic}",
                info.traffic_container.clone().unwrap_or_default(),
            ),
        ];
        Placeholders {
            pairs,
            container: info.container.clone(),
            session: info.session.clone(),
        }
    }

    fn fill(&self, word: &str) -> String {
        self.pairs
            .iter()
            .fold(word.to_string(), |word, (name, value)| {
                word.replace(name, value)
            })
    }

    /// The program and arguments step `command` runs.
    fn argv(&self, command: &SolutionCommand) -> (String, Vec<String>) {
        let fill = |words: &[String]| words.iter().map(|w| self.fill(w)).collect::<Vec<_>>();
        match command {
            SolutionCommand::Exec(words) => {
                let mut args = vec!["exec".to_string(), self.container.clone()];
                args.extend(fill(words));
                ("docker".to_string(), args)
            }
            SolutionCommand::Docker(words) => ("docker".to_string(), fill(words)),
            SolutionCommand::Firedrill(words) => {
                let mut args = fill(words);
                if DRILL_VERBS.contains(&words[0].as_str()) {
                    args.extend(["--session".to_string(), self.session.clone()]);
                }
                // A rebuilt binary replaces this one on disk; the link then reads
                // `<path> (deleted)`, and the path itself is the new build.
                let program = std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .map(|p| p.trim_end_matches(" (deleted)").to_string())
                    .unwrap_or_else(|_| "firedrill".to_string());
                (program, args)
            }
        }
    }
}

/// Runs `steps` at their times from `injected` (or from the first firing of their
/// `after_alert`, which `fired` announces), one after another: a step that overruns the next
/// one's time delays it, as a person would be delayed.
pub async fn run(
    steps: Vec<SolutionStep>,
    placeholders: Placeholders,
    injected: Instant,
    mut fired: watch::Receiver<BTreeSet<String>>,
) -> Vec<StepRun> {
    let mut runs = Vec::with_capacity(steps.len());
    let mut paged_at: BTreeMap<String, Instant> = BTreeMap::new();
    for step in steps {
        let origin = match &step.after_alert {
            None => injected,
            Some(alert) => match paged_at.get(alert) {
                Some(at) => *at,
                None => {
                    // The drill ends at its time limit, which drops this task: no other exit.
                    let _ = fired.wait_for(|alerts| alerts.contains(alert)).await;
                    *paged_at.entry(alert.clone()).or_insert_with(Instant::now)
                }
            },
        };
        tokio::time::sleep_until((origin + step.at).into()).await;
        let started = injected.elapsed();
        let (exit_code, output) = match step.command() {
            Ok(command) => execute(&placeholders.argv(&command)).await,
            Err(problem) => (None, problem),
        };
        runs.push(StepRun {
            step: step.display(),
            at_s: round_ms((origin + step.at).duration_since(injected).as_secs_f64()),
            started_s: round_ms(started.as_secs_f64()),
            duration_s: round_ms((injected.elapsed() - started).as_secs_f64()),
            exit_code,
            output,
        });
    }
    runs
}

async fn execute((program, args): &(String, Vec<String>)) -> (Option<i32>, String) {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(STEP_TIMEOUT, child).await {
        Err(_) => (
            None,
            format!("still running after {}s: stopped", STEP_TIMEOUT.as_secs()),
        ),
        Ok(Err(error)) => (None, format!("could not start `{program}`: {error}")),
        Ok(Ok(output)) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            (output.status.code(), tail(text.trim_end()))
        }
    }
}

fn tail(text: &str) -> String {
    let start = text
        .char_indices()
        .rev()
        .nth(OUTPUT_TAIL_CHARS)
        .map_or(0, |(i, _)| i);
    text[start..].to_string()
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(yaml: &str) -> SolutionStep {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn info() -> SandboxInfo {
        SandboxInfo {
            name: "drill-abc".into(),
            session: "drill-abc".into(),
            container: "firedrill-drill-abc-agent".into(),
            container_id: "f00".into(),
            traffic_container: Some("firedrill-drill-abc-traffic".into()),
            network: "firedrill-drill-abc".into(),
            volume: "firedrill-drill-abc-data".into(),
            version: "1.4.2".into(),
            image: "firedrill/optimizer-agent:1.4.2".into(),
            state: "running".into(),
            http: None,
            https: None,
            traffic_stats: None,
            health: None,
        }
    }

    #[test]
    fn steps_become_the_commands_a_person_types() {
        let placeholders = Placeholders::of(&info());
        let argv = |yaml: &str| placeholders.argv(&step(yaml).command().unwrap());
        assert_eq!(
            argv("{ at: 1s, exec: \"sh -c 'agentctl jobs list | head -n 1'\" }"),
            (
                "docker".to_string(),
                vec![
                    "exec".into(),
                    "firedrill-drill-abc-agent".into(),
                    "sh".into(),
                    "-c".into(),
                    "agentctl jobs list | head -n 1".into()
                ]
            )
        );
        assert_eq!(
            argv("{ at: 1s, docker: \"run --rm -v {volume}:/data {image} ls\" }").1,
            vec![
                "run",
                "--rm",
                "-v",
                "firedrill-drill-abc-data:/data",
                "firedrill/optimizer-agent:1.4.2",
                "ls"
            ]
        );
        let (_, verb) = argv("{ at: 1s, firedrill: \"diagnose memory-leaks\" }");
        assert_eq!(verb, ["diagnose", "memory-leaks", "--session", "drill-abc"]);
        let (_, deploy) =
            argv("{ at: 1s, firedrill: \"sandbox deploy --name {sandbox} --version 1.4.3\" }");
        assert_eq!(
            deploy,
            [
                "sandbox",
                "deploy",
                "--name",
                "drill-abc",
                "--version",
                "1.4.3"
            ]
        );
    }

    #[tokio::test]
    async fn a_step_after_a_page_waits_for_it_and_counts_from_it() {
        let steps: Vec<SolutionStep> = serde_yaml::from_str(
            "[{ at: 10ms, firedrill: \"--version\" }, \
              { at: 50ms, after_alert: AgentHighMemory, firedrill: \"--version\" }]",
        )
        .unwrap();
        let (pages, fired) = watch::channel(BTreeSet::new());
        let injected = Instant::now();
        let responder = tokio::spawn(run(steps, Placeholders::of(&info()), injected, fired));
        tokio::time::sleep(Duration::from_millis(300)).await;
        pages.send_modify(|alerts| {
            alerts.insert("AgentHighMemory".to_string());
        });
        let runs = responder.await.unwrap();
        assert_eq!(runs.len(), 2);
        assert!(runs[0].started_s < 0.3, "{runs:?}");
        assert!(
            runs[1].at_s >= 0.35 && runs[1].started_s >= 0.35,
            "{runs:?}"
        );
    }

    #[test]
    fn only_the_drill_verbs_leave_the_sandbox_alone() {
        assert!(!acts_on_sandbox(&step("{ at: 1s, firedrill: ack }")));
        assert!(!acts_on_sandbox(&step(
            "{ at: 1s, firedrill: \"diagnose rollback\" }"
        )));
        assert!(acts_on_sandbox(&step(
            "{ at: 1s, exec: \"agentctl status\" }"
        )));
        assert!(acts_on_sandbox(&step(
            "{ at: 1s, firedrill: \"sandbox deploy --name x --version 1.4.2\" }"
        )));
    }

    #[test]
    fn output_keeps_its_end() {
        let long = "x".repeat(1000) + "the error";
        assert!(tail(&long).ends_with("the error"));
        assert!(tail(&long).len() <= OUTPUT_TAIL_CHARS + 1);
        assert_eq!(tail("short"), "short");
    }
}
