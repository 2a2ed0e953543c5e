//! One module per fault kind (or family of kinds). Each implements [`Fault`].

pub mod cpu_burn;
pub mod resource_squeeze;

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
