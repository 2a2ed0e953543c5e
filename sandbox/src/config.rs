//! STUB — owned by the server helper; replaced wholesale. Keep these signatures.
use std::path::Path;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Config {}

#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error")]
pub struct ConfigError;

/// Loads `file` (defaults when absent) and applies `DOCKER_OPTIMIZER_*` overrides from the environment.
pub fn load(_file: &Path) -> Result<LoadedConfig, ConfigError> {
    Err(ConfigError)
}
