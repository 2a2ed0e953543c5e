//! Structured logging: one JSON object per line (timestamp, level, target, message, fields) on
//! stdout, which `docker logs` shows, and in `<logging.dir>/agent.log`, rotated by size.
//!
//! File writes go through the storage quota: past it a line is dropped from the file (and counted
//! as a disk-full error) as a full disk would drop it, while stdout still gets every line.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

use crate::config::{ConfigError, LoggingConfig};

use super::quota::StorageQuota;

/// The name of the live log file; rotated ones get `.1`, `.2`, ...
pub const LOG_FILE_NAME: &str = "agent.log";

/// Libraries whose chatter at debug level would drown the agent's own lines.
const QUIET_LIBRARIES: &str =
    "hyper=warn,hyper_util=warn,h2=warn,rustls=warn,reqwest=warn,tower=warn";

/// Changes the log level of the running agent (config reload).
#[derive(Default)]
pub struct LogControl {
    /// `None` when no global subscriber was installed by [`init`] (in-process tests).
    filter: Option<reload::Handle<EnvFilter, Registry>>,
}

impl LogControl {
    pub fn set_level(&self, level: &str) {
        if let Some(filter) = &self.filter {
            let _ = filter.reload(level_filter(level));
        }
    }
}

fn level_filter(level: &str) -> EnvFilter {
    EnvFilter::new(format!("{level},{QUIET_LIBRARIES}"))
}

/// Installs the global JSON subscriber writing to stdout and the rotated log file.
pub fn init(config: &LoggingConfig, quota: Arc<StorageQuota>) -> LogControl {
    let log_file = match RotatingLogFile::open(
        &config.dir,
        config.max_file_mb * 1024 * 1024,
        config.max_files,
        quota,
    ) {
        Ok(file) => Some(Arc::new(file)),
        Err(e) => {
            // Logging is not up yet: say it on stderr and keep logging to stdout.
            eprintln!(
                "cannot open {}: {e}; logging to stdout only",
                config.dir.join(LOG_FILE_NAME).display()
            );
            None
        }
    };
    let (filter, handle) = reload::Layer::new(level_filter(&config.level));
    let json_lines = json_layer().with_writer(TeeMakeWriter { log_file });
    let _ = Registry::default().with(filter).with(json_lines).try_init();
    LogControl {
        filter: Some(handle),
    }
}

/// The JSON line format: message and fields at the top level next to timestamp, level and target.
fn json_layer<S>() -> fmt::Layer<S, fmt::format::JsonFields, fmt::format::Format<fmt::format::Json>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true)
}

/// Reports a configuration error before logging is set up: the line on stderr and one JSON log
/// line on stdout, in the same format as every other log line.
pub fn report_config_error(error: &ConfigError) {
    eprintln!("{error}");
    let subscriber = Registry::default().with(json_layer().with_writer(io::stdout));
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!(error_type = "config", "{error}");
    });
}

/// Hands the formatter a writer per line that copies it to stdout and to the log file.
struct TeeMakeWriter {
    log_file: Option<Arc<RotatingLogFile>>,
}

impl<'a> fmt::MakeWriter<'a> for TeeMakeWriter {
    type Writer = TeeWriter;

    fn make_writer(&'a self) -> TeeWriter {
        TeeWriter {
            log_file: self.log_file.clone(),
        }
    }
}

struct TeeWriter {
    log_file: Option<Arc<RotatingLogFile>>,
}

impl Write for TeeWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let _ = io::stdout().lock().write_all(line);
        if let Some(log_file) = &self.log_file {
            log_file.append(line);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }
}

/// `agent.log` with size rotation: when the next line would pass `max_bytes`, `agent.log` becomes
/// `agent.log.1`, `.1` becomes `.2`, and so on; the oldest past `max_files` is deleted.
struct RotatingLogFile {
    dir: PathBuf,
    max_bytes: u64,
    max_files: usize,
    quota: Arc<StorageQuota>,
    current: Mutex<CurrentFile>,
}

struct CurrentFile {
    file: File,
    size: u64,
}

impl RotatingLogFile {
    fn open(
        dir: &Path,
        max_bytes: u64,
        max_files: usize,
        quota: Arc<StorageQuota>,
    ) -> io::Result<RotatingLogFile> {
        std::fs::create_dir_all(dir)?;
        let current = Self::open_current(dir)?;
        Ok(RotatingLogFile {
            dir: dir.to_path_buf(),
            max_bytes,
            max_files,
            quota,
            current: Mutex::new(current),
        })
    }

    fn open_current(dir: &Path) -> io::Result<CurrentFile> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(LOG_FILE_NAME))?;
        let size = file.metadata()?.len();
        Ok(CurrentFile { file, size })
    }

    /// Appends one line; a line the quota refuses is dropped (the quota counts it).
    fn append(&self, line: &[u8]) {
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let len = line.len() as u64;
        if current.size > 0 && current.size + len > self.max_bytes {
            if let Ok(fresh) = self.rotate() {
                *current = fresh;
            }
        }
        if self.quota.ensure_room(len).is_err() {
            return;
        }
        if current.file.write_all(line).is_ok() {
            current.size += len;
        }
    }

    fn rotate(&self) -> io::Result<CurrentFile> {
        let rotated = |n: usize| self.dir.join(format!("{LOG_FILE_NAME}.{n}"));
        let _ = std::fs::remove_file(rotated(self.max_files));
        for n in (1..self.max_files).rev() {
            let _ = std::fs::rename(rotated(n), rotated(n + 1));
        }
        std::fs::rename(self.dir.join(LOG_FILE_NAME), rotated(1))?;
        Self::open_current(&self.dir)
    }
}

/// Whether `name` is a rotated log file (`agent.log.N`), which cleanup may delete.
pub fn is_rotated_log(name: &str) -> bool {
    name.strip_prefix(LOG_FILE_NAME)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    #[test]
    fn the_file_rotates_by_size_and_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let quota = StorageQuota::new(dir.path(), 1 << 20, Counter::default());
        let log = RotatingLogFile::open(dir.path(), 100, 2, quota).unwrap();
        let line = [b'x'; 60];
        for _ in 0..5 {
            log.append(&line);
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["agent.log", "agent.log.1", "agent.log.2"]);
        assert_eq!(
            std::fs::metadata(dir.path().join("agent.log"))
                .unwrap()
                .len(),
            60
        );
    }

    #[test]
    fn lines_past_the_quota_are_dropped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let refused = Counter::default();
        let quota = StorageQuota::new(dir.path(), 100, refused.clone());
        let log = RotatingLogFile::open(dir.path(), 1 << 20, 2, quota).unwrap();
        log.append(&[b'x'; 60]);
        log.append(&[b'y'; 60]);
        assert_eq!(
            std::fs::metadata(dir.path().join("agent.log"))
                .unwrap()
                .len(),
            60
        );
        assert_eq!(refused.get(), 1);
    }

    #[test]
    fn rotated_log_names_are_recognised() {
        assert!(is_rotated_log("agent.log.1"));
        assert!(is_rotated_log("agent.log.12"));
        assert!(!is_rotated_log("agent.log"));
        assert!(!is_rotated_log("agent.log."));
        assert!(!is_rotated_log("agent.log.old"));
        assert!(!is_rotated_log("history.redb"));
    }
}
