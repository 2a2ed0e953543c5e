//! `agentctl scanner db verify|update`: the scanner's vulnerability database, checked and
//! refreshed on disk with the scanner's own code, so they work while the agent is down.

use std::path::Path;

use super::cli::ScannerDbCommand;
use super::error::CommandError;
use super::report::{DbAction, Report};
use crate::config::Config;
use crate::paths::TRIVY_DB_MIRROR;
pub use crate::scanner::DbInfo;

pub fn run(command: &ScannerDbCommand, config: &Config) -> Result<Report, CommandError> {
    let db = &config.scanner.db_path;
    let (action, result) = match command {
        ScannerDbCommand::Verify => (DbAction::Verified, crate::scanner::db_verify(db)),
        ScannerDbCommand::Update => (
            DbAction::Updated,
            crate::scanner::db_update(db, Path::new(TRIVY_DB_MIRROR)),
        ),
    };
    result
        .map(|info| Report::ScannerDb { action, info })
        .map_err(|e| CommandError::CheckFailed(e.to_string()))
}
