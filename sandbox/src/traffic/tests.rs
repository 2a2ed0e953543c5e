//! End to end: the generator against small stand-in agents, read back through `/stats` and
//! `/metrics` as firedrill reads them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use tokio::net::TcpListener;

use super::*;

const CORPUS: [(&str, &str); 2] = [
    ("node", "FROM node:18\nCOPY . .\nRUN npm install\n"),
    ("python", "FROM python:3.11\nRUN pip install flask\n"),
];

/// How the stand-in agent answers.
#[derive(Clone, Copy)]
enum AgentBehaviour {
    Healthy,
    /// Every `n`th request gets a 500.
    FailsEvery(u64),
    /// Answers only after `Duration`.
    Hangs(Duration),
}

async fn start_agent(behaviour: AgentBehaviour) -> String {
    let served = Arc::new(AtomicU64::new(0));
    let app = Router::new().fallback(move || {
        let n = served.fetch_add(1, Ordering::Relaxed) + 1;
        async move {
            match behaviour {
                AgentBehaviour::Healthy => (StatusCode::OK, "{}").into_response(),
                AgentBehaviour::FailsEvery(every) => match n % every {
                    0 => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        r#"{"error":"injected failure"}"#,
                    )
                        .into_response(),
                    _ => (StatusCode::OK, "{}").into_response(),
                },
                AgentBehaviour::Hangs(delay) => {
                    tokio::time::sleep(delay).await;
                    (StatusCode::OK, "{}").into_response()
                }
            }
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn test_settings(target: String) -> TrafficSettings {
    TrafficSettings {
        target,
        requests_per_second: 100.0,
        seed: Some(42),
        corpus: CORPUS.to_vec(),
        window: Duration::from_secs(5),
        request_timeout: Duration::from_millis(200),
        max_in_flight: 64,
        summary_interval: Duration::from_secs(60),
        wait_for_ready: false,
    }
}

/// Runs the traffic for `duration`, then returns what `/stats` and `/metrics` said.
async fn run_traffic(settings: TrafficSettings, duration: Duration) -> (StatsReport, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stats_url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let traffic = tokio::spawn(run(settings, listener, async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(duration).await;
    let stats: StatsReport = reqwest::get(format!("{stats_url}/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let metrics = reqwest::get(format!("{stats_url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    stop.send(()).unwrap();
    traffic.await.unwrap().unwrap();
    (stats, metrics)
}

#[tokio::test]
async fn a_healthy_agent_shows_no_errors() {
    let target = start_agent(AgentBehaviour::Healthy).await;
    let (stats, metrics) = run_traffic(test_settings(target.clone()), Duration::from_secs(1)).await;

    assert!(
        stats.requests >= 50,
        "open loop at 100/s for 1 s: {stats:?}"
    );
    assert_eq!(stats.errors, 0);
    assert_eq!(stats.error_rate, 0.0);
    assert_eq!(stats.timeouts, 0);
    assert_eq!(stats.last_error, None);
    assert!(stats.p50_ms.unwrap() <= stats.p95_ms.unwrap());
    assert!(stats.p95_ms.unwrap() <= stats.p99_ms.unwrap());
    assert!(stats.p99_ms.unwrap() < 200.0);
    assert_eq!(
        (stats.window_seconds, stats.target, stats.rate),
        (5, target, 100.0)
    );
    assert!(metrics
        .contains(r#"firedrill_traffic_requests_total{endpoint="optimize",outcome="success"}"#));
    assert!(metrics.contains("firedrill_traffic_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn server_errors_show_in_the_error_rate() {
    let target = start_agent(AgentBehaviour::FailsEvery(4)).await;
    let (stats, metrics) = run_traffic(test_settings(target), Duration::from_secs(1)).await;

    assert!(stats.requests >= 50, "{stats:?}");
    assert!(
        (0.15..=0.35).contains(&stats.error_rate),
        "about one in four: {stats:?}"
    );
    assert_eq!(stats.timeouts, 0);
    let last_error = stats.last_error.unwrap();
    assert!(last_error.contains("HTTP 500"), "{last_error}");
    assert!(last_error.contains("injected failure"), "{last_error}");
    assert!(metrics.contains(r#"outcome="server_error""#));
}

#[tokio::test]
async fn a_hung_agent_shows_timeouts_and_latency_at_the_timeout() {
    let target = start_agent(AgentBehaviour::Hangs(Duration::from_secs(5))).await;
    let (stats, metrics) = run_traffic(test_settings(target), Duration::from_secs(1)).await;

    assert!(stats.timeouts >= 30, "{stats:?}");
    assert_eq!(
        stats.errors, stats.requests,
        "every completed request timed out: {stats:?}"
    );
    assert_eq!(stats.error_rate, 1.0);
    assert!(
        stats.in_flight > 0,
        "requests keep leaving on schedule: {stats:?}"
    );
    assert!(stats.p50_ms.unwrap() >= 200.0);
    assert!(stats.last_error.unwrap().contains("timed out after 200ms"));
    assert!(metrics.contains(r#"outcome="timeout""#));
}

#[tokio::test]
async fn requests_over_the_in_flight_cap_count_as_overload() {
    let target = start_agent(AgentBehaviour::Hangs(Duration::from_secs(5))).await;
    let settings = TrafficSettings {
        max_in_flight: 2,
        request_timeout: Duration::from_secs(10),
        ..test_settings(target)
    };
    let (stats, metrics) = run_traffic(settings, Duration::from_millis(500)).await;

    assert_eq!(stats.in_flight, 2);
    assert!(stats.errors >= 20, "{stats:?}");
    assert!(stats.last_error.unwrap().contains("overload"));
    assert!(metrics.contains(r#"outcome="overload""#));
}

#[tokio::test]
async fn an_unreachable_agent_shows_connection_errors() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (stats, _) = run_traffic(test_settings(target), Duration::from_millis(500)).await;

    assert!(stats.requests >= 20, "{stats:?}");
    assert_eq!(stats.error_rate, 1.0);
    let last_error = stats.last_error.unwrap();
    assert!(
        last_error.to_lowercase().contains("connection refused"),
        "{last_error}"
    );
}

/// A stand-in agent that answers 503 to everything for `delay` after it starts, then 200.
async fn start_slow_starting_agent(delay: Duration) -> String {
    let started = std::time::Instant::now();
    let app = Router::new().fallback(move || async move {
        if started.elapsed() < delay {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        } else {
            (StatusCode::OK, "{}").into_response()
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn traffic_waits_for_the_agents_first_readiness() {
    let target = start_slow_starting_agent(Duration::from_millis(400)).await;
    let settings = TrafficSettings {
        wait_for_ready: true,
        ..test_settings(target)
    };
    let (stats, _) = run_traffic(settings, Duration::from_millis(1200)).await;
    assert!(
        stats.requests >= 20,
        "traffic started once ready: {stats:?}"
    );
    assert_eq!(stats.errors, 0, "a start-up is not an outage: {stats:?}");
}

#[tokio::test]
async fn without_the_readiness_gate_a_starting_agent_shows_errors() {
    let target = start_slow_starting_agent(Duration::from_millis(400)).await;
    let (stats, _) = run_traffic(test_settings(target), Duration::from_millis(1200)).await;
    assert!(stats.errors > 0, "{stats:?}");
}

#[test]
fn command_line_is_validated() {
    let parse = |args: &[&str]| {
        TrafficArgs::try_parse_from(std::iter::once("traffic").chain(args.iter().copied()))
    };
    let args = parse(&["--target", "http://agent:8080/"]).unwrap();
    assert_eq!(args.target, "http://agent:8080");
    assert_eq!((args.rate, args.stats_port, args.seed), (2.0, 9100, None));
    assert!(parse(&[]).is_err(), "--target is required");
    assert!(parse(&["--target", "agent:8080"]).is_err());
    assert!(parse(&["--target", "http://agent:8080", "--rate", "0"]).is_err());
    assert_eq!(
        main(vec![
            "--target".into(),
            "http://agent:8080".into(),
            "--rate".into(),
            "0".into()
        ]),
        ExitCode::from(2),
        "usage errors exit 2"
    );
}
