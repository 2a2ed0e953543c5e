//! The team's runbook index: 16 procedures in four files, each procedure's id an anchor. Every
//! scenario names one; every alert links one. [`folder`] reads the procedure texts.

pub mod folder;

pub use folder::{RunbookFolder, RunbookProblem};

/// `(file, ids)` of the index, in its order.
pub const RUNBOOK_FILES: [(&str, [&str; 4]); 4] = [
    (
        "incident-response.md",
        [
            "high-cpu-usage",
            "memory-leaks",
            "security-scanner-failures",
            "service-unavailable",
        ],
    ),
    (
        "maintenance.md",
        [
            "dependency-updates",
            "security-patches",
            "database-cleanup",
            "certificate-renewal",
        ],
    ),
    (
        "monitoring.md",
        [
            "alert-triage",
            "performance-degradation",
            "capacity-planning",
            "metric-validation",
        ],
    ),
    (
        "deployment.md",
        [
            "rolling-updates",
            "rollback",
            "configuration-changes",
            "scaling",
        ],
    ),
];

/// Every runbook id, in the index's order.
pub fn ids() -> impl Iterator<Item = &'static str> {
    RUNBOOK_FILES
        .iter()
        .flat_map(|(_, ids)| ids.iter().copied())
}

/// The file of the index that holds runbook `id`.
pub fn file_of(id: &str) -> Option<&'static str> {
    RUNBOOK_FILES
        .iter()
        .find(|(_, ids)| ids.contains(&id))
        .map(|(file, _)| *file)
}

/// `runbooks/<file>#<id>`, or `runbooks/index.md#<id>` for an id outside the index.
pub fn url(id: &str) -> String {
    format!("runbooks/{}#{id}", file_of(id).unwrap_or("index.md"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_ids_each_in_one_file() {
        assert_eq!(ids().count(), 16);
        assert_eq!(file_of("rollback"), Some("deployment.md"));
        assert_eq!(file_of("no-such"), None);
        assert_eq!(
            url("memory-leaks"),
            "runbooks/incident-response.md#memory-leaks"
        );
    }
}
