//! A rule set as a Prometheus alerting-rule file, so a team can page on the real agent with the
//! same rules its drills are scored against.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::rules::{compact_duration, Comparison, Rule, RuleGroup, RuleSet};
use super::signal::Signal;

/// What the rule expressions assume of the Prometheus that loads them.
const HEADER: &str = "\
# Prometheus alerting rules: firedrill's alert rules (`firedrill rules export`).
# Scrape jobs assumed: the agent's /metrics as job \"docker-optimizer\"; the synthetic traffic's
# /metrics (firedrill_traffic_*, the clients' view of latency and errors); cAdvisor for container
# CPU, memory, restarts and OOM kills, selecting the agent by its Docker label
# io.firedrill.role=agent (cAdvisor's container_label_io_firedrill_role).
";

/// cAdvisor exports Docker labels as `container_label_*`: the role label firedrill puts on the
/// agent's container picks it out of every other container of the host.
const AGENT_CONTAINER: &str = r#"container_label_io_firedrill_role="agent""#;

/// What Prometheus' template engine prints for the alert's value.
const PROMETHEUS_VALUE: &str = "{{ $value | humanize }}";

#[derive(Serialize)]
struct RuleFile {
    groups: Vec<PrometheusGroup>,
}

#[derive(Serialize)]
struct PrometheusGroup {
    name: &'static str,
    rules: Vec<PrometheusRule>,
}

#[derive(Serialize)]
struct PrometheusRule {
    alert: String,
    expr: String,
    #[serde(rename = "for")]
    for_: String,
    labels: BTreeMap<&'static str, String>,
    annotations: BTreeMap<&'static str, String>,
}

/// The rule file (YAML), one group per [`RuleGroup`] that has rules, rules in set order.
pub fn prometheus_rule_file(rules: &RuleSet) -> String {
    let groups = RuleGroup::ALL
        .into_iter()
        .map(|group| PrometheusGroup {
            name: group_name(group),
            rules: rules
                .iter()
                .filter(|rule| rule.group == group)
                .map(prometheus_rule)
                .collect(),
        })
        .filter(|group| !group.rules.is_empty())
        .collect();
    let yaml = serde_yaml::to_string(&RuleFile { groups }).expect("a rule file serialises");
    format!("{HEADER}{yaml}")
}

fn group_name(group: RuleGroup) -> &'static str {
    match group {
        RuleGroup::RunbookThresholds => "docker-optimizer-runbook-thresholds",
        RuleGroup::AgentRules => "docker-optimizer-agent",
        RuleGroup::DrillRules => "firedrill-drills",
    }
}

fn prometheus_rule(rule: &Rule) -> PrometheusRule {
    PrometheusRule {
        alert: rule.alert.clone(),
        expr: condition(rule),
        for_: compact_duration(rule.for_),
        labels: BTreeMap::from([
            ("severity", rule.severity.to_string()),
            ("runbook", rule.runbook.clone()),
        ]),
        annotations: BTreeMap::from([
            ("summary", rule.fill(&rule.summary, PROMETHEUS_VALUE)),
            (
                "description",
                rule.fill(&rule.description, PROMETHEUS_VALUE),
            ),
            ("runbook_url", rule.runbook_url()),
        ]),
    }
}

/// The PromQL condition of `rule`: the expression of its signal, compared with its threshold.
/// Windows follow the signals' definitions (last minute, last 5 minutes).
fn condition(rule: &Rule) -> String {
    let compare = |expression: String| {
        format!(
            "{expression} {} {}",
            rule.comparison.operator(),
            rule.threshold
        )
    };
    match rule.signal {
        // The sandbox always runs with CPU and memory limits, so the quota and limit are set.
        Signal::CpuPercent => compare(format!(
            "100 * sum by (name) (rate(container_cpu_usage_seconds_total{{{AGENT_CONTAINER}}}[1m])) \
             / sum by (name) (container_spec_cpu_quota{{{AGENT_CONTAINER}}} \
             / container_spec_cpu_period{{{AGENT_CONTAINER}}})"
        )),
        // The working set is usage minus inactive file cache: the figure `docker stats` shows.
        Signal::MemoryPercent => compare(format!(
            "100 * sum by (name) (container_memory_working_set_bytes{{{AGENT_CONTAINER}}}) \
             / sum by (name) (container_spec_memory_limit_bytes{{{AGENT_CONTAINER}}})"
        )),
        Signal::CpuThrottledPercent => compare(format!(
            "100 * sum by (name) (rate(container_cpu_cfs_throttled_periods_total{{{AGENT_CONTAINER}}}[1m])) \
             / sum by (name) (rate(container_cpu_cfs_periods_total{{{AGENT_CONTAINER}}}[1m]))"
        )),
        // Client-side signals come from the traffic generator's own metrics, as the monitor's
        // samplers take them from its window.
        Signal::ResponseTimeP95Seconds => compare(
            "histogram_quantile(0.95, sum by (le) \
             (rate(firedrill_traffic_request_duration_seconds_bucket[1m])))"
                .to_string(),
        ),
        // The outcomes a user counts as failed: everything but success and the client's own 4xx.
        Signal::ErrorRatePercent => compare(
            "100 * sum(rate(firedrill_traffic_requests_total{outcome!~\"success|client_error\"}[1m])) \
             / sum(rate(firedrill_traffic_requests_total[1m]))"
                .to_string(),
        ),
        Signal::DiskPercent => compare(
            "100 * docker_optimizer_disk_usage_bytes / docker_optimizer_disk_quota_bytes"
                .to_string(),
        ),
        // Prometheus cannot probe /health; a failed /metrics scrape is its view of the same.
        Signal::Up => compare(r#"up{job="docker-optimizer"}"#.to_string()),
        Signal::HealthStatus => compare("docker_optimizer_health_status".to_string()),
        Signal::ScanFailuresPerMinute => compare(
            "60 * sum(rate(docker_optimizer_security_scan_failures_total[1m]))".to_string(),
        ),
        Signal::AgentErrorRatePercent => compare(
            "100 * sum(rate(docker_optimizer_requests_total{status=\"error\"}[1m])) \
             / sum(rate(docker_optimizer_requests_total[1m]))"
                .to_string(),
        ),
        Signal::OptimizationP95Seconds => compare(
            "histogram_quantile(0.95, sum by (le) \
             (rate(docker_optimizer_processing_duration_seconds_bucket[1m])))"
                .to_string(),
        ),
        // The agent exports 0 when TLS is off: that is no certificate, not one expired in 1970.
        Signal::CertificateDaysLeft => compare(
            "((docker_optimizer_certificate_expiry_timestamp_seconds > 0) - time()) / 86400"
                .to_string(),
        ),
        // 0 until the agent has read its DB: no reading yet, not a DB from 1970.
        Signal::ScannerDbAgeDays => compare(
            "(time() - (docker_optimizer_scanner_db_updated_timestamp_seconds > 0)) / 86400"
                .to_string(),
        ),
        Signal::ImageVulnerabilities => compare(
            "sum(docker_optimizer_image_vulnerabilities{severity=~\"critical|high\"})".to_string(),
        ),
        // PromQL cannot say when a series last changed, only whether it changed within a range,
        // so "age > N s" becomes "no change in the last N s". The uptime gauge moves on every
        // fresh render whether or not requests arrive, so it needs no traffic condition.
        Signal::MetricsAgeSeconds => {
            let seconds = rule.threshold.max(1.0);
            let range = compact_duration(
                Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX),
            );
            let changes = format!("changes(docker_optimizer_uptime_seconds[{range}])");
            match rule.comparison {
                Comparison::Above => format!("{changes} == 0"),
                Comparison::Below => format!("{changes} > 0"),
            }
        }
        Signal::RestartsLast5m => compare(format!(
            "changes(container_start_time_seconds{{{AGENT_CONTAINER}}}[5m])"
        )),
        Signal::OomKilled => compare(format!(
            "clamp_max(increase(container_oom_events_total{{{AGENT_CONTAINER}}}[5m]), 1)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::monitor::rules::RuleOverride;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ParsedFile {
        groups: Vec<ParsedGroup>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ParsedGroup {
        name: String,
        rules: Vec<ParsedRule>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ParsedRule {
        alert: String,
        expr: String,
        #[serde(rename = "for")]
        for_: String,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
    }

    fn parse(text: &str) -> ParsedFile {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn the_default_file_parses_back_into_three_groups_of_every_rule() {
        let file = parse(&prometheus_rule_file(&RuleSet::defaults()));
        let shape: Vec<(&str, usize)> = file
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.rules.len()))
            .collect();
        assert_eq!(
            shape,
            [
                ("docker-optimizer-runbook-thresholds", 10),
                ("docker-optimizer-agent", 6),
                ("firedrill-drills", 8),
            ]
        );
        for rule in file.groups.iter().flat_map(|g| &g.rules) {
            assert!(!rule.expr.is_empty(), "{}", rule.alert);
            assert!(
                humantime::parse_duration(&rule.for_).is_ok(),
                "{}",
                rule.for_
            );
            assert!(rule.labels.contains_key("severity"), "{}", rule.alert);
            assert!(
                rule.annotations["runbook_url"].starts_with("runbooks/"),
                "{}",
                rule.alert
            );
        }
        let errors = &file.groups[1].rules[2];
        assert_eq!(errors.alert, "AgentErrorsHigh");
        assert_eq!(errors.for_, "1m");
        assert!(errors.expr.ends_with(" > 5"), "{}", errors.expr);
    }

    #[test]
    fn overrides_show_in_the_file_and_empty_groups_are_left_out() {
        let mut overrides: Vec<RuleOverride> = RuleSet::defaults()
            .iter()
            .filter(|rule| rule.group != RuleGroup::RunbookThresholds)
            .map(|rule| RuleOverride {
                alert: rule.alert.clone(),
                disabled: Some(true),
                ..RuleOverride::default()
            })
            .collect();
        overrides.push(RuleOverride {
            alert: "AgentHighCpu".to_string(),
            severity: Some(crate::monitor::rules::Severity::Warning),
            threshold: Some(65.5),
            for_: Some(Duration::from_secs(90)),
            disabled: None,
        });
        let rules = RuleSet::defaults().with_overrides(&overrides).unwrap();
        let file = parse(&prometheus_rule_file(&rules));
        assert_eq!(file.groups.len(), 1);
        let cpu = &file.groups[0].rules[0];
        assert!(cpu.expr.ends_with(" > 65.5"), "{}", cpu.expr);
        assert_eq!(cpu.for_, "1m30s");
        assert_eq!(
            cpu.annotations["summary"],
            "CPU at {{ $value | humanize }} % of the container's limit (warning above 65.5 %)"
        );
    }

    #[test]
    fn the_default_rule_file() {
        insta::assert_snapshot!(prometheus_rule_file(&RuleSet::defaults()));
    }
}
