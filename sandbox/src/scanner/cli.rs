//! The `trivy` stand-in the image carries at /usr/local/bin/trivy.
//!
//! ```text
//! trivy --version
//! trivy config [--format json|table] [--db PATH] [--timeout DUR] FILE
//! trivy sbom [--format json|table] [--db PATH] [--timeout DUR] FILE
//! trivy db verify [--db PATH]
//! trivy db update [--db PATH] [--mirror PATH]
//! ```
//! Exit 0 on success (vulnerabilities found or not, as trivy does by default), 1 when the
//! DB or the input cannot be used (the message names the file and what is wrong), 2 on a
//! usage error. Each command is a function returning an [`Outcome`], so tests can assert
//! the exact output without capturing the process's streams.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use time::OffsetDateTime;

use super::db::{db_update, db_verify, Database, DbInfo, STALE_AFTER_DAYS};
use super::lock;
use super::matching::{match_dockerfile, match_sbom};
use super::report::{TrivyOutput, TrivyResult, Vulnerability};
use crate::paths::{TRIVY_DB, TRIVY_DB_MIRROR};
use crate::sbom::Sbom;

/// The version this stand-in reports.
pub const TRIVY_VERSION: &str = "0.48.3-sandbox";

#[derive(Debug, Parser)]
#[command(
    name = "trivy",
    about = "Scanner for vulnerabilities in Dockerfiles (sandbox stand-in)",
    disable_version_flag = true
)]
struct Cli {
    /// Print the version and the vulnerability DB it uses.
    #[arg(short = 'v', long)]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan a Dockerfile for vulnerable base images and packages.
    Config {
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[arg(long, default_value = TRIVY_DB)]
        db: PathBuf,
        /// Maximum scan time, including waiting for a `db update` that holds the DB lock.
        #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// The Dockerfile to scan.
        file: PathBuf,
    },
    /// Scan the components a CycloneDX SBOM lists (e.g. the image's own, at
    /// /usr/local/share/docker-optimizer/sbom.cdx.json).
    Sbom {
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[arg(long, default_value = TRIVY_DB)]
        db: PathBuf,
        /// Maximum scan time, including waiting for a `db update` that holds the DB lock.
        #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// The SBOM (CycloneDX JSON).
        file: PathBuf,
    },
    /// Manage the vulnerability database.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
}

#[derive(Debug, Subcommand)]
enum DbAction {
    /// Check the database's schema and checksum.
    Verify {
        #[arg(long, default_value = TRIVY_DB)]
        db: PathBuf,
    },
    /// Replace the database with the offline mirror.
    Update {
        #[arg(long, default_value = TRIVY_DB)]
        db: PathBuf,
        #[arg(long, default_value = TRIVY_DB_MIRROR)]
        mirror: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Json,
    Table,
}

/// What a command prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    fn ok(stdout: String) -> Outcome {
        Outcome {
            code: 0,
            stdout,
            stderr: String::new(),
        }
    }

    fn error(message: impl std::fmt::Display) -> Outcome {
        Outcome {
            code: 1,
            stdout: String::new(),
            stderr: format!("ERROR: {message}\n"),
        }
    }
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let outcome = run(args);
    // A closed pipe on the reader's side is not worth a panic.
    let _ = std::io::stdout().write_all(outcome.stdout.as_bytes());
    let _ = std::io::stderr().write_all(outcome.stderr.as_bytes());
    ExitCode::from(outcome.code)
}

/// Runs the CLI on `args` (without argv[0]).
pub fn run(args: Vec<OsString>) -> Outcome {
    let cli = match Cli::try_parse_from(std::iter::once(OsString::from("trivy")).chain(args)) {
        Ok(cli) => cli,
        Err(error) => {
            let rendered = error.render().to_string();
            return if error.use_stderr() {
                Outcome {
                    code: 2,
                    stdout: String::new(),
                    stderr: rendered,
                }
            } else {
                Outcome::ok(rendered)
            };
        }
    };
    if cli.version {
        return Outcome::ok(version_text(Path::new(TRIVY_DB)));
    }
    match cli.command {
        None => Outcome {
            code: 2,
            stdout: String::new(),
            stderr: "ERROR: no command given; see `trivy --help`\n".into(),
        },
        Some(Command::Config {
            format,
            db,
            timeout,
            file,
        }) => config(&file, &db, format == Format::Json, timeout),
        Some(Command::Sbom {
            format,
            db,
            timeout,
            file,
        }) => sbom(&file, &db, format == Format::Json, timeout),
        Some(Command::Db {
            action: DbAction::Verify { db },
        }) => match db_verify(&db) {
            Ok(info) => Outcome::ok(format!("vulnerability DB OK: {}\n", describe(&info))),
            Err(error) => Outcome::error(error),
        },
        Some(Command::Db {
            action: DbAction::Update { db, mirror },
        }) => match db_update(&db, &mirror) {
            Ok(info) => Outcome::ok(format!(
                "vulnerability DB updated from {}: {}\n",
                mirror.display(),
                describe(&info)
            )),
            Err(error) => Outcome::error(error),
        },
    }
}

/// `trivy --version`: the version, then the DB it would use (or why it cannot).
pub fn version_text(db: &Path) -> String {
    let mut text = format!("Version: {TRIVY_VERSION}\n");
    match db_verify(db) {
        Ok(info) => text.push_str(&format!(
            "Vulnerability DB:\n  Version: {}\n  UpdatedAt: {}\n  Entries: {}\n  Path: {}\n",
            super::db::DB_SCHEMA,
            info.updated_at,
            info.entries,
            info.path.display()
        )),
        Err(error) => text.push_str(&format!("Vulnerability DB: unavailable ({error})\n")),
    }
    text
}

fn describe(info: &DbInfo) -> String {
    format!(
        "{} ({} entries, updated {}, {} days old{}, checksum {})",
        info.path.display(),
        info.entries,
        info.updated_at,
        info.age_days,
        if info.stale { ", STALE" } else { "" },
        info.checksum
    )
}

/// `trivy config FILE`: scans a Dockerfile (see [`scan_file`]).
pub fn config(file: &Path, db: &Path, json: bool, timeout: Duration) -> Outcome {
    scan_file(file, db, json, timeout, |database, dockerfile| {
        Ok(match_dockerfile(database, dockerfile))
    })
}

/// `trivy sbom FILE`: scans the components of a CycloneDX SBOM (see [`scan_file`]).
pub fn sbom(file: &Path, db: &Path, json: bool, timeout: Duration) -> Outcome {
    scan_file(file, db, json, timeout, |database, text| {
        let sbom = Sbom::from_json(text)
            .map_err(|error| format!("{} is not a CycloneDX JSON SBOM: {error}", file.display()))?;
        Ok(match_sbom(database, &sbom))
    })
}

/// Waits (up to `timeout`) while a `db update` holds the DB lock, then matches the contents of
/// `file` against the DB. A stale DB still scans, with a warning on stderr, as trivy does.
fn scan_file(
    file: &Path,
    db: &Path,
    json: bool,
    timeout: Duration,
    matcher: impl FnOnce(&Database, &str) -> Result<Vec<Vulnerability>, String>,
) -> Outcome {
    let mut notes = String::new();
    if let Err(holder) = lock::wait_until_free(db, timeout, |holder| {
        notes.push_str(&format!(
            "INFO\twaiting for the vulnerability DB lock held by {holder}\n"
        ))
    }) {
        return Outcome {
            code: 1,
            stdout: String::new(),
            stderr: format!(
                "{notes}ERROR: timed out after {} waiting for the vulnerability DB lock held by {holder}\n",
                humantime::format_duration(timeout)
            ),
        };
    }
    let database = match Database::load(db) {
        Ok(database) => database,
        Err(error) => return Outcome::error(error),
    };
    let info = database.info(OffsetDateTime::now_utc());
    if info.stale {
        notes.push_str(&stale_warning(&info));
    }
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) => return Outcome::error(format!("cannot read {}: {error}", file.display())),
    };
    let vulnerabilities = match matcher(&database, &text) {
        Ok(vulnerabilities) => vulnerabilities,
        Err(message) => return Outcome::error(message),
    };
    let target = file.display().to_string();
    let mut outcome = if json {
        Outcome::ok(json_report(&target, vulnerabilities))
    } else {
        Outcome::ok(table_report(&target, &vulnerabilities))
    };
    outcome.stderr = notes;
    outcome
}

/// The warning a scan with a stale DB prints (one line, so the agent logs it as one).
pub fn stale_warning(info: &DbInfo) -> String {
    format!(
        "WARN\tvulnerability DB {} is {} days old (updated {}; stale after {STALE_AFTER_DAYS} days): \
         vulnerabilities published since are not detected; run `trivy db update`\n",
        info.path.display(),
        info.age_days,
        info.updated_at
    )
}

fn json_report(target: &str, vulnerabilities: Vec<Vulnerability>) -> String {
    let output = TrivyOutput {
        schema_version: 2,
        artifact_name: target.to_string(),
        artifact_type: "filesystem".to_string(),
        results: Some(vec![TrivyResult {
            target: target.to_string(),
            kind: "dockerfile".to_string(),
            vulnerabilities: Some(vulnerabilities),
        }]),
    };
    serde_json::to_string_pretty(&output).expect("scan output always serializes") + "\n"
}

fn table_report(target: &str, vulnerabilities: &[Vulnerability]) -> String {
    let headers = [
        "Library",
        "Vulnerability",
        "Severity",
        "Installed Version",
        "Fixed Version",
        "Title",
    ];
    let rows: Vec<[String; 6]> = vulnerabilities
        .iter()
        .map(|v| {
            [
                v.package.clone(),
                v.id.clone(),
                v.severity.as_str().to_string(),
                v.installed_version.clone(),
                v.fixed_version.clone().unwrap_or_default(),
                v.title.clone(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let counts = super::report::ScanReport {
        vulnerabilities: vulnerabilities.to_vec(),
    }
    .counts();
    let mut out = format!(
        "{target} (dockerfile)\n\nTotal: {} (CRITICAL: {}, HIGH: {}, MEDIUM: {}, LOW: {})\n",
        vulnerabilities.len(),
        counts.critical,
        counts.high,
        counts.medium,
        counts.low
    );
    if rows.is_empty() {
        return out;
    }
    out.push('\n');
    let line = |cells: [&str; 6]| -> String {
        let mut text = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if index + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        text.trim_end().to_string() + "\n"
    };
    out.push_str(&line(headers));
    for row in &rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::ScanReport;

    const SHIPPED: &str = include_str!("../../assets/trivy/vulnerabilities.json");

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Files {
            let files = Files {
                dir: tempfile::tempdir().unwrap(),
            };
            files.write("db.json", SHIPPED);
            files.write(
                "Dockerfile",
                "FROM python:3.8\nRUN pip install pyyaml==5.3\n",
            );
            files
        }
        fn write(&self, name: &str, contents: &str) {
            std::fs::write(self.path(name), contents).unwrap();
        }
        fn path(&self, name: &str) -> String {
            self.dir.path().join(name).display().to_string()
        }
    }

    #[test]
    fn config_json_lists_the_vulnerabilities() {
        let files = Files::new();
        let outcome = run(args(&[
            "config",
            "--format",
            "json",
            "--db",
            &files.path("db.json"),
            "--timeout",
            "10s",
            &files.path("Dockerfile"),
        ]));
        assert_eq!(outcome.code, 0, "{}", outcome.stderr);
        let report = ScanReport::from_trivy_json(&outcome.stdout).unwrap();
        assert!(report.counts().critical >= 3, "{report:?}");
        let value: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
        assert_eq!(value["Results"][0]["Target"], files.path("Dockerfile"));
        assert_eq!(
            value["Results"][0]["Vulnerabilities"][0]["Severity"],
            "CRITICAL"
        );
    }

    #[test]
    fn sbom_finds_an_advisory_against_a_shipped_component_until_the_patch_release() {
        use crate::sbom::{BaseLayer, BasePackage};
        use crate::scanner::{DbEntry, Ecosystem, Severity};
        let files = Files::new();
        let base = BaseLayer {
            distro: "debian-12".to_string(),
            packages: vec![BasePackage {
                name: "libc6".to_string(),
                version: "2.36-9+deb12u13".to_string(),
            }],
        };
        let advisory = DbEntry {
            id: "FIREDRILL-2026-0002".to_string(),
            ecosystem: Ecosystem::Debian,
            release: Some("debian-12".to_string()),
            package: "libc6".to_string(),
            affected: "<2.36-9+deb12u14".to_string(),
            fixed_version: Some("2.36-9+deb12u14".to_string()),
            severity: Severity::Critical,
            title: "drill advisory".to_string(),
            published: None,
        };
        let shipped = Database::from_bytes(Path::new("db"), SHIPPED.as_bytes()).unwrap();
        files.write("db.json", &shipped.publish(advisory).unwrap().to_json());
        let scan = |release: &str| {
            files.write("sbom.json", &Sbom::for_release(release, &base).to_json());
            let outcome = run(args(&[
                "sbom",
                "--format",
                "json",
                "--db",
                &files.path("db.json"),
                &files.path("sbom.json"),
            ]));
            assert_eq!(outcome.code, 0, "{}", outcome.stderr);
            ScanReport::from_trivy_json(&outcome.stdout).unwrap()
        };
        let report = scan("1.4.2");
        assert_eq!(report.vulnerabilities.len(), 1, "{report:?}");
        assert_eq!(
            report.vulnerabilities[0].installed_version,
            "2.36-9+deb12u13"
        );
        assert!(scan("1.4.3").vulnerabilities.is_empty());

        files.write("sbom.json", "{\"bomFormat\": 3}");
        let outcome = run(args(&[
            "sbom",
            "--db",
            &files.path("db.json"),
            &files.path("sbom.json"),
        ]));
        assert_eq!(outcome.code, 1);
        assert!(
            outcome.stderr.contains("is not a CycloneDX JSON SBOM"),
            "{}",
            outcome.stderr
        );
    }

    #[test]
    fn config_table_is_aligned() {
        let files = Files::new();
        files.write("Clean", "FROM python:3.12-slim\n");
        let clean = config(
            Path::new(&files.path("Clean")),
            Path::new(&files.path("db.json")),
            false,
            Duration::from_secs(5),
        );
        assert_eq!(
            clean.stdout,
            format!(
                "{} (dockerfile)\n\nTotal: 0 (CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0)\n",
                files.path("Clean")
            )
        );
        let table = config(
            Path::new(&files.path("Dockerfile")),
            Path::new(&files.path("db.json")),
            false,
            Duration::from_secs(5),
        )
        .stdout;
        let lines: Vec<_> = table.lines().collect();
        let header = lines.iter().position(|l| l.starts_with("Library")).unwrap();
        let column = lines[header].find("Vulnerability").unwrap();
        assert!(
            lines[header + 1..]
                .iter()
                .all(|l| l[column..].starts_with("CVE-")),
            "{table}"
        );
    }

    #[test]
    fn db_errors_exit_1_and_name_the_file() {
        let files = Files::new();
        files.write("broken.json", &SHIPPED[..100]);
        let outcome = run(args(&[
            "config",
            "--format",
            "json",
            "--db",
            &files.path("broken.json"),
            &files.path("Dockerfile"),
        ]));
        assert_eq!(outcome.code, 1);
        assert!(outcome.stdout.is_empty());
        assert!(
            outcome.stderr.contains(&files.path("broken.json"))
                && outcome.stderr.contains("not valid JSON"),
            "{}",
            outcome.stderr
        );
        let missing_input = run(args(&[
            "config",
            "--db",
            &files.path("db.json"),
            &files.path("nope"),
        ]));
        assert_eq!(missing_input.code, 1);
        assert!(missing_input.stderr.contains("cannot read"));
    }

    #[test]
    fn db_verify_and_update() {
        let files = Files::new();
        let verified = run(args(&["db", "verify", "--db", &files.path("db.json")]));
        assert_eq!(verified.code, 0);
        assert!(
            verified.stdout.starts_with("vulnerability DB OK: "),
            "{}",
            verified.stdout
        );
        files.write("tampered.json", &SHIPPED.replacen("CRITICAL", "LOW", 1));
        let tampered = run(args(&[
            "db",
            "verify",
            "--db",
            &files.path("tampered.json"),
        ]));
        assert_eq!(tampered.code, 1);
        assert!(tampered.stderr.contains("checksum"));
        let updated = run(args(&[
            "db",
            "update",
            "--db",
            &files.path("tampered.json"),
            "--mirror",
            &files.path("db.json"),
        ]));
        assert_eq!(updated.code, 0, "{}", updated.stderr);
        assert_eq!(
            run(args(&[
                "db",
                "verify",
                "--db",
                &files.path("tampered.json")
            ]))
            .code,
            0
        );
    }

    #[test]
    fn a_stale_db_scans_with_a_warning_and_a_fresh_one_without() {
        let files = Files::new();
        let dockerfile = PathBuf::from(files.path("Dockerfile"));
        let db = PathBuf::from(files.path("db.json"));
        let stale = config(&dockerfile, &db, true, Duration::from_secs(5));
        assert_eq!(stale.code, 0);
        assert!(
            stale.stderr.starts_with("WARN\tvulnerability DB ")
                && stale.stderr.contains("days old (updated 2024-")
                && stale.stderr.ends_with("run `trivy db update`\n"),
            "{}",
            stale.stderr
        );
        assert_eq!(stale.stderr.lines().count(), 1);
        let updated = run(args(&[
            "db",
            "update",
            "--db",
            &files.path("fresh.json"),
            "--mirror",
            &files.path("db.json"),
        ]));
        assert_eq!(updated.code, 0, "{}", updated.stderr);
        let fresh = config(
            &dockerfile,
            Path::new(&files.path("fresh.json")),
            true,
            Duration::from_secs(5),
        );
        assert_eq!((fresh.code, fresh.stderr.as_str()), (0, ""));
        assert_eq!(fresh.stdout, stale.stdout);
    }

    #[test]
    fn scans_wait_for_a_held_db_lock_and_updates_refuse_it() {
        let files = Files::new();
        let db = PathBuf::from(files.path("db.json"));
        let lock = crate::scanner::lock::DbLock::acquire(&db).unwrap();
        let waited = config(
            Path::new(&files.path("Dockerfile")),
            &db,
            true,
            Duration::from_millis(300),
        );
        assert_eq!(waited.code, 1);
        assert!(
            waited
                .stderr
                .contains("INFO\twaiting for the vulnerability DB lock held by pid ")
                && waited
                    .stderr
                    .contains("ERROR: timed out after 300ms waiting for the vulnerability DB lock"),
            "{}",
            waited.stderr
        );
        let refused = run(args(&["db", "update", "--db", &files.path("db.json")]));
        assert_eq!(refused.code, 1);
        assert!(
            refused.stderr.contains("is locked by pid"),
            "{}",
            refused.stderr
        );
        drop(lock);
        let scanned = config(
            Path::new(&files.path("Dockerfile")),
            &db,
            true,
            Duration::from_millis(300),
        );
        assert_eq!(scanned.code, 0, "{}", scanned.stderr);
    }

    #[test]
    fn version_and_usage() {
        let files = Files::new();
        let text = version_text(Path::new(&files.path("db.json")));
        assert!(
            text.starts_with("Version: 0.48.3-sandbox\nVulnerability DB:\n  Version: 1\n"),
            "{text}"
        );
        let unavailable = version_text(Path::new(&files.path("none.json")));
        assert!(
            unavailable.contains("Vulnerability DB: unavailable (cannot read vulnerability DB"),
            "{unavailable}"
        );
        assert_eq!(run(args(&["--version"])).code, 0);
        assert_eq!(run(args(&["--help"])).code, 0);
        assert_eq!(run(args(&[])).code, 2);
        assert_eq!(run(args(&["config", "--format", "xml", "f"])).code, 2);
        assert_eq!(run(args(&["config", "--timeout", "soon", "f"])).code, 2);
        assert_eq!(run(args(&["image", "python"])).code, 2);
        assert_eq!(
            main(args(&["db", "verify", "--db", &files.path("none.json")])),
            ExitCode::from(1)
        );
    }
}
