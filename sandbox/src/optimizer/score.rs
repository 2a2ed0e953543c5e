//! The security score of a scan: 100 minus a penalty per vulnerability, graded A to F.
//!
//! When the scan failed there is nothing to count and the summary says scanner "failed" with
//! a perfect score: the agent fails open, as the real one does, so a broken scanner makes
//! every Dockerfile look clean. Only the scan-failure metric and the logs tell.

use serde::Serialize;

use crate::scanner::ScanReport;

const PENALTY_CRITICAL: u32 = 25;
const PENALTY_HIGH: u32 = 10;
const PENALTY_MEDIUM: u32 = 5;
const PENALTY_LOW: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub score: u32,
    pub grade: String,
    /// "ok" when the scan ran, "failed" when it did not (the counts are then all zero).
    pub scanner: String,
}

/// Summarizes a scan; `None` means the scan failed.
pub fn summarize(report: Option<&ScanReport>) -> ScanSummary {
    let Some(report) = report else {
        return ScanSummary {
            critical: 0,
            high: 0,
            medium: 0,
            low: 0,
            score: 100,
            grade: grade(100).to_string(),
            scanner: "failed".to_string(),
        };
    };
    let counts = report.counts();
    let penalty = counts
        .critical
        .saturating_mul(PENALTY_CRITICAL)
        .saturating_add(counts.high.saturating_mul(PENALTY_HIGH))
        .saturating_add(counts.medium.saturating_mul(PENALTY_MEDIUM))
        .saturating_add(counts.low.saturating_mul(PENALTY_LOW));
    let score = 100u32.saturating_sub(penalty);
    ScanSummary {
        critical: counts.critical,
        high: counts.high,
        medium: counts.medium,
        low: counts.low,
        score,
        grade: grade(score).to_string(),
        scanner: "ok".to_string(),
    }
}

/// A >= 90, B >= 80, C >= 70, D >= 60, else F.
pub fn grade(score: u32) -> &'static str {
    match score {
        90.. => "A",
        80..=89 => "B",
        70..=79 => "C",
        60..=69 => "D",
        _ => "F",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::{Severity, Vulnerability};

    fn report(severities: &[Severity]) -> ScanReport {
        ScanReport {
            vulnerabilities: severities
                .iter()
                .enumerate()
                .map(|(i, severity)| Vulnerability {
                    id: format!("CVE-2024-{i:04}"),
                    package: "pkg".into(),
                    installed_version: "1".into(),
                    fixed_version: None,
                    severity: *severity,
                    title: "t".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn penalties_add_up() {
        use Severity::*;
        let summary = summarize(Some(&report(&[Critical, High, Medium, Low, Low, Unknown])));
        assert_eq!(
            (summary.critical, summary.high, summary.medium, summary.low),
            (1, 1, 1, 2)
        );
        assert_eq!(summary.score, 100 - 25 - 10 - 5 - 2);
        assert_eq!(summary.grade, "F");
        assert_eq!(summary.scanner, "ok");
        assert_eq!(summarize(Some(&report(&[Critical; 5]))).score, 0);
        assert_eq!(summarize(Some(&report(&[]))).grade, "A");
    }

    #[test]
    fn grade_boundaries() {
        let grades: Vec<_> = [100, 90, 89, 80, 79, 70, 69, 60, 59, 0]
            .iter()
            .map(|s| grade(*s))
            .collect();
        assert_eq!(
            grades,
            vec!["A", "A", "B", "B", "C", "C", "D", "D", "F", "F"]
        );
    }

    #[test]
    fn a_failed_scan_fails_open() {
        let summary = summarize(None);
        assert_eq!(
            (
                summary.score,
                summary.grade.as_str(),
                summary.scanner.as_str()
            ),
            (100, "A", "failed")
        );
    }
}
