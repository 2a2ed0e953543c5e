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

/// A stand-in agent that keeps every request body it got.
async fn start_recording_agent(delay: Duration) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    let app = Router::new().fallback(move |body: String| {
        let kept = Arc::clone(&kept);
        async move {
            kept.lock().unwrap().push(body);
            tokio::time::sleep(delay).await;
            (
                StatusCode::GATEWAY_TIMEOUT,
                r#"{"error":"processing took longer than 30s"}"#,
            )
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, bodies)
}

/// Starts the traffic against `target`; returns its statistics URL and the stop switch.
async fn start_traffic(settings: TrafficSettings) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stats_url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(run(settings, listener, async {
        let _ = stopped.await;
    }));
    (stats_url, stop)
}

fn dockerfile_of(body: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(body).ok()?["dockerfile"]
        .as_str()
        .map(str::to_string)
}

#[tokio::test]
async fn the_control_endpoint_changes_the_rate_and_refuses_bad_input() {
    let target = start_agent(AgentBehaviour::Healthy).await;
    let settings = TrafficSettings {
        requests_per_second: 2.0,
        ..test_settings(target)
    };
    let (stats_url, stop) = start_traffic(settings).await;
    let client = reqwest::Client::new();
    let state: control::ControlState = client
        .get(format!("{stats_url}/control"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((state.rate, state.initial_rate), (2.0, 2.0));
    assert_eq!(state.poison, None);
    assert!(state.unique_inputs.is_empty());

    let surged: control::ControlState = client
        .put(format!("{stats_url}/control/rate"))
        .json(&serde_json::json!({"rate": 100.0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(surged.rate, 100.0);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stats: StatsReport = reqwest::get(format!("{stats_url}/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stats.requests >= 40, "the surge is sent at once: {stats:?}");
    assert_eq!(stats.rate, 100.0);

    for (path, body) in [
        ("/control/rate", serde_json::json!({"rate": 0})),
        ("/control/rate", serde_json::json!({"speed": 3})),
        (
            "/control/unique-inputs/a",
            serde_json::json!({"rate": 1, "bytes": 10}),
        ),
        (
            "/control/unique-inputs/Not_A_Name",
            serde_json::json!({"rate": 1, "bytes": 4096}),
        ),
        (
            "/control/poison",
            serde_json::json!({"dockerfile": " ", "pause_ms": 1}),
        ),
    ] {
        let response = client
            .put(format!("{stats_url}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path} {body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert!(error["error"].is_string(), "{error}");
    }
    stop.send(()).unwrap();
}

#[tokio::test]
async fn the_poison_client_resubmits_after_each_attempt_until_stopped() {
    let (target, bodies) = start_recording_agent(Duration::from_millis(150)).await;
    let settings = TrafficSettings {
        requests_per_second: 0.01,
        corpus: Vec::new(),
        ..test_settings(target)
    };
    let (stats_url, stop) = start_traffic(settings).await;
    let client = reqwest::Client::new();
    let poison = "ARG A=${B}\nARG B=${A}\nFROM ${A}\n";
    client
        .put(format!("{stats_url}/control/poison"))
        .json(&serde_json::json!({"dockerfile": poison, "pause_ms": 50}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let state: control::ControlState = client
        .delete(format!("{stats_url}/control/poison"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state.poison, None);
    let sent: Vec<String> = bodies
        .lock()
        .unwrap()
        .iter()
        .filter_map(|b| dockerfile_of(b))
        .collect();
    // One attempt at a time: each takes 150 ms plus a 50 ms pause, so about five in a second.
    assert!((3..=7).contains(&sent.len()), "{} attempts", sent.len());
    assert!(sent.iter().all(|d| d == poison));
    assert!(state.poison_attempts >= 3);
    let stats: StatsReport = reqwest::get(format!("{stats_url}/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stats.last_error.unwrap().contains("HTTP 504"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after_stop = bodies.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        bodies.lock().unwrap().len(),
        after_stop,
        "stopped means stopped"
    );
    stop.send(()).unwrap();
}

#[tokio::test]
async fn unique_input_streams_send_distinct_dockerfiles_of_the_size_asked() {
    let (target, bodies) = start_recording_agent(Duration::ZERO).await;
    let settings = TrafficSettings {
        requests_per_second: 0.01,
        corpus: Vec::new(),
        ..test_settings(target)
    };
    let (stats_url, stop) = start_traffic(settings).await;
    let client = reqwest::Client::new();
    for (name, body) in [
        ("backfill", serde_json::json!({"rate": 20, "bytes": 8192})),
        (
            "lint",
            serde_json::json!({"rate": 10, "bytes": 4096, "operation": "analyze"}),
        ),
    ] {
        client
            .put(format!("{stats_url}/control/unique-inputs/{name}"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let state: control::ControlState = client
        .delete(format!("{stats_url}/control/unique-inputs/backfill"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        state.unique_inputs.keys().collect::<Vec<_>>(),
        ["lint"],
        "the other stream runs on"
    );
    client
        .delete(format!("{stats_url}/control/unique-inputs/lint"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let sent: Vec<String> = bodies
        .lock()
        .unwrap()
        .iter()
        .filter_map(|b| dockerfile_of(b))
        .collect();
    let (big, small): (Vec<&String>, Vec<&String>) = sent.iter().partition(|d| d.len() >= 8192);
    assert!(
        (12..=24).contains(&big.len()),
        "{} inputs at 20/s",
        big.len()
    );
    assert!(
        (6..=13).contains(&small.len()),
        "{} inputs at 10/s",
        small.len()
    );
    assert!(big.iter().all(|d| d.len() < 10_000));
    let distinct: std::collections::BTreeSet<&String> = sent.iter().collect();
    assert_eq!(distinct.len(), sent.len(), "every input is new");
    stop.send(()).unwrap();
}

/// A stand-in agent that notes the client address of every request it answers.
async fn start_peer_recording_agent() -> (String, Arc<std::sync::Mutex<Vec<std::net::SocketAddr>>>)
{
    use axum::extract::ConnectInfo;
    let peers = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = Arc::clone(&peers);
    let app = Router::new().fallback(
        move |ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>| {
            kept.lock().unwrap().push(peer);
            async { (StatusCode::OK, "{}") }
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, service).await.unwrap()
    });
    (url, peers)
}

#[tokio::test]
async fn every_request_opens_its_own_connection() {
    let (target, peers) = start_peer_recording_agent().await;
    let (stats, _) = run_traffic(test_settings(target), Duration::from_millis(600)).await;
    assert_eq!(stats.errors, 0, "{stats:?}");
    let peers = peers.lock().unwrap();
    assert!(peers.len() >= 20, "{} requests", peers.len());
    let connections: std::collections::BTreeSet<_> = peers.iter().collect();
    assert_eq!(
        connections.len(),
        peers.len(),
        "a new connection (a new client port) per request, so each resolves the agent again"
    );
}

#[tokio::test]
async fn a_refused_address_fails_over_to_the_next_one() {
    // Two agents behind one name, as Docker's DNS answers for a network alias with replicas;
    // the first refuses connections, as an agent draining on SIGTERM does.
    let refusing = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = refusing.local_addr().unwrap();
    drop(refusing);
    let (live, peers) = start_peer_recording_agent().await;
    let live: std::net::SocketAddr = live.trim_start_matches("http://").parse().unwrap();
    let client = client_builder()
        .resolve_to_addrs("agent.test", &[refused, live])
        .build()
        .unwrap();
    for _ in 0..5 {
        let response = client.get("http://agent.test/health").send().await;
        assert_eq!(response.map(|r| r.status()).ok(), Some(StatusCode::OK));
    }
    assert_eq!(peers.lock().unwrap().len(), 5);
}
