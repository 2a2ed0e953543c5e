//! `firedrill validate`: proves each scenario's runbook fix works. For every scenario it runs a
//! real drill (its own sandbox, the fault injected) with the reference solution as the
//! responder, then checks the drill ([`checks`]): the expected pages fired, the fault held
//! without an action (the negative control), every step ran, the drill resolved within the
//! runbook's expected time, nothing was harmed, the procedure was followed. Scenarios run
//! several at a time; the outcome is reported as JSON and JUnit XML ([`report`]).

pub mod checks;
pub mod report;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::Semaphore;

use crate::drill::session::{self, Finished, RunMode, RunOptions};
use crate::error::{Error, Result};
use crate::faults::FaultKind;
use crate::interrupt::Interrupt;
use crate::runbook::RunbookFolder;
use crate::scenario::catalog;
use crate::scenario::model::Scenario;
use checks::{CheckResult, Observed};
use report::{ScenarioValidation, ValidationReport};

/// The fault starts this soon after the sandbox is up (or at the scenario's own onset, when
/// earlier): the reference solution's times count from the injection, so waiting longer only
/// costs CI time.
const VALIDATION_ONSET: Duration = Duration::from_secs(10);
/// The drill runs this much past the deadline, so a resolution right at it is still seen.
const DEADLINE_SLACK: Duration = Duration::from_secs(5);

pub struct ValidateOptions {
    /// Scenario paths or ids; every scenario of the folder when empty.
    pub scenarios: Vec<String>,
    /// How many drills run at once.
    pub parallel: usize,
    /// Where each drill's result and debrief go.
    pub results: PathBuf,
}

/// Drills at once by default: two per core (a drill mostly waits: for its fault, its pages and
/// its stability window), at most 8.
pub fn default_parallelism() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(1, 8)
}

/// CPU-heavy drills at once: one per two cores, so each gets the core its fault burns.
fn cpu_heavy_parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// What a step that waits for a page is assumed to wait, for scheduling only: most pages come
/// within a minute of the fault, a slow leak's within a few.
const PAGE_ALLOWANCE: Duration = Duration::from_secs(180);

/// About how long a scenario's validation runs, from its reference solution and stability
/// window: enough to start the long ones first.
fn expected_length(scenario: &Scenario) -> Duration {
    let last_step = scenario
        .reference_solution
        .iter()
        .map(|step| {
            step.at
                + if step.after_alert.is_some() {
                    PAGE_ALLOWANCE
                } else {
                    Duration::ZERO
                }
        })
        .max()
        .unwrap_or_default();
    last_step + scenario.resolution.stability
}

fn busies_cpu(scenario: &Scenario) -> bool {
    scenario
        .faults
        .iter()
        .filter_map(|fault| FaultKind::from_name(&fault.kind))
        .any(FaultKind::busies_cpu)
}

/// Validates the scenarios and reports every check of each.
pub async fn validate(options: ValidateOptions, interrupt: &Interrupt) -> Result<ValidationReport> {
    let started = Instant::now();
    let scenarios = load(&options.scenarios)?;
    let runbooks = RunbookFolder::load(&crate::runbook::folder::folder());
    let progress = ValidationProgress::new(scenarios.len());
    let slots = Semaphore::new(options.parallel.max(1));
    let cpu_slots = Semaphore::new(cpu_heavy_parallelism());
    // Longest first (the slots are handed out in this order): a long drill started last would
    // run on alone after the rest are done.
    let mut longest_first: Vec<&(PathBuf, Scenario)> = scenarios.iter().collect();
    longest_first.sort_by_key(|(_, scenario)| std::cmp::Reverse(expected_length(scenario)));
    let runs = longest_first.into_iter().map(|(path, scenario)| {
        let expected = runbooks
            .procedure(&scenario.runbook)
            .and_then(|p| p.expected_resolution);
        let (progress, slots, cpu_slots) = (&progress, &slots, &cpu_slots);
        let results = options.results.clone();
        async move {
            // A CPU-heavy drill first waits for a core of its own, without holding a slot.
            let _core = if busies_cpu(scenario) {
                Some(cpu_slots.acquire().await.expect("never closed"))
            } else {
                None
            };
            let _slot = slots.acquire().await.expect("never closed");
            progress.started(&scenario.id);
            let validation = validate_one(path, scenario, expected, results, interrupt).await;
            progress.finished(&validation);
            validation
        }
    });
    let mut validations: Vec<ScenarioValidation> = futures_util::future::join_all(runs).await;
    progress.done();
    interrupt.check()?;
    // In the order they were named (or the folder's), whatever order they finished in.
    validations.sort_by_key(|v| scenarios.iter().position(|(_, s)| s.id == v.scenario));
    Ok(ValidationReport::new(validations, started.elapsed()))
}

/// The scenarios to validate, every one loaded; any invalid one stops the run before a drill
/// starts (its problems printed, as `check` prints them).
fn load(arguments: &[String]) -> Result<Vec<(PathBuf, Scenario)>> {
    let loaded = catalog::named_or_all(arguments)?;
    let total = loaded.len();
    let mut scenarios = Vec::new();
    let mut invalid = 0;
    for (path, result) in loaded {
        match result {
            Ok(scenario) => scenarios.push((path, scenario)),
            Err(error) => {
                eprintln!("{error}");
                invalid += 1;
            }
        }
    }
    if invalid > 0 {
        return Err(Error::InvalidScenarios { invalid, total });
    }
    if scenarios.is_empty() {
        return Err(Error::NoScenarios {
            folder: catalog::folder(),
        });
    }
    Ok(scenarios)
}

async fn validate_one(
    path: &std::path::Path,
    scenario: &Scenario,
    runbook_expected: Option<Duration>,
    results: PathBuf,
    interrupt: &Interrupt,
) -> ScenarioValidation {
    let started = Instant::now();
    let deadline = checks::deadline(scenario, runbook_expected);
    let options = RunOptions {
        scenario: path.display().to_string(),
        trainee: "firedrill-validate".to_string(),
        seed: Some(0),
        guided: false,
        onset: Some(
            scenario
                .faults
                .first()
                .map_or(VALIDATION_ONSET, |f| f.onset.after.min(VALIDATION_ONSET)),
        ),
        results,
        time_limit: Some(scenario.time_limit.min(deadline + DEADLINE_SLACK)),
        mode: RunMode::Validation,
    };
    let run = session::run(options, interrupt).await;
    let mut validation = ScenarioValidation {
        scenario: scenario.id.clone(),
        runbook: scenario.runbook.clone(),
        path: path.display().to_string(),
        passed: false,
        duration_s: 0.0,
        session: None,
        result_file: None,
        error: None,
        deadline_s: deadline.as_secs_f64(),
        resolve_s: None,
        checks: Vec::new(),
        steps: Vec::new(),
    };
    match run {
        Ok(Finished {
            result,
            result_path,
            solution,
            probes,
            ..
        }) => {
            let observed = Observed {
                result: &result,
                steps: &solution,
                probes: &probes,
            };
            validation.checks = checks::checks(scenario, runbook_expected, &observed);
            validation.passed = validation.checks.iter().all(|c: &CheckResult| c.passed);
            validation.session = Some(result.session.clone());
            validation.result_file = Some(result_path.display().to_string());
            validation.resolve_s = result.times.resolve_s;
            validation.steps = solution;
        }
        Err(error) => validation.error = Some(error.to_string()),
    }
    validation.duration_s = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    validation
}

/// A progress bar on a terminal (scenarios done of all, the ones running); otherwise one line
/// per scenario started and finished, on stderr.
struct ValidationProgress {
    bar: Option<ProgressBar>,
    running: Mutex<Vec<String>>,
}

impl ValidationProgress {
    fn new(total: usize) -> ValidationProgress {
        let interactive =
            std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        let bar = interactive.then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} scenarios  {msg}",
                )
                .expect("the template is valid"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        ValidationProgress {
            bar,
            running: Mutex::new(Vec::new()),
        }
    }

    fn started(&self, id: &str) {
        let mut running = self.running.lock().expect("not poisoned");
        running.push(id.to_string());
        match &self.bar {
            Some(bar) => bar.set_message(format!("running: {}", running.join(", "))),
            None => eprintln!("firedrill: validating {id}"),
        }
    }

    fn finished(&self, validation: &ScenarioValidation) {
        let mut running = self.running.lock().expect("not poisoned");
        running.retain(|id| id != &validation.scenario);
        let line = format!(
            "{} {} ({})",
            if validation.passed {
                "passed"
            } else {
                "FAILED"
            },
            validation.scenario,
            crate::ui::elapsed(Duration::from_secs_f64(validation.duration_s))
        );
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
                bar.set_message(format!("running: {}", running.join(", ")));
            }
            None => eprintln!("firedrill: {line}"),
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn a_drill_that_waits_for_a_page_and_a_long_stability_is_expected_longer() {
        let mut quick = fixture::scenario();
        quick.reference_solution = serde_yaml::from_str(
            "[{ at: 20s, firedrill: ack }, { at: 90s, exec: \"agentctl status\" }]",
        )
        .unwrap();
        quick.resolution.stability = Duration::from_secs(30);
        assert_eq!(expected_length(&quick), Duration::from_secs(120));

        let mut paged = quick.clone();
        paged.reference_solution = serde_yaml::from_str(
            "[{ at: 10s, after_alert: AgentHighMemory, exec: \"agentctl cache stats\" }]",
        )
        .unwrap();
        paged.resolution.stability = Duration::from_secs(120);
        assert_eq!(expected_length(&paged), Duration::from_secs(310));
        assert!(expected_length(&paged) > expected_length(&quick));
    }
}
