//! The state the handlers share: configuration, the agent's parts, and the figures health and
//! metrics are computed from.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::config::LoadedConfig;

use super::cache::{CacheLimits, ResponseCache};
use super::certificate::ServedCertificate;
use super::denylist::DenyList;
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

    /// The Prometheus text exposition as of now.
    pub fn metrics_text(&self) -> String {
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
