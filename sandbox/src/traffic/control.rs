//! The traffic's control endpoint: how firedrill changes what the clients do while they run.
//!
//! - `GET /control`: the current [`ControlState`].
//! - `PUT /control/rate {"rate": 10}`: the open-loop base rate (a traffic surge, or back to normal).
//! - `PUT /control/poison {"dockerfile": "...", "pause_ms": 2000}` / `DELETE /control/poison`: one
//!   client that keeps re-submitting the same Dockerfile, `pause_ms` after each attempt ended
//!   (an answer, a 504 or a connection error), as a retrying CI job does.
//! - `PUT /control/unique-inputs/{name} {"rate": 4, "bytes": 65536, "operation": "optimize"}` /
//!   `DELETE /control/unique-inputs/{name}`: a named stream of distinct generated Dockerfiles of
//!   about `bytes` each, every one a cache miss (`operation` `analyze` sends them to `/analyze`;
//!   `template` `build-steps` makes them costlier to process than the default `manifests`).
//!   Streams are independent, so two faults can each run their own.
//!
//! Bad input gets 400 `{"error": ...}`, as the agent answers.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub use super::generated::Template;
use super::generated::{self, MAX_GENERATED_BYTES, MIN_GENERATED_BYTES};
use super::generator::send;
use super::outcome::{Endpoint, Outcome};
use super::recorder::Recorder;
use super::MAX_RATE;

/// The most unique inputs per second (a surge also raises the client container's CPU limit).
pub const MAX_UNIQUE_RATE: f64 = 400.0;
/// How long the poison client waits for an answer: longer than any agent request timeout, so
/// it sees the agent's own 504 rather than giving up first.
const POISON_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Unique inputs are big; they get more time than the base traffic.
const UNIQUE_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Unique-input requests in flight at most; past it a request is refused client-side
/// (`overload`), like a CI runner's connection pool, so a surge into a saturated agent cannot
/// grow the traffic's memory without bound.
const UNIQUE_MAX_IN_FLIGHT: usize = 64;
/// How often an idle client looks whether it was switched on.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// The client that re-submits one Dockerfile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoisonClient {
    pub dockerfile: String,
    /// Pause after each attempt ended, before the next one.
    pub pause_ms: u64,
}

/// A stream of distinct generated Dockerfiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniqueInputs {
    /// Requests per second.
    pub rate: f64,
    /// Approximate size of each Dockerfile.
    pub bytes: usize,
    /// Where they go: `optimize` (the default; answers are cached) or `analyze` (never cached).
    #[serde(default)]
    pub operation: StreamOperation,
    /// How they are laid out (`manifests`, the default, or the costlier `build-steps`).
    #[serde(default)]
    pub template: Template,
}

/// The agent operation the unique-input stream calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamOperation {
    #[default]
    Optimize,
    Analyze,
}

impl StreamOperation {
    fn endpoint(self) -> Endpoint {
        match self {
            StreamOperation::Optimize => Endpoint::Optimize,
            StreamOperation::Analyze => Endpoint::Analyze,
        }
    }
}

/// `PUT /control/rate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateSetting {
    pub rate: f64,
}

/// The answer of `GET /control` (and of every change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlState {
    /// Base requests per second now.
    pub rate: f64,
    /// The rate the traffic was started with.
    pub initial_rate: f64,
    pub poison: Option<PoisonClient>,
    /// Attempts the poison client made since it was (last) switched on.
    pub poison_attempts: u64,
    /// The unique-input streams running, by name.
    pub unique_inputs: BTreeMap<String, UniqueInputs>,
    /// Unique inputs sent since the traffic started, over all streams.
    pub unique_inputs_sent: u64,
}

/// The shared, changeable part of the traffic.
#[derive(Debug)]
pub struct Control {
    state: Mutex<ControlState>,
}

impl Control {
    pub fn new(rate: f64) -> Arc<Control> {
        Arc::new(Control {
            state: Mutex::new(ControlState {
                rate,
                initial_rate: rate,
                poison: None,
                poison_attempts: 0,
                unique_inputs: BTreeMap::new(),
                unique_inputs_sent: 0,
            }),
        })
    }

    pub fn state(&self) -> ControlState {
        self.lock().clone()
    }

    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ControlState> {
        // Every update is one assignment: the state is consistent even after a panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn router(control: Arc<Control>) -> Router {
    Router::new()
        .route("/control", get(show))
        .route("/control/rate", put(set_rate))
        .route("/control/poison", put(set_poison).delete(stop_poison))
        .route(
            "/control/unique-inputs/{name}",
            put(set_unique_inputs).delete(stop_unique_inputs),
        )
        .with_state(control)
}

type Answer = Result<Json<ControlState>, BadRequest>;

/// A 400 `{"error": ...}` answer.
pub struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.0 });
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}

fn bad_request(message: impl Into<String>) -> BadRequest {
    BadRequest(message.into())
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, BadRequest> {
    body.map(|Json(value)| value)
        .map_err(|rejection| bad_request(rejection.body_text()))
}

async fn show(State(control): State<Arc<Control>>) -> Json<ControlState> {
    Json(control.state())
}

async fn set_rate(
    State(control): State<Arc<Control>>,
    setting: Result<Json<RateSetting>, JsonRejection>,
) -> Answer {
    let RateSetting { rate } = body(setting)?;
    if !(rate > 0.0 && rate <= MAX_RATE) {
        return Err(bad_request(format!(
            "rate must be above 0 and at most {MAX_RATE} requests per second"
        )));
    }
    control.lock().rate = rate;
    tracing::info!(rate, "base rate changed");
    Ok(Json(control.state()))
}

async fn set_poison(
    State(control): State<Arc<Control>>,
    poison: Result<Json<PoisonClient>, JsonRejection>,
) -> Answer {
    let poison = body(poison)?;
    if poison.dockerfile.trim().is_empty() {
        return Err(bad_request("dockerfile must not be empty"));
    }
    let mut state = control.lock();
    state.poison = Some(poison);
    state.poison_attempts = 0;
    drop(state);
    tracing::info!("re-submitting client started");
    Ok(Json(control.state()))
}

async fn stop_poison(State(control): State<Arc<Control>>) -> Json<ControlState> {
    control.lock().poison = None;
    tracing::info!("re-submitting client stopped");
    Json(control.state())
}

async fn set_unique_inputs(
    State(control): State<Arc<Control>>,
    Path(name): Path<String>,
    unique: Result<Json<UniqueInputs>, JsonRejection>,
) -> Answer {
    let unique = body(unique)?;
    let valid_name = !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_name {
        return Err(bad_request(
            "a stream name is 1-40 lower-case letters, digits and dashes",
        ));
    }
    if !(unique.rate > 0.0 && unique.rate <= MAX_UNIQUE_RATE) {
        return Err(bad_request(format!(
            "rate must be above 0 and at most {MAX_UNIQUE_RATE} requests per second"
        )));
    }
    if !(MIN_GENERATED_BYTES..=MAX_GENERATED_BYTES).contains(&unique.bytes) {
        return Err(bad_request(format!(
            "bytes must be between {MIN_GENERATED_BYTES} and {MAX_GENERATED_BYTES}"
        )));
    }
    tracing::info!(
        stream = name,
        rate = unique.rate,
        bytes = unique.bytes,
        "unique-input stream started"
    );
    control.lock().unique_inputs.insert(name, unique);
    Ok(Json(control.state()))
}

async fn stop_unique_inputs(
    State(control): State<Arc<Control>>,
    Path(name): Path<String>,
) -> Json<ControlState> {
    if control.lock().unique_inputs.remove(&name).is_some() {
        tracing::info!(stream = name, "unique-input stream stopped");
    }
    Json(control.state())
}

/// The re-submitting client: one attempt at a time, each recorded like any other request.
pub async fn run_poison_client(
    control: Arc<Control>,
    client: reqwest::Client,
    target: String,
    recorder: Arc<Recorder>,
) {
    loop {
        let Some(poison) = control.lock().poison.clone() else {
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        };
        {
            let mut state = control.lock();
            // Switched off or replaced meanwhile: start over with the current setting.
            if state.poison.as_ref() != Some(&poison) {
                continue;
            }
            state.poison_attempts += 1;
        }
        let request = client
            .post(format!("{target}{}", Endpoint::Optimize.path()))
            .json(&serde_json::json!({ "dockerfile": poison.dockerfile }));
        let _in_flight = recorder.start_request();
        let started = Instant::now();
        let (outcome, detail) = send(request, POISON_REQUEST_TIMEOUT).await;
        record(&recorder, Endpoint::Optimize, outcome, started, detail);
        tokio::time::sleep(Duration::from_millis(poison.pause_ms)).await;
    }
}

/// The unique-input streams: each open loop at its own rate, every request a new Dockerfile.
pub async fn run_unique_inputs(
    instance: u64,
    control: Arc<Control>,
    client: reqwest::Client,
    target: String,
    recorder: Arc<Recorder>,
) {
    let mut serial: u64 = 0;
    // When each running stream sends next.
    let mut due: HashMap<String, tokio::time::Instant> = HashMap::new();
    loop {
        let streams = control.lock().unique_inputs.clone();
        due.retain(|name, _| streams.contains_key(name));
        let now = tokio::time::Instant::now();
        // Wake at least every IDLE_POLL to pick up streams switched on meanwhile.
        let mut wake = now + IDLE_POLL;
        for (name, stream) in &streams {
            let next = due.entry(name.clone()).or_insert(now);
            if *next <= now {
                serial += 1;
                control.lock().unique_inputs_sent += 1;
                send_generated(
                    &client,
                    &target,
                    &recorder,
                    stream,
                    generated::dockerfile(instance, serial, stream.bytes, stream.template),
                );
                // After a stall, keep the rate instead of catching up in a burst.
                *next = (*next + Duration::from_secs_f64(1.0 / stream.rate)).max(now);
            }
            wake = wake.min(*next);
        }
        tokio::time::sleep_until(wake).await;
    }
}

fn send_generated(
    client: &reqwest::Client,
    target: &str,
    recorder: &Arc<Recorder>,
    stream: &UniqueInputs,
    dockerfile: String,
) {
    let endpoint = stream.operation.endpoint();
    let request = client
        .post(format!("{target}{}", endpoint.path()))
        .json(&serde_json::json!({ "dockerfile": dockerfile }));
    if recorder.in_flight() >= UNIQUE_MAX_IN_FLIGHT {
        recorder.record(
            endpoint,
            Outcome::Overload,
            None,
            Some(format!(
                "{}: {UNIQUE_MAX_IN_FLIGHT} requests already in flight",
                endpoint.request_line()
            )),
        );
        return;
    }
    let recorder = Arc::clone(recorder);
    tokio::spawn(async move {
        let _in_flight = recorder.start_request();
        let started = Instant::now();
        let (outcome, detail) = send(request, UNIQUE_REQUEST_TIMEOUT).await;
        record(&recorder, endpoint, outcome, started, detail);
    });
}

fn record(
    recorder: &Recorder,
    endpoint: Endpoint,
    outcome: Outcome,
    started: Instant,
    detail: Option<String>,
) {
    let detail = detail.map(|d| format!("{}: {d}", endpoint.request_line()));
    recorder.record(endpoint, outcome, Some(started.elapsed()), detail);
}
