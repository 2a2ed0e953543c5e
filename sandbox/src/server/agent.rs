//! Starting and stopping the agent: data directories, certificate, history database, the three
//! listeners (public HTTP, public HTTPS, operator API on loopback) and the background tasks.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use tokio::task::JoinHandle;

use crate::config::LoadedConfig;

use super::admin::admin_router;
use super::certificate::ServedCertificate;
use super::logging::LogControl;
use super::metrics::Metrics;
use super::quota::StorageQuota;
use super::routes::public_router;
use super::state::{AppState, StateParts, CACHE_DIR_NAME, TMP_DIR_NAME};
use super::store::{HistoryStore, StoreError};
use super::{diagnostics, fault_injection};

/// How often history older than `storage.history_retention_days` is pruned.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// What the agent is started from. The quota and metrics exist before the agent (logging writes
/// through the quota from the first line on).
pub struct AgentParts {
    pub loaded: LoadedConfig,
    pub metrics: Metrics,
    pub quota: Arc<StorageQuota>,
    pub log_control: LogControl,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create {}: {source}", path.display())]
    Directory { path: PathBuf, source: io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    History(#[from] StoreError),
    #[error(transparent)]
    CacheIndex(#[from] super::cache::IndexError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
}

/// A started agent and the addresses it listens on (ports may have been picked by the system).
pub struct RunningAgent {
    pub state: Arc<AppState>,
    pub http_addr: SocketAddr,
    /// `None` when TLS is disabled.
    pub https_addr: Option<SocketAddr>,
    pub admin_addr: SocketAddr,
    listeners: Listeners,
    background: Vec<JoinHandle<()>>,
}

/// Prepares everything, binds the listeners and starts serving; ready once this returns.
pub async fn start(parts: AgentParts) -> Result<RunningAgent, StartError> {
    let config = parts.loaded.config.clone();
    let data_dir = &config.storage.data_dir;
    for dir in [
        data_dir.clone(),
        data_dir.join(TMP_DIR_NAME),
        data_dir.join(CACHE_DIR_NAME),
    ] {
        std::fs::create_dir_all(&dir)
            .map_err(|source| StartError::Directory { path: dir, source })?;
    }
    let certificate = if config.tls.enabled {
        // The HTTPS listener uses rustls with the ring provider; installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Some(
            ServedCertificate::prepare(&config.tls)
                .await
                .map_err(StartError::Tls)?,
        )
    } else {
        None
    };
    let history = HistoryStore::open(data_dir, Arc::clone(&parts.quota))?;
    let state = Arc::new(AppState::new(StateParts {
        loaded: parts.loaded,
        metrics: parts.metrics,
        quota: parts.quota,
        history,
        certificate,
        log_control: parts.log_control,
    }));
    super::cache::load_index(&state.cache, &data_dir.join(CACHE_DIR_NAME))?;

    let public = public_router(Arc::clone(&state));
    let mut listeners = Listeners::default();
    let http_addr = listeners.serve_plain(
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.server.port)),
        public.clone(),
    )?;
    let https_addr = match &state.certificate {
        Some(certificate) => Some(listeners.serve_tls(
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.server.tls_port)),
            public,
            certificate.rustls_config(),
        )?),
        None => None,
    };
    let admin_addr = listeners.serve_plain(
        SocketAddr::from((Ipv4Addr::LOCALHOST, config.server.admin_port)),
        admin_router(Arc::clone(&state)),
    )?;
    let running = RunningAgent {
        state: Arc::clone(&state),
        http_addr,
        https_addr,
        admin_addr,
        listeners,
        background: vec![
            state.quota.spawn_recount(),
            spawn_retention(Arc::clone(&state)),
            super::cache::spawn_persistence(Arc::clone(&state)),
            diagnostics::spawn_dump_on_signal(Arc::clone(&state)),
            super::self_scan::spawn(Arc::clone(&state)),
        ],
    };
    state.set_ready(true);
    tracing::info!(
        version = %state.version,
        http = %running.http_addr,
        https = %running
            .https_addr
            .map_or_else(|| "disabled".to_string(), |a| a.to_string()),
        admin = %running.admin_addr,
        data_dir = %data_dir.display(),
        "agent started"
    );
    fault_injection::warn_if_active(&config.testing);
    Ok(running)
}

/// The running listeners and the handles that stop them.
#[derive(Default)]
struct Listeners {
    handles: Vec<Handle>,
    tasks: Vec<JoinHandle<io::Result<()>>>,
}

impl Listeners {
    /// Serves `router` over plain HTTP on `addr`; returns the bound address.
    fn serve_plain(&mut self, addr: SocketAddr, router: Router) -> Result<SocketAddr, StartError> {
        let (listener, bound) = bind(addr)?;
        let server = axum_server::from_tcp(listener).handle(self.new_handle());
        self.tasks.push(tokio::spawn(
            server.serve(router.into_make_service_with_connect_info::<SocketAddr>()),
        ));
        Ok(bound)
    }

    /// Serves `router` over TLS on `addr` with a certificate that can be swapped while serving.
    fn serve_tls(
        &mut self,
        addr: SocketAddr,
        router: Router,
        tls: RustlsConfig,
    ) -> Result<SocketAddr, StartError> {
        let (listener, bound) = bind(addr)?;
        let server = axum_server::from_tcp_rustls(listener, tls).handle(self.new_handle());
        self.tasks.push(tokio::spawn(
            server.serve(router.into_make_service_with_connect_info::<SocketAddr>()),
        ));
        Ok(bound)
    }

    fn new_handle(&mut self) -> Handle {
        let handle = Handle::new();
        self.handles.push(handle.clone());
        handle
    }
}

impl RunningAgent {
    /// Stops taking connections, lets requests in flight finish (up to the request timeout), stops.
    pub async fn shutdown(self) {
        self.state.set_ready(false);
        let grace = Duration::from_secs(self.state.config().config.server.request_timeout_seconds);
        tracing::info!(
            jobs_in_flight = self.state.jobs.in_flight(),
            "shutting down, draining requests"
        );
        for handle in &self.listeners.handles {
            handle.graceful_shutdown(Some(grace));
        }
        for listener in self.listeners.tasks {
            if let Ok(Err(e)) = listener.await {
                tracing::warn!(error = %e, "listener ended with an error");
            }
        }
        for task in self.background {
            task.abort();
        }
        super::cache::persist(&self.state);
        tracing::info!("agent stopped");
    }
}

/// Binds `addr`; returns the listener and the address it got (the port, when 0 was asked).
fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let listen_error = |source| StartError::Listen { addr, source };
    let listener = TcpListener::bind(addr).map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    Ok((listener, bound))
}

/// Prunes history past the retention period at start and then every [`RETENTION_INTERVAL`].
fn spawn_retention(state: Arc<AppState>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(RETENTION_INTERVAL);
        loop {
            ticks.tick().await;
            let max_age = state.config().config.storage.history_retention_days * 86_400;
            let pruning_state = Arc::clone(&state);
            match tokio::task::spawn_blocking(move || {
                pruning_state.history.prune_older_than(max_age)
            })
            .await
            {
                Ok(Ok(result)) if result.pruned > 0 => {
                    tracing::info!(
                        pruned = result.pruned,
                        remaining = result.remaining,
                        "history retention applied"
                    )
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "history retention failed"),
                Err(e) => tracing::warn!(error = %e, "history retention crashed"),
            }
        }
    })
}
