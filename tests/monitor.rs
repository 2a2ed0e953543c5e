//! The monitor against real sandboxes: every fault kind pages with its expected alert within a
//! stated bound and the page resolves once the fault is reverted; a healthy sandbox under
//! normal traffic pages nothing for two minutes; the webhook speaks Alertmanager's version-4
//! payload; the exported rules are a valid Prometheus rule file.

mod common;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// `firedrill watch --json` on one sandbox, its events read as they come.
struct AlertWatch {
    child: Child,
    /// `watch --json` prints one JSON event a line.
    lines: mpsc::Receiver<String>,
    /// `(alert, severity)` of every alert firing, as the events told so far.
    firing: RefCell<BTreeSet<(String, String)>>,
}

impl AlertWatch {
    fn start(sandbox: &TestSandbox, extra: &[&str]) -> AlertWatch {
        let mut args = vec!["watch", "--sandbox", &sandbox.name, "--json"];
        args.extend_from_slice(extra);
        let (child, lines) = spawn_firedrill(&args);
        AlertWatch {
            child,
            lines,
            firing: RefCell::default(),
        }
    }

    /// The next event within `within`, noting what fires and what resolves.
    fn next(&self, within: Duration) -> Option<Value> {
        let line = self.lines.recv_timeout(within).ok()?;
        let event: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("watch --json printed a non-JSON line {line:?}: {e}"));
        let key = (
            event["alert"].as_str().unwrap_or_default().to_string(),
            event["severity"].as_str().unwrap_or_default().to_string(),
        );
        if event["event"] == "firing" {
            self.firing.borrow_mut().insert(key);
        } else {
            self.firing.borrow_mut().remove(&key);
        }
        Some(event)
    }

    fn is_firing(&self, alert: &str, severity: &str) -> bool {
        self.firing
            .borrow()
            .contains(&(alert.to_string(), severity.to_string()))
    }

    /// Waits for a `firing`/`resolved` event of `alert` (at `severity`, when given); how long it
    /// took, or `None` past `within`. Other events are skipped.
    fn wait_for(
        &self,
        event: &str,
        alert: &str,
        severity: Option<&str>,
        within: Duration,
    ) -> Option<Duration> {
        let started = Instant::now();
        loop {
            let left = within.checked_sub(started.elapsed())?;
            let next = self.next(left)?;
            if next["event"] == event
                && next["alert"] == alert
                && severity.is_none_or(|s| next["severity"] == s)
            {
                return Some(started.elapsed());
            }
        }
    }

    /// Every event that arrives within `within`.
    fn drain(&self, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.next(left) {
                Some(event) => seen.push(event),
                None => break,
            }
        }
        seen
    }
}

impl Drop for AlertWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fault, the alert it must raise and the bound on the time from inject to the page.
struct Case {
    kind: &'static str,
    sets: &'static [&'static str],
    alert: &'static str,
    severity: &'static str,
    bound: Duration,
    /// What undoes the fault's lasting effects besides revert (memory the process kept).
    restart_after_revert: bool,
}

const fn case(
    kind: &'static str,
    sets: &'static [&'static str],
    alert: &'static str,
    severity: &'static str,
    bound_seconds: u64,
) -> Case {
    Case {
        kind,
        sets,
        alert,
        severity,
        bound: Duration::from_secs(bound_seconds),
        restart_after_revert: false,
    }
}

/// How long a page may take to resolve after revert: the traffic's 30 s window and the 1 min
/// rate window must pass, on a loaded machine.
const RESOLVE_BOUND: Duration = Duration::from_secs(150);

/// Runs each group in a thread of its own; one outcome per group, in order.
fn run_groups_side_by_side(groups: &[(&str, Vec<Case>)]) -> Vec<(Vec<String>, Vec<String>)> {
    std::thread::scope(|scope| {
        let running: Vec<_> = groups
            .iter()
            .map(|(prefix, cases)| scope.spawn(move || run_cases(prefix, cases)))
            .collect();
        // A group that panics (a sandbox that would not start) is one failure among the rest.
        running
            .into_iter()
            .zip(groups)
            .map(|(handle, (prefix, _))| {
                handle.join().unwrap_or_else(|_| {
                    (
                        Vec::new(),
                        vec![format!("group {prefix} panicked (see above)")],
                    )
                })
            })
            .collect()
    })
}

/// Injects each case in turn into one sandbox; returns one report line per case and the
/// failures.
fn run_cases(prefix: &str, cases: &[Case]) -> (Vec<String>, Vec<String>) {
    let sandbox = TestSandbox::up(prefix);
    let watch = AlertWatch::start(&sandbox, &[]);
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for case in cases {
        // Take in what the last case left, then: a page still firing from an earlier case (a
        // crash loop's error rate, a surge's throttling) cannot be timed.
        watch.drain(Duration::from_secs(2));
        if watch.is_firing(case.alert, case.severity)
            && watch
                .wait_for("resolved", case.alert, Some(case.severity), RESOLVE_BOUND)
                .is_none()
        {
            failures.push(format!(
                "{}: {} {} still firing from an earlier case",
                case.kind, case.severity, case.alert
            ));
            continue;
        }
        let started = Instant::now();
        let id = sandbox.inject(case.kind, case.sets);
        let fired = watch.wait_for(
            "firing",
            case.alert,
            Some(case.severity),
            case.bound.saturating_sub(started.elapsed()),
        );
        let fired_after = fired.map(|_| started.elapsed());
        sandbox.revert(&id);
        if case.restart_after_revert {
            sandbox.restart_agent();
        }
        let resolved = watch.wait_for("resolved", case.alert, Some(case.severity), RESOLVE_BOUND);
        report.push(format!(
            "{:<22} {:<26} {:<8} fired after {:>6} (bound {:>4}s), resolved {:>6} after revert",
            case.kind,
            case.alert,
            case.severity,
            fired_after.map_or("never".to_string(), |d| format!("{:.1}s", d.as_secs_f64())),
            case.bound.as_secs(),
            resolved.map_or("never".to_string(), |d| format!("{:.1}s", d.as_secs_f64())),
        ));
        if fired.is_none() {
            failures.push(format!(
                "{}: no {} {} page within {:?}",
                case.kind, case.severity, case.alert, case.bound
            ));
        } else if resolved.is_none() {
            failures.push(format!(
                "{}: {} did not resolve within {RESOLVE_BOUND:?} of revert",
                case.kind, case.alert
            ));
        }
    }
    (report, failures)
}

#[test]
fn every_fault_kind_pages_within_its_bound_and_resolves_after_revert() {
    require_docker!();
    let groups: Vec<(&str, Vec<Case>)> = vec![
        (
            "pages-cpu",
            vec![
                // First: the CPU faults after it leave throttling behind for the window's 30 s.
                case("resource-squeeze", &[], "AgentCpuThrottled", "warning", 75),
                // CPU pages wait 30 s of CPU above 90 %: the healthy-traffic test's sandbox shares
                // the two cores, so the bounds leave room for dips.
                case("cpu-runaway", &[], "AgentHighCpu", "critical", 90),
                case("cpu-burn", &[], "AgentHighCpu", "critical", 90),
                // The surge's rate is calibrated at inject; on a busy host the calibration reads
                // low, so ask for more demand than the default 1.5.
                case(
                    "traffic-surge",
                    &["demand=2.5"],
                    "AgentHighCpu",
                    "critical",
                    120,
                ),
            ],
        ),
        (
            "pages-scanner",
            vec![
                case(
                    "scanner-missing",
                    &[],
                    "AgentSecurityScanFailures",
                    "warning",
                    75,
                ),
                case(
                    "scanner-db-corrupt",
                    &[],
                    "AgentSecurityScanFailures",
                    "warning",
                    75,
                ),
                case(
                    "scanner-hang",
                    &[],
                    "AgentSecurityScanFailures",
                    "warning",
                    90,
                ),
                case("scanner-db-stale", &[], "ScannerDbStale", "warning", 20),
                case(
                    "vulnerable-dependency",
                    &[],
                    "AgentImageVulnerable",
                    "warning",
                    20,
                ),
                case("base-image-cve", &[], "AgentImageVulnerable", "warning", 20),
            ],
        ),
        (
            "pages-service",
            vec![
                case("service-hang", &[], "AgentDown", "critical", 40),
                case("crash-loop", &[], "AgentDown", "critical", 40),
                case("bad-config", &[], "AgentDown", "critical", 40),
                case("error-rate", &[], "AgentHighErrorRate", "critical", 75),
                case(
                    "latency",
                    &["p95_ms=3000"],
                    "AgentSlowResponses",
                    "warning",
                    90,
                ),
                case("bad-release", &[], "AgentHighErrorRate", "critical", 120),
            ],
        ),
        (
            "pages-state",
            vec![
                case(
                    "cert-expiring",
                    &[],
                    "CertificateExpiringSoon",
                    "warning",
                    20,
                ),
                case("cert-expired", &[], "CertificateExpired", "critical", 20),
                case("disk-fill", &[], "AgentDiskFilling", "warning", 45),
                case("metrics-stale", &[], "AgentMetricsStale", "warning", 120),
                Case {
                    restart_after_revert: true,
                    ..case(
                        "memory-leak",
                        &["rate_mib_s=2"],
                        "AgentHighMemory",
                        "warning",
                        150,
                    )
                },
            ],
        ),
    ];
    // The CPU pages need 30 s of one core at the limit: on a two-core host the other groups'
    // sandboxes (clients, crash loops, image builds) starve it, so the CPU group runs on its
    // own first, then the rest side by side.
    let (cpu, rest) = groups.split_at(1);
    let outcomes: Vec<(Vec<String>, Vec<String>)> = [cpu, rest]
        .into_iter()
        .flat_map(run_groups_side_by_side)
        .collect();
    let failures: Vec<&String> = outcomes.iter().flat_map(|(_, f)| f).collect();
    for (report, _) in &outcomes {
        for line in report {
            eprintln!("{line}");
        }
    }
    assert!(failures.is_empty(), "pages missing:\n{failures:#?}");
}

#[test]
fn a_healthy_sandbox_under_normal_traffic_pages_nothing_for_two_minutes() {
    require_docker!();
    let sandbox = TestSandbox::up("pages-healthy");
    let watch = AlertWatch::start(&sandbox, &[]);
    let events = watch.drain(Duration::from_secs(120));
    assert!(events.is_empty(), "a healthy sandbox paged: {events:#?}");
}

#[test]
fn pages_reach_an_alertmanager_webhook_and_a_jsonl_file() {
    require_docker!();
    let receiver = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/drill", receiver.server_addr());
    let (sender, payloads) = mpsc::channel::<(String, Value)>();
    std::thread::spawn(move || {
        for mut request in receiver.incoming_requests() {
            let mut body = String::new();
            request.as_reader().read_to_string(&mut body).unwrap();
            let path = request.url().to_string();
            let _ = request.respond(tiny_http::Response::empty(200));
            if sender
                .send((path, serde_json::from_str(&body).unwrap()))
                .is_err()
            {
                break;
            }
        }
    });
    let sandbox = TestSandbox::up("pages-webhook");
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("alerts.jsonl");
    let _watch = AlertWatch::start(
        &sandbox,
        &["--webhook", &url, "--jsonl", jsonl.to_str().unwrap()],
    );
    let id = sandbox.inject("cert-expiring", &["days=5"]);

    let (path, firing) = payloads
        .recv_timeout(Duration::from_secs(30))
        .expect("a page");
    assert_eq!(path, "/hooks/drill");
    assert_eq!(firing["version"], "4");
    assert_eq!(firing["status"], "firing");
    assert_eq!(firing["receiver"], "firedrill");
    assert_eq!(firing["truncatedAlerts"], 0);
    assert_eq!(firing["externalURL"], url.as_str());
    assert_eq!(
        firing["groupKey"],
        "{}:{alertname=\"CertificateExpiringSoon\"}"
    );
    assert_eq!(
        firing["groupLabels"],
        serde_json::json!({"alertname": "CertificateExpiringSoon"})
    );
    assert_eq!(firing["commonLabels"]["sandbox"], sandbox.name.as_str());
    assert_eq!(firing["commonLabels"]["severity"], "warning");
    assert_eq!(firing["commonLabels"]["runbook"], "certificate-renewal");
    let alert = &firing["alerts"][0];
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
    assert!(
        alert["startsAt"].as_str().unwrap().ends_with('Z'),
        "{alert}"
    );
    assert_eq!(alert["fingerprint"].as_str().unwrap().len(), 16, "{alert}");
    assert_eq!(
        alert["annotations"]["runbook_url"],
        "runbooks/maintenance.md#certificate-renewal"
    );
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("days"),
        "{alert}"
    );
    for key in ["labels", "annotations", "generatorURL"] {
        assert!(!alert[key].is_null(), "alerts[0] has {key}: {alert}");
    }

    sandbox.revert(&id);
    let (_, resolved) = payloads
        .recv_timeout(Duration::from_secs(30))
        .expect("the resolution");
    assert_eq!(resolved["status"], "resolved");
    let ended = &resolved["alerts"][0];
    assert_eq!(ended["fingerprint"], alert["fingerprint"]);
    assert_ne!(ended["endsAt"], "0001-01-01T00:00:00Z");

    let lines: Vec<Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let events: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["event"].as_str().unwrap(), l["alert"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [
            ("firing", "CertificateExpiringSoon"),
            ("resolved", "CertificateExpiringSoon")
        ]
    );
}

#[test]
fn the_exported_rules_are_a_prometheus_rule_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("firedrill.rules.yml");
    let output = firedrill()
        .args(["rules", "export", "-o", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_success(&output, "rules export");
    let rules: Value = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let groups = rules["groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "docker-optimizer-runbook-thresholds",
            "docker-optimizer-agent",
            "firedrill-drills"
        ]
    );
    for group in groups {
        for rule in group["rules"].as_array().unwrap() {
            for key in ["alert", "expr", "for"] {
                assert!(rule[key].is_string(), "{key} in {rule}");
            }
            assert!(rule["labels"]["severity"].is_string(), "{rule}");
            assert!(rule["labels"]["runbook"].is_string(), "{rule}");
            assert!(rule["annotations"]["runbook_url"].is_string(), "{rule}");
        }
    }
}

#[test]
fn watch_refuses_bad_input_with_the_reason() {
    let bad_url = firedrill()
        .args(["watch", "--webhook", "ftp://example.org/hook"])
        .output()
        .unwrap();
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(
        stderr(&bad_url)
            .contains("bad webhook URL 'ftp://example.org/hook': the scheme must be http or https"),
        "{}",
        stderr(&bad_url)
    );
    require_docker!();
    let missing = firedrill()
        .args(["watch", "--sandbox", "no-such-sandbox"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("no sandbox named 'no-such-sandbox'"),
        "{}",
        stderr(&missing)
    );
}
