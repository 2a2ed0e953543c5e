//! Why a command failed, and the exit code that tells a script.

use std::process::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Nothing answered at the operator API: the agent is down, starting or hung.
    #[error("cannot reach the agent's operator API at {url} ({reason}): is optimizer-agent running? check 'docker ps' and 'docker logs <container>'")]
    Unreachable { url: String, reason: String },
    /// The agent answered with an HTTP error; `message` is its `error` field.
    #[error("{message}")]
    Refused { status: u16, message: String },
    /// The agent answered something this agentctl cannot read (e.g. a different release).
    #[error("unexpected answer from the agent to {call}: {reason}")]
    UnexpectedAnswer { call: String, reason: String },
    /// A local check failed (bad configuration, unreadable certificate, corrupt database).
    #[error("{0}")]
    CheckFailed(String),
}

impl CommandError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CommandError::Unreachable { .. } => ExitCode::from(super::EXIT_UNREACHABLE),
            CommandError::Refused { .. }
            | CommandError::UnexpectedAnswer { .. }
            | CommandError::CheckFailed(_) => ExitCode::FAILURE,
        }
    }
}
