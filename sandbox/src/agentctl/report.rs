//! What a command produced, before it is rendered as text or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};

use super::api::{
    AgentStatus, CacheCleared, CacheStats, CancelledJob, Cleanup, Job, Pruned, Reloaded,
    ScannerStatus,
};
use super::cli::HistoryAge;
use super::client::Answer;
use super::scanner_db::{DbInfo, DbOnDisk};
use crate::tls::CertInfo;

#[derive(Debug)]
pub enum Report {
    /// Boxed: the status is much larger than the other answers.
    Status(Box<Answer<AgentStatus>>),
    Jobs(Answer<Vec<Job>>),
    JobCancelled(Answer<CancelledJob>),
    CacheStats(Answer<CacheStats>),
    CacheCleared(Answer<CacheCleared>),
    /// Boxed, like the status: with what it read from disk it is the largest answer.
    ScannerStatus(Box<(Answer<ScannerStatus>, DbOnDisk)>),
    ScannerDb {
        action: DbAction,
        info: DbInfo,
    },
    Certificate(CertInfo),
    CertificateRenewed {
        certificate: CertInfo,
        reload: CertificateReload,
    },
    ConfigValid {
        file: PathBuf,
    },
    Config(Answer<Value>),
    Reloaded(Answer<Reloaded>),
    Cleanup(Answer<Cleanup>),
    Pruned {
        older_than: HistoryAge,
        answer: Answer<Pruned>,
    },
    Version(String),
}

/// What `scanner db` did to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbAction {
    Verified,
    Updated,
}

/// How the running agent took a renewed certificate.
#[derive(Debug)]
pub enum CertificateReload {
    /// The agent swapped to it; `changes` is its reload answer.
    Reloaded(Answer<Reloaded>),
    /// No agent running: it reads the certificate when it starts.
    AgentNotRunning,
    /// The agent refused to reload (e.g. its configuration became invalid) and keeps serving
    /// the old certificate.
    Refused(String),
}

impl Report {
    /// 0 unless the command did its work only in part.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Report::CertificateRenewed {
                reload: CertificateReload::Refused(_),
                ..
            } => ExitCode::FAILURE,
            _ => ExitCode::SUCCESS,
        }
    }

    /// The `--json` output: the agent's answer as it came (`scanner status` adds what it read
    /// from disk), or the local result.
    pub fn json(&self) -> Value {
        match self {
            Report::Status(answer) => answer.raw.clone(),
            Report::Jobs(answer) => answer.raw.clone(),
            Report::JobCancelled(answer) => answer.raw.clone(),
            Report::CacheStats(answer) => answer.raw.clone(),
            Report::CacheCleared(answer) => answer.raw.clone(),
            Report::ScannerStatus(status) => {
                let (answer, on_disk) = &**status;
                let mut raw = answer.raw.clone();
                let (database, lock) = on_disk.json();
                if let Some(object) = raw.as_object_mut() {
                    object.insert("database".to_string(), database);
                    object.insert("db_lock".to_string(), lock);
                }
                raw
            }
            Report::Config(answer) => answer.raw.clone(),
            Report::Reloaded(answer) => answer.raw.clone(),
            Report::Cleanup(answer) => answer.raw.clone(),
            Report::Pruned { answer, .. } => answer.raw.clone(),
            Report::ScannerDb { action, info } => json!({
                "action": match action {
                    DbAction::Verified => "verified",
                    DbAction::Updated => "updated",
                },
                "database": info,
            }),
            Report::Certificate(certificate) => json!(certificate),
            Report::CertificateRenewed {
                certificate,
                reload,
            } => {
                let reload = match reload {
                    CertificateReload::Reloaded(answer) => answer.raw.clone(),
                    CertificateReload::AgentNotRunning => {
                        json!({"reloaded": false, "agent_running": false})
                    }
                    CertificateReload::Refused(error) => json!({"reloaded": false, "error": error}),
                };
                json!({"certificate": certificate, "reload": reload})
            }
            Report::ConfigValid { file } => json!({"valid": true, "file": file}),
            Report::Version(version) => json!({"version": version}),
        }
    }
}
