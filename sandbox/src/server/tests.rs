//! The agent in-process on ephemeral ports, driven over HTTP(S) like a client and `agentctl` would.

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};

use super::agent::{self, AgentParts, RunningAgent};
use super::jobs::Operation;
use super::logging::LogControl;
use super::metrics::Metrics;
use super::pipeline::sha256_hex;
use super::quota::StorageQuota;
use crate::{config, tls};

const DOCKERFILE: &str = "FROM ubuntu:latest\nRUN apt-get update\nRUN apt-get install -y curl\n";

/// A configuration with every port picked by the system and everything under `root`. The
/// scanner points at a binary that does not exist, so every scan fails (open).
fn write_config(root: &Path, cache_max_size: &str) -> std::path::PathBuf {
    let data = root.join("data");
    let text = format!(
        "server: {{ port: 0, tls_port: 0, admin_port: 0, workers: 2, request_timeout_seconds: 30 }}\n\
         cache: {{ max_size: {cache_max_size}, ttl_seconds: 3600 }}\n\
         scanner: {{ enabled: true, binary: {root}/no-such-trivy, db_path: {root}/db.json, timeout_seconds: 5 }}\n\
         storage: {{ data_dir: {data}, quota_mb: 64, history_retention_days: 30 }}\n\
         tls: {{ enabled: true, cert_file: {data}/tls/server.crt, key_file: {data}/tls/server.key, validity_days: 90 }}\n\
         logging: {{ level: info, dir: {data}/logs, max_file_mb: 1, max_files: 2 }}\n",
        root = root.display(),
        data = data.display(),
    );
    let file = root.join("config.yml");
    std::fs::write(&file, text).unwrap();
    file
}

async fn start_agent(config_file: &Path) -> RunningAgent {
    let loaded = config::load_with_env(config_file, |_| None).unwrap();
    let metrics = Metrics::new("1.4.2");
    let storage = &loaded.config.storage;
    let quota = StorageQuota::new(
        &storage.data_dir,
        storage.quota_mb << 20,
        metrics.disk_full_errors(),
    );
    let parts = AgentParts {
        loaded,
        metrics,
        quota,
        log_control: LogControl::default(),
    };
    agent::start(parts).await.unwrap()
}

struct Client {
    http: reqwest::Client,
    base: String,
    admin: String,
}

impl Client {
    fn new(agent: &RunningAgent) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: format!("http://127.0.0.1:{}", agent.http_addr.port()),
            admin: format!("http://127.0.0.1:{}", agent.admin_addr.port()),
        }
    }

    async fn get(&self, url: String) -> (u16, Value) {
        let response = self.http.get(url).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn post(&self, url: String, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = self.http.post(url).body(body).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_serves_its_public_api_and_fails_open_without_a_scanner() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&write_config(dir.path(), "1000")).await;
    let client = Client::new(&agent);

    let (status, index) = client.get(format!("{}/", client.base)).await;
    assert_eq!(status, 200);
    assert_eq!(index["service"], "docker-optimizer-agent");

    let (status, health) = client.get(format!("{}/health", client.base)).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["status"], "healthy", "{health}");
    for check in ["scanner", "cache", "disk", "config", "tls"] {
        assert_eq!(
            health["checks"][check]["status"], "healthy",
            "{check}: {health}"
        );
    }
    assert_eq!(
        client.get(format!("{}/health/ready", client.base)).await,
        (200, json!({ "ready": true }))
    );

    let (status, refused) = client.post(format!("{}/optimize", client.base), "").await;
    assert_eq!(
        (status, refused),
        (400, json!({ "error": "dockerfile content is required" }))
    );

    let body = json!({ "dockerfile": DOCKERFILE }).to_string();
    let (status, first) = client
        .post(format!("{}/optimize", client.base), body.clone())
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["scan_summary"]["grade"], "A", "{first}");
    assert_eq!(first["scan_summary"]["scanner"], "failed", "{first}");
    assert_eq!(first["cached"], false);
    assert!(
        first["optimized_dockerfile"]
            .as_str()
            .unwrap()
            .contains("FROM ubuntu:"),
        "{first}"
    );
    let (status, second) = client
        .post(format!("{}/optimize", client.base), body.clone())
        .await;
    assert_eq!(status, 200);
    assert_eq!(second["cached"], true);
    assert_eq!(
        second["optimized_dockerfile"],
        first["optimized_dockerfile"]
    );
    assert_ne!(second["job_id"], first["job_id"]);

    let (status, analysis) = client
        .post(format!("{}/analyze", client.base), body.clone())
        .await;
    assert_eq!(status, 200, "{analysis}");
    assert_eq!(analysis["scan_summary"]["scanner"], "failed");

    let metrics = client
        .http
        .get(format!("{}/metrics", client.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "docker_optimizer_security_scan_failures_total{reason=\"missing\"} 2",
        "docker_optimizer_requests_total{operation_type=\"optimize\",status=\"success\"} 2",
        "docker_optimizer_requests_total{operation_type=\"optimize\",status=\"error\"} 1",
        "docker_optimizer_cache_hits_total 1",
        "docker_optimizer_cache_entries 1",
        "docker_optimizer_health_status 1",
        "docker_optimizer_build_info{version=\"1.4.2\"} 1",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing from\n{metrics}"
        );
    }

    // The same router over TLS, with the certificate generated on first start.
    let https = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let url = format!(
        "https://127.0.0.1:{}/health/live",
        agent.https_addr.unwrap().port()
    );
    assert_eq!(https.get(url).send().await.unwrap().status(), 200);

    // A deny-listed input is refused.
    agent.state.denylist.add(&sha256_hex(DOCKERFILE)).unwrap();
    let (status, denied) = client.post(format!("{}/optimize", client.base), body).await;
    assert_eq!(
        (status, denied),
        (
            403,
            json!({ "error": "input is deny-listed by the operator" })
        )
    );

    let log = std::fs::read_to_string(dir.path().join("data/tls/server.crt")).unwrap();
    assert!(log.contains("BEGIN CERTIFICATE"));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_api_reports_reloads_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let config_file = write_config(dir.path(), "1000");
    let agent = start_agent(&config_file).await;
    let client = Client::new(&agent);
    let body = json!({ "dockerfile": DOCKERFILE }).to_string();
    assert_eq!(
        client
            .post(format!("{}/optimize", client.base), body)
            .await
            .0,
        200
    );

    let (status, status_body) = client.get(format!("{}/admin/status", client.admin)).await;
    assert_eq!(status, 200);
    assert_eq!(status_body["version"], agent.state.version);
    assert_eq!(status_body["scanner"]["binary_present"], false);
    assert_eq!(status_body["scanner"]["failures_total"], 1);
    assert_eq!(status_body["scanner"]["last_scan"]["outcome"], "failed");
    assert_eq!(status_body["disk"]["quota_bytes"], 64 << 20);
    assert!(status_body["tls"]["days_left"].as_i64().unwrap() >= 89);

    let (_, history) = client
        .get(format!("{}/admin/history?limit=5", client.admin))
        .await;
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["grade"], "A");
    assert_eq!(
        client.get(format!("{}/admin/jobs", client.admin)).await,
        (200, json!([]))
    );
    assert_eq!(
        client
            .post(
                format!("{}/admin/jobs/42/cancel?deny=true", client.admin),
                ""
            )
            .await,
        (404, json!({ "error": "no job 42" }))
    );
    assert_eq!(
        client.get(format!("{}/admin/cache", client.admin)).await.1["entries"],
        1
    );

    let job = agent.state.jobs.start(Operation::Optimize, "feedface");
    let (status, cancelled) = client
        .post(
            format!("{}/admin/jobs/{}/cancel?deny=true", client.admin, job.id()),
            "",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        cancelled,
        json!({ "id": job.id(), "cancelled": true, "denied_input": "feedface" })
    );
    assert!(job.is_cancelled());
    assert_eq!(
        client.get(format!("{}/admin/jobs", client.admin)).await.1[0]["state"],
        "cancelled"
    );
    assert!(agent.state.denylist.contains("feedface"));
    drop(job);

    let (_, config_body) = client.get(format!("{}/admin/config", client.admin)).await;
    assert_eq!(config_body["sources"]["cache.max_size"], "file");
    assert_eq!(config_body["config"]["cache"]["max_size"], 1000);

    write_config(dir.path(), "5");
    let (status, reloaded) = client
        .post(format!("{}/admin/reload", client.admin), "")
        .await;
    assert_eq!(status, 200, "{reloaded}");
    assert_eq!(reloaded["changes"], json!(["cache.max_size: 1000 -> 5"]));
    assert_eq!(
        client.get(format!("{}/admin/cache", client.admin)).await.1["max_size"],
        5
    );

    write_config(dir.path(), "-5");
    let (status, refused) = client
        .post(format!("{}/admin/reload", client.admin), "")
        .await;
    assert_eq!(status, 422);
    let message = refused["error"].as_str().unwrap();
    assert!(
        message.starts_with("configuration error: cache.max_size = \"-5\""),
        "{message}"
    );
    let (_, health) = client.get(format!("{}/health", client.base)).await;
    assert_eq!(health["checks"]["config"]["status"], "degraded");
    assert_eq!(
        client.get(format!("{}/admin/cache", client.admin)).await.1["max_size"],
        5
    );

    // An expired certificate, swapped in by a reload, makes the agent unhealthy.
    let tls_dir = dir.path().join("data/tls");
    let expired =
        tls::generate_self_signed(&tls_dir.join("server.crt"), &tls_dir.join("server.key"), -1)
            .unwrap();
    write_config(dir.path(), "5");
    let (status, reloaded) = client
        .post(format!("{}/admin/reload", client.admin), "")
        .await;
    assert_eq!(status, 200, "{reloaded}");
    assert!(
        reloaded["changes"][0]
            .as_str()
            .unwrap()
            .contains(&expired.serial),
        "{reloaded}"
    );
    let (status, health) = client.get(format!("{}/health", client.base)).await;
    assert_eq!(status, 503);
    assert_eq!(health["checks"]["tls"]["status"], "unhealthy", "{health}");
    assert_eq!(health["checks"]["config"]["status"], "healthy", "{health}");

    let tmp_file = dir.path().join("data/tmp/leftover");
    std::fs::write(&tmp_file, vec![0u8; 1000]).unwrap();
    let (_, dry) = client
        .post(format!("{}/admin/cleanup?dry_run=true", client.admin), "")
        .await;
    assert_eq!(dry["freed_bytes"], 1000, "{dry}");
    assert!(tmp_file.exists());
    let (_, cleaned) = client
        .post(format!("{}/admin/cleanup?dry_run=false", client.admin), "")
        .await;
    assert_eq!(cleaned["removed"][0]["bytes"], 1000, "{cleaned}");
    assert!(!tmp_file.exists());
    assert!(dir.path().join("data/history.redb").exists());

    let (status, pruned) = client
        .post(
            format!("{}/admin/db/prune?older_than_seconds=3600", client.admin),
            "",
        )
        .await;
    assert_eq!(
        (status, pruned),
        (200, json!({ "pruned": 0, "remaining": 1 }))
    );
    let (status, _) = client
        .post(format!("{}/admin/db/prune", client.admin), "")
        .await;
    assert_eq!(status, 400);

    let state = Arc::clone(&agent.state);
    agent.shutdown().await;
    assert!(!state.is_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_injection_and_the_metrics_refresh_apply_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let config_file = write_config(dir.path(), "1000");
    let agent = start_agent(&config_file).await;
    let client = Client::new(&agent);
    let body = json!({ "dockerfile": DOCKERFILE }).to_string();
    let metrics_text = || async {
        client
            .http
            .get(format!("{}/metrics", client.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };

    let mut text = std::fs::read_to_string(&config_file).unwrap();
    text.push_str(
        "metrics: { refresh_seconds: 3600 }\n\
         testing: { latency_ms: 0, latency_ratio: 0, error_ratio: 1 }\n",
    );
    std::fs::write(&config_file, text).unwrap();
    let (status, reloaded) = client
        .post(format!("{}/admin/reload", client.admin), "")
        .await;
    assert_eq!(status, 200, "{reloaded}");
    let changes = reloaded["changes"].to_string();
    assert!(
        changes.contains("metrics.refresh_seconds: 0 -> 3600"),
        "{changes}"
    );
    assert!(
        changes.contains("testing.error_ratio: 0.0 -> 1.0"),
        "{changes}"
    );

    assert_eq!(
        client
            .post(format!("{}/optimize", client.base), body.clone())
            .await,
        (
            503,
            json!({ "error": "request aborted by fault injection (testing.error_ratio)" })
        )
    );
    assert_eq!(client.get(format!("{}/health", client.base)).await.0, 200);
    let frozen = metrics_text().await;
    assert!(
        frozen.contains(
            "docker_optimizer_errors_total{error_type=\"fault_injection\",severity=\"error\"} 1"
        ),
        "{frozen}"
    );
    client
        .post(format!("{}/analyze", client.base), body.clone())
        .await;
    assert_eq!(metrics_text().await, frozen, "the snapshot is served again");

    // Back to the shipped values: live metrics, no injection.
    write_config(dir.path(), "1000");
    let (status, _) = client
        .post(format!("{}/admin/reload", client.admin), "")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        client
            .post(format!("{}/optimize", client.base), body)
            .await
            .0,
        200
    );
    let live = metrics_text().await;
    assert!(
        live.contains(
            "docker_optimizer_errors_total{error_type=\"fault_injection\",severity=\"error\"} 2"
        ),
        "{live}"
    );
    agent.shutdown().await;
}

/// What a rolling deploy relies on: on SIGTERM the agent closes its listener at once (a client
/// connecting gets a refusal and tries another replica) and finishes the requests it has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_refuses_new_connections_and_finishes_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let config_file = write_config(dir.path(), "1000");
    let mut config = std::fs::read_to_string(&config_file).unwrap();
    // Every /optimize takes 1.5 s, so one is surely in flight when the shutdown starts.
    config.push_str("testing: { latency_ms: 1500, latency_ratio: 1.0 }\n");
    std::fs::write(&config_file, config).unwrap();
    let agent = start_agent(&config_file).await;
    let client = Client::new(&agent);
    let port = agent.http_addr.port();
    let in_flight = tokio::spawn({
        let http = client.http.clone();
        let url = format!("{}/optimize", client.base);
        let body = json!({ "dockerfile": DOCKERFILE }).to_string();
        async move {
            let response = http.post(url).body(body).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let started = std::time::Instant::now();
    let shutdown = tokio::spawn(agent.shutdown());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let refused = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
    assert_eq!(
        refused.map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "the listener is closed as soon as the shutdown starts"
    );
    let (status, answer) = in_flight.await.unwrap();
    assert_eq!(status, 200, "the request in flight is answered: {answer}");
    assert!(answer["optimized_dockerfile"].is_string(), "{answer}");
    shutdown.await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the shutdown ends once the last request is answered, not at the grace period"
    );
}
