//! The public HTTP API, served on the HTTP and the HTTPS port alike.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::health::HealthStatus;
use super::jobs::Operation;
use super::metrics;
use super::pipeline;
use super::state::AppState;

const ENDPOINTS: [&str; 7] = [
    "GET /",
    "GET /health",
    "GET /health/ready",
    "GET /health/live",
    "POST /optimize",
    "POST /analyze",
    "GET /metrics",
];

pub fn public_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/health/ready", get(ready))
        .route("/health/live", get(live))
        .route("/optimize", post(optimize))
        .route("/analyze", post(analyze))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(middleware::from_fn(log_access))
        .with_state(state)
}

/// The access log: one line per request with the client's address, so an incident timeline
/// can tell the steady client traffic from an engineer probing `/health` or `/metrics`.
async fn log_access(
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    // Who asked, besides where from: the client traffic and firedrill's monitor come from the
    // same addresses as an engineer's curl, so the audit tells them apart by user agent.
    let user_agent = request
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        target: "access",
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        client = %client.ip(),
        user_agent = %user_agent,
        "request"
    );
    response
}

async fn index(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(json!({
        "service": "docker-optimizer-agent",
        "version": state.version,
        "endpoints": ENDPOINTS,
    }))
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let report = state.health();
    let status = match report.status {
        HealthStatus::Healthy | HealthStatus::Degraded => StatusCode::OK,
        HealthStatus::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(report)).into_response()
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let ready = state.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "ready": ready }))).into_response()
}

async fn live() -> Json<serde_json::Value> {
    Json(json!({ "live": true }))
}

async fn optimize(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    process_detached(state, Operation::Optimize, body).await
}

async fn analyze(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    process_detached(state, Operation::Analyze, body).await
}

/// Processes a request in a task of its own: a client that hangs up does not cancel the work,
/// as with the real agent, so a scan that times out is still counted, logged and cleaned up.
async fn process_detached(state: Arc<AppState>, operation: Operation, body: Bytes) -> Response {
    let work = tokio::spawn(async move { pipeline::handle(state, operation, &body).await });
    match work.await {
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(error) => {
            tracing::error!(%error, "request processing task failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "internal error" })),
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics_text(),
    )
        .into_response()
}

/// Unknown routes answer JSON like the rest of the API.
pub async fn not_found(method: Method, uri: Uri) -> Response {
    let body = json!({ "error": format!("no route for {method} {}", uri.path()) });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}
