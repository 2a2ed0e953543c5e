//! The alert rules: the defaults (runbook index thresholds, the agent's own rules, the drills'
//! rules) and the overrides a scenario may apply to them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::signal::Signal;

/// How urgent a page is. A warning and a critical rule of the same alert name form a pair: the
/// critical one inhibits the warning while it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a reading is compared with the threshold. Both are strict, as PromQL's `>` and `<`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Comparison {
    Above,
    Below,
}

impl Comparison {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Above => value > threshold,
            Comparison::Below => value < threshold,
        }
    }

    /// The PromQL operator.
    pub fn operator(self) -> &'static str {
        match self {
            Comparison::Above => ">",
            Comparison::Below => "<",
        }
    }
}

/// Where a rule comes from, which names its group in the Prometheus export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleGroup {
    /// The warning/critical thresholds table of the runbook index.
    RunbookThresholds,
    /// The alert rules the agent's operations docs ship with.
    AgentRules,
    /// Rules the drills need to page on faults the other two groups do not see.
    DrillRules,
}

impl RuleGroup {
    pub const ALL: [RuleGroup; 3] = [
        RuleGroup::RunbookThresholds,
        RuleGroup::AgentRules,
        RuleGroup::DrillRules,
    ];
}

/// One alert rule: `signal <comparison> threshold` held for `for_` pages `alert` at `severity`.
///
/// `summary` and `description` are templates: `{value}` (the reading), `{threshold}`,
/// `{severity}` and `{for}` are filled in when an alert is raised or exported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub alert: String,
    pub severity: Severity,
    pub signal: Signal,
    pub comparison: Comparison,
    /// In the unit of `signal`.
    pub threshold: f64,
    #[serde(rename = "for", serialize_with = "serialize_duration")]
    pub for_: Duration,
    pub summary: String,
    pub description: String,
    /// A runbook id of the runbook index, e.g. `high-cpu-usage`.
    pub runbook: String,
    pub group: RuleGroup,
}

impl Rule {
    /// Whether a reading of the rule's signal breaches it.
    pub fn holds(&self, value: f64) -> bool {
        self.comparison.holds(value, self.threshold)
    }

    /// `runbooks/<file>.md#<runbook-id>`, relative to the runbook folder's parent. An id outside
    /// the index points at the index itself.
    pub fn runbook_url(&self) -> String {
        crate::runbook::url(&self.runbook)
    }

    /// The summary for a reading of `value`.
    pub fn summary_for(&self, value: f64) -> String {
        self.fill(&self.summary, &format_number(value))
    }

    /// The description for a reading of `value`.
    pub fn description_for(&self, value: f64) -> String {
        self.fill(&self.description, &format_number(value))
    }

    /// `template` with the rule's figures filled in and `{value}` replaced by `value`, which
    /// the export sets to a Prometheus template expression.
    pub(crate) fn fill(&self, template: &str, value: &str) -> String {
        template
            .replace("{value}", value)
            .replace("{threshold}", &format_number(self.threshold))
            .replace("{severity}", self.severity.as_str())
            .replace("{for}", &compact_duration(self.for_))
    }
}

/// A number as a person reads it on a page: at most two decimals, no trailing zeros.
pub(crate) fn format_number(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// A duration the way Prometheus writes one (`1m30s`, `0s`, `500ms`); humantime parses it back.
pub(crate) fn compact_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_string();
    }
    let parts = [
        (millis / 3_600_000, "h"),
        (millis / 60_000 % 60, "m"),
        (millis / 1_000 % 60, "s"),
        (millis % 1_000, "ms"),
    ];
    parts
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, unit)| format!("{count}{unit}"))
        .collect()
}

fn serialize_duration<S: serde::Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&compact_duration(*duration))
}

/// Optional durations written as humantime strings (`30s`, `1m`, `1m30s`).
mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => super::serialize_duration(duration, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| {
                humantime::parse_duration(&text).map_err(|e| {
                    serde::de::Error::custom(format!(
                        "invalid duration '{text}' ({e}); write e.g. 30s, 1m or 1m30s"
                    ))
                })
            })
            .transpose()
    }
}

/// A scenario's change to one default alert. Without `severity` it applies to both severities
/// of a warning/critical pair (except `threshold`, which must name the severity it changes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOverride {
    pub alert: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(
        rename = "for",
        default,
        with = "optional_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub for_: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// Why a list of overrides cannot apply. The scenario loader adds where in the file it was.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("unknown alert '{alert}' in the alert overrides; known alerts: {known}")]
    UnknownAlert { alert: String, known: String },

    #[error(
        "alert {alert} has no {severity} rule (it has: {present}); name one of those or drop \
         `severity:` to change all of them"
    )]
    MissingSeverity {
        alert: String,
        severity: Severity,
        present: String,
    },

    #[error(
        "alert {alert} has a warning and a critical rule: add `severity: warning` or \
         `severity: critical` to say which threshold to change"
    )]
    AmbiguousThreshold { alert: String },

    #[error("alert {alert}: threshold {threshold} is not a finite number")]
    NonFiniteThreshold { alert: String, threshold: f64 },

    #[error(
        "alert {alert}: the warning threshold ({}) must be {side} the critical one ({}), so the \
         warning pages before the critical does",
        format_number(*warning), format_number(*critical)
    )]
    InvertedThresholds {
        alert: String,
        warning: f64,
        critical: f64,
        /// `below` or `above`.
        side: &'static str,
    },
}

/// The rules a monitor evaluates, in evaluation (and event) order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct RuleSet(Vec<Rule>);

/// The summary and description templates of each default alert name.
const TEXTS: [(&str, &str, &str); 18] = [
    (
        "AgentHighCpu",
        "CPU at {value} % of the container's limit ({severity} above {threshold} %)",
        "The agent container has used more than {threshold} % of its CPU limit for at least \
         {for}; requests slow down and time out as CPU runs short.",
    ),
    (
        "AgentHighMemory",
        "Memory at {value} % of the container's limit ({severity} above {threshold} %)",
        "The agent container's memory (as `docker stats` counts it) has stayed above {threshold} % \
         of its limit for at least {for}; at the limit the kernel OOM-kills it.",
    ),
    (
        "AgentSlowResponses",
        "Client p95 response time {value} s ({severity} above {threshold} s)",
        "The p95 latency the agent's clients see over the last minute has stayed above \
         {threshold} s for at least {for}.",
    ),
    (
        "AgentHighErrorRate",
        "{value} % of client requests failing ({severity} above {threshold} %)",
        "More than {threshold} % of the clients' requests over the last minute failed (5xx, 429, \
         timeouts, refused connections) for at least {for}.",
    ),
    (
        "AgentDiskFilling",
        "Data volume at {value} % of its quota ({severity} above {threshold} %)",
        "The agent's data directory has used more than {threshold} % of its storage quota for at \
         least {for}; past the quota, writes fail as on a full disk.",
    ),
    (
        "AgentDown",
        "Agent down: health check not answering or container not running",
        "The agent's health endpoint has not answered in time, or its container has not been \
         running, for at least {for}.",
    ),
    (
        "AgentSecurityScanFailures",
        "{value} security scans failing per minute (answers fail open)",
        "Security scans have been failing for at least {for}. The service fails open: answers \
         still grade Dockerfiles as if their scan had passed.",
    ),
    (
        "AgentErrorsHigh",
        "{value} % of agent requests end in error (above {threshold} %)",
        "More than {threshold} % of the agent's requests over the last minute ended with \
         status=\"error\" for at least {for}.",
    ),
    (
        "AgentSlowOptimization",
        "Agent p95 processing time {value} s (above {threshold} s)",
        "The agent's p95 processing time has stayed above {threshold} s for at least {for}.",
    ),
    (
        "AgentUnhealthy",
        "Agent health status {value} (1 healthy, 2 degraded, 3 unhealthy, 4 critical)",
        "docker_optimizer_health_status has stayed above {threshold} for at least {for}; \
         GET /health names the failing check (scanner, cache, disk, config, tls).",
    ),
    (
        "CertificateExpiringSoon",
        "TLS certificate expires in {value} days (warning below {threshold})",
        "The certificate the agent serves on :8443 expires in fewer than {threshold} days; TLS \
         clients will refuse it once it has.",
    ),
    (
        "CertificateExpired",
        "TLS certificate expired ({value} days left)",
        "The certificate the agent serves on :8443 is past its notAfter time: TLS clients refuse \
         the handshake.",
    ),
    (
        "ScannerDbStale",
        "Vulnerability DB is {value} days old (stale after {threshold} days)",
        "The scanner's vulnerability DB has not been updated for more than {threshold} days: \
         scans succeed but miss the advisories published since.",
    ),
    (
        "AgentImageVulnerable",
        "{value} critical/high vulnerabilities in the agent's own image",
        "The scan of the agent image's SBOM finds critical or high vulnerabilities: the running \
         release ships packages that need patching.",
    ),
    (
        "AgentMetricsStale",
        "/metrics unchanged for over {threshold} s while traffic flows",
        "The agent's /metrics output has not changed for more than {threshold} s although the \
         agent serves traffic: dashboards flatline and rate-based alerts go blind.",
    ),
    (
        "AgentRestarting",
        "Agent container restarted {value} times in 5 minutes",
        "The agent container has restarted more than {threshold} times in the last 5 minutes: a \
         crash loop.",
    ),
    (
        "AgentCpuThrottled",
        "CPU throttled in {value} % of scheduling periods (warning above {threshold} %)",
        "The agent container hit its CPU quota in more than {threshold} % of its scheduling \
         periods for at least {for}: its CPU limit is too low for its work, whatever the CPU % \
         average says.",
    ),
    (
        "AgentOomKilled",
        "Agent container OOM-killed in the last 5 minutes",
        "The kernel's OOM killer ended a process of the agent container in the last 5 minutes: \
         its memory reached the container's limit.",
    ),
];

impl RuleSet {
    /// The default rules: warning/critical pairs share an alert name and differ by severity.
    pub fn defaults() -> RuleSet {
        use Comparison::*;
        use RuleGroup::*;
        use Severity::*;
        use Signal::*;

        /// group, alert, severity, signal, comparison, threshold, for (seconds), runbook.
        type Row = (
            RuleGroup,
            &'static str,
            Severity,
            Signal,
            Comparison,
            f64,
            u64,
            &'static str,
        );

        // `CertificateExpired` is `days_left < 0`: a certificate is valid up to and including
        // its notAfter second (RFC 5280), so it has expired once the time left is negative.
        #[rustfmt::skip]
        const ROWS: [Row; 24] = [
            // group           alert                        severity  signal                  cmp    threshold for(s) runbook
            (RunbookThresholds, "AgentHighCpu",              Warning,  CpuPercent,             Above, 70.0,     30, "high-cpu-usage"),
            (RunbookThresholds, "AgentHighCpu",              Critical, CpuPercent,             Above, 90.0,     30, "high-cpu-usage"),
            (RunbookThresholds, "AgentHighMemory",           Warning,  MemoryPercent,          Above, 80.0,     10, "memory-leaks"),
            (RunbookThresholds, "AgentHighMemory",           Critical, MemoryPercent,          Above, 95.0,      5, "memory-leaks"),
            (RunbookThresholds, "AgentSlowResponses",        Warning,  ResponseTimeP95Seconds, Above, 2.0,      30, "performance-degradation"),
            (RunbookThresholds, "AgentSlowResponses",        Critical, ResponseTimeP95Seconds, Above, 5.0,      30, "performance-degradation"),
            (RunbookThresholds, "AgentHighErrorRate",        Warning,  ErrorRatePercent,       Above, 1.0,      30, "alert-triage"),
            (RunbookThresholds, "AgentHighErrorRate",        Critical, ErrorRatePercent,       Above, 5.0,      30, "alert-triage"),
            (RunbookThresholds, "AgentDiskFilling",          Warning,  DiskPercent,            Above, 80.0,     15, "database-cleanup"),
            (RunbookThresholds, "AgentDiskFilling",          Critical, DiskPercent,            Above, 95.0,     15, "database-cleanup"),
            (AgentRules,        "AgentDown",                 Critical, Up,                     Below, 1.0,      15, "service-unavailable"),
            (AgentRules,        "AgentSecurityScanFailures", Warning,  ScanFailuresPerMinute,  Above, 0.0,      30, "security-scanner-failures"),
            (AgentRules,        "AgentErrorsHigh",           Critical, AgentErrorRatePercent,  Above, 5.0,      60, "alert-triage"),
            (AgentRules,        "AgentSlowOptimization",     Warning,  OptimizationP95Seconds, Above, 5.0,      60, "performance-degradation"),
            (AgentRules,        "AgentUnhealthy",            Warning,  HealthStatus,           Above, 1.0,      30, "service-unavailable"),
            (AgentRules,        "AgentUnhealthy",            Critical, HealthStatus,           Above, 2.0,      30, "service-unavailable"),
            (DrillRules,        "CertificateExpiringSoon",   Warning,  CertificateDaysLeft,    Below, 14.0,      0, "certificate-renewal"),
            (DrillRules,        "CertificateExpired",        Critical, CertificateDaysLeft,    Below, 0.0,       0, "certificate-renewal"),
            (DrillRules,        "ScannerDbStale",            Warning,  ScannerDbAgeDays,       Above, 7.0,       0, "security-patches"),
            (DrillRules,        "AgentImageVulnerable",      Warning,  ImageVulnerabilities,   Above, 0.0,       0, "security-patches"),
            (DrillRules,        "AgentMetricsStale",         Warning,  MetricsAgeSeconds,      Above, 60.0,     30, "metric-validation"),
            (DrillRules,        "AgentRestarting",           Warning,  RestartsLast5m,         Above, 2.0,       0, "service-unavailable"),
            (DrillRules,        "AgentOomKilled",            Critical, OomKilled,              Above, 0.0,       0, "memory-leaks"),
            (DrillRules,        "AgentCpuThrottled",         Warning,  CpuThrottledPercent,    Above, 25.0,     30, "capacity-planning"),
        ];

        RuleSet(
            ROWS.iter()
                .map(
                    |&(
                        group,
                        alert,
                        severity,
                        signal,
                        comparison,
                        threshold,
                        for_secs,
                        runbook,
                    )| {
                        let (_, summary, description) = TEXTS
                            .iter()
                            .find(|(name, _, _)| *name == alert)
                            .expect("every default alert has its texts");
                        Rule {
                            alert: alert.to_string(),
                            severity,
                            signal,
                            comparison,
                            threshold,
                            for_: Duration::from_secs(for_secs),
                            summary: summary.to_string(),
                            description: description.to_string(),
                            runbook: runbook.to_string(),
                            group,
                        }
                    },
                )
                .collect(),
        )
    }

    /// The rules with `overrides` applied in order. Disabled rules are dropped; a warning must
    /// still page before its critical.
    pub fn with_overrides(self, overrides: &[RuleOverride]) -> Result<RuleSet, RuleError> {
        let mut rules = self.0;
        let mut disabled = vec![false; rules.len()];
        for change in overrides {
            let named: Vec<usize> = (0..rules.len())
                .filter(|&i| rules[i].alert == change.alert)
                .collect();
            if named.is_empty() {
                return Err(RuleError::UnknownAlert {
                    alert: change.alert.clone(),
                    known: alert_names(&rules).join(", "),
                });
            }
            let targets: Vec<usize> = match change.severity {
                None => named.clone(),
                Some(severity) => named
                    .iter()
                    .copied()
                    .filter(|&i| rules[i].severity == severity)
                    .collect(),
            };
            if let (Some(severity), true) = (change.severity, targets.is_empty()) {
                return Err(RuleError::MissingSeverity {
                    alert: change.alert.clone(),
                    severity,
                    present: named
                        .iter()
                        .map(|&i| rules[i].severity.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            if let Some(threshold) = change.threshold {
                if !threshold.is_finite() {
                    return Err(RuleError::NonFiniteThreshold {
                        alert: change.alert.clone(),
                        threshold,
                    });
                }
                if targets.len() > 1 {
                    return Err(RuleError::AmbiguousThreshold {
                        alert: change.alert.clone(),
                    });
                }
                rules[targets[0]].threshold = threshold;
            }
            for &i in &targets {
                if let Some(for_) = change.for_ {
                    rules[i].for_ = for_;
                }
                if let Some(off) = change.disabled {
                    disabled[i] = off;
                }
            }
        }
        let rules: Vec<Rule> = rules
            .into_iter()
            .zip(disabled)
            .filter_map(|(rule, off)| (!off).then_some(rule))
            .collect();
        check_pairs(&rules)?;
        Ok(RuleSet(rules))
    }

    pub fn rules(&self) -> &[Rule] {
        &self.0
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Rule> {
        self.0.iter()
    }
}

/// The distinct alert names, in rule order.
fn alert_names(rules: &[Rule]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for rule in rules {
        if !names.contains(&rule.alert.as_str()) {
            names.push(&rule.alert);
        }
    }
    names
}

/// Every warning sits on the quiet side of its critical, so a worsening reading pages the
/// warning first. Equal thresholds are refused too: the warning would never be seen.
fn check_pairs(rules: &[Rule]) -> Result<(), RuleError> {
    for critical in rules.iter().filter(|r| r.severity == Severity::Critical) {
        let warning = rules
            .iter()
            .find(|r| r.alert == critical.alert && r.severity == Severity::Warning);
        let Some(warning) = warning else { continue };
        let (in_order, side) = match critical.comparison {
            Comparison::Above => (warning.threshold < critical.threshold, "below"),
            Comparison::Below => (warning.threshold > critical.threshold, "above"),
        };
        if !in_order {
            return Err(RuleError::InvertedThresholds {
                alert: critical.alert.clone(),
                warning: warning.threshold,
                critical: critical.threshold,
                side,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule<'a>(rules: &'a RuleSet, alert: &str, severity: Severity) -> &'a Rule {
        rules
            .iter()
            .find(|r| r.alert == alert && r.severity == severity)
            .unwrap_or_else(|| panic!("no {severity} rule {alert}"))
    }

    fn threshold(alert: &str, severity: Option<Severity>, value: f64) -> RuleOverride {
        RuleOverride {
            alert: alert.to_string(),
            severity,
            threshold: Some(value),
            ..RuleOverride::default()
        }
    }

    #[test]
    fn defaults_hold_the_runbook_table_and_pass_their_own_checks() {
        let rules = RuleSet::defaults();
        assert_eq!(rules.rules().len(), 24);
        let cpu = rule(&rules, "AgentHighCpu", Severity::Critical);
        assert_eq!(
            (cpu.signal, cpu.comparison, cpu.threshold, cpu.for_),
            (
                Signal::CpuPercent,
                Comparison::Above,
                90.0,
                Duration::from_secs(30)
            )
        );
        assert_eq!(
            rule(&rules, "AgentHighMemory", Severity::Critical).for_,
            Duration::from_secs(5)
        );
        let mut keys: Vec<(&str, &str)> = rules
            .iter()
            .map(|r| (r.alert.as_str(), r.severity.as_str()))
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 24, "an alert/severity pair appears twice");
        assert_eq!(alert_names(rules.rules()).len(), TEXTS.len());
        check_pairs(rules.rules()).unwrap();
    }

    #[test]
    fn every_default_links_a_runbook_of_the_index_and_fills_every_placeholder() {
        for rule in RuleSet::defaults().iter() {
            let url = rule.runbook_url();
            assert!(
                !url.starts_with("runbooks/index.md"),
                "{}: {url}",
                rule.alert
            );
            for text in [rule.summary_for(1.5), rule.description_for(1.5)] {
                assert!(!text.contains(['{', '}']), "{}: {text}", rule.alert);
            }
        }
        let rules = RuleSet::defaults();
        assert_eq!(
            rule(&rules, "AgentDiskFilling", Severity::Warning).runbook_url(),
            "runbooks/maintenance.md#database-cleanup"
        );
        assert_eq!(
            rule(&rules, "AgentHighCpu", Severity::Critical).summary_for(97.0),
            "CPU at 97 % of the container's limit (critical above 90 %)"
        );
    }

    #[test]
    fn comparisons_are_strict() {
        assert!(Comparison::Above.holds(90.01, 90.0));
        assert!(!Comparison::Above.holds(90.0, 90.0));
        assert!(Comparison::Below.holds(-0.01, 0.0));
        assert!(!Comparison::Below.holds(0.0, 0.0));
        assert!(!Comparison::Above.holds(f64::NAN, 0.0));
    }

    #[test]
    fn numbers_and_durations_print_compactly() {
        assert_eq!(format_number(97.0), "97");
        assert_eq!(format_number(2.456), "2.46");
        assert_eq!(format_number(-1.5), "-1.5");
        assert_eq!(format_number(-0.001), "0");
        for (secs, text) in [
            (0, "0s"),
            (30, "30s"),
            (60, "1m"),
            (90, "1m30s"),
            (3_900, "1h5m"),
        ] {
            let duration = Duration::from_secs(secs);
            assert_eq!(compact_duration(duration), text);
            assert_eq!(humantime::parse_duration(text).unwrap(), duration);
        }
        assert_eq!(compact_duration(Duration::from_millis(1_500)), "1s500ms");
        assert_eq!(compact_duration(Duration::from_secs(90_000)), "25h");
    }

    #[test]
    fn overrides_change_threshold_and_for() {
        let rules = RuleSet::defaults()
            .with_overrides(&[
                threshold("AgentHighCpu", Some(Severity::Warning), 50.0),
                RuleOverride {
                    alert: "AgentHighCpu".to_string(),
                    for_: Some(Duration::from_secs(5)),
                    ..RuleOverride::default()
                },
            ])
            .unwrap();
        let warning = rule(&rules, "AgentHighCpu", Severity::Warning);
        let critical = rule(&rules, "AgentHighCpu", Severity::Critical);
        assert_eq!((warning.threshold, critical.threshold), (50.0, 90.0));
        assert_eq!(warning.for_, Duration::from_secs(5));
        assert_eq!(critical.for_, Duration::from_secs(5));
        assert_eq!(
            rule(&rules, "AgentHighMemory", Severity::Warning).for_,
            Duration::from_secs(10)
        );
    }

    #[test]
    fn a_disabled_alert_is_dropped_and_single_rules_take_a_threshold_without_severity() {
        let rules = RuleSet::defaults()
            .with_overrides(&[
                RuleOverride {
                    alert: "AgentRestarting".to_string(),
                    disabled: Some(true),
                    ..RuleOverride::default()
                },
                threshold("ScannerDbStale", None, 30.0),
            ])
            .unwrap();
        assert_eq!(rules.rules().len(), 23);
        assert!(rules.iter().all(|r| r.alert != "AgentRestarting"));
        assert_eq!(
            rule(&rules, "ScannerDbStale", Severity::Warning).threshold,
            30.0
        );
    }

    #[test]
    fn an_unknown_alert_is_named_with_the_known_ones() {
        let err = RuleSet::defaults()
            .with_overrides(&[threshold("AgentHighCPU", None, 50.0)])
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(
                "unknown alert 'AgentHighCPU' in the alert overrides; known alerts: AgentHighCpu, \
                 AgentHighMemory, "
            ),
            "{message}"
        );
        assert!(message.ends_with("AgentCpuThrottled"), "{message}");
    }

    #[test]
    fn inverted_warning_and_critical_thresholds_are_refused() {
        let err = RuleSet::defaults()
            .with_overrides(&[threshold("AgentHighCpu", Some(Severity::Warning), 95.0)])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "alert AgentHighCpu: the warning threshold (95) must be below the critical one (90), \
             so the warning pages before the critical does"
        );
        let err = RuleSet::defaults()
            .with_overrides(&[threshold("AgentUnhealthy", Some(Severity::Critical), 1.0)])
            .unwrap_err();
        assert!(matches!(err, RuleError::InvertedThresholds { .. }), "{err}");
        // Moving both keeps the order, whichever comes first in the list.
        RuleSet::defaults()
            .with_overrides(&[
                threshold("AgentHighCpu", Some(Severity::Warning), 95.0),
                threshold("AgentHighCpu", Some(Severity::Critical), 99.0),
            ])
            .unwrap();
    }

    #[test]
    fn a_threshold_must_say_which_severity_and_that_severity_must_exist() {
        let err = RuleSet::defaults()
            .with_overrides(&[threshold("AgentHighCpu", None, 80.0)])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "alert AgentHighCpu has a warning and a critical rule: add `severity: warning` or \
             `severity: critical` to say which threshold to change"
        );
        let err = RuleSet::defaults()
            .with_overrides(&[threshold("AgentDown", Some(Severity::Warning), 1.0)])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "alert AgentDown has no warning rule (it has: critical); name one of those or drop \
             `severity:` to change all of them"
        );
        let err = RuleSet::defaults()
            .with_overrides(&[threshold("AgentDown", None, f64::NAN)])
            .unwrap_err();
        assert!(matches!(err, RuleError::NonFiniteThreshold { .. }), "{err}");
    }

    #[test]
    fn overrides_read_from_scenario_yaml_and_refuse_unknown_fields() {
        let overrides: Vec<RuleOverride> = serde_yaml::from_str(
            "- alert: AgentHighCpu\n  severity: critical\n  threshold: 85\n  for: 1m30s\n\
             - alert: AgentRestarting\n  disabled: true\n",
        )
        .unwrap();
        assert_eq!(
            overrides[0],
            RuleOverride {
                alert: "AgentHighCpu".to_string(),
                severity: Some(Severity::Critical),
                threshold: Some(85.0),
                for_: Some(Duration::from_secs(90)),
                disabled: None,
            }
        );
        assert_eq!(overrides[1].disabled, Some(true));
        assert_eq!(
            serde_yaml::to_string(&overrides[0]).unwrap(),
            "alert: AgentHighCpu\nseverity: critical\nthreshold: 85.0\nfor: 1m30s\n"
        );

        let err =
            serde_yaml::from_str::<Vec<RuleOverride>>("- alert: AgentHighCpu\n  treshold: 5\n")
                .unwrap_err();
        assert!(
            err.to_string().contains("unknown field `treshold`"),
            "{err}"
        );
        let err = serde_yaml::from_str::<Vec<RuleOverride>>("- alert: AgentHighCpu\n  for: soon\n")
            .unwrap_err();
        assert!(err.to_string().contains("invalid duration 'soon'"), "{err}");
    }
}
