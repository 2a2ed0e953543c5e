//! What makes a parsed scenario one a drill can run: names that exist (runbooks, fault kinds and
//! their parameters, alerts), times that fit in the drill, procedure steps that can be matched
//! and ordered, and a reference solution `firedrill validate` can execute. Every problem is
//! reported, not just the first, each placed where it is written.

use std::collections::BTreeMap;
use std::time::Duration;

use super::load::{Problem, YamlText};
use super::model::{
    ActionMatcher, ActionSource, PenaltySpec, ProcedureStep, Scenario, SolutionCommand,
    SolutionStep,
};
use crate::faults::{FaultKind, Params};
use crate::monitor::rules::compact_duration;
use crate::monitor::{RuleError, RuleSet};

/// Longer drills than this are a typo (`30h` for `30m`), not a game day.
const MAX_TIME_LIMIT: Duration = Duration::from_secs(4 * 3600);

/// The trainee verbs a reference step may use, as `firedrill <verb>` takes them.
const VERBS: &str = "ack, diagnose <runbook-id>, note <text>, hint, status, \
                     sandbox deploy|rollback|scale|status ...";

/// Every problem of `scenario`, read from a file named `stem`, in the order they are written.
pub(crate) fn validate(scenario: &Scenario, stem: &str, text: &YamlText) -> Vec<Problem> {
    let mut check = Checker {
        text,
        problems: Vec::new(),
    };
    check.identity(scenario, stem);
    check.sandbox(scenario);
    check.faults(scenario);
    check.times(scenario);
    check.alerts(scenario);
    check.procedure(&scenario.procedure);
    check.penalties(&scenario.penalties, &scenario.procedure);
    check.change_budget(scenario);
    check.reference_solution(scenario);
    let mut problems = check.problems;
    problems.sort_by_key(|p| p.at);
    problems
}

struct Checker<'a> {
    text: &'a YamlText,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, key_path: &str, message: String) {
        self.problems.push(self.text.problem(key_path, message));
    }

    fn identity(&mut self, scenario: &Scenario, stem: &str) {
        if !is_kebab_case(&scenario.id) {
            self.report(
                "id",
                format!(
                    "id `{}` is not kebab-case; expected lowercase words and digits joined by `-`, \
                     e.g. `high-cpu-usage`",
                    scenario.id
                ),
            );
        } else if scenario.id != stem {
            self.report(
                "id",
                format!(
                    "id `{}` differs from the file name; expected `{stem}` (a scenario's id is \
                     its file name without the extension)",
                    scenario.id
                ),
            );
        }
        self.runbook("runbook", &scenario.runbook);
        if scenario.diagnosis.accepted.is_empty() {
            self.report(
                "diagnosis.accepted",
                "no accepted diagnosis; expected at least one runbook id".to_string(),
            );
        }
        for (i, id) in scenario.diagnosis.accepted.iter().enumerate() {
            self.runbook(&format!("diagnosis.accepted[{i}]"), id);
        }
    }

    fn runbook(&mut self, key_path: &str, id: &str) {
        if !crate::runbook::ids().any(|known| known == id) {
            self.report(
                key_path,
                format!(
                    "unknown runbook `{id}`; expected one of: {}",
                    crate::runbook::ids().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }

    fn sandbox(&mut self, scenario: &Scenario) {
        let known = optimizer_agent::version::KNOWN_RELEASES;
        if let Some(version) = &scenario.sandbox.version {
            if !known.contains(&version.as_str()) {
                self.report(
                    "sandbox.version",
                    format!(
                        "unknown agent version `{version}`; expected one of: {}",
                        known.join(", ")
                    ),
                );
            }
        }
        if let Some(count) = scenario.sandbox.replicas {
            if crate::docker::sandbox::ReplicaCount::new(count).is_none() {
                self.report(
                    "sandbox.replicas",
                    format!(
                        "{count} replicas; expected 1 to 4 agent containers, the primary included"
                    ),
                );
            }
        }
        for (i, pair) in scenario.sandbox.env.iter().enumerate() {
            let well_formed = pair
                .split_once('=')
                .is_some_and(|(key, _)| key.starts_with("DOCKER_OPTIMIZER_"));
            if !well_formed {
                self.report(
                    &format!("sandbox.env[{i}]"),
                    format!(
                        "environment entry `{pair}` is not an agent override; expected \
                         DOCKER_OPTIMIZER_<SECTION>_<KEY>=VALUE"
                    ),
                );
            }
        }
    }

    fn faults(&mut self, scenario: &Scenario) {
        if scenario.faults.is_empty() {
            self.report(
                "faults",
                "no faults; expected at least one (see `firedrill fault list`)".to_string(),
            );
        }
        for (i, fault) in scenario.faults.iter().enumerate() {
            let ends = fault.onset.after + fault.onset.within;
            if ends >= scenario.time_limit {
                self.report(
                    &format!("faults[{i}].onset"),
                    format!(
                        "the onset window ends at {} (after {} + within {}); expected it to end \
                         before the time limit ({})",
                        compact_duration(ends),
                        compact_duration(fault.onset.after),
                        compact_duration(fault.onset.within),
                        compact_duration(scenario.time_limit)
                    ),
                );
            }
            let Some(kind) = FaultKind::from_name(&fault.kind) else {
                self.report(
                    &format!("faults[{i}].kind"),
                    format!(
                        "unknown fault kind `{}`; expected one of: {} (see `firedrill fault list`)",
                        fault.kind,
                        FaultKind::ALL.map(|k| k.name()).join(", ")
                    ),
                );
                continue;
            };
            for (key, value) in &fault.params {
                let key_path = format!("faults[{i}].params.{key}");
                let value = match value {
                    serde_yaml::Value::String(text) => text.clone(),
                    serde_yaml::Value::Number(number) => number.to_string(),
                    serde_yaml::Value::Bool(flag) => flag.to_string(),
                    _ => {
                        self.report(
                            &key_path,
                            format!(
                                "parameter `{key}` of fault {kind} has no value; expected a \
                                 string or a number"
                            ),
                        );
                        continue;
                    }
                };
                // One pair at a time, so every bad parameter is reported, not just the first.
                if let Err(error) = Params::parse(kind, &[format!("{key}={value}")]) {
                    self.report(&key_path, error.to_string());
                }
            }
        }
    }

    fn times(&mut self, scenario: &Scenario) {
        let limit = scenario.time_limit;
        if limit.is_zero() || limit > MAX_TIME_LIMIT {
            self.report(
                "time_limit",
                format!(
                    "time_limit is {}; expected more than 0s and at most {}",
                    compact_duration(limit),
                    compact_duration(MAX_TIME_LIMIT)
                ),
            );
        }
        let targets = &scenario.targets;
        let chain = [
            ("acknowledge", targets.acknowledge),
            ("detect", targets.detect),
            ("resolve", targets.resolve),
            ("time_limit", limit),
        ];
        for pair in chain.windows(2) {
            let ((earlier, before), (later, after)) = (pair[0], pair[1]);
            if before > after {
                let key_path = if later == "time_limit" {
                    "targets.resolve".to_string()
                } else {
                    format!("targets.{later}")
                };
                self.report(
                    &key_path,
                    format!(
                        "{earlier} target {} is later than {later} {}; expected acknowledge <= \
                         detect <= resolve <= time_limit",
                        compact_duration(before),
                        compact_duration(after)
                    ),
                );
            }
        }
        let stability = scenario.resolution.stability;
        if stability.is_zero() || stability >= limit {
            self.report(
                "resolution.stability",
                format!(
                    "resolution.stability is {}; expected more than 0s and less than the time \
                     limit ({})",
                    compact_duration(stability),
                    compact_duration(limit)
                ),
            );
        }
        for (i, hint) in scenario.hints.iter().enumerate() {
            if hint.after >= limit {
                self.report(
                    &format!("hints[{i}].after"),
                    format!(
                        "the hint comes at {}, not before the time limit ({}); expected an \
                         earlier time",
                        compact_duration(hint.after),
                        compact_duration(limit)
                    ),
                );
            }
        }
    }

    fn alerts(&mut self, scenario: &Scenario) {
        let defaults = RuleSet::defaults();
        let mut names: Vec<&str> = Vec::new();
        for rule in defaults.iter() {
            if !names.contains(&rule.alert.as_str()) {
                names.push(&rule.alert);
            }
        }
        for (i, alert) in scenario.alerts.expected.iter().enumerate() {
            if !names.contains(&alert.as_str()) {
                self.report(
                    &format!("alerts.expected[{i}]"),
                    format!(
                        "unknown alert `{alert}`; expected one of: {} (see `firedrill rules list`)",
                        names.join(", ")
                    ),
                );
            }
        }
        // Overrides apply in order, so the first that fails is found by growing the list.
        let overrides = &scenario.alerts.overrides;
        for end in 1..=overrides.len() {
            let Err(error) = defaults.clone().with_overrides(&overrides[..end]) else {
                continue;
            };
            let field = match error {
                RuleError::UnknownAlert { .. } => "alert",
                RuleError::MissingSeverity { .. } => "severity",
                RuleError::AmbiguousThreshold { .. }
                | RuleError::NonFiniteThreshold { .. }
                | RuleError::InvertedThresholds { .. } => "threshold",
            };
            self.report(
                &format!("alerts.overrides[{}].{field}", end - 1),
                error.to_string(),
            );
            break;
        }
    }

    fn procedure(&mut self, steps: &[ProcedureStep]) {
        if steps.is_empty() {
            self.report(
                "procedure",
                "the procedure has no steps; expected at least one".to_string(),
            );
        }
        let mut defined: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, step) in steps.iter().enumerate() {
            let here = format!("procedure[{i}]");
            self.unique_id("procedure", i, &step.id, &mut defined, "step");
            for (j, before) in step.after.iter().enumerate() {
                let message = match steps.iter().position(|s| s.id == *before) {
                    Some(k) if k < i => continue,
                    Some(_) => format!(
                        "step `{}` must come after `{before}`, which is not defined before it; \
                         expected ids of earlier steps only (so the order has no cycles)",
                        step.id
                    ),
                    None => format!(
                        "`after` names `{before}`, which is not a step of the procedure; expected \
                         the id of an earlier step"
                    ),
                };
                self.report(&format!("{here}.after[{j}]"), message);
            }
            if step.weight == 0 {
                self.report(
                    &format!("{here}.weight"),
                    "weight is 0; expected a weight above 0".to_string(),
                );
            }
            self.matchers(&here, &step.any_of);
        }
    }

    fn penalties(&mut self, penalties: &[PenaltySpec], steps: &[ProcedureStep]) {
        let mut defined: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, penalty) in penalties.iter().enumerate() {
            let here = format!("penalties[{i}]");
            self.unique_id("penalties", i, &penalty.id, &mut defined, "penalty");
            for (j, step) in penalty.unless_after.iter().enumerate() {
                if !steps.iter().any(|s| &s.id == step) {
                    self.report(
                        &format!("{here}.unless_after[{j}]"),
                        format!(
                            "`unless_after` names `{step}`, which is not a step of the \
                             procedure; expected a step id"
                        ),
                    );
                }
            }
            if penalty.points == 0 {
                self.report(
                    &format!("{here}.points"),
                    "points is 0; expected points above 0".to_string(),
                );
            }
            self.matchers(&here, &penalty.any_of);
        }
    }

    /// Reports item `index` of `list` when an earlier item has its id.
    fn unique_id<'s>(
        &mut self,
        list: &str,
        index: usize,
        id: &'s str,
        defined: &mut BTreeMap<&'s str, usize>,
        what: &str,
    ) {
        match defined.get(id) {
            Some(first) => {
                let first_line = self.text.locate(&format!("{list}[{first}].id")).line;
                self.report(
                    &format!("{list}[{index}].id"),
                    format!(
                        "{what} id `{id}` is used twice (first at line {first_line}); expected \
                         unique ids"
                    ),
                );
            }
            None => {
                defined.insert(id, index);
            }
        }
    }

    fn matchers(&mut self, here: &str, any_of: &[ActionMatcher]) {
        if any_of.is_empty() {
            self.report(
                &format!("{here}.any_of"),
                "any_of is empty; expected at least one matcher, e.g. { exec: \"^agentctl status\" }"
                    .to_string(),
            );
        }
        for (j, matcher) in any_of.iter().enumerate() {
            let key_path = format!("{here}.any_of[{j}]");
            if matcher.len() != 1 {
                let sources: Vec<&str> = matcher.keys().map(|s| source_name(*s)).collect();
                self.report(
                    &key_path,
                    format!(
                        "a matcher with {} sources ({}); expected exactly one of docker, exec, \
                         http, firedrill",
                        matcher.len(),
                        sources.join(", ")
                    ),
                );
            }
            for (source, pattern) in matcher {
                if let Err(error) = regex::Regex::new(pattern) {
                    self.report(
                        &format!("{key_path}.{}", source_name(*source)),
                        format!("`{pattern}` is not a valid regex: {}", regex_reason(&error)),
                    );
                }
            }
        }
    }

    fn change_budget(&mut self, scenario: &Scenario) {
        let Some(budget) = scenario.change_budget else {
            return;
        };
        if budget.error_rate.is_none() && budget.p95.is_none() {
            self.report(
                "change_budget",
                "the change budget sets no limit; expected error_rate, p95 or both".to_string(),
            );
        }
        if let Some(rate) = budget.error_rate.filter(|r| !(0.0..=100.0).contains(r)) {
            self.report(
                "change_budget.error_rate",
                format!("error_rate {rate} is not a percentage; expected 0 to 100"),
            );
        }
        if budget.p95.is_some_and(|p95| p95.is_zero()) {
            self.report(
                "change_budget.p95",
                "p95 is 0; expected a latency above 0, e.g. 3s".to_string(),
            );
        }
    }

    fn reference_solution(&mut self, scenario: &Scenario) {
        let steps = &scenario.reference_solution;
        if steps.is_empty() {
            self.report(
                "reference_solution",
                "the reference solution is empty; expected the runbook's fix as timed steps, \
                 e.g. - { at: 30s, exec: \"agentctl status\" }"
                    .to_string(),
            );
        }
        let known: Vec<String> = RuleSet::defaults()
            .iter()
            .map(|r| r.alert.clone())
            .collect();
        let mut previous: Option<(Duration, Option<&String>)> = None;
        for (i, step) in steps.iter().enumerate() {
            let here = format!("reference_solution[{i}]");
            if let Some(alert) = step.after_alert.as_ref().filter(|a| !known.contains(a)) {
                self.report(
                    &format!("{here}.after_alert"),
                    format!("unknown alert `{alert}`; expected an alert of `firedrill rules list`"),
                );
            }
            // Times count from the injection or from a page: only steps of one anchor compare.
            let previous_at = previous
                .filter(|(_, anchor)| *anchor == step.after_alert.as_ref())
                .map(|(at, _)| at);
            if let Some(previous) = previous_at.filter(|p| step.at <= *p) {
                self.report(
                    &format!("{here}.at"),
                    format!(
                        "step at {} does not come after the one before ({}); expected `at` \
                         strictly increasing",
                        compact_duration(step.at),
                        compact_duration(previous)
                    ),
                );
            } else if step.at >= scenario.time_limit {
                self.report(
                    &format!("{here}.at"),
                    format!(
                        "step at {} is not before the time limit ({}); expected an earlier time",
                        compact_duration(step.at),
                        compact_duration(scenario.time_limit)
                    ),
                );
            }
            previous = Some((step.at, step.after_alert.as_ref()));
            self.solution_step(&here, step);
        }
    }

    fn solution_step(&mut self, here: &str, step: &SolutionStep) {
        let command = match step.command() {
            Ok(command) => command,
            Err(message) => {
                let key = [
                    ("exec", &step.exec),
                    ("docker", &step.docker),
                    ("firedrill", &step.firedrill),
                ]
                .into_iter()
                .filter(|(_, value)| value.is_some())
                .map(|(name, _)| name)
                .collect::<Vec<_>>();
                let key_path = match key[..] {
                    [name] => format!("{here}.{name}"),
                    _ => here.to_string(),
                };
                self.report(&key_path, message);
                return;
            }
        };
        let SolutionCommand::Firedrill(words) = command else {
            return;
        };
        let key_path = format!("{here}.firedrill");
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        match words[..] {
            ["ack"] | ["hint"] | ["status", ..] | ["note", _, ..] => {}
            ["diagnose", id] => self.runbook(&key_path, id),
            ["sandbox", "deploy" | "rollback" | "scale" | "status", ..] => {}
            _ => self.report(
                &key_path,
                format!(
                    "`{}` is not a firedrill verb; expected one of: {VERBS}",
                    words.join(" ")
                ),
            ),
        }
    }
}

/// Lowercase words of letters and digits joined by single dashes.
fn is_kebab_case(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// The key as scenario files spell it.
fn source_name(source: ActionSource) -> &'static str {
    match source {
        ActionSource::Docker => "docker",
        ActionSource::Exec => "exec",
        ActionSource::Http => "http",
        ActionSource::Firedrill => "firedrill",
    }
}

/// The regex crate's reason without the pattern it repeats above it.
fn regex_reason(error: &regex::Error) -> String {
    let text = error.to_string();
    let last = text.lines().last().unwrap_or_default();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::load::{parse, Location};

    /// A valid scenario, as the smallest file that passes every rule.
    const VALID: &str = "\
id: demo
title: Demo
runbook: high-cpu-usage
difficulty: easy
briefing: Something is slow.
faults:
  - kind: cpu-runaway
    onset: { after: 10s, within: 20s }
alerts:
  expected: [AgentHighCpu]
diagnosis:
  accepted: [high-cpu-usage]
procedure:
  - id: look
    title: Look at the jobs
    any_of: [{ exec: \"agentctl jobs list\" }]
    weight: 10
  - id: cancel
    title: Cancel the job
    any_of: [{ exec: \"agentctl jobs cancel .* --deny\" }]
    after: [look]
    weight: 20
targets: { acknowledge: 2m, detect: 5m, resolve: 15m }
time_limit: 30m
reference_solution:
  - { at: 5s, firedrill: ack }
  - { at: 10s, exec: \"agentctl jobs list\" }
";

    /// `(line, column, message)` of each problem of `text`, read as `demo.yaml`.
    fn problems(text: &str) -> Vec<(usize, usize, String)> {
        match parse(Path::new("demo.yaml"), text) {
            Ok(_) => Vec::new(),
            Err(error) => error
                .problems
                .into_iter()
                .map(|p| {
                    let Location { line, column } = p.at.expect("a place");
                    (line, column, p.message)
                })
                .collect(),
        }
    }

    #[test]
    fn the_smallest_valid_scenario_passes() {
        assert_eq!(problems(VALID), vec![]);
    }

    #[test]
    fn every_problem_is_reported_in_file_order() {
        let text = VALID
            .replace("runbook: high-cpu-usage", "runbook: high-cpu")
            .replace("kind: cpu-runaway", "kind: cpu-runawy")
            .replace("after: [look]", "after: [lok]")
            .replace("{ at: 10s,", "{ at: 5s,");
        let found = problems(&text);
        let places: Vec<(usize, usize)> = found.iter().map(|(l, c, _)| (*l, *c)).collect();
        assert_eq!(
            places,
            vec![(3, 10), (7, 11), (21, 13), (27, 11)],
            "{found:?}"
        );
        assert!(found[0].2.starts_with(
            "unknown runbook `high-cpu`; expected one of: high-cpu-usage, memory-leaks,"
        ));
        assert!(found[1]
            .2
            .starts_with("unknown fault kind `cpu-runawy`; expected one of: cpu-runaway,"));
        assert_eq!(found[2].2, "`after` names `lok`, which is not a step of the procedure; expected the id of an earlier step");
        assert_eq!(
            found[3].2,
            "step at 5s does not come after the one before (5s); expected `at` strictly increasing"
        );
    }

    #[test]
    fn penalties_change_budgets_and_reference_steps_are_checked() {
        let text = VALID.replace(
            "targets:",
            "penalties:\n  - id: restart\n    title: Restarted\n    any_of: [{ docker: \"^restart$\" }]\n    \
             points: 5\n    unless_after: [cancel, fix]\nchange_budget: { error_rate: 150 }\ntargets:",
        )
        .replace(
            "{ at: 10s, exec: \"agentctl jobs list\" }",
            "{ at: 10s, exec: \"sh -c 'agentctl jobs list\" }\n  - { at: 20s, firedrill: \"sandbox deploy --name {sandbox} --version 1.4.3\" }\n  - { at: 25s, firedrill: \"sandbox scale --name {sandbox} --replicas 3\" }\n  - { at: 30s, after_alert: AgentSad, firedrill: \"sandbox down\" }",
        );
        let text = text.replace(
            "briefing: Something is slow.",
            "briefing: Something is slow.\nsandbox: { replicas: 7 }",
        );
        let messages: Vec<String> = problems(&text).into_iter().map(|(_, _, m)| m).collect();
        assert_eq!(
            messages,
            [
                "7 replicas; expected 1 to 4 agent containers, the primary included",
                "`unless_after` names `fix`, which is not a step of the procedure; expected a step id",
                "error_rate 150 is not a percentage; expected 0 to 100",
                "the exec command `sh -c 'agentctl jobs list` has an unclosed quote",
                "unknown alert `AgentSad`; expected an alert of `firedrill rules list`",
                "`sandbox down` is not a firedrill verb; expected one of: ack, diagnose \
                 <runbook-id>, note <text>, hint, status, sandbox deploy|rollback|scale|status ...",
            ]
        );
    }

    #[test]
    fn after_may_only_name_earlier_steps_so_there_are_no_cycles() {
        let text = VALID.replace(
            "    weight: 10\n",
            "    after: [cancel, look]\n    weight: 10\n",
        );
        let found = problems(&text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (17, 13));
        assert!(found[0]
            .2
            .starts_with("step `look` must come after `cancel`, which is not defined before it"));
        assert_eq!((found[1].0, found[1].1), (17, 21));
    }

    #[test]
    fn matchers_need_one_source_and_a_regex() {
        let text = VALID.replace(
            "[{ exec: \"agentctl jobs list\" }]",
            "[{ exec: \"agentctl (jobs\", docker: restart }]",
        );
        let found = problems(&text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].2, "a matcher with 2 sources (docker, exec); expected exactly one of docker, exec, http, firedrill");
        assert_eq!((found[0].0, found[0].1), (16, 14));
        assert_eq!(
            found[1].2,
            "`agentctl (jobs` is not a valid regex: unclosed group"
        );
        assert_eq!((found[1].0, found[1].1), (16, 22));
    }

    #[test]
    fn durations_must_fit_in_the_drill() {
        let text = VALID
            .replace("detect: 5m", "detect: 1m")
            .replace("time_limit: 30m", "time_limit: 5h")
            .replace(
                "{ at: 5s, firedrill: ack }",
                "{ at: 5s, firedrill: acknowledge }",
            );
        let found = problems(&text);
        let messages: Vec<&str> = found.iter().map(|(_, _, m)| m.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "acknowledge target 2m is later than detect 1m; expected acknowledge <= detect <= resolve <= time_limit",
                "time_limit is 5h; expected more than 0s and at most 4h",
                "`acknowledge` is not a firedrill verb; expected one of: ack, diagnose <runbook-id>, note <text>, hint, status, sandbox deploy|rollback|scale|status ...",
            ]
        );
    }

    #[test]
    fn fault_parameters_are_checked_one_by_one() {
        let text = VALID.replace(
            "  - kind: cpu-runaway\n",
            "  - kind: memory-leak\n    params: { rate_mib_s: 9 }\n",
        );
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (8, 27));
        assert_eq!(found[0].2, "bad parameter 'rate_mib_s=9' for fault memory-leak: rate_mib_s must be between 0.5 and 4");
    }

    #[test]
    fn kebab_case_ids() {
        assert!(super::is_kebab_case("high-cpu-usage"));
        assert!(super::is_kebab_case("disk-fill-2"));
        for bad in ["", "High-cpu", "high_cpu", "-high", "high--cpu", "high-"] {
            assert!(!super::is_kebab_case(bad), "{bad}");
        }
    }
}
