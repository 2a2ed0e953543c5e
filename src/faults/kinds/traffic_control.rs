//! The sandbox traffic's control endpoint (`/control` on its statistics port, published on
//! 127.0.0.1), as the workload faults drive it: the re-submitting client and named unique-input
//! streams. The types are the traffic's own (`optimizer_agent::traffic::control`).

use std::time::Duration;

use optimizer_agent::traffic::control::{ControlState, PoisonClient, UniqueInputs};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::faults::target::FaultTarget;

const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// The traffic's current settings.
pub async fn state(target: &FaultTarget) -> Result<ControlState> {
    call(target, reqwest::Method::GET, "/control", None).await
}

pub async fn start_poison(target: &FaultTarget, poison: &PoisonClient) -> Result<ControlState> {
    let body = serde_json::to_value(poison).unwrap_or_default();
    call(target, reqwest::Method::PUT, "/control/poison", Some(body)).await
}

pub async fn stop_poison(target: &FaultTarget) -> Result<ControlState> {
    call(target, reqwest::Method::DELETE, "/control/poison", None).await
}

/// Starts (or changes) the unique-input stream `name`.
pub async fn start_unique_inputs(
    target: &FaultTarget,
    name: &str,
    unique: &UniqueInputs,
) -> Result<ControlState> {
    let body = serde_json::to_value(unique).unwrap_or_default();
    let path = format!("/control/unique-inputs/{name}");
    call(target, reqwest::Method::PUT, &path, Some(body)).await
}

pub async fn stop_unique_inputs(target: &FaultTarget, name: &str) -> Result<ControlState> {
    let path = format!("/control/unique-inputs/{name}");
    call(target, reqwest::Method::DELETE, &path, None).await
}

async fn call<T: DeserializeOwned>(
    target: &FaultTarget,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<T> {
    let container = target
        .sandbox
        .traffic_container
        .clone()
        .unwrap_or_else(|| "the traffic container".to_string());
    let command = format!("{method} {path}");
    let failed = |detail: String| Error::FaultAction {
        container: container.clone(),
        command: command.clone(),
        detail,
    };
    let Some(base) = target.sandbox.traffic_stats.as_deref() else {
        return Err(failed(
            "the sandbox has no running traffic container with a published statistics port"
                .to_string(),
        ));
    };
    let client = reqwest::Client::builder()
        .timeout(CONTROL_TIMEOUT)
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let mut request = client.request(method.clone(), format!("{base}{path}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| failed(e.to_string()))?;
    if !status.is_success() {
        return Err(failed(format!("HTTP {status}: {}", text.trim())));
    }
    serde_json::from_str(&text).map_err(|e| failed(format!("unexpected answer ({e}): {text}")))
}
