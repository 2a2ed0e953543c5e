//! `kill -USR2 <agent>`: write a diagnostics dump (configuration, health, jobs, cache, disk) to
//! `<data_dir>/diagnostics/`, the way the real agent's support procedure asks for one.
//!
//! The dump deadlocks (see [`AppState::diagnostics`]): its worker thread sleeps on the
//! configuration lock it holds itself, and every request or operator call that needs the
//! configuration sleeps behind it until no worker is left. The port stays open, nothing answers,
//! and the last log line is "diagnostics dump requested". Only a restart ends it.

use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinHandle;

use super::state::AppState;

/// Under the data directory.
const DIAGNOSTICS_DIR_NAME: &str = "diagnostics";

/// Writes a dump each time the process receives SIGUSR2.
pub fn spawn_dump_on_signal(state: Arc<AppState>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut requests = match signal(SignalKind::user_defined2()) {
            Ok(requests) => requests,
            Err(e) => {
                tracing::warn!(error = %e, "diagnostics dumps on SIGUSR2 are unavailable");
                return;
            }
        };
        while requests.recv().await.is_some() {
            tracing::info!(signal = "SIGUSR2", "diagnostics dump requested");
            let dump = state.diagnostics();
            let dir = state
                .config()
                .config
                .storage
                .data_dir
                .join(DIAGNOSTICS_DIR_NAME);
            let file = dir.join(format!("dump-{}.json", state.uptime().as_secs()));
            let written = std::fs::create_dir_all(&dir).and_then(|()| {
                std::fs::write(&file, serde_json::to_vec_pretty(&dump).unwrap_or_default())
            });
            match written {
                Ok(()) => tracing::info!(file = %file.display(), "diagnostics dump written"),
                Err(e) => tracing::warn!(error = %e, "diagnostics dump not written"),
            }
        }
    })
}
