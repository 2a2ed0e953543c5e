//! Scan results: the trivy JSON the CLI prints and the agent parses, and the report the
//! agent works with.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    /// Anything else trivy may print; not counted.
    #[serde(other)]
    Unknown,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Unknown => "UNKNOWN",
        }
    }
}

/// One vulnerability, in trivy's JSON field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vulnerability {
    #[serde(rename = "VulnerabilityID")]
    pub id: String,
    #[serde(rename = "PkgName")]
    pub package: String,
    #[serde(rename = "InstalledVersion", default)]
    pub installed_version: String,
    #[serde(
        rename = "FixedVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub fixed_version: Option<String>,
    #[serde(rename = "Severity")]
    pub severity: Severity,
    #[serde(rename = "Title", default)]
    pub title: String,
}

/// Vulnerabilities per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeverityCounts {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
}

/// What one scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    pub vulnerabilities: Vec<Vulnerability>,
}

impl ScanReport {
    pub fn counts(&self) -> SeverityCounts {
        let mut counts = SeverityCounts::default();
        for vulnerability in &self.vulnerabilities {
            match vulnerability.severity {
                Severity::Critical => counts.critical += 1,
                Severity::High => counts.high += 1,
                Severity::Medium => counts.medium += 1,
                Severity::Low => counts.low += 1,
                Severity::Unknown => {}
            }
        }
        counts
    }

    /// Reads `trivy config --format json` output.
    pub fn from_trivy_json(stdout: &str) -> Result<ScanReport, serde_json::Error> {
        let output: TrivyOutput = serde_json::from_str(stdout)?;
        Ok(ScanReport {
            vulnerabilities: output
                .results
                .unwrap_or_default()
                .into_iter()
                .flat_map(|result| result.vulnerabilities.unwrap_or_default())
                .collect(),
        })
    }
}

/// The document `trivy config --format json` prints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TrivyOutput {
    #[serde(rename = "SchemaVersion", default)]
    pub schema_version: u32,
    #[serde(rename = "ArtifactName", default)]
    pub artifact_name: String,
    #[serde(rename = "ArtifactType", default)]
    pub artifact_type: String,
    /// Trivy prints `null` rather than `[]` when there is nothing to report.
    #[serde(rename = "Results")]
    pub results: Option<Vec<TrivyResult>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TrivyResult {
    #[serde(rename = "Target")]
    pub target: String,
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(rename = "Vulnerabilities", default)]
    pub vulnerabilities: Option<Vec<Vulnerability>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_trivy_output_including_nulls_and_unknown_severities() {
        let report = ScanReport::from_trivy_json(
            r#"{"SchemaVersion":2,"Results":[{"Target":"Dockerfile","Vulnerabilities":[
                {"VulnerabilityID":"CVE-2021-3177","PkgName":"python","InstalledVersion":"3.8","FixedVersion":"3.9","Severity":"CRITICAL","Title":"t"},
                {"VulnerabilityID":"CVE-0","PkgName":"x","Severity":"NEGLIGIBLE"}]},
                {"Target":"other","Vulnerabilities":null}]}"#,
        )
        .unwrap();
        assert_eq!(report.vulnerabilities.len(), 2);
        assert_eq!(report.vulnerabilities[1].severity, Severity::Unknown);
        assert_eq!(
            report.counts(),
            SeverityCounts {
                critical: 1,
                high: 0,
                medium: 0,
                low: 0
            }
        );
        assert!(ScanReport::from_trivy_json(r#"{"Results":null}"#)
            .unwrap()
            .vulnerabilities
            .is_empty());
        assert!(ScanReport::from_trivy_json("Segmentation fault").is_err());
        assert!(ScanReport::from_trivy_json(r#"{"Results":[{"Target":1}]}"#).is_err());
    }
}
