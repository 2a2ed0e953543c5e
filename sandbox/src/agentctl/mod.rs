//! `agentctl`: the operator CLI of the agent, run with `docker exec <container> agentctl ...`.
//!
//! Exit codes: 0 ok, 1 the check or the agent's answer failed, 2 usage error, 3 the agent's
//! operator API cannot be reached.

mod api;
mod cli;
mod client;
mod commands;
mod error;
mod format;
mod render;
mod report;
mod scanner_db;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

pub use cli::Cli;
pub use commands::ADMIN_URL_ENV;
pub use error::CommandError;
pub use report::Report;

/// Exit status when the agent is not reachable at its operator API.
pub const EXIT_UNREACHABLE: u8 = 3;

pub fn main(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(std::iter::once(OsString::from("agentctl")).chain(args)) {
        Ok(cli) => cli,
        Err(error) => {
            // Help goes to stdout with 0; usage errors to stderr with 2.
            let _ = error.print();
            return ExitCode::from(error.exit_code() as u8);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("agentctl: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(&cli)) {
        Ok(report) => {
            // A closed pipe (`agentctl status --json | head`) is the reader's choice, not a failure.
            let _ = writeln!(std::io::stdout().lock(), "{}", render(&report, cli.json));
            report.exit_code()
        }
        Err(error) => {
            eprintln!("agentctl: {error}");
            error.exit_code()
        }
    }
}

/// The output of `report`: pretty JSON with `--json`, aligned text otherwise.
pub fn render(report: &Report, json: bool) -> String {
    if json {
        serde_json::to_string_pretty(&report.json()).expect("a JSON value always serializes")
    } else {
        render::text(report)
    }
}

#[cfg(test)]
mod tests;
