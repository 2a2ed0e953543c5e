//! `POST /admin/reload`: re-read the configuration and the TLS certificate while serving.
//!
//! Values that can change live (cache bounds, log level, scanner settings, timeouts, quota,
//! retention, the metrics refresh, fault injection) take effect at once; listener ports, directories and TLS paths need a restart and
//! keep their running value, which the change list says. A bad file changes nothing.

use std::time::Instant;

use crate::config::{self, Config, LoadedConfig};

use super::fault_injection;
use super::state::{cache_limits, AppState};

/// Reloads; returns one line per change, or the error message (the agent keeps its configuration).
pub async fn reload(state: &AppState) -> Result<Vec<String>, String> {
    let old = state.config();
    let new = match config::load(&old.file) {
        Ok(new) => new,
        Err(e) => {
            let message = e.to_string();
            tracing::warn!(
                error_type = "config",
                "reload refused, keeping the running configuration: {message}"
            );
            state.set_reload_error(Some(message.clone()));
            return Err(message);
        }
    };
    let (effective, mut changes) = merge(&old, new);
    state
        .cache
        .set_limits(cache_limits(&effective), Instant::now());
    state.log_control.set_level(&effective.config.logging.level);
    state
        .quota
        .set_quota_bytes(effective.config.storage.quota_mb * 1024 * 1024);
    state.replace_config(effective);
    state.set_reload_error(None);

    if let Some(certificate) = &state.certificate {
        match certificate.reload().await {
            Ok(change) => changes.extend(change),
            Err(e) => {
                let message =
                    format!("certificate not reloaded, still serving the previous one: {e}");
                tracing::warn!(error_type = "tls", "{message}");
                return Err(message);
            }
        }
    }
    tracing::info!(changes = ?changes, "configuration reloaded");
    fault_injection::warn_if_active(&state.config().config.testing);
    Ok(changes)
}

/// The configuration to run on (the new one, except restart-only values) and the changes.
fn merge(old: &LoadedConfig, new: LoadedConfig) -> (LoadedConfig, Vec<String>) {
    let effective_config = keep_restart_only_values(&old.config, new.config.clone());
    let (old_entries, new_entries, effective_entries) = (
        old.config.entries(),
        new.config.entries(),
        effective_config.entries(),
    );
    let mut changes = Vec::new();
    let mut sources = new.sources.clone();
    for (key, new_value) in &new_entries {
        let old_value = &old_entries[key];
        if new_value == old_value {
            continue;
        }
        if &effective_entries[key] == new_value {
            changes.push(format!("{key}: {old_value} -> {new_value}"));
        } else {
            changes.push(format!(
                "{key}: {old_value} -> {new_value} (takes effect after a restart)"
            ));
            sources.insert(key.clone(), old.sources[key]);
        }
    }
    let effective = LoadedConfig {
        config: effective_config,
        sources,
        file: new.file,
    };
    (effective, changes)
}

/// `new` with the values that only a restart can apply (listeners, directories, TLS files) put back.
fn keep_restart_only_values(old: &Config, mut new: Config) -> Config {
    new.server.port = old.server.port;
    new.server.tls_port = old.server.tls_port;
    new.server.admin_port = old.server.admin_port;
    new.server.workers = old.server.workers;
    new.storage.data_dir = old.storage.data_dir.clone();
    new.tls = old.tls.clone();
    new.logging.dir = old.logging.dir.clone();
    new.logging.max_file_mb = old.logging.max_file_mb;
    new.logging.max_files = old.logging.max_files;
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn loaded(env: &[(&str, &str)]) -> LoadedConfig {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        config::load_with_env(Path::new("/nonexistent"), |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .unwrap()
    }

    #[test]
    fn live_values_change_and_restart_only_values_are_reported_but_kept() {
        let old = loaded(&[]);
        let new = loaded(&[
            ("DOCKER_OPTIMIZER_CACHE_MAX_SIZE", "50"),
            ("DOCKER_OPTIMIZER_SERVER_PORT", "8081"),
        ]);
        let (effective, changes) = merge(&old, new);
        assert_eq!(effective.config.cache.max_size, 50);
        assert_eq!(effective.config.server.port, 8080);
        assert_eq!(
            changes,
            [
                "cache.max_size: 1000 -> 50",
                "server.port: 8080 -> 8081 (takes effect after a restart)",
            ]
        );
        assert_eq!(
            effective.sources["cache.max_size"],
            config::ConfigSource::Env
        );
        assert_eq!(
            effective.sources["server.port"],
            config::ConfigSource::Default
        );
    }

    #[test]
    fn an_unchanged_configuration_reports_no_changes() {
        let (_, changes) = merge(&loaded(&[]), loaded(&[]));
        assert!(changes.is_empty());
    }
}
