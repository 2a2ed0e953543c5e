//! What each command does. Most ask the running agent's operator API; `config validate`,
//! `cert show|renew` and `scanner db verify|update` work on the files directly, so they also
//! work while the agent is down (which is when an operator needs them most).

use std::path::Path;

use super::api::ScannerStatus;
use super::cli::{
    CacheCommand, CertCommand, Cli, Command, ConfigCommand, DbCommand, JobsCommand, ScannerCommand,
};
use super::client::{AdminClient, Answer};
use super::error::CommandError;
use super::report::{CertificateReload, Report};
use super::scanner_db::DbOnDisk;
use crate::config::{Config, LoadedConfig};

/// Overrides the operator API's URL (tests, or an agent on a non-default port without config).
pub const ADMIN_URL_ENV: &str = "AGENTCTL_ADMIN_URL";

pub async fn run(cli: &Cli) -> Result<Report, CommandError> {
    let agent = || admin_client(cli);
    Ok(match &cli.command {
        Command::Version => Report::Version(crate::version::current()),
        Command::Config(ConfigCommand::Validate { file }) => {
            let file = file.as_deref().unwrap_or(&cli.config);
            Report::ConfigValid {
                file: load_config(file)?.file,
            }
        }
        Command::Cert(CertCommand::Show) => {
            let config = load_config(&cli.config)?.config;
            crate::tls::read_cert_info(&config.tls.cert_file)
                .map(Report::Certificate)
                .map_err(|e| CommandError::CheckFailed(e.to_string()))?
        }
        Command::Cert(CertCommand::Renew { days }) => {
            let config = load_config(&cli.config)?.config;
            renew_certificate(&config, *days, &agent()).await?
        }
        Command::Scanner(ScannerCommand::Db(command)) => {
            let config = load_config(&cli.config)?.config;
            super::scanner_db::run(command, &config)?
        }
        Command::Status => Report::Status(Box::new(agent().get("/admin/status").await?)),
        Command::Jobs(JobsCommand::List) => Report::Jobs(agent().get("/admin/jobs").await?),
        Command::Jobs(JobsCommand::Cancel { id, deny }) => {
            let path = format!("/admin/jobs/{}/cancel", url_path_segment(id));
            Report::JobCancelled(agent().post(&path, &[("deny", deny.to_string())]).await?)
        }
        Command::Cache(CacheCommand::Stats) => {
            Report::CacheStats(agent().get("/admin/cache").await?)
        }
        Command::Cache(CacheCommand::Clear) => {
            Report::CacheCleared(agent().post("/admin/cache/clear", &[]).await?)
        }
        Command::Scanner(ScannerCommand::Status) => {
            let answer: Answer<ScannerStatus> = agent().get("/admin/scanner").await?;
            // The DB the agent scans with, as it reported it.
            let db = if answer.view.db_path.is_empty() {
                crate::paths::TRIVY_DB
            } else {
                &answer.view.db_path
            };
            let on_disk = DbOnDisk::read(Path::new(db));
            Report::ScannerStatus(Box::new((answer, on_disk)))
        }
        Command::Config(ConfigCommand::Show) => Report::Config(agent().get("/admin/config").await?),
        Command::Reload => Report::Reloaded(agent().post("/admin/reload", &[]).await?),
        Command::Cleanup { dry_run } => Report::Cleanup(
            agent()
                .post("/admin/cleanup", &[("dry_run", dry_run.to_string())])
                .await?,
        ),
        Command::Db(DbCommand::Prune { older_than }) => {
            let seconds = older_than.duration.as_secs().to_string();
            Report::Pruned {
                older_than: older_than.clone(),
                answer: agent()
                    .post("/admin/db/prune", &[("older_than_seconds", seconds)])
                    .await?,
            }
        }
    })
}

/// Writes a new certificate, then has the agent swap to it without a restart.
async fn renew_certificate(
    config: &Config,
    days: Option<i64>,
    agent: &AdminClient,
) -> Result<Report, CommandError> {
    let validity_days = days.unwrap_or(config.tls.validity_days);
    let certificate = crate::tls::generate_self_signed(
        &config.tls.cert_file,
        &config.tls.key_file,
        validity_days,
    )
    .map_err(|e| CommandError::CheckFailed(format!("certificate not renewed: {e}")))?;
    let reload = match agent.post("/admin/reload", &[]).await {
        Ok(answer) => CertificateReload::Reloaded(answer),
        Err(CommandError::Unreachable { .. }) => CertificateReload::AgentNotRunning,
        Err(error) => CertificateReload::Refused(error.to_string()),
    };
    Ok(Report::CertificateRenewed {
        certificate,
        reload,
    })
}

fn load_config(file: &Path) -> Result<LoadedConfig, CommandError> {
    crate::config::load(file).map_err(|e| CommandError::CheckFailed(e.to_string()))
}

/// The operator API: `--admin-url`, else `$AGENTCTL_ADMIN_URL`, else 127.0.0.1 on the
/// configured admin port. A configuration that does not load falls back to the default port:
/// the agent would not have started with it either, and the unreachable message says where
/// agentctl looked.
fn admin_client(cli: &Cli) -> AdminClient {
    let url = cli
        .admin_url
        .clone()
        .or_else(|| std::env::var(ADMIN_URL_ENV).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| {
            let port = crate::config::load(&cli.config)
                .map(|loaded| loaded.config.server.admin_port)
                .unwrap_or(crate::paths::ADMIN_PORT);
            format!("http://127.0.0.1:{port}")
        });
    AdminClient::new(&url)
}

/// Job IDs go into the URL path; anything but plain ID characters is percent-encoded.
fn url_path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
