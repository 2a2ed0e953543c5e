//! The trainee's verbs: `firedrill ack | diagnose <RUNBOOK-ID> | note <TEXT> | hint | status
//! [--json] | abort [--session ID]`, sent to the running drill over its control channel.

use std::process::ExitCode;

use std::io::IsTerminal;

use crate::drill::control::{self, Verb};
use crate::drill::session::{self, RunOptions};
use crate::drill::timeline::Outcome;
use crate::error::{Error, Result};
use crate::interrupt::EXIT_INTERRUPTED;
use crate::report::terminal::scorecard;

/// Runs a drill and prints its scorecard. Exit 0 when resolved, 1 when it ended unresolved
/// (mitigated or timed out), 130 when aborted.
pub async fn run(options: RunOptions) -> Result<ExitCode> {
    let interrupt = crate::interrupt::Interrupt::listen();
    let finished = session::run(options, &interrupt).await?;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    println!("\n{}", scorecard(&finished.result, color));
    println!(
        "result: {}\ndebrief: {}",
        finished.result_path.display(),
        finished.debrief_path.display()
    );
    Ok(match finished.result.outcome {
        Outcome::Resolved => ExitCode::SUCCESS,
        Outcome::Aborted => ExitCode::from(EXIT_INTERRUPTED),
        Outcome::Mitigated | Outcome::TimedOut => ExitCode::from(crate::error::EXIT_FAILED),
    })
}

pub async fn verb(session: Option<&str>, verb: Verb, json: bool) -> Result<ExitCode> {
    let is_status = verb == Verb::Status;
    let reply = control::send(session, verb).await.map_err(Error::Control)?;
    if json && is_status {
        println!(
            "{}",
            super::to_json(&reply.status.unwrap_or(serde_json::Value::Null))
        );
    } else if reply.ok {
        println!("{}", reply.message);
    } else {
        eprintln!("firedrill: {}", reply.message);
    }
    Ok(if reply.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::error::EXIT_BAD_INPUT)
    })
}
