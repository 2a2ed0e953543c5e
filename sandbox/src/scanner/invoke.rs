//! How the agent runs the scanner: write the Dockerfile to a temp file, run
//! `<binary> config --format json --db <db> <file>` with a deadline, read its JSON (or
//! `<binary> sbom ... <sbom>` for the image's own SBOM).
//!
//! Every way this can go wrong is a [`ScanError`] with a short `reason()` for the
//! `docker_optimizer_security_scan_failures_total{reason}` metric and a Display for the log.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::process::Command;

use super::report::ScanReport;

/// Where the scanner is and how long it may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerSettings {
    pub binary: PathBuf,
    pub db_path: PathBuf,
    pub timeout: Duration,
    /// Directory for the temporary Dockerfile handed to the scanner.
    pub work_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// The binary does not exist.
    Missing { binary: PathBuf },
    /// The scanner did not finish in time and was killed.
    TimedOut { after: Duration },
    /// The scanner exited unsuccessfully (or could not be started, or its input not written).
    Failed { code: Option<i32>, stderr: String },
    /// The scanner exited 0 but its output is not the JSON it should print.
    BadOutput { detail: String },
}

impl ScanError {
    /// The metric label: `missing`, `timeout`, `failed` or `bad_output`.
    pub fn reason(&self) -> &'static str {
        match self {
            ScanError::Missing { .. } => "missing",
            ScanError::TimedOut { .. } => "timeout",
            ScanError::Failed { .. } => "failed",
            ScanError::BadOutput { .. } => "bad_output",
        }
    }
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanError::Missing { binary } => {
                write!(f, "scanner binary {} not found", binary.display())
            }
            ScanError::TimedOut { after } => {
                write!(
                    f,
                    "scanner timed out after {} and was killed",
                    humantime::format_duration(*after)
                )
            }
            ScanError::Failed {
                code: Some(code),
                stderr,
            } => write!(f, "scanner exited with code {code}: {stderr}"),
            ScanError::Failed { code: None, stderr } => write!(f, "scanner failed: {stderr}"),
            ScanError::BadOutput { detail } => {
                write!(f, "scanner output is not valid scan JSON: {detail}")
            }
        }
    }
}

impl std::error::Error for ScanError {}

/// Stderr and output excerpts are cut to this many characters so a log line stays a line.
const EXCERPT_CHARS: usize = 500;
/// How often to retry starting the scanner when the kernel reports ETXTBSY: a process that
/// forked while the binary was open for writing (an upgrade in progress, or a test that
/// just wrote it) briefly holds it open.
const TEXT_BUSY_RETRIES: u32 = 5;
const ETXTBSY: i32 = 26;

/// Scans `dockerfile` with the scanner described by `settings`.
pub async fn scan(settings: &ScannerSettings, dockerfile: &str) -> Result<ScanReport, ScanError> {
    let input = TempInput::create(&settings.work_dir, dockerfile).await?;
    let report = run_scanner(settings, "config", input.path()).await;
    drop(input);
    report
}

/// Scans the components of the SBOM at `sbom` (`trivy sbom`), e.g. the image's own.
pub async fn scan_sbom(settings: &ScannerSettings, sbom: &Path) -> Result<ScanReport, ScanError> {
    run_scanner(settings, "sbom", sbom).await
}

/// Runs `<binary> <subcommand> --format json --db <db> <input>` with the deadline.
async fn run_scanner(
    settings: &ScannerSettings,
    subcommand: &str,
    input: &Path,
) -> Result<ScanReport, ScanError> {
    let mut command = Command::new(&settings.binary);
    command
        .arg(subcommand)
        .arg("--format")
        .arg("json")
        .arg("--db")
        .arg(&settings.db_path)
        .arg(input)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Dropping the child (on timeout, or when the request is cancelled) kills it.
        .kill_on_drop(true);
    let child = spawn(&mut command, &settings.binary).await?;
    let output = match tokio::time::timeout(settings.timeout, child.wait_with_output()).await {
        Ok(result) => result.map_err(|error| ScanError::Failed {
            code: None,
            stderr: format!("could not collect scanner output: {error}"),
        })?,
        Err(_elapsed) => {
            return Err(ScanError::TimedOut {
                after: settings.timeout,
            })
        }
    };
    if !output.status.success() {
        return Err(ScanError::Failed {
            code: output.status.code(),
            stderr: excerpt(&String::from_utf8_lossy(&output.stderr)),
        });
    }
    // A scan that succeeds may still say its results are incomplete (a stale DB): that line
    // on stderr is the operator's only hint, so it goes to the agent's log.
    for line in String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        tracing::warn!(
            scanner = %settings.binary.display(),
            output = %excerpt(line),
            "scanner warning"
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    ScanReport::from_trivy_json(&stdout).map_err(|error| ScanError::BadOutput {
        detail: if stdout.trim().is_empty() {
            "empty output".to_string()
        } else {
            format!("{error} (output starts with {:?})", excerpt(&stdout))
        },
    })
}

async fn spawn(command: &mut Command, binary: &Path) -> Result<tokio::process::Child, ScanError> {
    let mut attempt = 0;
    loop {
        match command.spawn() {
            Ok(child) => return Ok(child),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(ScanError::Missing {
                    binary: binary.to_path_buf(),
                })
            }
            Err(error) if error.raw_os_error() == Some(ETXTBSY) && attempt < TEXT_BUSY_RETRIES => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => {
                return Err(ScanError::Failed {
                    code: None,
                    stderr: format!("could not start {}: {error}", binary.display()),
                })
            }
        }
    }
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The Dockerfile handed to the scanner; removed when dropped, so also on every error path
/// and when the scan is cancelled.
struct TempInput {
    path: PathBuf,
}

impl TempInput {
    async fn create(work_dir: &Path, contents: &str) -> Result<TempInput, ScanError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = work_dir.join(format!("scan-{}-{unique}.Dockerfile", std::process::id()));
        let input = TempInput { path };
        let write = async {
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&input.path)
                .await?;
            tokio::io::AsyncWriteExt::write_all(&mut file, contents.as_bytes()).await?;
            tokio::io::AsyncWriteExt::flush(&mut file).await
        };
        write.await.map_err(|error| ScanError::Failed {
            code: None,
            stderr: format!("cannot write scan input {}: {error}", input.path.display()),
        })?;
        Ok(input)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempInput {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("work")).unwrap();
            Fixture { dir }
        }

        /// A fake scanner: a shell script with `body`.
        fn script(&self, name: &str, body: &str) -> PathBuf {
            let path = self.dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path
        }

        fn settings(&self, binary: PathBuf, timeout: Duration) -> ScannerSettings {
            ScannerSettings {
                binary,
                db_path: self.dir.path().join("db.json"),
                timeout,
                work_dir: self.dir.path().join("work"),
            }
        }

        fn work_files(&self) -> usize {
            std::fs::read_dir(self.dir.path().join("work"))
                .unwrap()
                .count()
        }
    }

    const DOCKERFILE: &str = "FROM python:3.8\n";

    #[tokio::test]
    async fn good_output_is_parsed_and_the_arguments_are_trivys() {
        let fixture = Fixture::new();
        // Echo the arguments into stderr-free JSON: the title carries them.
        let binary = fixture.script(
            "ok",
            r#"test -f "$6" || exit 3
printf '{"Results":[{"Target":"%s","Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"python","InstalledVersion":"3.8","Severity":"HIGH","Title":"%s %s %s %s"}]}]}' "$6" "$1" "$2" "$3" "$4""#,
        );
        let report = scan(
            &fixture.settings(binary, Duration::from_secs(10)),
            DOCKERFILE,
        )
        .await
        .unwrap();
        assert_eq!(report.vulnerabilities.len(), 1);
        assert_eq!(report.vulnerabilities[0].title, "config --format json --db");
        assert_eq!(report.counts().high, 1);
        assert_eq!(fixture.work_files(), 0, "temp input removed");
    }

    #[tokio::test]
    async fn a_missing_binary_is_missing() {
        let fixture = Fixture::new();
        let error = scan(
            &fixture.settings(fixture.dir.path().join("nope"), Duration::from_secs(1)),
            DOCKERFILE,
        )
        .await
        .unwrap_err();
        assert_eq!(error.reason(), "missing");
        assert!(error.to_string().starts_with("scanner binary "), "{error}");
        assert_eq!(fixture.work_files(), 0);
    }

    #[tokio::test]
    async fn a_slow_scanner_is_killed_at_the_deadline() {
        let fixture = Fixture::new();
        let binary = fixture.script("slow", "exec sleep 30");
        let started = std::time::Instant::now();
        let error = scan(
            &fixture.settings(binary, Duration::from_millis(300)),
            DOCKERFILE,
        )
        .await
        .unwrap_err();
        assert_eq!(
            error,
            ScanError::TimedOut {
                after: Duration::from_millis(300)
            }
        );
        assert_eq!(
            error.to_string(),
            "scanner timed out after 300ms and was killed"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(fixture.work_files(), 0);
    }

    #[tokio::test]
    async fn a_failing_scanner_reports_code_and_stderr() {
        let fixture = Fixture::new();
        let binary = fixture.script(
            "fail",
            "echo 'vulnerability DB /x failed its checksum' >&2; exit 1",
        );
        let error = scan(
            &fixture.settings(binary, Duration::from_secs(10)),
            DOCKERFILE,
        )
        .await
        .unwrap_err();
        assert_eq!(error.reason(), "failed");
        assert_eq!(
            error.to_string(),
            "scanner exited with code 1: vulnerability DB /x failed its checksum"
        );
        assert_eq!(fixture.work_files(), 0);
    }

    #[tokio::test]
    async fn garbage_output_is_bad_output() {
        let fixture = Fixture::new();
        let binary = fixture.script("garbage", "echo 'panic: runtime error'");
        let error = scan(
            &fixture.settings(binary, Duration::from_secs(10)),
            DOCKERFILE,
        )
        .await
        .unwrap_err();
        assert_eq!(error.reason(), "bad_output");
        assert!(
            error.to_string().contains("panic: runtime error"),
            "{error}"
        );
        let silent = fixture.script("silent", "exit 0");
        let error = scan(
            &fixture.settings(silent, Duration::from_secs(10)),
            DOCKERFILE,
        )
        .await
        .unwrap_err();
        assert_eq!(
            error,
            ScanError::BadOutput {
                detail: "empty output".into()
            }
        );
    }

    #[tokio::test]
    async fn an_unwritable_work_dir_fails_the_scan() {
        let fixture = Fixture::new();
        let mut settings = fixture.settings(fixture.script("ok", "exit 0"), Duration::from_secs(1));
        settings.work_dir = fixture.dir.path().join("no/such/dir");
        let error = scan(&settings, DOCKERFILE).await.unwrap_err();
        assert_eq!(error.reason(), "failed");
        assert!(
            error.to_string().contains("cannot write scan input"),
            "{error}"
        );
    }
}
