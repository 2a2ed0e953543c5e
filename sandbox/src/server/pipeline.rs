//! `POST /optimize` and `POST /analyze`: validate the body, refuse deny-listed inputs, answer from
//! the cache, run the optimizer (on a blocking thread: it is CPU work), scan (fail open), record
//! the optimization in the history and answer. Each request is a job the operator can cancel.
//! Fault injection (`testing:`) and the 1.5.0 regression act here, as they would in the real agent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::optimizer::{self, ScanSummary};

use super::jobs::{Job, JobStep, Operation};
use super::metrics::{OperationLabels, RequestLabels};
use super::release_regression::{self, StagePrePass};
use super::state::AppState;
use super::store::OptimizationOutcome;

/// A JSON answer: status and body.
pub type JsonAnswer = (StatusCode, Value);

/// Why a request was not answered with a result.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    /// The `error_type` label of `docker_optimizer_errors_total`.
    error_type: &'static str,
    severity: &'static str,
    message: String,
}

impl Failure {
    fn new(
        status: StatusCode,
        error_type: &'static str,
        severity: &'static str,
        message: impl Into<String>,
    ) -> Failure {
        Failure {
            status,
            error_type,
            severity,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, "validation", "warning", message)
    }

    fn internal(message: impl Into<String>) -> Failure {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "error",
            message,
        )
    }

    fn cancelled(job: &Job) -> Failure {
        let message = format!("job {} was cancelled by the operator", job.id());
        Failure::new(StatusCode::CONFLICT, "cancelled", "warning", message)
    }
}

#[derive(Deserialize)]
struct OperationRequest {
    dockerfile: Option<String>,
}

/// Runs `operation` on the request `body` within the configured request timeout, and counts it.
pub async fn handle(state: Arc<AppState>, operation: Operation, body: &[u8]) -> JsonAnswer {
    let started = Instant::now();
    let loaded = state.config();
    let timeout = Duration::from_secs(loaded.config.server.request_timeout_seconds);
    let injection = state.fault_injector.next(&loaded.config.testing);
    let work = async {
        if let Some(delay) = injection.delay {
            tokio::time::sleep(delay).await;
        }
        if injection.abort {
            return Err(Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "fault_injection",
                "error",
                "request aborted by fault injection (testing.error_ratio)",
            ));
        }
        run(&state, operation, body, started).await
    };
    let result = match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Failure::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "error",
            format!("processing took longer than {}s", timeout.as_secs()),
        )),
    };
    let operation_type = operation.as_str();
    state
        .metrics
        .processing_duration
        .get_or_create(&OperationLabels { operation_type })
        .observe(started.elapsed().as_secs_f64());
    let status = if result.is_ok() { "success" } else { "error" };
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            operation_type,
            status,
        })
        .inc();
    match result {
        Ok(body) => (StatusCode::OK, Value::Object(body)),
        Err(failure) => {
            state
                .metrics
                .count_error(failure.error_type, failure.severity);
            if failure.status.is_server_error() {
                tracing::error!(
                    operation = operation_type,
                    error_type = failure.error_type,
                    "{}",
                    failure.message
                );
            } else {
                tracing::info!(
                    operation = operation_type,
                    error_type = failure.error_type,
                    "request refused: {}",
                    failure.message
                );
            }
            (
                failure.status,
                serde_json::json!({ "error": failure.message }),
            )
        }
    }
}

async fn run(
    state: &Arc<AppState>,
    operation: Operation,
    body: &[u8],
    started: Instant,
) -> Result<Map<String, Value>, Failure> {
    let dockerfile = dockerfile_of(body)?;
    let input_sha256 = sha256_hex(&dockerfile);
    if state.denylist.contains(&input_sha256) {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "denied",
            "warning",
            "input is deny-listed by the operator",
        ));
    }
    let job = state.jobs.start(operation, &input_sha256);
    match operation {
        Operation::Optimize => optimize(state, job, dockerfile, input_sha256, started).await,
        Operation::Analyze => analyze(state, job, dockerfile, started).await,
    }
}

async fn optimize(
    state: &Arc<AppState>,
    job: Job,
    dockerfile: String,
    input_sha256: String,
    started: Instant,
) -> Result<Map<String, Value>, Failure> {
    match release_regression::stage_pre_pass(&state.version, &dockerfile) {
        StagePrePass::Absent => {}
        StagePrePass::Passed => tokio::time::sleep(release_regression::ADDED_LATENCY).await,
        StagePrePass::Crashed(message) => {
            tokio::time::sleep(release_regression::ADDED_LATENCY).await;
            return Err(Failure::internal(message));
        }
    }
    if let Some(cached) = state.cache.get(&input_sha256, Instant::now()) {
        let mut answer = (*cached).clone();
        finish_answer(&mut answer, &job, started, true);
        return Ok(answer);
    }
    // The job travels with the blocking work: if the request times out, a runaway optimization
    // still shows in the job list until it really ends.
    job.set_step(JobStep::Processing);
    let (job, dockerfile, optimized) = tokio::task::spawn_blocking(move || {
        let optimized = optimizer::optimize_unless_cancelled(&dockerfile, &|| job.is_cancelled());
        (job, dockerfile, optimized)
    })
    .await
    .map_err(|e| Failure::internal(format!("optimizer crashed: {e}")))?;
    let optimization = optimized.map_err(|e| failure_of(e, &job))?;
    let mut answer = to_object(&optimization)?;
    let scan_summary = scan_step(state, &job, &dockerfile).await?;

    job.set_step(JobStep::Recording);
    let output_bytes = answer
        .get("optimized_dockerfile")
        .and_then(Value::as_str)
        .map_or(0, str::len) as u64;
    let outcome = OptimizationOutcome {
        input_sha256: input_sha256.clone(),
        grade: scan_summary.grade.clone(),
        score: i64::from(scan_summary.score),
        processing_ms: started.elapsed().as_millis() as u64,
        input_bytes: dockerfile.len() as u64,
        output_bytes,
    };
    let recording_state = Arc::clone(state);
    tokio::task::spawn_blocking(move || recording_state.history.insert(outcome))
        .await
        .map_err(|e| Failure::internal(format!("history insert crashed: {e}")))?
        // A refusal by the quota is also counted as `disk_full` by the quota itself.
        .map_err(|e| {
            let message = format!("could not record the optimization: {e}");
            Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "history_write",
                "error",
                message,
            )
        })?;

    answer.insert(
        "scan_summary".into(),
        Value::Object(to_object(&scan_summary)?),
    );
    state
        .cache
        .insert(input_sha256, Arc::new(answer.clone()), Instant::now());
    finish_answer(&mut answer, &job, started, false);
    Ok(answer)
}

async fn analyze(
    state: &Arc<AppState>,
    job: Job,
    dockerfile: String,
    started: Instant,
) -> Result<Map<String, Value>, Failure> {
    job.set_step(JobStep::Processing);
    let (job, dockerfile, analyzed) = tokio::task::spawn_blocking(move || {
        let analyzed = optimizer::analyze_unless_cancelled(&dockerfile, &|| job.is_cancelled());
        (job, dockerfile, analyzed)
    })
    .await
    .map_err(|e| Failure::internal(format!("analyzer crashed: {e}")))?;
    let analysis = analyzed.map_err(|e| failure_of(e, &job))?;
    let mut answer = to_object(&analysis)?;
    let scan_summary = scan_step(state, &job, &dockerfile).await?;
    answer.insert(
        "scan_summary".into(),
        Value::Object(to_object(&scan_summary)?),
    );
    answer.insert(
        "processing_time_ms".into(),
        (started.elapsed().as_millis() as u64).into(),
    );
    answer.insert("job_id".into(), job.id().into());
    Ok(answer)
}

/// Why the optimizer gave up: the operator cancelled the job, or the input is not usable.
fn failure_of(error: optimizer::DockerfileError, job: &Job) -> Failure {
    match error {
        optimizer::DockerfileError::Cancelled => Failure::cancelled(job),
        other => Failure::bad_request(other.to_string()),
    }
}

/// Scans between two cancellation checks.
async fn scan_step(state: &AppState, job: &Job, dockerfile: &str) -> Result<ScanSummary, Failure> {
    if job.is_cancelled() {
        return Err(Failure::cancelled(job));
    }
    job.set_step(JobStep::Scanning);
    let summary = super::scanning::scan_fail_open(state, dockerfile).await;
    if job.is_cancelled() {
        return Err(Failure::cancelled(job));
    }
    Ok(summary)
}

/// Adds the per-request fields of an optimization answer.
fn finish_answer(answer: &mut Map<String, Value>, job: &Job, started: Instant, cached: bool) {
    answer.insert(
        "processing_time_ms".into(),
        (started.elapsed().as_millis() as u64).into(),
    );
    answer.insert("job_id".into(), job.id().into());
    answer.insert("cached".into(), cached.into());
}

fn to_object(value: &impl serde::Serialize) -> Result<Map<String, Value>, Failure> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Failure::internal(format!(
            "expected a JSON object, got {other}"
        ))),
        Err(e) => Err(Failure::internal(e.to_string())),
    }
}

/// The Dockerfile text of a request body, or the 400 answer for a missing, empty or non-JSON body.
fn dockerfile_of(body: &[u8]) -> Result<String, Failure> {
    const REQUIRED: &str = "dockerfile content is required";
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::bad_request(REQUIRED));
    }
    let request: OperationRequest = serde_json::from_slice(body)
        .map_err(|e| Failure::bad_request(format!("invalid JSON body: {e}")))?;
    match request.dockerfile {
        Some(text) if !text.trim().is_empty() => Ok(text),
        _ => Err(Failure::bad_request(REQUIRED)),
    }
}

/// Lower-case hex SHA-256 of the input, the key of the cache, the jobs and the deny-list.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_without_a_dockerfile_are_refused_with_the_documented_message() {
        for body in [
            &b""[..],
            b"  ",
            b"{}",
            b"{\"dockerfile\":\"\"}",
            b"{\"dockerfile\":\"  \\n\"}",
            b"{\"dockerfile\":null}",
        ] {
            let failure = dockerfile_of(body).unwrap_err();
            assert_eq!(failure.status, StatusCode::BAD_REQUEST);
            assert_eq!(failure.message, "dockerfile content is required");
        }
    }

    #[test]
    fn a_non_json_body_gets_the_parse_message() {
        let failure = dockerfile_of(b"FROM ubuntu").unwrap_err();
        assert_eq!(failure.status, StatusCode::BAD_REQUEST);
        assert!(
            failure.message.starts_with("invalid JSON body:"),
            "{}",
            failure.message
        );
        let failure = dockerfile_of(b"{\"dockerfile\": 5}").unwrap_err();
        assert!(
            failure.message.starts_with("invalid JSON body:"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn the_dockerfile_is_taken_as_is() {
        assert_eq!(
            dockerfile_of(b"{\"dockerfile\":\"FROM a\\n\"}").unwrap(),
            "FROM a\n"
        );
    }

    #[test]
    fn sha256_is_lower_case_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
