//! The trainee's verbs: `firedrill ack | diagnose <RUNBOOK-ID> | note <TEXT> | hint | status
//! [--json] | abort [--session ID]`, sent to the running drill over its control channel.

use std::process::ExitCode;

use crate::drill::control::{self, Verb};
use crate::error::{Error, Result};

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
