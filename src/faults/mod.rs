//! The fault catalogue and its operations: inject into a sandbox, probe the root cause, revert.
//!
//! Every injected fault is recorded (see [`record`]) with the baseline its kind saved, so it can
//! be reverted exactly, by this process or another, and its probe tells "fixed" from "hidden".

pub mod catalogue;
mod kinds;
pub mod params;
pub mod record;
pub mod target;

use bollard::Docker;
use serde::Serialize;

use crate::docker::sandbox;
use crate::error::{Error, Result};
pub use catalogue::{FaultDoc, FaultKind};
use kinds::Fault;
pub use params::Params;
pub use record::{FaultRecord, FaultStore};
pub use target::{FaultTarget, RootCause};

/// Calls `$method` of the kind's [`Fault`] implementation: the one place kinds are dispatched.
macro_rules! dispatch {
    ($kind:expr, $method:ident($($arg:expr),*)) => {
        match $kind {
            FaultKind::CpuRunaway => kinds::cpu_runaway::CpuRunaway::$method($($arg),*).await,
            FaultKind::CpuBurn => kinds::cpu_burn::CpuBurn::$method($($arg),*).await,
            FaultKind::MemoryLeak => kinds::memory_leak::MemoryLeak::$method($($arg),*).await,
            FaultKind::ScannerMissing => kinds::scanner_missing::ScannerMissing::$method($($arg),*).await,
            FaultKind::ScannerDbCorrupt => kinds::scanner_db_corrupt::ScannerDbCorrupt::$method($($arg),*).await,
            FaultKind::ScannerHang => kinds::scanner_hang::ScannerHang::$method($($arg),*).await,
            FaultKind::ScannerDbStale => kinds::scanner_db_stale::ScannerDbStale::$method($($arg),*).await,
            FaultKind::ServiceHang => kinds::service_hang::ServiceHang::$method($($arg),*).await,
            FaultKind::CrashLoop => kinds::crash_loop::CrashLoop::$method($($arg),*).await,
            FaultKind::DiskFill => kinds::disk_fill::DiskFill::$method($($arg),*).await,
            FaultKind::Latency => kinds::latency::Latency::$method($($arg),*).await,
            FaultKind::ErrorRate => kinds::error_rate::ErrorRate::$method($($arg),*).await,
            FaultKind::CertExpiring => kinds::cert_expiring::CertExpiring::$method($($arg),*).await,
            FaultKind::CertExpired => kinds::cert_expired::CertExpired::$method($($arg),*).await,
            FaultKind::BadConfig => kinds::bad_config::BadConfig::$method($($arg),*).await,
            FaultKind::BadRelease => kinds::bad_release::BadRelease::$method($($arg),*).await,
            FaultKind::TrafficSurge => kinds::traffic_surge::TrafficSurge::$method($($arg),*).await,
            FaultKind::ResourceSqueeze => kinds::resource_squeeze::ResourceSqueeze::$method($($arg),*).await,
            FaultKind::MetricsStale => kinds::metrics_stale::MetricsStale::$method($($arg),*).await,
            FaultKind::VulnerableDependency => kinds::vulnerable_dependency::VulnerableDependency::$method($($arg),*).await,
            FaultKind::BaseImageCve => kinds::base_image_cve::BaseImageCve::$method($($arg),*).await,
            FaultKind::ConfigChange => kinds::config_change::ConfigChange::$method($($arg),*).await,
            FaultKind::ScaleRequest => kinds::scale_request::ScaleRequest::$method($($arg),*).await,
            FaultKind::CapacityForecast => kinds::capacity_forecast::CapacityForecast::$method($($arg),*).await,
        }
    };
}

/// Injects a fault of `kind` into sandbox `sandbox_name` and records it.
pub async fn inject(
    docker: &Docker,
    store: &FaultStore,
    sandbox_name: &str,
    kind: FaultKind,
    params: Params,
) -> Result<FaultRecord> {
    let info = sandbox::find(docker, sandbox_name).await?;
    if let Some(active) = store
        .all()?
        .into_iter()
        .find(|r| r.sandbox == sandbox_name && r.kind == kind)
    {
        return Err(Error::FaultActive {
            kind: kind.name().to_string(),
            sandbox: sandbox_name.to_string(),
            id: active.id,
        });
    }
    let target = FaultTarget::new(docker.clone(), info);
    let baseline = dispatch!(kind, inject(&target, &params))?;
    let record = FaultRecord {
        id: format!("f-{sandbox_name}-{kind}-{:08x}", rand::random::<u32>()),
        kind,
        sandbox: sandbox_name.to_string(),
        container_id: target.sandbox.container_id.clone(),
        session: target.sandbox.session.clone(),
        params,
        injected_at: unix_now(),
        baseline,
        own_actions: target.journal.actions(),
    };
    store.save(&record)?;
    store.log_own_actions(&record.session, &record.own_actions)?;
    Ok(record)
}

/// What reverting one fault did.
#[derive(Debug, Clone, Serialize)]
pub struct Reverted {
    pub id: String,
    pub kind: FaultKind,
    pub sandbox: String,
    /// False when the sandbox was already gone (the record is dropped all the same).
    pub restored: bool,
}

/// Reverts the fault recorded as `id` and forgets it.
pub async fn revert(docker: &Docker, store: &FaultStore, id: &str) -> Result<Reverted> {
    let record = store.get(id)?;
    revert_record(docker, store, record).await
}

/// Reverts every recorded fault (of `sandbox_name` only, when given), newest first.
pub async fn revert_all(
    docker: &Docker,
    store: &FaultStore,
    sandbox_name: Option<&str>,
) -> Result<Vec<Reverted>> {
    let mut records = store.all()?;
    records.retain(|r| sandbox_name.is_none_or(|name| r.sandbox == name));
    records.reverse();
    let mut reverted = Vec::new();
    for record in records {
        reverted.push(revert_record(docker, store, record).await?);
    }
    Ok(reverted)
}

async fn revert_record(
    docker: &Docker,
    store: &FaultStore,
    record: FaultRecord,
) -> Result<Reverted> {
    let restored = match live_target(docker, &record).await? {
        Some(target) => {
            let reverted = dispatch!(record.kind, revert(&target, &record));
            store.log_own_actions(&record.session, &target.journal.actions())?;
            reverted?;
            true
        }
        None => false,
    };
    store.remove(&record.id)?;
    Ok(Reverted {
        id: record.id,
        kind: record.kind,
        sandbox: record.sandbox,
        restored,
    })
}

/// An injected fault and what its probe says now.
#[derive(Debug, Clone, Serialize)]
pub struct FaultStatus {
    #[serde(flatten)]
    pub record: FaultRecord,
    /// `None` when the sandbox is gone.
    pub root_cause: Option<RootCause>,
}

/// Every recorded fault (of `sandbox_name` only, when given) with its root-cause probe.
pub async fn status(
    docker: &Docker,
    store: &FaultStore,
    sandbox_name: Option<&str>,
) -> Result<Vec<FaultStatus>> {
    let mut statuses = Vec::new();
    for record in store.all()? {
        if sandbox_name.is_some_and(|name| record.sandbox != name) {
            continue;
        }
        statuses.push(probe(docker, store, record).await?);
    }
    Ok(statuses)
}

/// Runs the root-cause probe of one recorded fault (its execs go to the own-action log).
pub async fn probe(
    docker: &Docker,
    store: &FaultStore,
    record: FaultRecord,
) -> Result<FaultStatus> {
    let root_cause = match live_target(docker, &record).await? {
        Some(target) => {
            let probed = dispatch!(record.kind, probe(&target, &record));
            store.log_own_actions(&record.session, &target.journal.actions())?;
            Some(probed?)
        }
        None => None,
    };
    Ok(FaultStatus { record, root_cause })
}

/// The fault's sandbox, if it still exists as the same session the fault went into. (Its
/// agent container may have been recreated meanwhile, by a deploy or a rollback.)
async fn live_target(docker: &Docker, record: &FaultRecord) -> Result<Option<FaultTarget>> {
    match sandbox::find(docker, &record.sandbox).await {
        Ok(info) if info.session == record.session => {
            Ok(Some(FaultTarget::new(docker.clone(), info)))
        }
        Ok(_) | Err(Error::SandboxNotFound { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}
