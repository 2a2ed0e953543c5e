//! The agent's configuration: the YAML file, `DOCKER_OPTIMIZER_<SECTION>_<KEY>` overrides from the
//! environment, and validation of every value.
//!
//! Every key is resolved from one source (environment over file over default) and validated as
//! text, so a bad value gets the same kind of message whether it came from the file or the
//! environment: the key, the value, where it came from and how to fix it (the real agent's style).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The effective configuration of the agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub server: ServerConfig,
    pub cache: CacheConfig,
    pub scanner: ScannerConfig,
    pub storage: StorageConfig,
    pub tls: TlsConfig,
    pub logging: LoggingConfig,
    pub metrics: MetricsConfig,
    pub testing: TestingConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerConfig {
    /// Public HTTP port; 0 lets the system pick one (tests).
    pub port: u16,
    /// Public HTTPS port; 0 lets the system pick one (tests).
    pub tls_port: u16,
    /// Operator API port on 127.0.0.1; 0 lets the system pick one (tests).
    pub admin_port: u16,
    /// Runtime worker threads.
    pub workers: usize,
    pub request_timeout_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheConfig {
    pub max_size: usize,
    pub ttl_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScannerConfig {
    pub enabled: bool,
    pub binary: PathBuf,
    pub db_path: PathBuf,
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    pub quota_mb: u64,
    pub history_retention_days: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TlsConfig {
    pub enabled: bool,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub validity_days: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggingConfig {
    /// One of [`LOG_LEVELS`].
    pub level: String,
    pub dir: PathBuf,
    pub max_file_mb: u64,
    pub max_files: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsConfig {
    /// How long `/metrics` serves one rendered snapshot before rendering a new one; 0 renders
    /// at every scrape (live). A cache for scrapers that hammer the endpoint.
    pub refresh_seconds: u64,
}

/// Fault injection for resilience testing (staging only): an added delay and aborted requests on
/// `/optimize` and `/analyze`, each on an exact, evenly spread share of the requests. All zero
/// (off) by default; the agent warns at start and at each reload while any is on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestingConfig {
    /// Delay added to the delayed requests, in milliseconds.
    pub latency_ms: u64,
    /// Share of requests delayed by `latency_ms`, 0 to 1.
    pub latency_ratio: f64,
    /// Share of requests aborted with 503, 0 to 1.
    pub error_ratio: f64,
}

impl TestingConfig {
    /// Whether any fault injection is in effect.
    pub fn is_active(&self) -> bool {
        (self.latency_ms > 0 && self.latency_ratio > 0.0) || self.error_ratio > 0.0
    }
}

/// The accepted values of `logging.level`.
pub const LOG_LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

/// Where the effective value of a key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigSource {
    Default,
    File,
    Env,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigSource::Default => "default",
            ConfigSource::File => "file",
            ConfigSource::Env => "env",
        })
    }
}

/// A configuration as loaded, with where each value came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    /// Dotted key (`cache.max_size`) -> source of its value; every key is listed.
    pub sources: BTreeMap<String, ConfigSource>,
    /// The file that was read (or would have been, when absent).
    pub file: PathBuf,
}

/// Why a configuration cannot be used. `Display` is the one line the agent prints and logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value out of range or of the wrong kind.
    #[error("configuration error: {key} = \"{value}\" (from {origin}): {requirement}; {fix}")]
    InvalidValue {
        key: String,
        value: String,
        /// The environment variable, or `file:line:col`.
        origin: String,
        requirement: String,
        fix: String,
    },
    /// The file is not YAML of the expected shape (including unknown keys).
    #[error("configuration error: {file}:{line}:{column}: {message}; correct {file} (the keys are those of the shipped config.yml)")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The file exists but cannot be read.
    #[error("configuration error: cannot read {file}: {reason}; make it readable, or remove it to run on the defaults")]
    Unreadable { file: String, reason: String },
}

/// Loads `file` (defaults when absent) and applies `DOCKER_OPTIMIZER_*` overrides from the environment.
pub fn load(file: &Path) -> Result<LoadedConfig, ConfigError> {
    load_with_env(file, |name| std::env::var(name).ok())
}

/// As [`load`], with the environment given as a lookup (tests do not touch the process environment).
pub fn load_with_env(
    file: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(ConfigError::Unreadable {
                file: file.display().to_string(),
                reason: e.to_string(),
            })
        }
    };
    let file_values = match &text {
        Some(text) => parse_file(file, text)?,
        None => HashMap::new(),
    };
    let mut resolver = Resolver {
        file,
        file_text: text.as_deref().unwrap_or(""),
        file_values,
        env: &env,
        sources: BTreeMap::new(),
    };
    let config = resolver.resolve()?;
    Ok(LoadedConfig {
        config,
        sources: resolver.sources,
        file: file.to_path_buf(),
    })
}

impl Config {
    /// Every key as `section.key` -> its value as text, in a stable order (for diffs and listings).
    pub fn entries(&self) -> BTreeMap<String, String> {
        let value = serde_json::to_value(self).expect("the config serializes");
        let mut entries = BTreeMap::new();
        for (section, keys) in value.as_object().into_iter().flatten() {
            for (key, value) in keys.as_object().into_iter().flatten() {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                entries.insert(format!("{section}.{key}"), text);
            }
        }
        entries
    }
}

/// The environment variable that overrides `section.key`.
pub fn env_var_name(section: &str, key: &str) -> String {
    format!("DOCKER_OPTIMIZER_{}_{}", section, key).to_ascii_uppercase()
}

/// Accepted as an alias of `DOCKER_OPTIMIZER_LOGGING_LEVEL`, as the real agent does.
const LOG_LEVEL_ALIAS: &str = "DOCKER_OPTIMIZER_LOG_LEVEL";

/// Declares the file shape of one section: only these keys are accepted (serde reports an unknown
/// one with its line and column); values stay untyped so validation can explain a bad one.
macro_rules! file_section {
    ($name:ident { $($key:ident),* $(,)? }) => {
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $name {
            $($key: Option<serde_yaml::Value>,)*
        }

        impl $name {
            fn into_values(self) -> Vec<(&'static str, serde_yaml::Value)> {
                [$((stringify!($key), self.$key)),*]
                    .into_iter()
                    .filter_map(|(key, value)| value.map(|value| (key, value)))
                    .collect()
            }
        }
    };
}

file_section!(ServerSection {
    port,
    tls_port,
    admin_port,
    workers,
    request_timeout_seconds
});
file_section!(CacheSection {
    max_size,
    ttl_seconds
});
file_section!(ScannerSection {
    enabled,
    binary,
    db_path,
    timeout_seconds
});
file_section!(StorageSection {
    data_dir,
    quota_mb,
    history_retention_days
});
file_section!(TlsSection {
    enabled,
    cert_file,
    key_file,
    validity_days
});
file_section!(LoggingSection {
    level,
    dir,
    max_file_mb,
    max_files
});
file_section!(MetricsSection { refresh_seconds });
file_section!(TestingSection {
    latency_ms,
    latency_ratio,
    error_ratio
});

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    server: Option<ServerSection>,
    cache: Option<CacheSection>,
    scanner: Option<ScannerSection>,
    storage: Option<StorageSection>,
    tls: Option<TlsSection>,
    logging: Option<LoggingSection>,
    metrics: Option<MetricsSection>,
    testing: Option<TestingSection>,
}

/// Parses the file into `section.key` -> value as text.
fn parse_file(file: &Path, text: &str) -> Result<HashMap<String, String>, ConfigError> {
    // An empty (or comments-only) file is an empty document, which means "all defaults".
    let parsed: Option<ConfigFile> = serde_yaml::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        let message = e.to_string();
        // serde_yaml appends " at line L column C"; the location is already in front.
        let message = match message.rsplit_once(" at line ") {
            Some((head, _)) => head.to_string(),
            None => message,
        };
        ConfigError::Syntax {
            file: file.display().to_string(),
            line,
            column,
            message,
        }
    })?;
    let parsed = parsed.unwrap_or_default();
    let sections = [
        ("server", parsed.server.map(ServerSection::into_values)),
        ("cache", parsed.cache.map(CacheSection::into_values)),
        ("scanner", parsed.scanner.map(ScannerSection::into_values)),
        ("storage", parsed.storage.map(StorageSection::into_values)),
        ("tls", parsed.tls.map(TlsSection::into_values)),
        ("logging", parsed.logging.map(LoggingSection::into_values)),
        ("metrics", parsed.metrics.map(MetricsSection::into_values)),
        ("testing", parsed.testing.map(TestingSection::into_values)),
    ];
    let mut values = HashMap::new();
    for (section, keys) in sections {
        for (key, value) in keys.into_iter().flatten() {
            values.insert(format!("{section}.{key}"), yaml_scalar_text(&value));
        }
    }
    Ok(values)
}

/// A YAML value as the text validation looks at (a mapping or list is shown as YAML and rejected).
fn yaml_scalar_text(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::Null => String::new(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .replace('\n', " "),
    }
}

/// Line and column (1-based) of the value of `section.key` in the file text, for error messages.
/// Handles the block style of the shipped file and one-line flow mappings (`cache: { max_size: 5 }`).
fn locate_value(text: &str, section: &str, key: &str) -> Option<(usize, usize)> {
    let mut in_section = false;
    for (index, line) in text.lines().enumerate() {
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if content.len() == line.len() {
            in_section = content
                .strip_prefix(section)
                .is_some_and(|rest| rest.trim_start().starts_with(':'));
        }
        if in_section {
            if let Some(column) = value_column(line, key) {
                return Some((index + 1, column));
            }
        }
    }
    None
}

/// The 1-based column where the value of `key:` starts in `line`, if the line holds that key.
fn value_column(line: &str, key: &str) -> Option<usize> {
    let pattern = format!("{key}:");
    let mut search_from = 0;
    while let Some(found) = line[search_from..].find(&pattern) {
        let start = search_from + found;
        let at_key_boundary = line[..start]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == '{' || c == ',');
        if at_key_boundary {
            let after = start + pattern.len();
            let value_offset = line[after..].len() - line[after..].trim_start().len();
            return Some(after + value_offset + 1);
        }
        search_from = start + pattern.len();
    }
    None
}

/// A key's value as text and where it came from.
struct RawValue {
    text: String,
    source: ConfigSource,
    /// For messages: the environment variable or `file:line:col`.
    origin: String,
}

/// Resolves each key from environment, file or default, and validates it.
struct Resolver<'a> {
    file: &'a Path,
    file_text: &'a str,
    file_values: HashMap<String, String>,
    env: &'a dyn Fn(&str) -> Option<String>,
    sources: BTreeMap<String, ConfigSource>,
}

impl Resolver<'_> {
    fn resolve(&mut self) -> Result<Config, ConfigError> {
        const PORT: &str = "a TCP port number (0 picks a free port)";
        Ok(Config {
            server: ServerConfig {
                port: self.number("server", "port", 8080, 0, 65535, PORT)?,
                tls_port: self.number("server", "tls_port", 8443, 0, 65535, PORT)?,
                admin_port: self.number("server", "admin_port", 9090, 0, 65535, PORT)?,
                workers: self.number(
                    "server",
                    "workers",
                    4,
                    1,
                    64,
                    "a whole number of worker threads",
                )?,
                request_timeout_seconds: self.number(
                    "server",
                    "request_timeout_seconds",
                    30,
                    1,
                    3600,
                    "a whole number of seconds",
                )?,
            },
            cache: CacheConfig {
                max_size: self.number(
                    "cache",
                    "max_size",
                    1000,
                    1,
                    1_000_000,
                    "a whole number of entries",
                )?,
                ttl_seconds: self.number(
                    "cache",
                    "ttl_seconds",
                    3600,
                    1,
                    604_800,
                    "a whole number of seconds",
                )?,
            },
            scanner: ScannerConfig {
                enabled: self.boolean("scanner", "enabled", true)?,
                binary: self.path("scanner", "binary", crate::paths::TRIVY_BIN)?,
                db_path: self.path("scanner", "db_path", crate::paths::TRIVY_DB)?,
                timeout_seconds: self.number(
                    "scanner",
                    "timeout_seconds",
                    10,
                    1,
                    600,
                    "a whole number of seconds",
                )?,
            },
            storage: StorageConfig {
                data_dir: self.path("storage", "data_dir", crate::paths::DATA_DIR)?,
                quota_mb: self.number(
                    "storage",
                    "quota_mb",
                    64,
                    1,
                    1_048_576,
                    "a whole number of megabytes",
                )?,
                history_retention_days: self.number(
                    "storage",
                    "history_retention_days",
                    30,
                    1,
                    3650,
                    "a whole number of days",
                )?,
            },
            tls: TlsConfig {
                enabled: self.boolean("tls", "enabled", true)?,
                cert_file: self.path(
                    "tls",
                    "cert_file",
                    "/var/lib/docker-optimizer/tls/server.crt",
                )?,
                key_file: self.path(
                    "tls",
                    "key_file",
                    "/var/lib/docker-optimizer/tls/server.key",
                )?,
                validity_days: self.number(
                    "tls",
                    "validity_days",
                    90,
                    1,
                    825,
                    "a whole number of days",
                )?,
            },
            logging: LoggingConfig {
                level: self.log_level()?,
                dir: self.path("logging", "dir", crate::paths::LOG_DIR)?,
                max_file_mb: self.number(
                    "logging",
                    "max_file_mb",
                    5,
                    1,
                    1024,
                    "a whole number of megabytes",
                )?,
                max_files: self.number(
                    "logging",
                    "max_files",
                    3,
                    1,
                    20,
                    "a whole number of rotated files",
                )?,
            },
            metrics: MetricsConfig {
                refresh_seconds: self.number(
                    "metrics",
                    "refresh_seconds",
                    0,
                    0,
                    86_400,
                    "a whole number of seconds (0 renders at every scrape)",
                )?,
            },
            testing: TestingConfig {
                latency_ms: self.number(
                    "testing",
                    "latency_ms",
                    0,
                    0,
                    60_000,
                    "a whole number of milliseconds",
                )?,
                latency_ratio: self.ratio("testing", "latency_ratio")?,
                error_ratio: self.ratio("testing", "error_ratio")?,
            },
        })
    }

    /// The value of `section.key` from the first source that has it; records the source.
    fn raw(&mut self, section: &str, key: &str, default: &str) -> RawValue {
        let dotted = format!("{section}.{key}");
        let mut env_names = vec![env_var_name(section, key)];
        if dotted == "logging.level" {
            env_names.push(LOG_LEVEL_ALIAS.to_string());
        }
        let raw = if let Some((name, text)) = env_names
            .into_iter()
            .find_map(|name| (self.env)(&name).map(|text| (name, text)))
        {
            RawValue {
                text,
                source: ConfigSource::Env,
                origin: name,
            }
        } else if let Some(text) = self.file_values.get(&dotted) {
            let origin = match locate_value(self.file_text, section, key) {
                Some((line, column)) => format!("{}:{line}:{column}", self.file.display()),
                None => self.file.display().to_string(),
            };
            RawValue {
                text: text.clone(),
                source: ConfigSource::File,
                origin,
            }
        } else {
            RawValue {
                text: default.to_string(),
                source: ConfigSource::Default,
                origin: "default".to_string(),
            }
        };
        self.sources.insert(dotted, raw.source);
        raw
    }

    fn invalid(
        &self,
        section: &str,
        key: &str,
        raw: &RawValue,
        requirement: String,
    ) -> ConfigError {
        let file = self.file.display();
        let fix = match raw.source {
            ConfigSource::Env => format!("set it in {file} or unset {}", raw.origin),
            ConfigSource::File | ConfigSource::Default => format!("fix it in {file}"),
        };
        ConfigError::InvalidValue {
            key: format!("{section}.{key}"),
            value: raw.text.clone(),
            origin: raw.origin.clone(),
            requirement,
            fix,
        }
    }

    fn number<T: TryFrom<i64>>(
        &mut self,
        section: &str,
        key: &str,
        default: i64,
        min: i64,
        max: i64,
        what: &str,
    ) -> Result<T, ConfigError> {
        let raw = self.raw(section, key, &default.to_string());
        raw.text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| {
                self.invalid(
                    section,
                    key,
                    &raw,
                    format!("must be {what} between {min} and {max}"),
                )
            })
    }

    fn boolean(&mut self, section: &str, key: &str, default: bool) -> Result<bool, ConfigError> {
        let raw = self.raw(section, key, &default.to_string());
        match raw.text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.invalid(section, key, &raw, "must be true or false".to_string())),
        }
    }

    /// A share between 0 and 1 (default 0).
    fn ratio(&mut self, section: &str, key: &str) -> Result<f64, ConfigError> {
        let raw = self.raw(section, key, "0");
        raw.text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| (0.0..=1.0).contains(n))
            .ok_or_else(|| {
                self.invalid(
                    section,
                    key,
                    &raw,
                    "must be a ratio between 0 and 1 (e.g. 0.05 for 5 %)".to_string(),
                )
            })
    }

    fn path(&mut self, section: &str, key: &str, default: &str) -> Result<PathBuf, ConfigError> {
        let raw = self.raw(section, key, default);
        if raw.text.trim().is_empty() {
            return Err(self.invalid(section, key, &raw, "must be a non-empty path".to_string()));
        }
        Ok(PathBuf::from(raw.text.trim()))
    }

    fn log_level(&mut self) -> Result<String, ConfigError> {
        let raw = self.raw("logging", "level", "info");
        let level = raw.text.trim().to_ascii_lowercase();
        if LOG_LEVELS.contains(&level.as_str()) {
            Ok(level)
        } else {
            let requirement = format!("must be one of {}", LOG_LEVELS.join(", "));
            Err(self.invalid("logging", "level", &raw, requirement))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str, env: &[(&str, &str)]) -> Result<LoadedConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yml");
        std::fs::write(&file, text).unwrap();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load_with_env(&file, |name| env.get(name).cloned()).map(|mut loaded| {
            loaded.file = PathBuf::from("config.yml");
            loaded
        })
    }

    /// The error message with the temp dir replaced by `DIR`, so tests can compare it whole.
    fn message(text: &str, env: &[(&str, &str)]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yml");
        std::fs::write(&file, text).unwrap();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let err = load_with_env(&file, |name| env.get(name).cloned()).unwrap_err();
        err.to_string()
            .replace(&dir.path().display().to_string(), "DIR")
    }

    #[test]
    fn a_missing_file_gives_the_documented_defaults() {
        let loaded = load_with_env(Path::new("/nonexistent/config.yml"), |_| None).unwrap();
        let config = loaded.config;
        assert_eq!(config.server.port, 8080);
        assert_eq!(config.server.tls_port, 8443);
        assert_eq!(config.server.admin_port, 9090);
        assert_eq!(config.cache.max_size, 1000);
        assert_eq!(config.cache.ttl_seconds, 3600);
        assert_eq!(config.scanner.binary, PathBuf::from("/usr/local/bin/trivy"));
        assert_eq!(config.storage.quota_mb, 64);
        assert_eq!(config.tls.validity_days, 90);
        assert_eq!(config.logging.level, "info");
        assert_eq!(loaded.sources.len(), 26);
        assert!(loaded.sources.values().all(|s| *s == ConfigSource::Default));
    }

    #[test]
    fn the_shipped_file_loads_and_matches_the_defaults() {
        let shipped = include_str!("../assets/config.yml");
        let from_file = load_text(shipped, &[]).unwrap();
        let defaults = load_with_env(Path::new("/nonexistent"), |_| None).unwrap();
        assert_eq!(from_file.config, defaults.config);
        assert!(from_file.sources.values().all(|s| *s == ConfigSource::File));
    }

    #[test]
    fn file_values_and_flow_style_sections_are_read() {
        let loaded = load_text(
            "cache: { max_size: 50, ttl_seconds: 5 }\nlogging:\n  level: DEBUG\n",
            &[],
        )
        .unwrap();
        assert_eq!(loaded.config.cache.max_size, 50);
        assert_eq!(loaded.config.cache.ttl_seconds, 5);
        assert_eq!(loaded.config.logging.level, "debug");
        assert_eq!(loaded.sources["cache.max_size"], ConfigSource::File);
        assert_eq!(loaded.sources["server.port"], ConfigSource::Default);
    }

    #[test]
    fn environment_overrides_the_file_and_the_alias_works() {
        let loaded = load_text(
            "cache:\n  max_size: 50\n",
            &[
                ("DOCKER_OPTIMIZER_CACHE_MAX_SIZE", "500"),
                ("DOCKER_OPTIMIZER_LOG_LEVEL", "warn"),
            ],
        )
        .unwrap();
        assert_eq!(loaded.config.cache.max_size, 500);
        assert_eq!(loaded.sources["cache.max_size"], ConfigSource::Env);
        assert_eq!(loaded.config.logging.level, "warn");
        assert_eq!(loaded.sources["logging.level"], ConfigSource::Env);
    }

    #[test]
    fn the_canonical_variable_wins_over_the_alias() {
        let loaded = load_text(
            "",
            &[
                ("DOCKER_OPTIMIZER_LOGGING_LEVEL", "error"),
                ("DOCKER_OPTIMIZER_LOG_LEVEL", "debug"),
            ],
        )
        .unwrap();
        assert_eq!(loaded.config.logging.level, "error");
    }

    #[test]
    fn a_bad_environment_value_gives_the_documented_message() {
        assert_eq!(
            message("", &[("DOCKER_OPTIMIZER_CACHE_MAX_SIZE", "-5")]),
            "configuration error: cache.max_size = \"-5\" (from DOCKER_OPTIMIZER_CACHE_MAX_SIZE): must be a whole \
             number of entries between 1 and 1000000; set it in DIR/config.yml or unset DOCKER_OPTIMIZER_CACHE_MAX_SIZE"
        );
    }

    #[test]
    fn a_bad_file_value_names_its_line_and_column() {
        assert_eq!(
            message("server:\n  port: 8080\ncache:\n  max_size: 0\n", &[]),
            "configuration error: cache.max_size = \"0\" (from DIR/config.yml:4:13): must be a whole number of \
             entries between 1 and 1000000; fix it in DIR/config.yml"
        );
    }

    #[test]
    fn each_kind_of_bad_value_is_explained() {
        let cases = [
            (
                "DOCKER_OPTIMIZER_SERVER_PORT",
                "70000",
                "must be a TCP port number (0 picks a free port) between 0 and 65535",
            ),
            (
                "DOCKER_OPTIMIZER_SERVER_WORKERS",
                "four",
                "must be a whole number of worker threads between 1 and 64",
            ),
            (
                "DOCKER_OPTIMIZER_CACHE_TTL_SECONDS",
                "1.5",
                "must be a whole number of seconds between 1 and 604800",
            ),
            (
                "DOCKER_OPTIMIZER_SCANNER_ENABLED",
                "maybe",
                "must be true or false",
            ),
            (
                "DOCKER_OPTIMIZER_SCANNER_BINARY",
                " ",
                "must be a non-empty path",
            ),
            (
                "DOCKER_OPTIMIZER_STORAGE_QUOTA_MB",
                "0",
                "must be a whole number of megabytes between 1 and 1048576",
            ),
            (
                "DOCKER_OPTIMIZER_TLS_VALIDITY_DAYS",
                "-1",
                "must be a whole number of days between 1 and 825",
            ),
            (
                "DOCKER_OPTIMIZER_LOGGING_LEVEL",
                "loud",
                "must be one of trace, debug, info, warn, error",
            ),
            (
                "DOCKER_OPTIMIZER_LOGGING_MAX_FILES",
                "100",
                "must be a whole number of rotated files between 1 and 20",
            ),
            (
                "DOCKER_OPTIMIZER_METRICS_REFRESH_SECONDS",
                "-1",
                "must be a whole number of seconds (0 renders at every scrape) between 0 and 86400",
            ),
            (
                "DOCKER_OPTIMIZER_TESTING_LATENCY_MS",
                "fast",
                "must be a whole number of milliseconds between 0 and 60000",
            ),
            (
                "DOCKER_OPTIMIZER_TESTING_ERROR_RATIO",
                "10%",
                "must be a ratio between 0 and 1 (e.g. 0.05 for 5 %)",
            ),
            (
                "DOCKER_OPTIMIZER_TESTING_LATENCY_RATIO",
                "1.5",
                "must be a ratio between 0 and 1 (e.g. 0.05 for 5 %)",
            ),
        ];
        for (var, value, requirement) in cases {
            let text = message("", &[(var, value)]);
            assert!(
                text.contains(&format!("= \"{value}\" (from {var}): {requirement};")),
                "{text}"
            );
            assert!(text.ends_with(&format!("or unset {var}")), "{text}");
        }
    }

    #[test]
    fn a_value_of_the_wrong_yaml_kind_is_a_value_error() {
        let text = message("scanner:\n  timeout_seconds: [1, 2]\n", &[]);
        assert!(text.starts_with("configuration error: scanner.timeout_seconds = \"- 1 - 2\" (from DIR/config.yml:2:20)"), "{text}");
    }

    #[test]
    fn an_unknown_key_is_rejected_with_line_and_column() {
        let text = message("cache:\n  max_size: 10\n  max_sise: 20\n", &[]);
        assert!(
            text.starts_with(
                "configuration error: DIR/config.yml:3:3: cache: unknown field `max_sise`"
            ),
            "{text}"
        );
        let text = message("caches:\n  max_size: 10\n", &[]);
        assert!(
            text.starts_with("configuration error: DIR/config.yml:1:1: unknown field `caches`"),
            "{text}"
        );
    }

    #[test]
    fn broken_yaml_is_a_syntax_error() {
        let text = message("cache:\n  max_size: [\n", &[]);
        assert!(
            text.starts_with("configuration error: DIR/config.yml:"),
            "{text}"
        );
    }

    #[test]
    fn fault_injection_and_the_metrics_refresh_are_off_by_default_and_read_from_the_file() {
        let defaults = load_with_env(Path::new("/nonexistent"), |_| None).unwrap();
        assert_eq!(defaults.config.metrics.refresh_seconds, 0);
        assert!(!defaults.config.testing.is_active());
        let loaded = load_text(
            "metrics:\n  refresh_seconds: 86400\ntesting:\n  latency_ms: 1200\n  latency_ratio: 0.25\n  error_ratio: 0.1\n",
            &[],
        )
        .unwrap();
        assert_eq!(loaded.config.metrics.refresh_seconds, 86_400);
        assert_eq!(
            loaded.config.testing,
            TestingConfig {
                latency_ms: 1200,
                latency_ratio: 0.25,
                error_ratio: 0.1
            }
        );
        assert!(loaded.config.testing.is_active());
        assert_eq!(loaded.config.entries()["testing.error_ratio"], "0.1");
        let delay_without_share = load_text("testing: { latency_ms: 500 }\n", &[]).unwrap();
        assert!(!delay_without_share.config.testing.is_active());
    }

    #[test]
    fn entries_flatten_every_key() {
        let loaded = load_with_env(Path::new("/nonexistent"), |_| None).unwrap();
        let entries = loaded.config.entries();
        assert_eq!(entries.len(), loaded.sources.len());
        assert_eq!(entries["cache.max_size"], "1000");
        assert_eq!(entries["logging.level"], "info");
        assert_eq!(entries["scanner.enabled"], "true");
    }
}
