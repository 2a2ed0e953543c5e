//! The one error type of firedrill: each variant carries what a user needs to act on it.

use std::path::PathBuf;
use std::time::Duration;

/// Exit code: the command ran but what it checked failed (a drill or validation failed).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad input or a broken environment (no Docker engine, unknown name, bad file).
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot reach the Docker engine at {endpoint} ({detail}); start it (e.g. `sudo systemctl start docker`) \
         or point DOCKER_HOST at a running engine, then check with `docker info`"
    )]
    DockerUnreachable { endpoint: String, detail: String },

    #[error("Docker engine error while {action}: {source}")]
    Docker {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },

    #[error(
        "sandbox '{name}' already exists (container {container}); use it, pick another --name, \
         or remove it with `firedrill sandbox down --name {name}`"
    )]
    SandboxExists { name: String, container: String },

    #[error("no sandbox named '{name}'; `firedrill sandbox status` lists the running ones")]
    SandboxNotFound { name: String },

    #[error("sandbox '{name}' was removed while it was watched")]
    SandboxGone { name: String },

    #[error(
        "sandbox '{name}' has no previous release to roll back to: it still runs the release \
         `sandbox up` started; deploy one with `firedrill sandbox deploy --name {name} --version V`"
    )]
    NothingToRollBack { name: String },

    #[error("no sandbox is running; start one with `firedrill sandbox up`")]
    NoSandboxes,

    #[error("bad webhook URL '{url}': {reason}")]
    BadWebhookUrl { url: String, reason: String },

    #[error("invalid sandbox name '{name}': {reason}")]
    InvalidSandboxName { name: String, reason: String },

    #[error("unknown agent version '{version}'; known versions: {known}")]
    UnknownVersion { version: String, known: String },

    #[error("building the sandbox image {tag} failed: {detail}")]
    ImageBuild { tag: String, detail: String },

    #[error(
        "sandbox '{name}' did not become healthy within {}s (last: {last}); agent log tail:\n{log_tail}",
        waited.as_secs()
    )]
    NotHealthy {
        name: String,
        waited: Duration,
        last: String,
        log_tail: String,
    },

    #[error("unknown fault kind '{kind}'; known kinds: {known} (see `firedrill fault list`)")]
    UnknownFault { kind: String, known: String },

    #[error("bad parameter '{pair}' for fault {kind}: {reason}")]
    BadFaultParameter {
        kind: String,
        pair: String,
        reason: String,
    },

    #[error("no injected fault with id '{id}'; `firedrill fault status` lists them")]
    FaultNotFound { id: String },

    #[error(
        "a {kind} fault is already injected into sandbox '{sandbox}' ({id}); revert it first with \
         `firedrill fault revert {id}`"
    )]
    FaultActive {
        kind: String,
        sandbox: String,
        id: String,
    },

    #[error("fault {kind} is not available here: {reason}")]
    FaultUnavailable { kind: String, reason: String },

    #[error("`{command}` in {container} failed: {detail}")]
    FaultAction {
        container: String,
        command: String,
        detail: String,
    },

    #[error(
        "unknown scenario '{name}': not a file, nor an id in {}; known ids: {known}",
        folder.display()
    )]
    UnknownScenario {
        name: String,
        folder: PathBuf,
        known: String,
    },

    #[error("{invalid} of {total} scenario files invalid (each problem is listed above)")]
    InvalidScenarios { invalid: usize, total: usize },

    #[error("no scenario files in {}; expected *.yaml scenarios there, or name them", folder.display())]
    NoScenarios { folder: PathBuf },

    #[error("{count} problem(s) with the runbooks (each is listed above)")]
    RunbookProblems { count: usize },

    #[error(transparent)]
    Control(#[from] crate::drill::control::ControlError),

    #[error("{0}")]
    Scenario(#[from] crate::scenario::ScenarioError),

    #[error("the scenario's alert overrides: {0}")]
    Rules(#[from] crate::monitor::RuleError),

    #[error(transparent)]
    Report(#[from] crate::report::ReportError),

    #[error("interrupted; what this command had made was removed")]
    Interrupted,

    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The process exit code for this error (documented in the README).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotHealthy { .. }
            | Error::ImageBuild { .. }
            | Error::FaultAction { .. }
            | Error::SandboxGone { .. }
            | Error::Control(crate::drill::control::ControlError::Unreachable { .. }) => {
                EXIT_FAILED
            }
            Error::Interrupted => crate::interrupt::EXIT_INTERRUPTED,
            _ => EXIT_BAD_INPUT,
        }
    }

    /// Wraps an I/O error with what firedrill was doing to which file.
    pub fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_path_buf();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }

    /// Wraps an engine error with what firedrill was doing.
    pub fn docker(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Error {
        let action = action.into();
        move |source| Error::Docker { action, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
