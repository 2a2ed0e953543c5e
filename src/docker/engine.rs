//! Connecting to the engine, with an answer within two seconds when there is none.

use std::time::Duration;

use bollard::Docker;

use crate::error::{Error, Result};

/// How long firedrill waits for the engine before saying it is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The engine endpoint firedrill will use: `DOCKER_HOST`, or the local socket.
pub fn endpoint() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

/// Connects to the engine and agrees on an API version (the engine may be older than bollard).
pub async fn connect() -> Result<Docker> {
    let endpoint = endpoint();
    let unreachable = |detail: String| Error::DockerUnreachable {
        endpoint: endpoint.clone(),
        detail,
    };
    let docker = Docker::connect_with_defaults().map_err(|e| unreachable(e.to_string()))?;
    let docker = docker.with_timeout(Duration::from_secs(120));
    match tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await {
        Ok(Ok(docker)) => Ok(docker),
        Ok(Err(e)) => Err(unreachable(root_cause(&e))),
        Err(_) => Err(unreachable(format!(
            "no answer within {}s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// The innermost cause of an error, which is what a user can act on ("No such file or directory").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
