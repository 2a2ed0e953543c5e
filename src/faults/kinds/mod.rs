//! One module per fault kind (or family of kinds). Each implements [`Fault`].

mod advisory;
/// Editing the agent's config file, shared by the config-borne faults.
mod agent_config;
pub mod bad_config;
pub mod bad_release;
pub mod base_image_cve;
pub mod capacity_forecast;
pub mod cert_expired;
pub mod cert_expiring;
pub mod config_change;
pub mod cpu_burn;
pub mod cpu_runaway;
pub mod crash_loop;
pub mod disk_fill;
pub mod error_rate;
pub mod latency;
pub mod memory_leak;
pub mod metrics_stale;
pub mod resource_squeeze;
pub mod scale_request;
pub mod scanner_db_corrupt;
pub mod scanner_db_stale;
pub mod scanner_hang;
pub mod scanner_missing;
pub mod service_hang;
pub mod traffic_surge;
pub mod vulnerable_dependency;

use serde_json::Value;

use super::params::Params;
use super::record::FaultRecord;
use super::target::{FaultTarget, RootCause};
use crate::error::Result;

/// What every fault kind knows how to do. Static dispatch (see `faults::dispatch!`): the kinds
/// are a closed set, listed in `FaultKind`.
pub(crate) trait Fault {
    /// Breaks the sandbox; returns what `revert` needs to restore the baseline exactly.
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value>;
    /// Restores the baseline saved by `inject`, whatever the trainee did meanwhile.
    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()>;
    /// Whether the root cause is still there (a restart that hides a symptom leaves it true).
    async fn probe(target: &FaultTarget, record: &FaultRecord) -> Result<RootCause>;
}
