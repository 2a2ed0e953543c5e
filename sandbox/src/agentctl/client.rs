//! The HTTP client of the agent's operator API (`/admin/...`, JSON).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::CommandError;

/// Longer than any admin call takes on a healthy agent (cleanup and prune walk the disk), short
/// enough that a hung agent is reported instead of leaving the operator waiting.
const ADMIN_CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// An answer of the operator API: exactly what the agent sent (for `--json`) and the typed
/// view the text rendering reads.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    pub raw: Value,
    pub view: T,
}

pub struct AdminClient {
    base_url: String,
    http: reqwest::Client,
}

impl AdminClient {
    /// A client of the operator API at `base_url`, e.g. `http://127.0.0.1:9090`.
    pub fn new(base_url: &str) -> AdminClient {
        AdminClient {
            base_url: base_url.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(ADMIN_CALL_TIMEOUT)
                .user_agent(concat!("agentctl/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("a client without custom TLS roots always builds"),
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Answer<T>, CommandError> {
        let call = format!("GET {path}");
        self.exchange(call, self.http.get(self.url(path))).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Answer<T>, CommandError> {
        let call = format!("POST {path}");
        self.exchange(call, self.http.post(self.url(path)).query(query))
            .await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn exchange<T: DeserializeOwned>(
        &self,
        call: String,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer<T>, CommandError> {
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| self.unreachable(&e))?;
        let raw: Option<Value> = serde_json::from_str(&body).ok();
        if !status.is_success() {
            let message = raw
                .as_ref()
                .and_then(|v| v.get("error"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("the agent answered {call} with HTTP {status}"));
            return Err(CommandError::Refused {
                status: status.as_u16(),
                message,
            });
        }
        let raw = raw.ok_or_else(|| CommandError::UnexpectedAnswer {
            call: call.clone(),
            reason: "not JSON".to_string(),
        })?;
        let view =
            serde_json::from_value(raw.clone()).map_err(|e| CommandError::UnexpectedAnswer {
                call,
                reason: e.to_string(),
            })?;
        Ok(Answer { raw, view })
    }

    fn unreachable(&self, error: &reqwest::Error) -> CommandError {
        CommandError::Unreachable {
            url: self.base_url.clone(),
            reason: transport_failure(error),
        }
    }
}

/// A short reason for a failed exchange, as an operator would say it ("connection refused").
fn transport_failure(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!(
            "no answer within {}",
            humantime::format_duration(ADMIN_CALL_TIMEOUT)
        );
    }
    // reqwest's own message is generic ("error sending request"); the innermost cause is the
    // one that says what happened.
    let mut innermost: &dyn std::error::Error = error;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    if let Some(io) = innermost.downcast_ref::<std::io::Error>() {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => return "connection refused".to_string(),
            std::io::ErrorKind::ConnectionReset => return "connection reset".to_string(),
            _ => {}
        }
    }
    innermost.to_string()
}
