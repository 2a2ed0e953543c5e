//! The command line: one place defines every verb (clap derive), and `main` maps errors to
//! exit codes (0 ok, 1 failed, 2 bad input or environment; see the README).

mod sandbox;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

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
    /// Remove every firedrill container, network and volume, and dangling firedrill images.
    Cleanup(CleanupArgs),
}

#[derive(Debug, Subcommand)]
enum SandboxCommand {
    /// Build the image if needed, start a sandbox and wait until it is healthy.
    Up(UpArgs),
    /// Remove a sandbox: its containers, network and data volume.
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
        Command::Sandbox(SandboxCommand::Down(args)) => sandbox::down(&args.name).await,
        Command::Sandbox(SandboxCommand::Status(args)) => sandbox::status(args.json).await,
        Command::Cleanup(args) => sandbox::cleanup(args.images, args.json).await,
    }
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
