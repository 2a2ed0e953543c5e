//! The state the handlers share: configuration, the agent's parts, and the figures health and
//! metrics are computed from.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::config::LoadedConfig;

use super::cache::{CacheLimits, ResponseCache};
use super::certificate::ServedCertificate;
use super::denylist::DenyList;
use super::fault_injection::FaultInjector;
use super::health::{self, HealthInputs, HealthReport, TlsView};
use super::jobs::JobRegistry;
use super::logging::LogControl;
use super::metrics::{Metrics, Snapshot};
use super::quota::StorageQuota;
use super::scanning::ScanActivity;
use super::store::HistoryStore;

/// Temp files (the scanner's input files) under the data directory.
pub const TMP_DIR_NAME: &str = "tmp";
/// On-disk cache directory under the data directory.
pub const CACHE_DIR_NAME: &str = "cache";

pub struct AppState {
    pub version: String,
    started: Instant,
    config: RwLock<Arc<LoadedConfig>>,
    /// The message of the last reload, if it failed (cleared by a successful one).
    reload_error: Mutex<Option<String>>,
    ready: AtomicBool,
    pub metrics: Metrics,
    pub quota: Arc<StorageQuota>,
    pub cache: ResponseCache,
    pub jobs: Arc<JobRegistry>,
    pub denylist: DenyList,
    pub history: HistoryStore,
    pub scans: ScanActivity,
    /// `None` when TLS is disabled.
    pub certificate: Option<ServedCertificate>,
    pub log_control: LogControl,
    pub fault_injector: FaultInjector,
    /// The `/metrics` text last rendered and when, served again while younger than
    /// `metrics.refresh_seconds`.
    metrics_snapshot: Mutex<Option<(Instant, String)>>,
}

/// The parts [`AppState::new`] assembles.
pub struct StateParts {
    pub loaded: LoadedConfig,
    pub metrics: Metrics,
    pub quota: Arc<StorageQuota>,
    pub history: HistoryStore,
    pub certificate: Option<ServedCertificate>,
    pub log_control: LogControl,
}

impl AppState {
    pub fn new(parts: StateParts) -> AppState {
        let config = &parts.loaded.config;
        let cache = ResponseCache::new(
            cache_limits(&parts.loaded),
            parts.metrics.cache_hits.clone(),
            parts.metrics.cache_misses.clone(),
        );
        let denylist = DenyList::load(&config.storage.data_dir, Arc::clone(&parts.quota));
        AppState {
            version: crate::version::current(),
            started: Instant::now(),
            config: RwLock::new(Arc::new(parts.loaded)),
            reload_error: Mutex::new(None),
            ready: AtomicBool::new(false),
            metrics: parts.metrics,
            quota: parts.quota,
            cache,
            jobs: Arc::new(JobRegistry::default()),
            denylist,
            history: parts.history,
            scans: ScanActivity::default(),
            certificate: parts.certificate,
            log_control: parts.log_control,
            fault_injector: FaultInjector::default(),
            metrics_snapshot: Mutex::new(None),
        }
    }

    /// The configuration in effect.
    pub fn config(&self) -> Arc<LoadedConfig> {
        Arc::clone(
            &self
                .config
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    pub fn replace_config(&self, loaded: LoadedConfig) {
        *self
            .config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(loaded);
    }

    pub fn set_reload_error(&self, error: Option<String>) {
        *self
            .reload_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = error;
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.config().config.storage.data_dir.join(TMP_DIR_NAME)
    }

    pub fn health(&self) -> HealthReport {
        let loaded = self.config();
        let config = &loaded.config;
        let inputs = HealthInputs {
            scanner_enabled: config.scanner.enabled,
            scanner_binary: &config.scanner.binary,
            cache: self.cache.stats(),
            disk: self.quota.usage(),
            config_file: &loaded.file,
            config_reload_error: self
                .reload_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            tls: match &self.certificate {
                Some(certificate) => TlsView::Serving(certificate.info()),
                None => TlsView::Disabled,
            },
            now: OffsetDateTime::now_utc().unix_timestamp(),
        };
        health::evaluate(&inputs, &self.version, self.uptime().as_secs())
    }

    /// The Prometheus text exposition: rendered now, or the snapshot rendered less than
    /// `metrics.refresh_seconds` ago.
    pub fn metrics_text(&self) -> String {
        let refresh = Duration::from_secs(self.config().config.metrics.refresh_seconds);
        let mut snapshot = self
            .metrics_snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((rendered_at, text)) = snapshot.as_ref() {
            if rendered_at.elapsed() < refresh {
                return text.clone();
            }
        }
        let text = self.render_metrics();
        *snapshot = (!refresh.is_zero()).then(|| (Instant::now(), text.clone()));
        text
    }

    /// What a diagnostics dump (SIGUSR2) records: configuration, health, jobs, cache, disk.
    ///
    /// The configuration lock is taken for writing so that a reload cannot change it halfway
    /// through the dump, and then `health()` asks for the same lock again: the dump deadlocks its
    /// thread, and every handler then blocks on the lock. This is the service-hang drill's bug,
    /// kept on purpose (a restart clears it; nothing else does).
    pub fn diagnostics(&self) -> Value {
        let config = self
            .config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        json!({
            "version": self.version,
            "uptime_seconds": self.uptime().as_secs(),
            "config": config.config,
            "health": self.health(),
            "jobs": self.jobs.snapshot(),
            "cache": self.cache.stats(),
            "disk": self.quota.usage(),
        })
    }

    /// The Prometheus text exposition as of now.
    fn render_metrics(&self) -> String {
        let disk = self.quota.usage();
        let snapshot = Snapshot {
            cache_entries: self.cache.stats().entries as i64,
            health_status: self.health().status.metric_value(),
            certificate_expiry: self.certificate.as_ref().map(|c| c.info().not_after),
            disk_usage_bytes: disk.used_bytes as i64,
            disk_quota_bytes: disk.quota_bytes as i64,
            jobs_in_flight: self.jobs.in_flight() as i64,
            uptime_seconds: self.uptime().as_secs_f64(),
        };
        self.metrics.encode(&snapshot)
    }
}

/// The cache bounds a configuration asks for.
pub fn cache_limits(loaded: &LoadedConfig) -> CacheLimits {
    CacheLimits {
        max_size: loaded.config.cache.max_size,
        ttl: Duration::from_secs(loaded.config.cache.ttl_seconds),
    }
}
