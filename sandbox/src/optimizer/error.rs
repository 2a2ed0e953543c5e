//! Why a Dockerfile cannot be optimized. The messages go to API clients as they are.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DockerfileError {
    #[error("dockerfile content is required")]
    Empty,
    #[error("dockerfile is {bytes} bytes, more than the {limit} bytes accepted")]
    TooLarge { bytes: usize, limit: usize },
    #[error("dockerfile has only comments and blank lines, no instructions")]
    NoInstructions,
    #[error("line {line}: a Dockerfile must start with FROM (only ARG may come before it), found {found}")]
    NoFrom { line: usize, found: String },
    #[error("line {line}: unknown instruction `{keyword}`")]
    UnknownInstruction { line: usize, keyword: String },
    #[error("line {line}: {keyword} needs arguments")]
    MissingArguments { line: usize, keyword: String },
    #[error("line {line}: invalid FROM: {detail}")]
    InvalidFrom { line: usize, detail: String },
    #[error("line {line}: heredoc `{marker}` is never terminated")]
    UnterminatedHeredoc { line: usize, marker: String },
    #[error("build argument {name} expands to more than {limit} bytes")]
    ExpansionTooLarge { name: String, limit: usize },
    #[error("processing was cancelled")]
    Cancelled,
}
