//! `optimizer-agent [serve] [--config PATH]`: the Docker Optimizer Agent service.
//!
//! Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 78 (`EX_CONFIG`) on a bad configuration,
//! 70 (`EX_SOFTWARE`) when the cache index cannot be read, 1 when the agent cannot start otherwise,
//! 2 on a usage error.

mod admin;
mod agent;
mod cache;
mod certificate;
mod cleanup;
mod denylist;
mod diagnostics;
mod fault_injection;
mod health;
mod jobs;
mod logging;
mod metrics;
mod pipeline;
mod process_stats;
mod quota;
mod release_regression;
mod reload;
mod routes;
mod scanning;
mod self_scan;
mod state;
mod store;

#[cfg(test)]
mod tests;

pub use cache::{index_defect as cache_index_defect, INDEX_FILE_NAME as CACHE_INDEX_FILE_NAME};

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::{self, LoadedConfig};

use agent::AgentParts;
use metrics::Metrics;
use quota::StorageQuota;

/// `EX_CONFIG` of sysexits.h: the configuration is wrong.
const EXIT_CONFIG_ERROR: u8 = 78;
/// `clap`'s code for a usage error.
const EXIT_USAGE: u8 = 2;
/// The cache index cannot be read (see `cache.rs`).
const EXIT_CACHE_INDEX: u8 = 70;

/// Blocking threads (optimizer work, file walks, database): enough for a few concurrent jobs,
/// few enough that the agent stays small.
const MAX_BLOCKING_THREADS: usize = 16;

#[derive(Debug, Parser)]
#[command(
    name = "optimizer-agent",
    about = "The Docker Optimizer Agent (sandbox)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The configuration file (the defaults apply when it does not exist).
    #[arg(long, global = true, default_value = crate::paths::CONFIG_FILE)]
    config: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let cli =
        match Cli::try_parse_from(std::iter::once(OsString::from("optimizer-agent")).chain(args)) {
            Ok(cli) => cli,
            Err(e) => {
                let _ = e.print();
                return if e.use_stderr() {
                    ExitCode::from(EXIT_USAGE)
                } else {
                    ExitCode::SUCCESS
                };
            }
        };
    // `serve` is the only mode, and the default: nothing to dispatch on.
    let (Some(Command::Serve) | None) = cli.command;
    let loaded = match config::load(&cli.config) {
        Ok(loaded) => loaded,
        Err(e) => {
            logging::report_config_error(&e);
            return ExitCode::from(EXIT_CONFIG_ERROR);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(loaded.config.server.workers)
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(serve(loaded)),
        Err(e) => {
            eprintln!("optimizer-agent: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the agent until SIGTERM or SIGINT, then drains and stops.
async fn serve(loaded: LoadedConfig) -> ExitCode {
    let metrics = Metrics::new(&crate::version::current());
    let storage = &loaded.config.storage;
    let quota = StorageQuota::new(
        &storage.data_dir,
        storage.quota_mb * 1024 * 1024,
        metrics.disk_full_errors(),
    );
    let log_control = logging::init(&loaded.config.logging, Arc::clone(&quota));
    let parts = AgentParts {
        loaded,
        metrics,
        quota,
        log_control,
    };
    let agent = match agent::start(parts).await {
        Ok(agent) => agent,
        Err(e) => {
            tracing::error!(error = %e, "agent failed to start");
            return match e {
                // EX_SOFTWARE (sysexits.h): the agent's own state file is unreadable.
                agent::StartError::CacheIndex(_) => ExitCode::from(EXIT_CACHE_INDEX),
                _ => ExitCode::FAILURE,
            };
        }
    };
    let signal = shutdown_signal().await;
    tracing::info!(signal, "shutdown requested");
    agent.shutdown().await;
    ExitCode::SUCCESS
}

/// Waits for SIGTERM (`docker stop`) or SIGINT; returns its name.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}
