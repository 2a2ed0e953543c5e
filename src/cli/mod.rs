//! The command line: one place defines every verb (clap derive), and `main` maps errors to
//! exit codes (0 ok, 1 failed, 2 bad input or environment; see the README).

mod drill;
mod fault;
mod monitor;
mod report;
mod sandbox;
mod scenario;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::drill::control::Verb;
use crate::error::Result;

#[derive(Debug, Parser)]
#[command(
    name = "firedrill",
    version,
    about = "Chaos drills for on-call engineers of the Docker Optimizer Agent"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start, inspect and remove free-play sandboxes of the agent.
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Inject faults into a sandbox by hand, see their root cause, revert them.
    #[command(subcommand)]
    Fault(FaultCommand),
    /// Page on a sandbox's alerts (runbook thresholds and the agent's rules) until interrupted.
    Watch(WatchArgs),
    /// The alert rules: list them, or export them as a Prometheus rule file.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Remove every firedrill container, network and volume, and dangling firedrill images.
    Cleanup(CleanupArgs),
    /// Check scenario files: every problem at its file:line:col (exit 2 when any is invalid).
    Check(CheckArgs),
    /// The scenarios: id, title, runbook and difficulty.
    List(JsonArgs),
    /// Run a drill: sandbox, briefing, a fault at a seeded moment, pages, verification, score.
    Run(RunArgs),
    /// Acknowledge the page of the running drill (MTTA).
    Ack(SessionArgs),
    /// Tell the running drill which runbook procedure applies (your diagnosis).
    Diagnose(DiagnoseArgs),
    /// Add a note to the running drill's timeline.
    Note(NoteArgs),
    /// Ask the running drill for its next hint (costs points outside --guided).
    Hint(SessionArgs),
    /// The running drill: sandbox container and URLs, state, alerts firing, elapsed time.
    Status(DrillStatusArgs),
    /// End the running drill: revert the fault, remove the sandbox, save the result as aborted.
    Abort(SessionArgs),
    /// Prove the runbooks work: run each scenario's reference solution against its fault, check
    /// the pages, a negative control, the resolution in time and that nothing was harmed.
    Validate(ValidateArgs),
    /// Render result files as a Markdown debrief, an HTML page (several make a leaderboard) or JSON.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// A scenario file or id (see `firedrill list`).
    #[arg(value_name = "SCENARIO")]
    scenario: String,
    /// Who is drilling (the result and the leaderboard name them); default: $USER.
    #[arg(long)]
    trainee: Option<String>,
    /// Seed of the drill's random choices: the same seed replays the same drill.
    #[arg(long)]
    seed: Option<u64>,
    /// Release hints on their timers, free of charge (onboarding).
    #[arg(long)]
    guided: bool,
    /// Start the fault this long after the briefing instead of a seeded moment of its window.
    #[arg(long, value_parser = humantime::parse_duration)]
    onset: Option<Duration>,
    /// Where the result (`<session>.json`) and the debrief (`<session>.md`) are written.
    #[arg(long, value_name = "DIR", default_value = "firedrill-results")]
    results: PathBuf,
    /// Replace the scenario's time limit (a rehearsal, a test).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    time_limit: Option<Duration>,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// Scenario files or ids; every scenario of the scenarios folder when none are given.
    #[arg(value_name = "SCENARIO")]
    scenarios: Vec<String>,
    /// Also write a JUnit XML report (a suite per scenario, a test case per check).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write the report as JSON (`firedrill.validation/v1`).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// How many drills run at once (default: two per core, at most 8).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=32))]
    parallel: Option<u16>,
    /// Where each drill's result (`<session>.json`) and debrief go.
    #[arg(long, value_name = "DIR", default_value = "firedrill-results")]
    results: PathBuf,
}

#[derive(Debug, Args)]
struct SessionArgs {
    /// The drill's session id; optional when one drill is running.
    #[arg(long)]
    session: Option<String>,
}

#[derive(Debug, Args)]
struct DiagnoseArgs {
    /// A runbook id, e.g. high-cpu-usage.
    #[arg(value_name = "RUNBOOK-ID")]
    runbook: String,
    #[command(flatten)]
    session: SessionArgs,
}

#[derive(Debug, Args)]
struct NoteArgs {
    /// The note, e.g. "job 42 has run for 6 minutes".
    #[arg(value_name = "TEXT", required = true)]
    text: Vec<String>,
    #[command(flatten)]
    session: SessionArgs,
}

#[derive(Debug, Args)]
struct DrillStatusArgs {
    /// Print the state as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    session: SessionArgs,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// Result files (`<session>.json` in the results folder).
    #[arg(value_name = "RESULT.json", required = true)]
    results: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "md")]
    format: crate::report::Format,
    /// Write to this file (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Scenario files or ids; every scenario of the scenarios folder when none are given.
    #[arg(value_name = "SCENARIO")]
    scenarios: Vec<String>,
}

#[derive(Debug, Args)]
struct WatchArgs {
    /// Sandbox to watch (repeatable); every running sandbox when not given.
    #[arg(long)]
    sandbox: Vec<String>,
    /// Print one JSON object per alert event instead of page lines.
    #[arg(long)]
    json: bool,
    /// Time between samples.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Also append every alert event to this JSONL file.
    #[arg(long, value_name = "FILE")]
    jsonl: Option<PathBuf>,
    /// Also POST alerts to this Alertmanager-compatible webhook (payload version 4).
    #[arg(long, value_name = "URL")]
    webhook: Option<String>,
    /// Stop after this long instead of at Ctrl-C.
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    limit: Option<Duration>,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// The default rules: alert, severity, condition, `for`, runbook.
    List(JsonArgs),
    /// Write the rules as a Prometheus rule file (to stdout, or atomically to -o FILE).
    Export(ExportArgs),
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// Where to write the rule file.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum FaultCommand {
    /// The fault catalogue: kinds, parameters, symptoms, mitigation and resolution.
    List(JsonArgs),
    /// Injected faults and whether each root cause is still present.
    Status(FaultStatusArgs),
    /// Inject a fault into a sandbox.
    Inject(InjectArgs),
    /// Revert one injected fault, or all of them.
    Revert(RevertArgs),
}

#[derive(Debug, Args)]
struct JsonArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct FaultStatusArgs {
    /// Only this sandbox's faults.
    #[arg(long)]
    sandbox: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct InjectArgs {
    /// Fault kind (see `firedrill fault list`).
    kind: String,
    /// Sandbox to break.
    #[arg(long, default_value = "default")]
    sandbox: String,
    /// A parameter of the kind (repeatable), e.g. --set cpus=0.2
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Print the fault record as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RevertArgs {
    /// The fault id `inject` printed.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    id: Option<String>,
    /// Revert every injected fault (of --sandbox only, when given).
    #[arg(long)]
    all: bool,
    /// With --all: only this sandbox's faults.
    #[arg(long, requires = "all")]
    sandbox: Option<String>,
}

#[derive(Debug, Subcommand)]
enum SandboxCommand {
    /// Build the image if needed, start a sandbox and wait until it is healthy.
    Up(UpArgs),
    /// Roll a sandbox's agents to another release one at a time, keeping URLs, data, env, limits.
    Deploy(DeployArgs),
    /// Roll a sandbox's agents back to the release its last deploy replaced.
    Rollback(RollbackArgs),
    /// Run K agent containers behind the traffic's network alias (the primary and K-1 replicas).
    Scale(ScaleArgs),
    /// Remove a sandbox: its containers (replicas included), network and volumes.
    Down(NameArgs),
    /// List sandboxes with their containers, URLs and health.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
struct UpArgs {
    #[command(flatten)]
    name: NameArgs,
    /// Agent release to run.
    #[arg(long = "version", value_name = "V", default_value = optimizer_agent::version::DEFAULT_RELEASE)]
    release: String,
    /// Extra environment of the agent, e.g. DOCKER_OPTIMIZER_CACHE_MAX_SIZE=500 (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct DeployArgs {
    #[command(flatten)]
    name: NameArgs,
    /// Agent release to deploy (1.3.0, 1.4.2, 1.4.3, 1.5.0).
    #[arg(long = "version", value_name = "V")]
    release: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RollbackArgs {
    #[command(flatten)]
    name: NameArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ScaleArgs {
    #[command(flatten)]
    name: NameArgs,
    /// Agent containers to run, the primary included (1 to 4).
    #[arg(long, value_name = "K")]
    replicas: crate::docker::sandbox::ReplicaCount,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct NameArgs {
    /// Sandbox name.
    #[arg(long, default_value = "default")]
    name: String,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// Print JSON (an array of sandboxes) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct CleanupArgs {
    /// Also remove firedrill's cached sandbox images (they are rebuilt on next use).
    #[arg(long)]
    images: bool,
    /// Print what was removed as JSON.
    #[arg(long)]
    json: bool,
}

/// Parses the command line, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    if !matches!(
        cli.command,
        Command::Run(_) | Command::Validate(_) | Command::Watch(_)
    ) {
        // A reader that stops early (`| head`) ends a short command quietly, as it ends any
        // Unix tool. Drills, validations and watches keep the default: they must revert and
        // remove what they made before they exit.
        // SAFETY: called before any thread is started, with the default disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("firedrill: error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Sandbox(SandboxCommand::Up(args)) => {
            sandbox::up(&args.name.name, &args.release, args.env, args.json).await
        }
        Command::Sandbox(SandboxCommand::Deploy(args)) => {
            sandbox::deploy(&args.name.name, &args.release, args.json).await
        }
        Command::Sandbox(SandboxCommand::Rollback(args)) => {
            sandbox::rollback(&args.name.name, args.json).await
        }
        Command::Sandbox(SandboxCommand::Scale(args)) => {
            sandbox::scale(&args.name.name, args.replicas, args.json).await
        }
        Command::Sandbox(SandboxCommand::Down(args)) => sandbox::down(&args.name).await,
        Command::Sandbox(SandboxCommand::Status(args)) => sandbox::status(args.json).await,
        Command::Fault(FaultCommand::List(args)) => fault::list(args.json),
        Command::Fault(FaultCommand::Status(args)) => {
            fault::status(args.sandbox.as_deref(), args.json).await
        }
        Command::Fault(FaultCommand::Inject(args)) => {
            fault::inject(&args.kind, &args.sandbox, &args.set, args.json).await
        }
        Command::Fault(FaultCommand::Revert(args)) => {
            fault::revert(args.id.as_deref(), args.all, args.sandbox.as_deref()).await
        }
        Command::Watch(args) => {
            let outputs = monitor::WatchOutputs {
                json: args.json,
                jsonl: args.jsonl.as_deref(),
                webhook: args.webhook.as_deref(),
            };
            monitor::watch(&args.sandbox, outputs, args.interval, args.limit).await
        }
        Command::Rules(RulesCommand::List(args)) => monitor::list(args.json),
        Command::Rules(RulesCommand::Export(args)) => monitor::export(args.output.as_deref()),
        Command::Cleanup(args) => sandbox::cleanup(args.images, args.json).await,
        Command::Check(args) => scenario::check(&args.scenarios),
        Command::List(args) => scenario::list(args.json),
        Command::Run(args) => {
            let options = crate::drill::session::RunOptions {
                scenario: args.scenario,
                trainee: args
                    .trainee
                    .or_else(|| std::env::var("USER").ok())
                    .unwrap_or_else(|| "trainee".to_string()),
                seed: args.seed,
                guided: args.guided,
                onset: args.onset,
                results: args.results,
                time_limit: args.time_limit,
                mode: crate::drill::session::RunMode::Trainee,
            };
            drill::run(options).await
        }
        Command::Ack(args) => drill::verb(args.session.as_deref(), Verb::Ack, false).await,
        Command::Diagnose(args) => {
            let verb = Verb::Diagnose {
                runbook: args.runbook,
            };
            drill::verb(args.session.session.as_deref(), verb, false).await
        }
        Command::Note(args) => {
            let verb = Verb::Note {
                text: args.text.join(" "),
            };
            drill::verb(args.session.session.as_deref(), verb, false).await
        }
        Command::Hint(args) => drill::verb(args.session.as_deref(), Verb::Hint, false).await,
        Command::Status(args) => {
            drill::verb(args.session.session.as_deref(), Verb::Status, args.json).await
        }
        Command::Abort(args) => drill::verb(args.session.as_deref(), Verb::Abort, false).await,
        Command::Validate(args) => {
            let options = crate::validate::ValidateOptions {
                scenarios: args.scenarios,
                parallel: args
                    .parallel
                    .map_or_else(crate::validate::default_parallelism, usize::from),
                results: args.results,
            };
            scenario::validate(options, args.junit.as_deref(), args.json.as_deref()).await
        }
        Command::Report(args) => report::report(&args.results, args.format, args.output.as_deref()),
    }
}

/// Writes `text` to `path` through a temporary file in the same folder, so a reader never
/// sees half of it and an error leaves the old file as it was.
fn write_atomically(path: &std::path::Path, text: &str, action: &'static str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let io_error = || crate::error::Error::io(action, path);
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io_error())?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io_error())?;
    file.persist(path).map_err(|e| io_error()(e.error))?;
    Ok(())
}

/// Pretty JSON of firedrill's own (always serialisable) types.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("firedrill's own types serialise")
}

/// Diagnostics go to stderr; `FIREDRILL_LOG` sets the level (default: warnings).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FIREDRILL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
