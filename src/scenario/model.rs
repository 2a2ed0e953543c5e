//! A scenario file, as written: one YAML document per drill. Unknown fields are refused
//! everywhere (`deny_unknown_fields`), so a typo is an error at its line, not a silent default.
//!
//! ```yaml
//! id: high-cpu-runaway-job
//! title: A runaway optimization job
//! runbook: high-cpu-usage
//! difficulty: easy
//! briefing: |
//!   You are on call for the Docker Optimizer Agent ...
//! sandbox: { version: 1.4.2 }
//! faults:
//!   - kind: cpu-runaway
//!     onset: { after: 20s, within: 40s }
//! alerts:
//!   expected: [AgentHighCpu]
//!   overrides: [{ alert: AgentHighCpu, for: 20s }]
//! diagnosis:
//!   accepted: [high-cpu-usage]
//! resolution:
//!   stability: 60s
//! procedure:
//!   - id: find-the-job
//!     title: List the jobs and find the one that runs for minutes
//!     any_of: [{ exec: "agentctl jobs list" }]
//!     weight: 10
//!   - id: cancel-and-deny
//!     title: Cancel the job and deny-list its input
//!     any_of: [{ exec: "agentctl jobs cancel .* --deny" }]
//!     after: [find-the-job]
//!     weight: 20
//! penalties:
//!   - id: restart-only
//!     title: Restarted the agent (the job comes back)
//!     any_of: [{ docker: "^restart$" }]
//!     points: 10
//! hints:
//!   - after: 3m
//!     text: Which job has been running the longest?
//! targets: { acknowledge: 2m, detect: 5m, resolve: 15m }
//! time_limit: 30m
//! reference_solution:
//!   - { at: 5s, firedrill: "ack" }
//!   - { at: 10s, exec: "agentctl jobs list --json" }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::monitor::RuleOverride;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique among the scenarios; what `firedrill run <ID>` takes (kebab-case).
    pub id: String,
    pub title: String,
    /// The runbook procedure the drill is scored against (an id of the runbook index).
    pub runbook: String,
    pub difficulty: Difficulty,
    /// What the trainee is told at the start: the situation, never the answer.
    pub briefing: String,
    #[serde(default)]
    pub sandbox: SandboxSetup,
    /// At least one; each starts at a moment drawn from its onset window by the seeded generator.
    pub faults: Vec<FaultSpec>,
    #[serde(default)]
    pub alerts: AlertSpec,
    pub diagnosis: DiagnosisSpec,
    #[serde(default)]
    pub resolution: ResolutionSpec,
    /// The runbook's steps as matchers over the trainee's observed actions.
    pub procedure: Vec<ProcedureStep>,
    /// Harmful or needless actions, each costing points when seen.
    #[serde(default)]
    pub penalties: Vec<PenaltySpec>,
    /// Released on a timer; each costs points outside `--guided`.
    #[serde(default)]
    pub hints: Vec<Hint>,
    pub targets: Targets,
    /// For changes that are not outages (maintenance, deployment): how much the live client
    /// traffic may suffer while the trainee makes the change.
    #[serde(default)]
    pub change_budget: Option<ChangeBudget>,
    /// The drill ends `timed_out` when not resolved by then.
    #[serde(with = "humantime_serde")]
    pub time_limit: Duration,
    /// What `firedrill validate` executes: the runbook's documented fix, step by step.
    pub reference_solution: Vec<SolutionStep>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSetup {
    /// The agent release the sandbox starts on (default: the default release).
    #[serde(default)]
    pub version: Option<String>,
    /// `DOCKER_OPTIMIZER_*` overrides, `KEY=VALUE`.
    #[serde(default)]
    pub env: Vec<String>,
    /// Agent containers the sandbox starts with, the primary included (1 to 4; default 1), as
    /// `firedrill sandbox scale` makes them: deployment drills roll several.
    #[serde(default)]
    pub replicas: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// A kind of the fault catalogue (`firedrill fault list`).
    pub kind: String,
    /// The kind's parameters (`--set` of `fault inject`), values as strings or numbers.
    #[serde(default)]
    pub params: BTreeMap<String, serde_yaml::Value>,
    pub onset: Onset,
}

/// The fault starts `after` plus a seeded draw from `[0, within]` after the briefing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Onset {
    #[serde(with = "humantime_serde")]
    pub after: Duration,
    #[serde(with = "humantime_serde", default)]
    pub within: Duration,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    /// Alert names that must page during the drill (`firedrill validate` checks them).
    #[serde(default)]
    pub expected: Vec<String>,
    /// Changes to the default rules for this drill.
    #[serde(default)]
    pub overrides: Vec<RuleOverride>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnosisSpec {
    /// Runbook ids that count as the right diagnosis (`firedrill diagnose <ID>`).
    pub accepted: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolutionSpec {
    /// How long the root cause must stay cleared (and the impact gone) to count as resolved.
    #[serde(with = "humantime_serde", default = "default_stability")]
    pub stability: Duration,
    /// Whether removing or recreating the agent container is acceptable in this drill.
    #[serde(default)]
    pub allow_destroy: bool,
}

impl Default for ResolutionSpec {
    fn default() -> Self {
        ResolutionSpec {
            stability: default_stability(),
            allow_destroy: false,
        }
    }
}

fn default_stability() -> Duration {
    Duration::from_secs(60)
}

/// Where an observed action comes from, and what its text is (see `drill::timeline::Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionSource {
    /// A Docker event on the sandbox's agent container: its action (`restart`, `kill`, `stop`,
    /// `start`, `update`, `pause`, `unpause`, `commit`, `destroy`, `create`, `cp`).
    Docker,
    /// A command the trainee ran in the container (`docker exec`), as the event shows it:
    /// `agentctl jobs list` (quotes are lost by the engine).
    Exec,
    /// A request to the agent that did not come from the client traffic: `GET /metrics`.
    Http,
    /// A trainee verb: `ack`, `diagnose <id>`, `note <text>`, `hint`, `deploy <version>`,
    /// `scale <agent containers>`.
    Firedrill,
}

/// Matches an action whose source is the key and whose text matches the regex value, e.g.
/// `{ exec: "agentctl jobs cancel .* --deny" }`. Exactly one key.
pub type ActionMatcher = BTreeMap<ActionSource, String>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureStep {
    pub id: String,
    pub title: String,
    /// Done when any of these matches an observed action.
    pub any_of: Vec<ActionMatcher>,
    /// Steps that must be done before this one (by id) for it to count as in order.
    #[serde(default)]
    pub after: Vec<String>,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PenaltySpec {
    pub id: String,
    pub title: String,
    pub any_of: Vec<ActionMatcher>,
    pub points: u32,
    /// Procedure steps after which the action is no longer harmful: it does not count when
    /// every one of them was done before it (a restart to reclaim memory once the cache is
    /// bounded).
    #[serde(default)]
    pub unless_after: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hint {
    /// Released this long after the fault started.
    #[serde(with = "humantime_serde")]
    pub after: Duration,
    pub text: String,
}

/// The live traffic's limits during a change, each optional: its error rate (percent of the
/// client's requests over the last 30 s, as the monitor samples it) and its p95 latency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeBudget {
    #[serde(default)]
    pub error_rate: Option<f64>,
    #[serde(with = "humantime_serde", default)]
    pub p95: Option<Duration>,
}

/// Target times, from the fault's injection (the runbook's expected time to resolution).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    #[serde(with = "humantime_serde")]
    pub acknowledge: Duration,
    #[serde(with = "humantime_serde")]
    pub detect: Duration,
    #[serde(with = "humantime_serde")]
    pub resolve: Duration,
}

/// One step of the reference solution, run `at` after the fault started. Exactly one of
/// `exec` (a command in the agent container, as the agent's user, split like a shell does),
/// `docker` (arguments of the `docker` CLI) or `firedrill` (a drill verb, which gets the
/// session added, or `sandbox deploy|rollback|scale|status ...`). Placeholders: `{container}`,
/// `{sandbox}`, `{session}`, `{volume}`, `{image}`, `{network}`, `{traffic}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolutionStep {
    #[serde(with = "humantime_serde")]
    pub at: Duration,
    /// When set, `at` counts from the first firing of this alert instead of the injection: a
    /// person acts on the page, whenever a loaded host makes it come.
    #[serde(default)]
    pub after_alert: Option<String>,
    #[serde(default)]
    pub exec: Option<String>,
    #[serde(default)]
    pub docker: Option<String>,
    #[serde(default)]
    pub firedrill: Option<String>,
}

/// What a reference step runs, its words split as a shell splits them (quotes kept together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SolutionCommand {
    /// `docker exec <agent container> <words>`.
    Exec(Vec<String>),
    /// `docker <words>`.
    Docker(Vec<String>),
    /// `firedrill <words>`.
    Firedrill(Vec<String>),
}

impl SolutionStep {
    /// The step's one command, or why it has none: no action or several (`Err` names which),
    /// an empty command or unbalanced quotes.
    pub fn command(&self) -> std::result::Result<SolutionCommand, String> {
        let actions: Vec<(&str, &str)> = [
            ("exec", &self.exec),
            ("docker", &self.docker),
            ("firedrill", &self.firedrill),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .collect();
        let [(name, text)] = actions[..] else {
            let names: Vec<&str> = actions.iter().map(|(name, _)| *name).collect();
            return Err(format!(
                "a step with {} actions ({}); expected exactly one of exec, docker, firedrill",
                actions.len(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ));
        };
        let words = shell_words::split(text)
            .map_err(|_| format!("the {name} command `{text}` has an unclosed quote"))?;
        if words.is_empty() {
            return Err(format!("the {name} command is empty"));
        }
        Ok(match name {
            "exec" => SolutionCommand::Exec(words),
            "docker" => SolutionCommand::Docker(words),
            _ => SolutionCommand::Firedrill(words),
        })
    }

    /// The step as a person would type it (placeholders left in).
    pub fn display(&self) -> String {
        match (&self.exec, &self.docker, &self.firedrill) {
            (Some(exec), _, _) => format!("docker exec {{container}} {exec}"),
            (_, Some(docker), _) => format!("docker {docker}"),
            (_, _, Some(firedrill)) => format!("firedrill {firedrill}"),
            _ => String::new(),
        }
    }
}

/// The drill verbs a reference step may use; they act on nothing, so they do not end the
/// negative control of `firedrill validate`.
pub const DRILL_VERBS: [&str; 5] = ["ack", "diagnose", "note", "hint", "status"];
