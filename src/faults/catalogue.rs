//! The fault catalogue: every kind an instructor or a scenario can inject, with what it takes,
//! what the trainee sees, what only hides it and what truly fixes it.

use serde::{Deserialize, Serialize};

use super::kinds;
use super::params::ParamType;

/// Every fault kind firedrill can inject. The serialised name is the CLI name (`cpu-burn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    CpuRunaway,
    CpuBurn,
    MemoryLeak,
    ScannerMissing,
    ScannerDbCorrupt,
    ScannerHang,
    ScannerDbStale,
    ServiceHang,
    CrashLoop,
    DiskFill,
    Latency,
    ErrorRate,
    CertExpiring,
    CertExpired,
    BadConfig,
    BadRelease,
    TrafficSurge,
    ResourceSqueeze,
    MetricsStale,
    VulnerableDependency,
    BaseImageCve,
    // Planned changes: nothing is broken, the "root cause" is the change not yet in effect.
    ConfigChange,
    ScaleRequest,
    CapacityForecast,
}

/// One documented parameter of a kind.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ParamDoc {
    pub name: &'static str,
    pub default: &'static str,
    #[serde(skip)]
    pub kind: ParamType,
    pub help: &'static str,
}

/// What a kind does, for `fault list`, scenario authors and the debrief.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FaultDoc {
    pub kind: &'static str,
    pub summary: &'static str,
    pub params: &'static [ParamDoc],
    /// What the trainee sees (top, docker stats, logs, agentctl, /metrics).
    pub symptoms: &'static str,
    /// What makes the impact go away without removing the cause ("-" when nothing does).
    pub mitigated_by: &'static str,
    /// What removes the root cause.
    pub resolved_by: &'static str,
    /// The runbook procedure this fault is drilled with.
    pub runbook: &'static str,
}

impl FaultKind {
    /// Every kind, in catalogue order.
    pub const ALL: [FaultKind; 24] = [
        FaultKind::CpuRunaway,
        FaultKind::CpuBurn,
        FaultKind::MemoryLeak,
        FaultKind::ScannerMissing,
        FaultKind::ScannerDbCorrupt,
        FaultKind::ScannerHang,
        FaultKind::ScannerDbStale,
        FaultKind::ServiceHang,
        FaultKind::CrashLoop,
        FaultKind::DiskFill,
        FaultKind::Latency,
        FaultKind::ErrorRate,
        FaultKind::CertExpiring,
        FaultKind::CertExpired,
        FaultKind::BadConfig,
        FaultKind::BadRelease,
        FaultKind::TrafficSurge,
        FaultKind::ResourceSqueeze,
        FaultKind::MetricsStale,
        FaultKind::VulnerableDependency,
        FaultKind::BaseImageCve,
        FaultKind::ConfigChange,
        FaultKind::ScaleRequest,
        FaultKind::CapacityForecast,
    ];

    /// The CLI name, e.g. `cpu-burn`.
    pub fn name(self) -> &'static str {
        self.doc().kind
    }

    /// The kind called `name` on the command line.
    /// Whether the fault keeps a whole core busy (its symptom is CPU at the limit): two such
    /// drills on a small machine starve each other and neither pages, so `firedrill validate`
    /// runs them one per two cores.
    pub fn busies_cpu(self) -> bool {
        matches!(
            self,
            FaultKind::CpuRunaway | FaultKind::CpuBurn | FaultKind::TrafficSurge
        )
    }

    pub fn from_name(name: &str) -> Option<FaultKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind's documentation (kept beside each kind's code, in `kinds/`).
    pub fn doc(self) -> FaultDoc {
        match self {
            FaultKind::CpuRunaway => kinds::cpu_runaway::DOC,
            FaultKind::CpuBurn => kinds::cpu_burn::DOC,
            FaultKind::MemoryLeak => kinds::memory_leak::DOC,
            FaultKind::ScannerMissing => kinds::scanner_missing::DOC,
            FaultKind::ScannerDbCorrupt => kinds::scanner_db_corrupt::DOC,
            FaultKind::ScannerHang => kinds::scanner_hang::DOC,
            FaultKind::ScannerDbStale => kinds::scanner_db_stale::DOC,
            FaultKind::ServiceHang => kinds::service_hang::DOC,
            FaultKind::CrashLoop => kinds::crash_loop::DOC,
            FaultKind::DiskFill => kinds::disk_fill::DOC,
            FaultKind::Latency => kinds::latency::DOC,
            FaultKind::ErrorRate => kinds::error_rate::DOC,
            FaultKind::CertExpiring => kinds::cert_expiring::DOC,
            FaultKind::CertExpired => kinds::cert_expired::DOC,
            FaultKind::BadConfig => kinds::bad_config::DOC,
            FaultKind::BadRelease => kinds::bad_release::DOC,
            FaultKind::TrafficSurge => kinds::traffic_surge::DOC,
            FaultKind::ResourceSqueeze => kinds::resource_squeeze::DOC,
            FaultKind::MetricsStale => kinds::metrics_stale::DOC,
            FaultKind::VulnerableDependency => kinds::vulnerable_dependency::DOC,
            FaultKind::BaseImageCve => kinds::base_image_cve::DOC,
            FaultKind::ConfigChange => kinds::config_change::DOC,
            FaultKind::ScaleRequest => kinds::scale_request::DOC,
            FaultKind::CapacityForecast => kinds::capacity_forecast::DOC,
        }
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for kind in FaultKind::ALL {
            assert_eq!(FaultKind::from_name(kind.name()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.name())
            );
        }
        assert_eq!(FaultKind::from_name("no-such-fault"), None);
    }

    #[test]
    fn every_kind_is_documented_with_a_known_runbook() {
        const RUNBOOKS: [&str; 16] = [
            "high-cpu-usage",
            "memory-leaks",
            "security-scanner-failures",
            "service-unavailable",
            "dependency-updates",
            "security-patches",
            "database-cleanup",
            "certificate-renewal",
            "alert-triage",
            "performance-degradation",
            "capacity-planning",
            "metric-validation",
            "rolling-updates",
            "rollback",
            "configuration-changes",
            "scaling",
        ];
        for kind in FaultKind::ALL {
            let doc = kind.doc();
            assert!(
                !doc.summary.is_empty() && !doc.symptoms.is_empty(),
                "{kind}"
            );
            assert!(!doc.resolved_by.is_empty(), "{kind}");
            assert!(RUNBOOKS.contains(&doc.runbook), "{kind}: {}", doc.runbook);
            for param in doc.params {
                assert!(!param.help.is_empty(), "{kind}.{}", param.name);
            }
        }
    }
}
