//! `GET /stats[?window=SECONDS]` (the sliding window, or its most recent part, as JSON) and
//! `GET /metrics` (Prometheus text).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::control::Control;
use super::recorder::Recorder;

/// The answer of `GET /stats`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct StatsReport {
    pub window_seconds: u64,
    pub requests: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub timeouts: u64,
    pub last_error: Option<String>,
    pub in_flight: usize,
    pub target: String,
    pub rate: f64,
}

#[derive(Clone)]
pub struct StatsState {
    pub recorder: Arc<Recorder>,
    pub target: String,
    /// The base rate is read from here: it changes while the traffic runs.
    pub control: Arc<Control>,
}

/// `GET /stats?window=SECONDS`: a view shorter than the full window (1 to its span).
#[derive(Debug, Default, serde::Deserialize)]
pub struct StatsQuery {
    window: Option<u64>,
}

impl StatsState {
    /// The summary of the last `window` (the whole sliding window when `None`).
    pub fn report(&self, window: Option<Duration>) -> StatsReport {
        let span = self.recorder.window_span();
        let within = window.map_or(span, |w| w.clamp(Duration::from_secs(1), span));
        let summary = self.recorder.summary_within(within);
        StatsReport {
            window_seconds: within.as_secs(),
            requests: summary.requests,
            errors: summary.errors,
            // Four decimals are plenty for a rate and keep the JSON readable.
            error_rate: (summary.error_rate * 10_000.0).round() / 10_000.0,
            p50_ms: summary.p50_ms,
            p95_ms: summary.p95_ms,
            p99_ms: summary.p99_ms,
            timeouts: summary.timeouts,
            last_error: summary.last_error,
            in_flight: self.recorder.in_flight(),
            target: self.target.clone(),
            rate: self.control.rate(),
        }
    }
}

pub fn router(state: StatsState) -> Router {
    Router::new()
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn stats(
    State(state): State<StatsState>,
    Query(query): Query<StatsQuery>,
) -> Json<StatsReport> {
    Json(state.report(query.window.map(Duration::from_secs)))
}

async fn metrics(State(state): State<StatsState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.recorder.prometheus_text(),
    )
}
