//! `firedrill run`: one drill from briefing to result file.
//!
//! Starts the sandbox, shows the briefing, injects the scenario's faults at a moment drawn
//! from their onset window by the seeded generator, pages the trainee, records what happens
//! (alerts, verbs, the trainee's Docker actions and requests), verifies the fix every few
//! seconds, and ends on a verified resolution, the time limit or an abort. Whatever happens,
//! the faults are reverted and the sandbox removed before the result is written.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use bollard::models::EventMessage;
use bollard::query_parameters::{EventsOptionsBuilder, LogsOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

use super::audit;
use super::budget::BudgetWatch;
use super::control::{self, Command, Reply, SessionFile, Verb};
use super::responder::{self, Placeholders, StepRun};
use super::timeline::{Action, Event, Outcome, Timeline};
use super::verifier::{Observation, Verifier};
use crate::docker::sandbox::{self, SandboxInfo, SandboxSpec};
use crate::docker::{engine, image};
use crate::error::{Error, Result};
use crate::faults::{self, FaultKind, FaultStore, FaultTarget, Params};
use crate::interrupt::Interrupt;
use crate::monitor::render::page_line;
use crate::monitor::sampler::SandboxSampler;
use crate::monitor::{AlertEngine, AlertEventKind, RuleSet};
use crate::report::{write_atomically, ResultFile, RunMeta};
use crate::scenario::model::Scenario;
use crate::scenario::{catalog, load};
use crate::ui::{DrillTimer, Progress};

/// How often the resolution verifier looks (probes exec into the container: not every second).
const VERIFY_EVERY: Duration = Duration::from_secs(5);
const HISTORY_DB: &str = "/var/lib/docker-optimizer/history.redb";
/// How long a Docker event waits before the audit judges whose it is (see `follow_events`).
const AUDIT_DELAY: Duration = Duration::from_secs(5);

pub struct RunOptions {
    /// A scenario path or id.
    pub scenario: String,
    pub trainee: String,
    pub seed: Option<u64>,
    pub guided: bool,
    /// Fixes the fault's onset instead of drawing it.
    pub onset: Option<Duration>,
    pub results: PathBuf,
    /// Replaces the scenario's time limit (rehearsals, tests).
    pub time_limit: Option<Duration>,
    pub mode: RunMode,
}

/// Who responds to the drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// A person, on a terminal or through a script: the briefing, pages and verdicts are
    /// printed, and the drill ends at the resolution.
    Trainee,
    /// `firedrill validate`: the scenario's reference solution runs as the responder, nothing
    /// is printed (several drills run at once), and the drill ends at the resolution only
    /// once every reference step has run.
    Validation,
}

/// One reading of the root-cause probes (present or not; `None` when it told nothing), in
/// seconds from the injection: the negative control of `firedrill validate` reads them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReading {
    pub at: f64,
    pub present: Option<bool>,
    /// What the probe said (`input 9a7b… is deny-listed and no job on it runs`).
    pub detail: String,
}

/// A finished drill and where its files are.
pub struct Finished {
    pub result: ResultFile,
    pub result_path: PathBuf,
    pub debrief_path: PathBuf,
    /// The reference steps as they ran (validation only).
    pub solution: Vec<StepRun>,
    pub probes: Vec<ProbeReading>,
}

pub async fn run(options: RunOptions, interrupt: &Interrupt) -> Result<Finished> {
    let path = catalog::resolve(&options.scenario)?;
    let mut scenario = load(&path)?;
    if let Some(limit) = options.time_limit {
        scenario.time_limit = limit;
    }
    let seed = options.seed.unwrap_or_else(rand::random);
    let onset = options.onset.unwrap_or_else(|| draw_onset(&scenario, seed));
    let docker = engine::connect().await?;
    let hex = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let session = format!("drill-{hex}");
    let sandbox_name = format!("drill-{hex}");
    let progress = match options.mode {
        RunMode::Trainee => Progress::new(),
        RunMode::Validation => Progress::silent(),
    };
    let release = scenario
        .sandbox
        .version
        .clone()
        .unwrap_or_else(|| optimizer_agent::version::DEFAULT_RELEASE.to_string());
    let spec = SandboxSpec {
        name: sandbox_name.clone(),
        session: session.clone(),
        agent_env: scenario.sandbox.env.clone(),
    };
    // Registered before the sandbox exists and withdrawn after it is gone, so a
    // `firedrill cleanup` run elsewhere meanwhile spares it (see `control::split_live`).
    let control_file = SessionFile {
        session: session.clone(),
        scenario: scenario.id.clone(),
        sandbox: sandbox_name.clone(),
        socket: control::sessions_dir().join(format!("{session}.sock")),
        token: control::new_token(),
        pid: std::process::id(),
    };
    let (mut commands, server) = control::serve(control_file.clone()).await?;
    let withdraw = || {
        server.abort();
        control::withdraw(&control_file);
    };
    let prepared = async {
        let image = image::ensure(&docker, &release, &session, &progress, interrupt).await?;
        let info = sandbox::up(&docker, &spec, &image, &progress, interrupt).await?;
        if let Some(replicas) = scenario
            .sandbox
            .replicas
            .filter(|count| *count > 1)
            .and_then(sandbox::ReplicaCount::new)
        {
            if let Err(error) =
                sandbox::scale(&docker, &info.name, replicas, &progress, interrupt).await
            {
                sandbox::down(&docker, &info.name).await.ok();
                return Err(error);
            }
        }
        Ok(info)
    }
    .await;
    let info = match prepared {
        Ok(info) => info,
        Err(error) => {
            withdraw();
            return Err(error);
        }
    };
    progress.finish();
    let store = FaultStore::open_default();
    let mut drill = Drill::new(&docker, &store, &scenario, &info, &options, onset);
    let outcome = drill.main_loop(interrupt, &mut commands).await;
    let solution = match drill.responder.take() {
        Some(responder) if responder.is_finished() => responder.await.unwrap_or_default(),
        Some(responder) => {
            responder.abort();
            Vec::new()
        }
        None => Vec::new(),
    };
    // Always: revert, withdraw, remove; then report what happened.
    for id in &drill.fault_ids {
        if let Err(error) = faults::revert(&docker, &store, id).await {
            eprintln!("firedrill: reverting {id}: {error}");
        }
    }
    if let Err(error) = sandbox::down(&docker, &sandbox_name).await {
        eprintln!("firedrill: removing sandbox {sandbox_name}: {error}; run `firedrill cleanup`");
    }
    // Only now: until its sandbox is gone, a cleanup elsewhere must leave it to this process.
    withdraw();
    let (timeline, injected_at) = outcome?;
    let scorecard = crate::score::score(&scenario, &timeline, options.guided);
    let meta = RunMeta {
        session,
        trainee: options.trainee,
        seed,
        guided: options.guided,
        fault_injected_at: injected_at,
    };
    let result = ResultFile::new(meta, &scenario, &timeline, &scorecard);
    let result_path = write_atomically(&options.results, &result)
        .map_err(Error::io("writing the result", &options.results))?;
    let debrief_path = result_path.with_extension("md");
    std::fs::write(&debrief_path, crate::report::markdown::debrief(&result))
        .map_err(Error::io("writing the debrief", &debrief_path))?;
    Ok(Finished {
        result,
        result_path,
        debrief_path,
        solution,
        probes: std::mem::take(&mut drill.probes),
    })
}

/// The fault's onset: `after` plus a seeded draw from `[0, within]`, so a seed replays a drill.
fn draw_onset(scenario: &Scenario, seed: u64) -> Duration {
    let onset = scenario
        .faults
        .first()
        .map(|f| f.onset)
        .unwrap_or(crate::scenario::model::Onset {
            after: Duration::ZERO,
            within: Duration::ZERO,
        });
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let extra = if onset.within.is_zero() {
        0.0
    } else {
        rng.random_range(0.0..=onset.within.as_secs_f64())
    };
    onset.after + Duration::from_secs_f64(extra)
}

fn unix(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// A drill in progress.
struct Drill<'a> {
    docker: &'a Docker,
    store: &'a FaultStore,
    scenario: &'a Scenario,
    info: &'a SandboxInfo,
    guided: bool,
    mode: RunMode,
    onset: Duration,
    /// Entries with Unix times; made relative to the injection at the end.
    entries: Vec<(f64, Event)>,
    fault_ids: Vec<String>,
    injected_at: Option<SystemTime>,
    hints_shown: usize,
    firing: Vec<(String, String, String)>,
    budget: Option<BudgetWatch>,
    probes: Vec<ProbeReading>,
    /// The reference solution running (validation only).
    responder: Option<tokio::task::JoinHandle<Vec<StepRun>>>,
    /// Every alert that has paged so far: reference steps may wait for one.
    pages: tokio::sync::watch::Sender<std::collections::BTreeSet<String>>,
    /// True while faults are being injected (see `follow_events`).
    injecting: tokio::sync::watch::Sender<bool>,
}

impl<'a> Drill<'a> {
    fn new(
        docker: &'a Docker,
        store: &'a FaultStore,
        scenario: &'a Scenario,
        info: &'a SandboxInfo,
        options: &RunOptions,
        onset: Duration,
    ) -> Drill<'a> {
        Drill {
            docker,
            store,
            scenario,
            info,
            guided: options.guided,
            mode: options.mode,
            onset,
            entries: Vec::new(),
            fault_ids: Vec::new(),
            injected_at: None,
            hints_shown: 0,
            firing: Vec::new(),
            budget: scenario.change_budget.as_ref().map(BudgetWatch::new),
            probes: Vec::new(),
            responder: None,
            pages: tokio::sync::watch::Sender::new(std::collections::BTreeSet::new()),
            injecting: tokio::sync::watch::Sender::new(false),
        }
    }

    fn push(&mut self, event: Event) {
        self.entries.push((unix(SystemTime::now()), event));
    }

    fn since_injection(&self) -> Option<Duration> {
        self.injected_at.and_then(|at| at.elapsed().ok())
    }

    async fn main_loop(
        &mut self,
        interrupt: &Interrupt,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Result<(Timeline, SystemTime)> {
        let timer = match self.mode {
            RunMode::Trainee => DrillTimer::new(),
            RunMode::Validation => DrillTimer::hidden(),
        };
        timer.println(format!(
            "\n{}\n\n{}",
            self.scenario.title,
            self.scenario.briefing.trim_end()
        ));
        timer.println(format!(
            "\nsession {}: agent {} at {}; verbs: firedrill ack | diagnose <runbook-id> | note <text> | hint | status | abort",
            self.info.session,
            self.info.container,
            self.info.http.as_deref().unwrap_or("-")
        ));
        self.push(Event::DrillStarted);
        let started = Instant::now();
        let rules = RuleSet::defaults().with_overrides(&self.scenario.alerts.overrides)?;
        let labels = [
            ("sandbox".to_string(), self.info.name.clone()),
            ("session".to_string(), self.info.session.clone()),
        ]
        .into_iter()
        .collect();
        let mut engine = AlertEngine::new(rules, labels);
        let mut sampler = SandboxSampler::start(self.docker, self.info).await;
        let (actions_sender, mut actions) = mpsc::channel(256);
        let watchers = [
            tokio::spawn(follow_events(
                self.docker.clone(),
                self.info.name.clone(),
                self.info.container.clone(),
                self.info.session.clone(),
                self.store.clone(),
                self.injecting.subscribe(),
                actions_sender.clone(),
            )),
            tokio::spawn(follow_access_log(
                self.docker.clone(),
                self.info.container.clone(),
                actions_sender,
            )),
        ];
        let mut verifier = Verifier::new(&self.scenario.resolution);
        // Rules pending after the last sample: a new one is a threshold crossing.
        let mut pending: Vec<(String, String)> = Vec::new();
        let mut last_verify = Instant::now();
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        let outcome = loop {
            tokio::select! {
                _ = ticks.tick() => {}
                Some(command) = commands.recv() => {
                    if self.answer(command) {
                        break Outcome::Aborted;
                    }
                    continue;
                }
                Some((at, action)) = actions.recv() => {
                    self.entries.push((at, Event::Action(action)));
                    continue;
                }
            }
            if interrupt.is_requested() {
                break Outcome::Aborted;
            }
            if self.injected_at.is_none() && started.elapsed() >= self.onset {
                self.inject().await?;
            }
            let sample = sampler.sample().await;
            let events = engine.observe(&sample);
            if self.injected_at.is_some() {
                if let Some(budget) = &mut self.budget {
                    for event in budget.observe(&sample) {
                        self.push(event);
                    }
                }
            }
            let mut now_pending = Vec::new();
            for alert in engine.pending() {
                let key = (alert.alert.clone(), alert.severity.to_string());
                if !pending.contains(&key) {
                    self.push(Event::ThresholdCrossed {
                        alert: key.0.clone(),
                        severity: key.1.clone(),
                        value: alert.value,
                        threshold: alert.threshold,
                    });
                }
                now_pending.push(key);
            }
            pending = now_pending;
            for event in events {
                timer.println(page_line(&event));
                let (alert, severity) =
                    (event.alert.alert.clone(), event.alert.severity.to_string());
                match event.kind {
                    AlertEventKind::Firing => {
                        self.pages
                            .send_if_modified(|fired| fired.insert(alert.clone()));
                        self.firing.push((
                            alert.clone(),
                            severity.clone(),
                            event.alert.summary.clone(),
                        ));
                        self.push(Event::AlertFiring {
                            alert,
                            severity,
                            summary: event.alert.summary.clone(),
                        });
                    }
                    AlertEventKind::Resolved => {
                        self.firing
                            .retain(|(a, s, _)| !(a == &alert && s == &severity));
                        self.push(Event::AlertResolved { alert, severity });
                    }
                }
            }
            timer.set_state(self.live_state());
            let Some(elapsed) = self.since_injection() else {
                continue;
            };
            self.release_guided_hints(elapsed, &timer);
            // The impact is read every second (a page can be over in one); the probes, which
            // exec into the container, every few seconds.
            let observation = if last_verify.elapsed() >= VERIFY_EVERY {
                last_verify = Instant::now();
                self.observe(elapsed, &engine).await
            } else {
                Observation {
                    at: elapsed.as_secs_f64(),
                    impact: self.impact(&engine),
                    root_cause: None,
                    history_intact: None,
                    container_present: true,
                }
            };
            for event in verifier.observe(&observation) {
                self.push(event);
            }
            // A validation ends once the reference solution has run to its last step.
            let responding = self.responder.as_ref().is_some_and(|r| !r.is_finished());
            if verifier.is_resolved() && !responding {
                timer.println("resolved: the root cause is gone and stayed gone; the drill ends");
                break Outcome::Resolved;
            }
            if elapsed >= self.scenario.time_limit {
                timer.println("time is up: the drill ends");
                break verifier.outcome_without_resolution(false);
            }
        };
        for watcher in watchers {
            watcher.abort();
        }
        if outcome == Outcome::Aborted {
            timer.println("aborted: reverting the fault and removing the sandbox");
        }
        timer.finish();
        if let Some(budget) = &mut self.budget {
            for event in budget.finish() {
                self.push(event);
            }
        }
        self.push(Event::Ended { outcome });
        let injected_at = self.injected_at.unwrap_or_else(SystemTime::now);
        let origin = unix(injected_at);
        let mut timeline = Timeline::default();
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (at, event) in entries {
            timeline.push(((at - origin) * 1000.0).round() / 1000.0, event);
        }
        Ok((timeline, injected_at))
    }

    async fn inject(&mut self) -> Result<()> {
        self.injecting.send_replace(true);
        let injected = self.inject_faults().await;
        self.injecting.send_replace(false);
        injected?;
        self.injected_at = Some(SystemTime::now());
        if self.mode == RunMode::Validation {
            self.responder = Some(tokio::spawn(responder::run(
                self.scenario.reference_solution.clone(),
                Placeholders::of(self.info),
                Instant::now(),
                self.pages.subscribe(),
            )));
        }
        Ok(())
    }

    async fn inject_faults(&mut self) -> Result<()> {
        for fault in &self.scenario.faults {
            let kind =
                FaultKind::from_name(&fault.kind).expect("a loaded scenario names known kinds");
            let pairs: Vec<String> = fault
                .params
                .iter()
                .map(|(key, value)| match value {
                    serde_yaml::Value::String(text) => format!("{key}={text}"),
                    other => format!(
                        "{key}={}",
                        serde_yaml::to_string(other).unwrap_or_default().trim()
                    ),
                })
                .collect();
            let params = Params::parse(kind, &pairs)?;
            let record =
                faults::inject(self.docker, self.store, &self.info.name, kind, params).await?;
            self.fault_ids.push(record.id);
            self.push(Event::FaultInjected {
                kind: fault.kind.clone(),
            });
        }
        Ok(())
    }

    /// The status line: the alerts firing, or that the incident has not started.
    fn live_state(&self) -> String {
        if self.injected_at.is_none() {
            return "waiting for the incident".to_string();
        }
        if self.firing.is_empty() {
            return "no alert firing".to_string();
        }
        let alerts: Vec<String> = self
            .firing
            .iter()
            .map(|(alert, severity, _)| format!("{alert} ({severity})"))
            .collect();
        format!("firing: {}", alerts.join(", "))
    }

    fn release_guided_hints(&mut self, elapsed: Duration, timer: &DrillTimer) {
        if !self.guided {
            return;
        }
        while let Some(hint) = self.scenario.hints.get(self.hints_shown) {
            if hint.after > elapsed {
                break;
            }
            timer.println(format!("hint {}: {}", self.hints_shown + 1, hint.text));
            self.push(Event::HintShown {
                index: self.hints_shown,
                text: hint.text.clone(),
            });
            self.hints_shown += 1;
        }
    }

    /// Whether the drill's impact shows: an expected alert (any, when none is named) or
    /// `AgentDown` firing.
    fn impact(&self, engine: &AlertEngine) -> bool {
        let expected = &self.scenario.alerts.expected;
        engine
            .firing()
            .iter()
            .any(|a| a.alert == "AgentDown" || expected.is_empty() || expected.contains(&a.alert))
    }

    async fn observe(&mut self, elapsed: Duration, engine: &AlertEngine) -> Observation {
        let impact = self.impact(engine);
        let mut root_cause: Option<(bool, String)> = Some((false, String::new()));
        for id in &self.fault_ids {
            let Ok(record) = self.store.get(id) else {
                continue;
            };
            match faults::probe(self.docker, self.store, record).await {
                Ok(status) => match status.root_cause {
                    Some(cause) if cause.present => {
                        root_cause = Some((true, cause.detail));
                        break;
                    }
                    Some(cause) => {
                        if let Some((false, detail)) = &mut root_cause {
                            *detail = cause.detail;
                        }
                    }
                    None => root_cause = None,
                },
                Err(_) => root_cause = None,
            }
        }
        self.probes.push(ProbeReading {
            at: elapsed.as_secs_f64(),
            present: root_cause.as_ref().map(|(present, _)| *present),
            detail: root_cause
                .as_ref()
                .map(|(_, detail)| detail.clone())
                .unwrap_or_default(),
        });
        let agent = sandbox::find(self.docker, &self.info.name).await.ok();
        let container_present = agent.is_some();
        let history_intact = match agent {
            Some(info) => self.history_intact(info).await,
            None => None,
        };
        Observation {
            at: elapsed.as_secs_f64(),
            impact,
            root_cause,
            history_intact,
            container_present,
        }
    }

    /// Whether the history database is there (its loss is data loss, whatever else happened).
    async fn history_intact(&self, info: SandboxInfo) -> Option<(bool, String)> {
        let target = FaultTarget::new(self.docker.clone(), info);
        let output = target.exec("0", &["test", "-s", HISTORY_DB]).await.ok();
        let _ = self
            .store
            .log_own_actions(&self.info.session, &target.journal.actions());
        // Only `test` answering "no" (exit 1) is a loss; a container that cannot exec
        // (restarting, or dying under the exec: other codes) tells nothing this round.
        match output?.exit_code {
            0 => Some((true, String::new())),
            1 => Some((false, format!("{HISTORY_DB} is gone or empty"))),
            _ => None,
        }
    }

    /// Handles a verb; true when it ends the drill.
    fn answer(&mut self, command: Command) -> bool {
        let (reply, ends) = match command.verb {
            Verb::Ack => {
                self.push(Event::Acknowledged);
                (Reply::ok("acknowledged"), false)
            }
            Verb::Diagnose { runbook } => {
                if crate::runbook::file_of(&runbook).is_none() {
                    let known: Vec<&str> = crate::runbook::ids().collect();
                    (
                        Reply::refused(format!(
                            "unknown runbook id '{runbook}'; known: {}",
                            known.join(", ")
                        )),
                        false,
                    )
                } else {
                    let correct = self.scenario.diagnosis.accepted.contains(&runbook);
                    self.push(Event::Diagnosed {
                        runbook: runbook.clone(),
                        correct,
                    });
                    (Reply::ok(format!("diagnosis recorded: {runbook}")), false)
                }
            }
            Verb::Note { text } => {
                self.push(Event::Note { text });
                (Reply::ok("noted"), false)
            }
            Verb::Hint => (self.next_hint(), false),
            Verb::Status => (self.status(), false),
            Verb::Abort => (
                Reply::ok("aborting: reverting the fault and removing the sandbox"),
                true,
            ),
        };
        let _ = command.reply.send(reply);
        ends
    }

    fn next_hint(&mut self) -> Reply {
        let Some(hint) = self.scenario.hints.get(self.hints_shown) else {
            return Reply::refused("no more hints");
        };
        let elapsed = self.since_injection().unwrap_or_default();
        if hint.after > elapsed {
            return Reply::refused(format!(
                "no hint yet; the next one is released in {}",
                humantime::format_duration(Duration::from_secs((hint.after - elapsed).as_secs()))
            ));
        }
        let text = hint.text.clone();
        self.push(Event::HintShown {
            index: self.hints_shown,
            text: text.clone(),
        });
        self.hints_shown += 1;
        let cost = if self.guided {
            "free in guided mode"
        } else {
            "costs 5 points"
        };
        Reply::ok(format!("hint {} ({cost}): {text}", self.hints_shown))
    }

    /// What the trainee may know: the sandbox, the state, the pages and the time; never the answer.
    fn status(&self) -> Reply {
        let state = if self.injected_at.is_some() {
            "running"
        } else {
            "waiting for the incident"
        };
        let elapsed = self
            .entries
            .first()
            .map(|(at, _)| unix(SystemTime::now()) - at)
            .unwrap_or(0.0);
        let status = json!({
            "session": self.info.session,
            "scenario": self.scenario.title,
            "state": state,
            "elapsed_s": elapsed.round(),
            "time_limit_s": self.scenario.time_limit.as_secs(),
            "sandbox": {
                "name": self.info.name,
                "container": self.info.container,
                "traffic_container": self.info.traffic_container,
                "http": self.info.http,
                "https": self.info.https,
                "traffic_stats": self.info.traffic_stats,
            },
            "alerts_firing": self.firing.iter().map(|(alert, severity, summary)| json!({
                "alert": alert, "severity": severity, "summary": summary,
            })).collect::<Vec<_>>(),
            "hints_shown": self.hints_shown,
        });
        // The pages by name: a trainee back at the terminal wants to know which, not how many.
        let firing = if self.firing.is_empty() {
            "no alert firing".to_string()
        } else {
            let names: Vec<String> = self
                .firing
                .iter()
                .map(|(alert, severity, _)| format!("{alert} ({severity})"))
                .collect();
            format!("firing: {}", names.join(", "))
        };
        let mut reply = Reply::ok(format!(
            "{}: {state}, {}s elapsed; agent {} at {}; {firing}",
            self.info.session,
            elapsed.round(),
            self.info.container,
            self.info.http.as_deref().unwrap_or("-"),
        ));
        reply.status = Some(status);
        reply
    }
}

/// Forwards the trainee's Docker actions on the agent container (firedrill's own left out)
/// and the scaling of sandbox `name`'s replicas. Each event waits [`AUDIT_DELAY`] before it is
/// judged: firedrill logs its own actions when a probe or an inject returns, which can be after
/// the engine reported them.
async fn follow_events(
    docker: Docker,
    name: String,
    container: String,
    session: String,
    store: FaultStore,
    mut injecting: tokio::sync::watch::Receiver<bool>,
    actions: mpsc::Sender<(f64, Action)>,
) {
    let filters = std::collections::HashMap::from([
        ("type", vec!["container"]),
        ("container", vec![container.as_str()]),
    ]);
    let options = EventsOptionsBuilder::new().filters(&filters).build();
    let mut events = Box::pin(docker.events(Some(options)));
    let mut pending: VecDeque<(tokio::time::Instant, EventMessage)> = VecDeque::new();
    let mut judge = audit::DockerAudit::default();
    // Counts from a wrong start would score wrong scales: without the replicas the drill
    // started with, scaling is not judged at all.
    let mut replicas = sandbox::replica_members(&docker, &name)
        .await
        .ok()
        .map(|members| audit::ReplicaAudit::new(&container, members.iter().map(|m| m.index)));
    loop {
        // An inject logs firedrill's own actions when it returns, which for a deploy can be well
        // after their events: nothing is judged while one is under way.
        let due = if *injecting.borrow() {
            None
        } else {
            pending.front().map(|(at, _)| *at + AUDIT_DELAY)
        };
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => pending.push_back((tokio::time::Instant::now(), event)),
                _ => return,
            },
            changed = injecting.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                let own = store.own_actions(&session).unwrap_or_default();
                let now = tokio::time::Instant::now();
                while pending.front().is_some_and(|(at, _)| *at + AUDIT_DELAY <= now) {
                    let (_, event) = pending.pop_front().expect("a pending event");
                    // The engine's name filter matches by prefix: replicas' events come too.
                    let judged = if crate::docker::events::is_about(&event, &container) {
                        judge.judge(&event, &own)
                    } else {
                        replicas.as_mut().and_then(|replicas| replicas.judge(&event))
                    };
                    if let Some(action) = judged {
                        if actions.send(action).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Forwards the requests a person made to the agent, from its access log. A log stream ends
/// when the container stops (a restart, an OOM kill, a deploy's new container): it is followed
/// again from where it was, by name, for as long as the drill runs.
async fn follow_access_log(
    docker: Docker,
    container: String,
    actions: mpsc::Sender<(f64, Action)>,
) {
    let mut last_seen = unix(SystemTime::now());
    loop {
        // `since` is whole seconds: lines of that second already forwarded are skipped below.
        let options = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .since(last_seen.floor() as i32)
            .build();
        let mut logs = Box::pin(docker.logs(&container, Some(options)));
        while let Some(Ok(chunk)) = logs.next().await {
            for line in chunk.to_string().lines() {
                let Some((at, action)) = audit::access_action(line) else {
                    continue;
                };
                if at <= last_seen {
                    continue;
                }
                last_seen = at;
                if actions.send((at, action)).await.is_err() {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_onset_and_the_onset_stays_in_its_window() {
        let scenario =
            crate::scenario::load(std::path::Path::new("scenarios/high-cpu-usage.yaml")).unwrap();
        let window = scenario.faults[0].onset;
        let onsets: Vec<Duration> = (0..50).map(|seed| draw_onset(&scenario, seed)).collect();
        assert_eq!(draw_onset(&scenario, 7), draw_onset(&scenario, 7));
        assert!(onsets
            .iter()
            .all(|o| *o >= window.after && *o <= window.after + window.within));
        let distinct: std::collections::BTreeSet<_> = onsets.iter().collect();
        assert!(
            distinct.len() > 40,
            "seeds spread the onset over the window"
        );
    }
}
