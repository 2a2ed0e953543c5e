//! `agentctl scanner db verify|update`: the scanner's vulnerability database, checked and
//! refreshed on disk with the scanner's own code, so they work while the agent is down. Also
//! the on-disk half of `agentctl scanner status`: the DB's age and who holds its lock.

use std::path::Path;

use serde_json::{json, Value};

use super::cli::ScannerDbCommand;
use super::error::CommandError;
use super::report::{DbAction, Report};
use crate::config::Config;
use crate::paths::TRIVY_DB_MIRROR;
pub use crate::scanner::lock::LockHolder;
pub use crate::scanner::DbInfo;

/// What `scanner status` reads from disk beside the agent's answer.
#[derive(Debug)]
pub struct DbOnDisk {
    /// The DB's details, or why it does not verify.
    pub database: Result<DbInfo, String>,
    /// The live process holding the DB lock (scans wait for it), if any.
    pub lock: Option<LockHolder>,
}

impl DbOnDisk {
    pub fn read(db: &Path) -> DbOnDisk {
        DbOnDisk {
            database: crate::scanner::db_verify(db).map_err(|e| e.to_string()),
            lock: crate::scanner::lock::live_holder(db),
        }
    }

    /// The `--json` fields: `database` (or `{"error": ..}`) and `db_lock` (or null).
    pub fn json(&self) -> (Value, Value) {
        let database = match &self.database {
            Ok(info) => json!(info),
            Err(error) => json!({ "error": error }),
        };
        (database, json!(self.lock))
    }
}

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
