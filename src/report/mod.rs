//! Reports of finished drills: the result file ([`result`]) and its renderings, the
//! end-of-drill scorecard ([`terminal`]), the Markdown debrief ([`markdown`]) and the HTML
//! page ([`html`]). Everything but [`write_atomically`] and [`read`] is a pure function of
//! result files, so `firedrill report` re-renders a drill without Docker.

pub mod html;
pub mod markdown;
pub mod result;
pub mod terminal;

pub use result::{read, write_atomically, ResultFile, RunMeta, SCHEMA};

use std::path::PathBuf;
use std::time::Duration;

use crate::drill::timeline::Event;
use crate::scenario::model::ActionSource;
use crate::score;

/// The formats of `firedrill report --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Html,
    Json,
}

/// Renders results: JSON as one object (an array for several), Markdown as debriefs separated
/// by `---`, HTML as one page.
pub fn render(results: &[ResultFile], format: Format) -> String {
    match format {
        Format::Json => match results {
            [one] => format!("{}\n", one.to_json()),
            many => format!(
                "{}\n",
                serde_json::to_string_pretty(many).expect("result files serialise")
            ),
        },
        Format::Md => results
            .iter()
            .map(markdown::debrief)
            .collect::<Vec<_>>()
            .join("\n---\n\n"),
        Format::Html => html::page(results),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}:{line}:{column}: not JSON: {reason}", path.display())]
    NotJson {
        path: PathBuf,
        line: usize,
        column: usize,
        reason: String,
    },

    #[error(
        "{}: no \"schema\" field; expected \"{}\" (is it a firedrill result file?)",
        path.display(),
        SCHEMA
    )]
    MissingSchema { path: PathBuf },

    #[error(
        "{}: schema is \"{found}\", expected \"{}\" (written by another version of firedrill?)",
        path.display(),
        SCHEMA
    )]
    WrongSchema { path: PathBuf, found: String },

    #[error(
        "{}:{line}:{column}: not a valid {} result file: {reason}",
        path.display(),
        SCHEMA
    )]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        reason: String,
    },
}

/// The rows of every times table: what, when (from the injection), and its target if it has one.
fn time_rows(result: &ResultFile) -> [(&'static str, Option<f64>, Option<f64>); 5] {
    let (times, targets) = (&result.times, &result.targets);
    [
        ("first alert", times.first_alert_s, None),
        (
            "acknowledge",
            times.acknowledge_s,
            Some(targets.acknowledge_s),
        ),
        ("detect", times.detect_s, Some(targets.detect_s)),
        ("mitigate", times.mitigate_s, None),
        ("resolve", times.resolve_s, Some(targets.resolve_s)),
    ]
}

/// A time measured from the injection: `1m 05s`, or `-20s` for one before it.
fn measured(at: f64) -> String {
    if at < 0.0 {
        score::offset(at)
    } else {
        score::elapsed(at)
    }
}

/// A target in seconds as the scenario wrote it: `2m`, `1m 30s`.
fn target(secs: f64) -> String {
    score::target_time(Duration::try_from_secs_f64(secs).unwrap_or_default())
}

fn source_label(source: ActionSource) -> &'static str {
    match source {
        ActionSource::Docker => "docker",
        ActionSource::Exec => "exec",
        ActionSource::Http => "http",
        ActionSource::Firedrill => "firedrill",
    }
}

/// One timeline entry in words, e.g. `alert firing: AgentHighCpu (critical): CPU at 97 %`.
fn describe(event: &Event) -> String {
    match event {
        Event::DrillStarted => "drill started: briefing shown".to_string(),
        Event::FaultInjected { kind } => format!("fault injected: {kind}"),
        Event::AlertFiring {
            alert,
            severity,
            summary,
        } => format!("alert firing: {alert} ({severity}): {summary}"),
        Event::ThresholdCrossed {
            alert,
            severity,
            value,
            threshold,
        } => {
            format!("threshold crossed: {alert} ({severity}) at {value:.1}, threshold {threshold}")
        }
        Event::AlertResolved { alert, severity } => {
            format!("alert resolved: {alert} ({severity})")
        }
        Event::Acknowledged => "acknowledged".to_string(),
        Event::Diagnosed { runbook, correct } => format!(
            "diagnosed {runbook} ({})",
            if *correct { "correct" } else { "wrong" }
        ),
        Event::Note { text } => format!("note: {text}"),
        Event::HintShown { index, text } => format!("hint {} shown: {text}", index + 1),
        Event::Action(action) => format!("{}: {}", source_label(action.source), action.text),
        Event::Mitigated => "impact gone (mitigated)".to_string(),
        Event::ImpactReturned => "impact returned".to_string(),
        Event::RootCauseCleared { detail } => format!("root cause cleared: {detail}"),
        Event::RootCausePresent { detail } => format!("root cause present again: {detail}"),
        Event::Resolved => "resolved: root cause gone and stable".to_string(),
        Event::DataLoss { detail } => format!("data loss: {detail}"),
        Event::ContainerDestroyed => "agent container destroyed".to_string(),
        Event::ChangeBudgetExceeded {
            metric,
            value,
            limit,
        } => format!("change budget broken: the traffic's {metric} at {value:.2}, limit {limit}"),
        Event::ChangeBudgetExcursionEnded {
            metric,
            worst,
            limit,
        } => format!(
            "change budget excursion over: the traffic's {metric} was at worst {worst:.2}, limit \
             {limit}"
        ),
        Event::Ended { outcome } => format!("drill ended: {}", score::outcome_label(*outcome)),
    }
}

/// Two drills of one scenario, hand-made so the snapshots of every renderer stay stable.
#[cfg(test)]
pub(crate) mod fixture {
    use std::time::{Duration, UNIX_EPOCH};

    use super::{ResultFile, RunMeta};
    use crate::drill::timeline::{Action, Event, Outcome, Timeline};
    use crate::scenario::model::{ActionSource, Scenario};
    use crate::score::score;

    const SCENARIO: &str = r#"
id: high-cpu-runaway-job
title: A runaway optimization job
runbook: high-cpu-usage
difficulty: easy
briefing: The agent answers slowly and the CPU graph is flat at the top.
faults:
  - kind: cpu-runaway
    onset: { after: 20s, within: 40s }
alerts:
  expected: [AgentHighCpu]
diagnosis:
  accepted: [high-cpu-usage]
procedure:
  - id: find-the-job
    title: List the jobs and find the one that runs for minutes
    any_of: [{ exec: "agentctl jobs list" }]
    weight: 5
  - id: cancel-and-deny
    title: Cancel the job and deny-list its input
    any_of: [{ exec: "agentctl jobs cancel .* --deny" }]
    after: [find-the-job]
    weight: 15
  - id: verify
    title: Check the agent's health and metrics
    any_of: [{ http: "^GET /metrics" }, { exec: "agentctl status" }]
    after: [cancel-and-deny]
    weight: 10
penalties:
  - id: restart-only
    title: Restarted the agent (the job comes back)
    any_of: [{ docker: "^restart$" }]
    points: 10
hints:
  - { after: 3m, text: Which job has been running the longest? }
targets: { acknowledge: 2m, detect: 5m, resolve: 15m }
time_limit: 30m
reference_solution:
  - { at: 5s, firedrill: ack }
  - { at: 10s, exec: "agentctl jobs list --json" }
"#;

    pub fn scenario() -> Scenario {
        serde_yaml::from_str(SCENARIO).expect("the fixture scenario parses")
    }

    fn act(timeline: &mut Timeline, at: f64, source: ActionSource, text: &str) {
        let text = text.to_string();
        timeline.push(at, Event::Action(Action { source, text }));
    }

    fn paged(timeline: &mut Timeline) {
        timeline.push(-42.0, Event::DrillStarted);
        let kind = "cpu-runaway".to_string();
        timeline.push(0.0, Event::FaultInjected { kind });
        timeline.push(
            38.0,
            Event::AlertFiring {
                alert: "AgentHighCpu".to_string(),
                severity: "critical".to_string(),
                summary: "CPU at 97 % for 30s".to_string(),
            },
        );
    }

    fn alert_resolved(timeline: &mut Timeline, at: f64) {
        let (alert, severity) = ("AgentHighCpu".to_string(), "critical".to_string());
        timeline.push(at, Event::AlertResolved { alert, severity });
    }

    /// Quick ack, one wrong guess, a late diagnosis, a hint, the steps in order: resolved.
    pub fn resolved_timeline() -> Timeline {
        let mut t = Timeline::default();
        paged(&mut t);
        t.push(65.0, Event::Acknowledged);
        act(&mut t, 80.0, ActionSource::Exec, "top -b -n 1");
        let runbook = "memory-leaks".to_string();
        t.push(
            150.0,
            Event::Diagnosed {
                runbook,
                correct: false,
            },
        );
        let (index, text) = (0, "Which job has been running the longest?".to_string());
        t.push(180.0, Event::HintShown { index, text });
        act(&mut t, 200.0, ActionSource::Exec, "agentctl jobs list");
        let runbook = "high-cpu-usage".to_string();
        t.push(
            380.0,
            Event::Diagnosed {
                runbook,
                correct: true,
            },
        );
        let text = "job j-0042 at 100 % for 6 minutes | same input as yesterday".to_string();
        t.push(390.0, Event::Note { text });
        act(
            &mut t,
            420.0,
            ActionSource::Exec,
            "agentctl jobs cancel j-0042 --deny",
        );
        let detail = "no runaway job; input deny-listed".to_string();
        t.push(425.0, Event::RootCauseCleared { detail });
        t.push(430.0, Event::Mitigated);
        alert_resolved(&mut t, 450.0);
        act(&mut t, 470.0, ActionSource::Http, "GET /metrics");
        t.push(490.0, Event::Resolved);
        let outcome = Outcome::Resolved;
        t.push(490.0, Event::Ended { outcome });
        t
    }

    /// Slow ack, a restart that hides the fault, no diagnosis: mitigated at the time limit.
    pub fn mitigated_timeline() -> Timeline {
        let mut t = Timeline::default();
        paged(&mut t);
        t.push(250.0, Event::Acknowledged);
        act(&mut t, 300.0, ActionSource::Docker, "restart");
        t.push(320.0, Event::Mitigated);
        alert_resolved(&mut t, 330.0);
        let detail = "job j-0042 resubmitted after the restart".to_string();
        t.push(335.0, Event::RootCausePresent { detail });
        act(&mut t, 600.0, ActionSource::Exec, "agentctl status");
        let outcome = Outcome::Mitigated;
        t.push(1800.0, Event::Ended { outcome });
        t
    }

    pub fn result(session: &str, trainee: &str, timeline: &Timeline) -> ResultFile {
        let scenario = scenario();
        let meta = RunMeta {
            session: session.to_string(),
            trainee: trainee.to_string(),
            seed: 42,
            guided: false,
            fault_injected_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_250),
        };
        ResultFile::new(
            meta,
            &scenario,
            timeline,
            &score(&scenario, timeline, false),
        )
    }

    pub fn resolved() -> ResultFile {
        result("fd-20231114-ada", "ada", &resolved_timeline())
    }

    pub fn mitigated() -> ResultFile {
        result("fd-20231114-bob", "bob", &mitigated_timeline())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_one_object_for_one_result_and_an_array_for_several() {
        let one = render(&[fixture::resolved()], Format::Json);
        insta::assert_snapshot!(one);
        let back: ResultFile = serde_json::from_str(&one).unwrap();
        assert_eq!(back, fixture::resolved());
        let both = render(&[fixture::resolved(), fixture::mitigated()], Format::Json);
        let back: Vec<ResultFile> = serde_json::from_str(&both).unwrap();
        assert_eq!(back.len(), 2);
    }

    #[test]
    fn markdown_of_several_results_is_their_debriefs_separated_by_rules() {
        let both = render(&[fixture::resolved(), fixture::mitigated()], Format::Md);
        assert_eq!(both.matches("\n---\n").count(), 1);
        assert!(both.starts_with(&markdown::debrief(&fixture::resolved())));
        assert!(both.ends_with(&markdown::debrief(&fixture::mitigated())));
    }
}
