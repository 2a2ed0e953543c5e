//! The operator API on 127.0.0.1 (`agentctl` talks to it). JSON in every answer, errors included.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::cleanup;
use super::reload;
use super::routes::not_found;
use super::state::AppState;

/// `GET /admin/history` answers this many records unless asked otherwise.
const DEFAULT_HISTORY_LIMIT: usize = 20;

pub fn admin_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/admin/status", get(status))
        .route("/admin/jobs", get(jobs))
        .route("/admin/jobs/{id}/cancel", post(cancel_job))
        .route("/admin/cache", get(cache))
        .route("/admin/cache/clear", post(clear_cache))
        .route("/admin/scanner", get(scanner))
        .route("/admin/reload", post(reload))
        .route("/admin/config", get(config))
        .route("/admin/cleanup", post(cleanup))
        .route("/admin/db/prune", post(prune))
        .route("/admin/history", get(history))
        .fallback(not_found)
        .layer(middleware::from_fn(log_operator_call))
        .with_state(state)
}

/// Every operator call is logged: it is how an incident's timeline shows what was done.
async fn log_operator_call(request: Request, next: Next) -> Response {
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        method = %method,
        path = %uri,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        "operator call"
    );
    response
}

/// An error answer: `{"error": message}` with its status.
struct ApiError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> ApiError {
    ApiError {
        status,
        message: message.to_string(),
    }
}

type Answer = Result<Response, ApiError>;

/// A malformed query string answers 400 in JSON, like every other error here.
fn query<T>(parsed: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    parsed
        .map(|Query(params)| params)
        .map_err(|rejection| error(StatusCode::BAD_REQUEST, rejection.body_text()))
}

async fn status(State(state): State<Arc<AppState>>) -> Response {
    let loaded = state.config();
    let tls = state.certificate.as_ref().map(|certificate| {
        let info = certificate.info();
        json!({ "not_after": info.not_after, "days_left": info.days_left, "serial": info.serial })
    });
    Json(json!({
        "version": state.version,
        "pid": std::process::id(),
        "uptime_seconds": state.uptime().as_secs(),
        "health": state.health(),
        "jobs_in_flight": state.jobs.in_flight(),
        "denied_inputs": state.denylist.count(),
        "history_records": state.history.count().ok(),
        "cache": state.cache.stats(),
        "disk": state.quota.usage(),
        "tls": tls,
        "scanner": state.scans.status(&loaded.config.scanner),
    }))
    .into_response()
}

async fn jobs(State(state): State<Arc<AppState>>) -> Response {
    Json(state.jobs.snapshot()).into_response()
}

#[derive(Deserialize)]
struct CancelParams {
    #[serde(default)]
    deny: bool,
}

async fn cancel_job(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    params: Result<Query<CancelParams>, QueryRejection>,
) -> Answer {
    let params = query(params)?;
    let id: u64 = id.parse().map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            format!("job id must be a number, got {id:?}"),
        )
    })?;
    let input_sha256 = state
        .jobs
        .cancel(id)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    let denied_input = if params.deny {
        let same_input = state.jobs.cancel_input(&input_sha256);
        tracing::warn!(job = id, jobs = ?same_input, "cancelled every job on the denied input");
        if let Err(e) = state.denylist.add(&input_sha256) {
            tracing::error!(job = id, input_sha256, error = %e, "could not persist the deny-list");
            let message = format!("job {id} cancelled, but the deny-list could not be saved: {e}");
            return Err(error(StatusCode::INTERNAL_SERVER_ERROR, message));
        }
        Some(input_sha256)
    } else {
        None
    };
    tracing::warn!(job = id, denied_input = ?denied_input, "job cancelled by the operator");
    Ok(Json(json!({ "id": id, "cancelled": true, "denied_input": denied_input })).into_response())
}

async fn cache(State(state): State<Arc<AppState>>) -> Response {
    Json(state.cache.stats()).into_response()
}

async fn clear_cache(State(state): State<Arc<AppState>>) -> Response {
    let cleared = state.cache.clear();
    tracing::info!(cleared, "cache cleared by the operator");
    Json(json!({ "cleared": cleared })).into_response()
}

async fn scanner(State(state): State<Arc<AppState>>) -> Response {
    Json(state.scans.status(&state.config().config.scanner)).into_response()
}

async fn reload(State(state): State<Arc<AppState>>) -> Answer {
    let changes = reload::reload(&state)
        .await
        .map_err(|message| error(StatusCode::UNPROCESSABLE_ENTITY, message))?;
    Ok(Json(json!({ "reloaded": true, "changes": changes })).into_response())
}

async fn config(State(state): State<Arc<AppState>>) -> Response {
    let loaded = state.config();
    Json(json!({
        "file": loaded.file,
        "config": loaded.config,
        "sources": loaded.sources,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct CleanupParams {
    #[serde(default)]
    dry_run: bool,
}

async fn cleanup(
    State(state): State<Arc<AppState>>,
    params: Result<Query<CleanupParams>, QueryRejection>,
) -> Answer {
    let params = query(params)?;
    let loaded = state.config();
    let (data_dir, log_dir) = (
        loaded.config.storage.data_dir.clone(),
        loaded.config.logging.dir.clone(),
    );
    let report = blocking(move || cleanup::clean(&data_dir, &log_dir, params.dry_run)).await?;
    if !report.dry_run {
        state.quota.release(report.freed_bytes);
        tracing::info!(
            files = report.removed.len(),
            freed_bytes = report.freed_bytes,
            "cleanup by the operator"
        );
    }
    Ok(Json(report).into_response())
}

#[derive(Deserialize)]
struct PruneParams {
    older_than_seconds: u64,
}

async fn prune(
    State(state): State<Arc<AppState>>,
    params: Result<Query<PruneParams>, QueryRejection>,
) -> Answer {
    let params = query(params)?;
    let pruning_state = Arc::clone(&state);
    let result = blocking(move || {
        pruning_state
            .history
            .prune_older_than(params.older_than_seconds)
    })
    .await?
    .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    tracing::info!(
        pruned = result.pruned,
        remaining = result.remaining,
        "history pruned by the operator"
    );
    Ok(Json(result).into_response())
}

#[derive(Deserialize)]
struct HistoryParams {
    limit: Option<usize>,
}

async fn history(
    State(state): State<Arc<AppState>>,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Answer {
    let limit = query(params)?.limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
    let reading_state = Arc::clone(&state);
    let records = blocking(move || reading_state.history.newest(limit))
        .await?
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok(Json(records).into_response())
}

/// Runs file-system or database work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("operator task crashed: {e}"),
        )
    })
}
