//! The open-loop request stream: requests leave on a fixed schedule whether or not earlier ones
//! were answered, so a slow agent shows up as latency and growing in-flight counts instead of
//! quietly slowing the client down (as a closed loop would).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::control::Control;
use super::mix::{PlannedRequest, RequestMix};
use super::outcome::Outcome;
use super::recorder::Recorder;

/// How often, and how patiently, the agent's first readiness is probed.
const READINESS_POLL_INTERVAL: Duration = Duration::from_millis(100);
const READINESS_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How much of an error answer's body `last_error` quotes.
const ERROR_BODY_EXCERPT_CHARS: usize = 200;

pub struct Generator {
    pub client: reqwest::Client,
    /// Base URL of the agent, without a trailing slash.
    pub target: String,
    /// Where the base rate is read from before each request, so it can change while running.
    pub control: Arc<Control>,
    pub request_timeout: Duration,
    pub max_in_flight: usize,
    /// Hold the first request until the agent is ready (see `wait_until_ready`).
    pub wait_for_ready: bool,
    pub mix: RequestMix,
    pub recorder: Arc<Recorder>,
}

impl Generator {
    /// Waits for the agent's first readiness, then sends requests until the future is dropped.
    pub async fn run(mut self) {
        if self.wait_for_ready {
            self.wait_until_ready().await;
        }
        let mut next = tokio::time::Instant::now();
        loop {
            tokio::time::sleep_until(next).await;
            next += Duration::from_secs_f64(1.0 / self.control.rate());
            // After a stall of the client itself (e.g. its container paused), resume the rate
            // rather than firing the missed requests in one burst.
            next = next.max(tokio::time::Instant::now());
            let planned = self.mix.next_request();
            self.fire(planned);
        }
    }

    /// Like a load balancer admitting a new backend, the clients start only once the agent is
    /// ready: the traffic container starts beside the agent, and a start-up is not an outage.
    /// Only the first readiness is awaited; any later outage counts as errors.
    async fn wait_until_ready(&self) {
        let url = format!("{}/health/ready", self.target);
        let mut announced = false;
        loop {
            let ready = self
                .client
                .get(&url)
                .timeout(READINESS_PROBE_TIMEOUT)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                tracing::info!(target = %self.target, "agent ready, starting client traffic");
                return;
            }
            if !announced {
                tracing::info!(target = %self.target, "waiting for the agent to be ready");
                announced = true;
            }
            tokio::time::sleep(READINESS_POLL_INTERVAL).await;
        }
    }

    fn fire(&self, planned: PlannedRequest) {
        if self.recorder.in_flight() >= self.max_in_flight {
            self.recorder.record(
                planned.endpoint,
                Outcome::Overload,
                None,
                Some(format!(
                    "{}: overload: {} requests already in flight",
                    planned.endpoint.request_line(),
                    self.max_in_flight
                )),
            );
            return;
        }
        let request = self.build_request(&planned);
        let recorder = Arc::clone(&self.recorder);
        let timeout = self.request_timeout;
        tokio::spawn(async move {
            let _in_flight = recorder.start_request();
            let started = Instant::now();
            let (outcome, detail) = send(request, timeout).await;
            let detail = detail.map(|d| format!("{}: {d}", planned.endpoint.request_line()));
            recorder.record(planned.endpoint, outcome, Some(started.elapsed()), detail);
        });
    }

    fn build_request(&self, planned: &PlannedRequest) -> reqwest::RequestBuilder {
        let url = format!("{}{}", self.target, planned.endpoint.path());
        match &planned.dockerfile {
            None => self.client.get(url),
            Some(dockerfile) => self
                .client
                .post(url)
                .json(&serde_json::json!({ "dockerfile": dockerfile })),
        }
    }
}

/// Sends `request` and reads the whole answer within `timeout`; the error detail is set for
/// errors only.
pub(super) async fn send(
    request: reqwest::RequestBuilder,
    timeout: Duration,
) -> (Outcome, Option<String>) {
    let exchange = async {
        let response = request.send().await?;
        let status = response.status();
        let body = response.text().await?;
        Ok::<_, reqwest::Error>((status, body))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_elapsed) => (
            Outcome::Timeout,
            Some(format!(
                "timed out after {}",
                humantime::format_duration(timeout)
            )),
        ),
        Ok(Err(error)) => (
            Outcome::ConnectionError,
            Some(describe_transport_error(&error)),
        ),
        Ok(Ok((status, body))) => {
            let outcome = Outcome::from_status(status);
            let detail = outcome
                .is_error()
                .then(|| format!("HTTP {status}: {}", error_message(&body)));
            (outcome, detail)
        }
    }
}

/// The agent's `{"error": ..}` message, or the start of the body when it is not one.
fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| body.trim().chars().take(ERROR_BODY_EXCERPT_CHARS).collect())
}

/// reqwest's own message is generic ("error sending request for url ..."); the innermost
/// cause says what failed ("Connection refused (os error 111)").
fn describe_transport_error(error: &reqwest::Error) -> String {
    let mut innermost: &dyn std::error::Error = error;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    format!("connection error: {innermost}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_prefers_the_agents_error_field() {
        assert_eq!(
            error_message(r#"{"error":"scanner crashed"}"#),
            "scanner crashed"
        );
        assert_eq!(error_message("  upstream gone \n"), "upstream gone");
        assert_eq!(
            error_message(&"x".repeat(500)).len(),
            ERROR_BODY_EXCERPT_CHARS
        );
    }
}
