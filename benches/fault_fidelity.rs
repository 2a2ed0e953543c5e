//! Fault fidelity, printed beside each target: CPU of `cpu-runaway`/`cpu-burn` against 90 % of the
//! container's limit within 2 s; the leak's slope against the rate set; latency p95 and error rate
//! against their targets; and, for every kind, the time from `fault inject` to its symptom.
//! Run with `cargo bench --bench fault_fidelity` (needs a Docker engine; takes a few minutes).

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

const FIREDRILL: &str = env!("CARGO_BIN_EXE_firedrill");

/// How a kind's symptom is recognised from outside, as a trainee or an alert would see it.
#[derive(Clone, Copy)]
enum Symptom {
    /// Agent CPU at or above this percent of its 1-CPU limit (`docker stats`).
    CpuAtLeast(f64),
    /// Resident memory growing: measure the slope against the rate set (MiB/s).
    MemorySlope { rate_mib_s: f64 },
    /// Client-side p95 (traffic /stats) against a target, once the 60 s window is full.
    P95 { target_ms: f64 },
    /// Client-side error rate against a target percent, once the window is full.
    ErrorRate { target_percent: f64 },
    /// A metric of the agent's /metrics rising above its value at inject.
    MetricRises(&'static str),
    /// `/health` check `check` no longer healthy.
    HealthCheck(&'static str),
    /// `/health` answering 503.
    Unhealthy,
    /// `/health/live` not answering within 2 s.
    Hung,
    /// The agent container restarting.
    Restarting,
    /// The traffic seeing errors.
    ClientErrors,
    /// The agent's CPU limit below 1 CPU.
    CpuLimitLowered,
    /// `/metrics` uptime not moving while the agent serves.
    MetricsFrozen,
    /// `agentctl scanner status` calling the database stale.
    ScannerDbStale,
}

fn cases() -> Vec<(&'static str, Vec<&'static str>, Symptom)> {
    use Symptom::*;
    vec![
        ("cpu-runaway", vec![], CpuAtLeast(90.0)),
        ("cpu-burn", vec![], CpuAtLeast(90.0)),
        (
            "memory-leak",
            vec!["rate_mib_s=2"],
            MemorySlope { rate_mib_s: 2.0 },
        ),
        ("latency", vec!["p95_ms=1500"], P95 { target_ms: 1500.0 }),
        (
            "error-rate",
            vec!["percent=10"],
            ErrorRate {
                target_percent: 10.0,
            },
        ),
        (
            "scanner-missing",
            vec![],
            MetricRises("docker_optimizer_security_scan_failures_total"),
        ),
        (
            "scanner-db-corrupt",
            vec![],
            MetricRises("docker_optimizer_security_scan_failures_total"),
        ),
        (
            "scanner-hang",
            vec![],
            MetricRises("docker_optimizer_security_scan_failures_total"),
        ),
        ("scanner-db-stale", vec![], ScannerDbStale),
        ("service-hang", vec![], Hung),
        ("crash-loop", vec![], Restarting),
        ("bad-config", vec![], Restarting),
        ("disk-fill", vec![], HealthCheck("disk")),
        ("cert-expiring", vec![], HealthCheck("tls")),
        ("cert-expired", vec![], Unhealthy),
        ("bad-release", vec![], ClientErrors),
        ("traffic-surge", vec![], CpuAtLeast(90.0)),
        ("resource-squeeze", vec![], CpuLimitLowered),
        ("metrics-stale", vec![], MetricsFrozen),
        (
            "vulnerable-dependency",
            vec![],
            MetricRises("docker_optimizer_image_vulnerabilities"),
        ),
        (
            "base-image-cve",
            vec![],
            MetricRises("docker_optimizer_image_vulnerabilities"),
        ),
    ]
}

fn main() {
    if !Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("fault_fidelity: no Docker engine; nothing measured");
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    println!(
        "{:<20} {:>12} {:>14}  measured vs target",
        "kind", "inject took", "to symptom"
    );
    for (kind, params, symptom) in cases() {
        if !only.is_empty() && !only.iter().any(|o| o == kind) {
            continue;
        }
        let name = format!("fid-{kind}");
        let sandbox = up(&name);
        // Let the traffic fill its window with healthy requests first, as in a real drill.
        std::thread::sleep(Duration::from_secs(3));
        let baseline = metric(&sandbox, symptom_metric(symptom));
        let started = Instant::now();
        let id = inject(&name, kind, &params);
        let inject_took = started.elapsed();
        let outcome = runtime.block_on(observe(&sandbox, symptom, baseline, started));
        println!(
            "{kind:<20} {:>11.2}s {:>14}  {}",
            inject_took.as_secs_f64(),
            outcome.at.map_or("not seen".to_string(), |t| format!(
                "{:.2}s",
                t.as_secs_f64()
            )),
            outcome.fidelity
        );
        if let Some(id) = id {
            run(&["fault", "revert", &id]);
        }
        run(&["sandbox", "down", "--name", &name]);
    }
}

struct Outcome {
    /// Time from the start of `fault inject` to the symptom.
    at: Option<Duration>,
    fidelity: String,
}

async fn observe(sandbox: &Value, symptom: Symptom, baseline: f64, started: Instant) -> Outcome {
    let container = sandbox["container"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    match symptom {
        Symptom::CpuAtLeast(threshold) => {
            let docker = firedrill::docker::engine::connect().await.expect("engine");
            let mut samples = Box::pin(firedrill::docker::stats::samples(&docker, &container));
            let mut peak: f64 = 0.0;
            while started.elapsed() < Duration::from_secs(20) {
                let Some(Ok(sample)) = samples.next().await else {
                    break;
                };
                peak = peak.max(sample.cpu_percent);
                if sample.cpu_percent >= threshold {
                    return Outcome {
                        at: Some(started.elapsed()),
                        fidelity: format!(
                            "CPU {:.0}% of the 1-CPU limit (target ≥{threshold:.0}% within 2 s)",
                            sample.cpu_percent
                        ),
                    };
                }
            }
            Outcome {
                at: None,
                fidelity: format!("CPU peaked at {peak:.0}%"),
            }
        }
        Symptom::MemorySlope { rate_mib_s } => {
            let docker = firedrill::docker::engine::connect().await.expect("engine");
            let mut samples = Box::pin(firedrill::docker::stats::samples(&docker, &container));
            let mut points = Vec::new();
            let mut first_growth = None;
            let mut start_bytes = None;
            while started.elapsed() < Duration::from_secs(45) {
                let Some(Ok(sample)) = samples.next().await else {
                    break;
                };
                let t = started.elapsed().as_secs_f64();
                let mib = sample.memory_bytes as f64 / 1_048_576.0;
                let base = *start_bytes.get_or_insert(mib);
                if first_growth.is_none() && mib > base + 4.0 {
                    first_growth = Some(started.elapsed());
                }
                if t > 10.0 {
                    points.push((t, mib));
                }
            }
            let slope = least_squares_slope(&points);
            Outcome {
                at: first_growth,
                fidelity: format!(
                    "slope {slope:.2} MiB/s vs {rate_mib_s:.2} set ({:+.0}%, target ±10%)",
                    (slope / rate_mib_s - 1.0) * 100.0
                ),
            }
        }
        Symptom::P95 { target_ms } => {
            let first = poll(started, Duration::from_secs(30), || {
                traffic_stats(sandbox)["p95_ms"]
                    .as_f64()
                    .is_some_and(|p| p > target_ms * 0.5)
            })
            .await;
            tokio::time::sleep(Duration::from_secs(62).saturating_sub(started.elapsed())).await;
            let p95 = traffic_stats(sandbox)["p95_ms"]
                .as_f64()
                .unwrap_or(f64::NAN);
            Outcome {
                at: first,
                fidelity: format!(
                    "p95 {p95:.0} ms vs {target_ms:.0} ({:+.1}%, target ±10%)",
                    (p95 / target_ms - 1.0) * 100.0
                ),
            }
        }
        Symptom::ErrorRate { target_percent } => {
            let first = poll(started, Duration::from_secs(30), || {
                traffic_stats(sandbox)["errors"].as_u64().unwrap_or(0) > 0
            })
            .await;
            tokio::time::sleep(Duration::from_secs(62).saturating_sub(started.elapsed())).await;
            let rate = traffic_stats(sandbox)["error_rate"]
                .as_f64()
                .unwrap_or(f64::NAN)
                * 100.0;
            Outcome {
                at: first,
                fidelity: format!(
                    "error rate {rate:.1}% vs {target_percent:.0}% ({:+.1} points, target ±2)",
                    rate - target_percent
                ),
            }
        }
        Symptom::MetricRises(name) => {
            simple(
                started,
                Duration::from_secs(30),
                format!("{name} rose"),
                || metric(sandbox, Some(name)) > baseline,
            )
            .await
        }
        Symptom::HealthCheck(check) => {
            simple(
                started,
                Duration::from_secs(30),
                format!("/health {check} not healthy"),
                || health(sandbox).is_some_and(|h| h["checks"][check]["status"] != "healthy"),
            )
            .await
        }
        Symptom::Unhealthy => {
            simple(
                started,
                Duration::from_secs(30),
                "/health 503".to_string(),
                || health(sandbox).is_some_and(|h| h["status"] == "unhealthy"),
            )
            .await
        }
        Symptom::Hung => {
            simple(
                started,
                Duration::from_secs(30),
                "/health/live silent for 2 s".to_string(),
                || {
                    http_client(2)
                        .get(format!(
                            "{}/health/live",
                            sandbox["http"].as_str().unwrap_or_default()
                        ))
                        .send()
                        .is_err()
                },
            )
            .await
        }
        Symptom::Restarting => {
            simple(
                started,
                Duration::from_secs(30),
                "container restarting".to_string(),
                || {
                    docker_cli(&[
                        "inspect",
                        "--format",
                        "{{.State.Restarting}} {{.RestartCount}}",
                        &container,
                    ])
                    .split_whitespace()
                    .any(|w| w == "true")
                },
            )
            .await
        }
        Symptom::ClientErrors => {
            simple(
                started,
                Duration::from_secs(60),
                "client errors".to_string(),
                || traffic_stats(sandbox)["errors"].as_u64().unwrap_or(0) > 0,
            )
            .await
        }
        Symptom::CpuLimitLowered => {
            simple(
                started,
                Duration::from_secs(10),
                "NanoCpus lowered".to_string(),
                || {
                    docker_cli(&[
                        "inspect",
                        "--format",
                        "{{.HostConfig.NanoCpus}}",
                        &container,
                    ])
                    .trim()
                    .parse::<i64>()
                    .unwrap_or(0)
                        < 1_000_000_000
                },
            )
            .await
        }
        Symptom::MetricsFrozen => {
            simple(
                started,
                Duration::from_secs(30),
                "/metrics uptime frozen".to_string(),
                || {
                    let before = metric(sandbox, Some("docker_optimizer_uptime_seconds"));
                    std::thread::sleep(Duration::from_millis(1500));
                    metric(sandbox, Some("docker_optimizer_uptime_seconds")) == before
                },
            )
            .await
        }
        Symptom::ScannerDbStale => {
            simple(
                started,
                Duration::from_secs(30),
                "scanner DB reported stale".to_string(),
                || {
                    docker_cli(&["exec", &container, "agentctl", "scanner", "status"])
                        .contains("STALE")
                },
            )
            .await
        }
    }
}

async fn simple(
    started: Instant,
    within: Duration,
    what: String,
    check: impl FnMut() -> bool,
) -> Outcome {
    let at = poll(started, within, check).await;
    Outcome { at, fidelity: what }
}

async fn poll(
    started: Instant,
    within: Duration,
    mut check: impl FnMut() -> bool,
) -> Option<Duration> {
    while started.elapsed() < within {
        if check() {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn symptom_metric(symptom: Symptom) -> Option<&'static str> {
    match symptom {
        Symptom::MetricRises(name) => Some(name),
        _ => None,
    }
}

fn least_squares_slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    num / den
}

fn up(name: &str) -> Value {
    let output = Command::new(FIREDRILL)
        .args(["sandbox", "up", "--name", name, "--json"])
        .output()
        .expect("firedrill runs");
    assert!(
        output.status.success(),
        "sandbox up: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("sandbox JSON")
}

fn inject(sandbox: &str, kind: &str, params: &[&str]) -> Option<String> {
    let mut args = vec!["fault", "inject", kind, "--sandbox", sandbox, "--json"];
    for p in params {
        args.extend_from_slice(&["--set", p]);
    }
    let output = Command::new(FIREDRILL)
        .args(&args)
        .output()
        .expect("firedrill runs");
    if !output.status.success() {
        eprintln!(
            "{kind}: inject failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    serde_json::from_slice::<Value>(&output.stdout).ok()?["id"]
        .as_str()
        .map(str::to_string)
}

fn run(args: &[&str]) {
    let _ = Command::new(FIREDRILL).args(args).output();
}

fn http_client(timeout_s: u64) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(timeout_s))
        .build()
        .expect("client")
}

fn health(sandbox: &Value) -> Option<Value> {
    http_client(2)
        .get(format!("{}/health", sandbox["http"].as_str()?))
        .send()
        .ok()?
        .json()
        .ok()
}

fn traffic_stats(sandbox: &Value) -> Value {
    http_client(2)
        .get(format!(
            "{}/stats",
            sandbox["traffic_stats"].as_str().unwrap_or_default()
        ))
        .send()
        .ok()
        .and_then(|r| r.json().ok())
        .unwrap_or(Value::Null)
}

/// Sum of a metric's samples on the agent's /metrics (0 when absent or unreachable).
fn metric(sandbox: &Value, name: Option<&str>) -> f64 {
    let Some(name) = name else { return 0.0 };
    let Some(text) = http_client(2)
        .get(format!(
            "{}/metrics",
            sandbox["http"].as_str().unwrap_or_default()
        ))
        .send()
        .ok()
        .and_then(|r| r.text().ok())
    else {
        return 0.0;
    };
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn docker_cli(args: &[&str]) -> String {
    Command::new("docker")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
