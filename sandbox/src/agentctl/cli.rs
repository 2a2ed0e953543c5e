//! The `agentctl` command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::paths::CONFIG_FILE;

#[derive(Debug, Parser)]
#[command(
    name = "agentctl",
    about = "Operator CLI of the Docker Optimizer Agent (run inside the agent's container)"
)]
pub struct Cli {
    /// Print the JSON answer instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// Base URL of the operator API [default: http://127.0.0.1:<server.admin_port>, or $AGENTCTL_ADMIN_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub admin_url: Option<String>,
    /// The agent's configuration file
    #[arg(long, global = true, value_name = "FILE", default_value = CONFIG_FILE)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Health, uptime, jobs, cache, disk, certificate and scanner at a glance
    Status,
    /// Optimisation jobs in flight
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// The result cache
    #[command(subcommand)]
    Cache(CacheCommand),
    /// The vulnerability scanner and its database
    #[command(subcommand)]
    Scanner(ScannerCommand),
    /// The HTTPS certificate
    #[command(subcommand)]
    Cert(CertCommand),
    /// The configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Make the agent re-read its configuration and certificate without a restart
    Reload,
    /// Remove temporary files and rotated logs (never the history database)
    Cleanup {
        /// Only list what would be removed
        #[arg(long)]
        dry_run: bool,
    },
    /// The history database
    #[command(subcommand)]
    Db(DbCommand),
    /// Print the release of this agent
    Version,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List the jobs in flight
    List,
    /// Cancel a job
    Cancel {
        /// The job ID, as `jobs list` shows it
        id: String,
        /// Also refuse this job's input from now on (adds its SHA-256 to the denylist)
        #[arg(long)]
        deny: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Entries, limits, hits and misses
    Stats,
    /// Drop every cached result
    Clear,
}

#[derive(Debug, Subcommand)]
pub enum ScannerCommand {
    /// Scanner configuration, binary and scan counters
    Status,
    /// The vulnerability database (works without the agent)
    #[command(subcommand)]
    Db(ScannerDbCommand),
}

#[derive(Debug, Subcommand)]
pub enum ScannerDbCommand {
    /// Check the database's checksum and schema
    Verify,
    /// Refresh the database from the image's offline mirror
    Update,
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Subject, serial and validity of the certificate (works without the agent)
    Show,
    /// Issue a new self-signed certificate and have the agent swap to it without downtime
    Renew {
        /// Validity in days [default: tls.validity_days of the configuration]
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=3650))]
        days: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file and the DOCKER_OPTIMIZER_* environment (works without the agent)
    Validate {
        /// The file to check [default: the --config file]
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// The agent's effective configuration and where each value came from
    Show,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Delete history records older than an age
    Prune {
        /// Age such as 30d or 12h
        #[arg(long, value_name = "DURATION", value_parser = parse_age)]
        older_than: HistoryAge,
    },
}

/// An age given on the command line, kept as typed for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryAge {
    pub text: String,
    pub duration: Duration,
}

fn parse_age(text: &str) -> Result<HistoryAge, String> {
    let duration =
        humantime::parse_duration(text).map_err(|e| format!("{e} (examples: 30d, 12h)"))?;
    if duration.as_secs() == 0 {
        return Err("must be at least one second".to_string());
    }
    Ok(HistoryAge {
        text: text.to_string(),
        duration,
    })
}
