//! agentctl against a test double of the agent's operator API (a tiny axum server with canned
//! answers), and the local commands against files in a temporary directory.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::*;

const SHA: &str = "3f2a9c1b7d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeef";

fn status_answer() -> Value {
    json!({
        "version": "1.4.2", "pid": 7, "uptime_seconds": 7384,
        "health": {"status": "degraded", "checks": {
            "disk": {"status": "degraded", "detail": "52.1 MiB of 64 MiB (81 %)"},
            "scanner": {"status": "healthy", "detail": "configured"}
        }},
        "jobs_in_flight": 2, "denied_inputs": 1, "history_records": null,
        "cache": {"entries": 12, "max_size": 1000, "ttl_seconds": 3600, "hits": 30, "misses": 10},
        "disk": {"used_bytes": 54_630_400, "quota_bytes": 67_108_864, "percent": 81.4},
        "tls": {"not_after": 1_900_000_000, "days_left": 85},
        "scanner": {"enabled": true, "scans_total": 40, "failures_total": 2, "last_scan": null}
    })
}

/// Every request URI the test double saw, to check the query parameters agentctl sends.
type RequestLog = Arc<Mutex<Vec<String>>>;

/// Starts the test double; returns its base URL and its request log.
async fn start_agent() -> (String, RequestLog) {
    let log = RequestLog::default();
    let app = Router::new()
        .route("/admin/status", get(|| async { Json(status_answer()) }))
        .route(
            "/admin/jobs",
            get(|| async {
                Json(
                    json!([{"id": 42, "operation": "optimize", "input_sha256": SHA,
                    "started_at": 1_700_000_000, "elapsed_seconds": 93.5, "state": "scanning"}]),
                )
            }),
        )
        .route("/admin/jobs/{id}/cancel", post(cancel_job))
        .route(
            "/admin/cache/clear",
            post(|| async { Json(json!({"cleared": 12})) }),
        )
        .route(
            "/admin/cleanup",
            post(|| async {
                Json(
                    json!({"dry_run": true, "freed_bytes": 3_145_728, "removed": [
                    {"path": "/var/lib/docker-optimizer/tmp/job-1.tmp", "bytes": 1_048_576},
                    {"path": "/var/log/docker-optimizer/agent.log.1", "bytes": 2_097_152}]}),
                )
            }),
        )
        .route(
            "/admin/db/prune",
            post(|| async { Json(json!({"pruned": 17, "remaining": 230})) }),
        )
        .route(
            "/admin/reload",
            post(|| async { Json(json!({"reloaded": true, "changes": ["tls certificate"]})) }),
        )
        .route(
            "/admin/config",
            get(|| async {
                Json(json!({"file": "/etc/docker-optimizer/config.yml",
                    "config": {"cache": {"max_size": 500, "ttl_seconds": 3600}},
                    "sources": {"cache.max_size": "env", "cache.ttl_seconds": "default"}}))
            }),
        )
        .layer(axum::middleware::map_request_with_state(
            Arc::clone(&log),
            |State(log): State<RequestLog>, request: axum::extract::Request| async move {
                log.lock().unwrap().push(request.uri().to_string());
                request
            },
        ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, log)
}

async fn cancel_job(UrlPath(id): UrlPath<String>, uri: Uri) -> (StatusCode, Json<Value>) {
    if id != "42" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no job {id}")})),
        );
    }
    let denied = uri.query() == Some("deny=true");
    (
        StatusCode::OK,
        Json(json!({"id": 42, "cancelled": true, "denied_input": denied.then_some(SHA)})),
    )
}

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("agentctl").chain(args.iter().copied()))
        .expect("valid command line")
}

/// Runs `args` against the agent at `url`, with a configuration file that does not exist.
async fn run_against(url: &str, args: &[&str]) -> Result<Report, CommandError> {
    let mut full = vec!["--admin-url", url, "--config", "/nonexistent/config.yml"];
    full.extend_from_slice(args);
    commands::run(&parse(&full)).await
}

async fn text_of(url: &str, args: &[&str]) -> String {
    render(&run_against(url, args).await.unwrap(), false)
}

/// A closed local port: connection refused.
async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[tokio::test]
async fn status_reads_like_a_dashboard() {
    let (url, _) = start_agent().await;
    let text = text_of(&url, &["status"]).await;
    let expected = "\
version      1.4.2 (pid 7, up 2h 3m 4s)
health       degraded
  disk       degraded  52.1 MiB of 64 MiB (81 %)
  scanner    healthy   configured
jobs         2 in flight
denylist     1 denied input(s)
history      -
cache        12/1000 entries, hit rate 75.0 % (30 hits, 10 misses)
disk         52.1 MiB of 64.0 MiB (81.4 %)
certificate  valid until 2030-03-17T17:46:40Z (85 day(s) left)
scanner      40 scans, 2 failed";
    assert_eq!(text, expected);
}

#[tokio::test]
async fn json_output_is_the_agents_answer() {
    let (url, _) = start_agent().await;
    let report = run_against(&url, &["status", "--json"]).await.unwrap();
    let printed: Value = serde_json::from_str(&render(&report, true)).unwrap();
    assert_eq!(printed, status_answer());
}

#[tokio::test]
async fn jobs_list_is_a_table_with_sha_prefixes() {
    let (url, _) = start_agent().await;
    let text = text_of(&url, &["jobs", "list"]).await;
    assert_eq!(
        text,
        "ID  OPERATION  STATE     ELAPSED  INPUT\n42  optimize   scanning  1m 33s   3f2a9c1b7d4e"
    );
}

#[tokio::test]
async fn jobs_cancel_with_deny_names_the_denied_input() {
    let (url, log) = start_agent().await;
    let text = text_of(&url, &["jobs", "cancel", "42", "--deny"]).await;
    assert_eq!(
        text,
        format!("cancelled job 42; its input sha256:{SHA} is denied from now on")
    );
    assert!(log
        .lock()
        .unwrap()
        .contains(&"/admin/jobs/42/cancel?deny=true".to_string()));
}

#[tokio::test]
async fn an_error_answer_exits_1_with_the_agents_message() {
    let (url, _) = start_agent().await;
    let error = run_against(&url, &["jobs", "cancel", "7"])
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "no job 7");
    assert_eq!(error.exit_code(), ExitCode::FAILURE);
}

#[tokio::test]
async fn cleanup_dry_run_lists_what_would_go() {
    let (url, log) = start_agent().await;
    let text = text_of(&url, &["cleanup", "--dry-run"]).await;
    assert_eq!(
        text,
        "would remove /var/lib/docker-optimizer/tmp/job-1.tmp (1.0 MiB)\n\
         would remove /var/log/docker-optimizer/agent.log.1 (2.0 MiB)\n\
         would free 3.0 MiB in 2 file(s)"
    );
    assert!(log
        .lock()
        .unwrap()
        .contains(&"/admin/cleanup?dry_run=true".to_string()));
}

#[tokio::test]
async fn db_prune_sends_the_age_in_seconds() {
    let (url, log) = start_agent().await;
    let text = text_of(&url, &["db", "prune", "--older-than", "30d"]).await;
    assert_eq!(
        text,
        "pruned 17 history records older than 30d (230 remaining)"
    );
    assert!(log
        .lock()
        .unwrap()
        .contains(&"/admin/db/prune?older_than_seconds=2592000".to_string()));
}

#[tokio::test]
async fn cache_clear_reload_and_config_show() {
    let (url, _) = start_agent().await;
    assert_eq!(
        text_of(&url, &["cache", "clear"]).await,
        "cleared 12 cache entries"
    );
    assert_eq!(
        text_of(&url, &["reload"]).await,
        "reloaded: 1 change(s)\n  tls certificate"
    );
    assert_eq!(
        text_of(&url, &["config", "show"]).await,
        "configuration file /etc/docker-optimizer/config.yml\n\
         KEY                VALUE  SOURCE\ncache.max_size     500    env\ncache.ttl_seconds  3600   default"
    );
}

#[tokio::test]
async fn an_unreachable_agent_exits_3_and_says_where_it_looked() {
    let url = closed_port_url().await;
    let error = run_against(&url, &["status"]).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "cannot reach the agent's operator API at {url} (connection refused): is \
             optimizer-agent running? check 'docker ps' and 'docker logs <container>'"
        )
    );
    assert_eq!(error.exit_code(), ExitCode::from(EXIT_UNREACHABLE));
}

#[test]
fn the_default_operator_api_is_the_configured_admin_port_on_localhost() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(&config, "server:\n  admin_port: 9191\n").unwrap();
    // Nothing listens on 9191 in the test environment; the message shows the URL tried.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let cli = parse(&["--config", config.to_str().unwrap(), "status"]);
    if std::env::var(ADMIN_URL_ENV).is_err() {
        let error = runtime.block_on(commands::run(&cli)).unwrap_err();
        assert!(
            error.to_string().contains("at http://127.0.0.1:9191 ("),
            "{error}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(main(vec!["frobnicate".into()]), ExitCode::from(2));
    assert_eq!(
        main(vec!["jobs".into(), "cancel".into()]),
        ExitCode::from(2)
    );
    let bad_age = ["db", "prune", "--older-than", "soon"]
        .map(OsString::from)
        .to_vec();
    assert_eq!(main(bad_age), ExitCode::from(2));
    let bad_days = ["cert", "renew", "--days", "0"]
        .map(OsString::from)
        .to_vec();
    assert_eq!(main(bad_days), ExitCode::from(2));
}

#[test]
fn version_prints_the_release() {
    let report = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(commands::run(&parse(&["version"])))
        .unwrap();
    assert_eq!(
        render(&report, false),
        format!("agentctl {}", crate::version::current())
    );
}

/// A configuration whose TLS files live in `dir`.
fn write_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "tls:\n  cert_file: {0}/server.crt\n  key_file: {0}/server.key\n  validity_days: 30\n",
            dir.display()
        ),
    )
    .unwrap();
    config
}

#[tokio::test]
async fn config_validate_accepts_a_good_file_and_quotes_the_error_of_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(dir.path());
    let report = commands::run(&parse(&[
        "config",
        "validate",
        "--file",
        good.to_str().unwrap(),
    ]))
    .await
    .unwrap();
    assert_eq!(
        render(&report, false),
        format!("configuration OK: {}", good.display())
    );

    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "cache:\n  max_size: -5\n").unwrap();
    let error = commands::run(&parse(&[
        "config",
        "validate",
        "--file",
        bad.to_str().unwrap(),
    ]))
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("configuration error: cache.max_size"),
        "{error}"
    );
    assert_eq!(error.exit_code(), ExitCode::FAILURE);
}

#[tokio::test]
async fn cert_renew_then_show_while_the_agent_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let config = config.to_str().unwrap();
    let url = closed_port_url().await;

    let renewed = commands::run(&parse(&[
        "--admin-url",
        &url,
        "--config",
        config,
        "cert",
        "renew",
    ]))
    .await
    .unwrap();
    assert_eq!(renewed.exit_code(), ExitCode::SUCCESS);
    let text = render(&renewed, false);
    assert!(text.starts_with("certificate renewed, serial "), "{text}");
    assert!(
        text.ends_with("it will use the new certificate when it starts"),
        "{text}"
    );

    let shown = commands::run(&parse(&["--config", config, "cert", "show"]))
        .await
        .unwrap();
    let text = render(&shown, false);
    assert!(text.contains("subject     CN=localhost"), "{text}");
    assert!(
        text.contains("expires     30 day(s) left") || text.contains("expires     29 day(s) left"),
        "{text}"
    );
}

#[tokio::test]
async fn cert_renew_has_the_running_agent_reload() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let (url, log) = start_agent().await;
    let renewed = commands::run(&parse(&[
        "--admin-url",
        &url,
        "--config",
        config.to_str().unwrap(),
        "cert",
        "renew",
        "--days",
        "7",
    ]))
    .await
    .unwrap();
    assert!(render(&renewed, false).ends_with("HTTPS now serves the new certificate"));
    assert!(log.lock().unwrap().contains(&"/admin/reload".to_string()));
    let json = renewed.json();
    assert_eq!(json["reload"]["reloaded"], true);
    assert!((6..=7).contains(&json["certificate"]["days_left"].as_i64().unwrap()));
}

#[tokio::test]
async fn cert_show_on_a_missing_certificate_fails_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let error = commands::run(&parse(&[
        "--config",
        config.to_str().unwrap(),
        "cert",
        "show",
    ]))
    .await
    .unwrap_err();
    assert!(error.to_string().contains("server.crt"), "{error}");
    assert_eq!(error.exit_code(), ExitCode::FAILURE);
}

/// A configuration whose scanner database is `db`.
fn config_with_db(dir: &Path, db: &Path) -> std::path::PathBuf {
    let config = dir.join("config.yml");
    std::fs::write(&config, format!("scanner:\n  db_path: {}\n", db.display())).unwrap();
    config
}

#[tokio::test]
async fn scanner_db_verify_passes_on_the_shipped_database_and_fails_on_a_truncated_one() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/trivy/vulnerabilities.json");
    let db = dir.path().join("vulnerabilities.json");
    std::fs::copy(&shipped, &db).unwrap();
    let config = config_with_db(dir.path(), &db);
    let verify = || {
        parse(&[
            "--config",
            config.to_str().unwrap(),
            "scanner",
            "db",
            "verify",
        ])
    };

    let report = commands::run(&verify()).await.unwrap();
    let text = render(&report, false);
    assert!(
        text.starts_with("scanner database OK\npath      "),
        "{text}"
    );
    assert!(text.contains(&db.display().to_string()), "{text}");
    assert_eq!(report.json()["action"], "verified");

    let bytes = std::fs::read(&db).unwrap();
    std::fs::write(&db, &bytes[..bytes.len() / 2]).unwrap();
    let error = commands::run(&verify()).await.unwrap_err();
    assert!(error.to_string().contains("not valid JSON"), "{error}");
    assert_eq!(error.exit_code(), ExitCode::FAILURE);
}

#[tokio::test]
async fn scanner_status_shows_a_stale_database_and_who_holds_its_lock() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/trivy/vulnerabilities.json");
    // The shipped file's own date is long past: a stale DB.
    let db = dir.path().join("vulnerabilities.json");
    std::fs::copy(&shipped, &db).unwrap();
    let answer = json!({"enabled": true, "binary": "/usr/local/bin/trivy", "binary_present": true,
        "db_path": db.display().to_string(), "timeout_seconds": 10, "scans_total": 3,
        "failures_total": 0, "last_scan": null});
    let app = Router::new().route("/admin/scanner", get(move || async move { Json(answer) }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let free = text_of(&url, &["scanner", "status"]).await;
    assert!(
        free.contains("  state    STALE: updated 2024-04-20T06:12:45Z (")
            && free.contains("run `agentctl scanner db update`")
            && free.contains("  lock     free"),
        "{free}"
    );

    let lock = crate::scanner::lock::DbLock::acquire(&db).unwrap();
    let report = run_against(&url, &["scanner", "status"]).await.unwrap();
    let held = render(&report, false);
    assert!(
        held.contains(&format!("  lock     HELD by pid {} (`", std::process::id())),
        "{held}"
    );
    let json = report.json();
    assert_eq!(json["db_lock"]["pid"], std::process::id());
    assert_eq!(json["database"]["stale"], true);
    assert_eq!(json["scans_total"], 3, "the agent's answer is kept");
    drop(lock);

    std::fs::write(&db, b"{").unwrap();
    let broken = text_of(&url, &["scanner", "status"]).await;
    assert!(
        broken.contains("  state    BROKEN: vulnerability DB "),
        "{broken}"
    );
}
