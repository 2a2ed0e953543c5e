//! `service-hang`: a deadlock in the agent. A diagnostics dump (SIGUSR2, as the support procedure
//! asks) takes the configuration lock and then waits for it again; every request and operator
//! call then sleeps behind that lock until no worker thread is left. The port stays open, nothing
//! answers, the threads sleep (no CPU). Only a restart ends it, and then truly: nothing is left
//! behind to bring it back.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::Fault;
use crate::error::{Error, Result};
use crate::faults::catalogue::FaultDoc;
use crate::faults::params::Params;
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause, AGENT_USER};

pub struct ServiceHang;

pub const DOC: FaultDoc = FaultDoc {
    kind: "service-hang",
    summary: "The agent deadlocked during a diagnostics dump (SIGUSR2): the port is open but \
              nothing answers.",
    params: &[],
    symptoms: "connections are accepted but never answered: /health, /health/live, /optimize and \
               /metrics time out, `agentctl status` times out; the container is running, CPU near 0 \
               (threads asleep, not spinning); the last agent log line is `diagnostics dump \
               requested`; client traffic is all timeouts",
    mitigated_by: "-",
    resolved_by: "capture diagnostics (`docker top`, thread states under /proc/<pid>/task, the last \
                  log lines), then `docker restart` the agent and verify /health",
    runbook: "service-unavailable",
};

/// The program whose worker threads deadlock.
const AGENT_PROGRAM: &str = "optimizer-agent";
/// Longer than any answer of a healthy agent, short enough to tell a hang quickly.
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(2);
/// How long inject waits for every worker to be caught by the lock.
const HANG_SETTLE_TIMEOUT: Duration = Duration::from_secs(40);
/// Seconds `docker restart` waits for the hung agent (which no longer handles SIGTERM) before
/// killing it.
const RESTART_STOP_SECONDS: i32 = 3;
/// How long revert waits for the restarted agent to answer.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(60);

impl Fault for ServiceHang {
    async fn inject(target: &FaultTarget, _params: &Params) -> Result<Value> {
        target.require_shell_tools(DOC.kind).await?;
        let pid = target
            .exec_ok(AGENT_USER, &["pidof", AGENT_PROGRAM])
            .await?
            .trim()
            .to_string();
        // As the agent's user: root in the sandbox has no CAP_KILL.
        target.exec_ok(AGENT_USER, &["kill", "-USR2", &pid]).await?;
        if let Err(error) = wait_until_hung(target).await {
            // Half a hang is no drill: leave the agent as it was.
            restart_and_wait(target).await?;
            return Err(error);
        }
        Ok(json!({ "pid": pid }))
    }

    async fn revert(target: &FaultTarget, _record: &FaultRecord) -> Result<()> {
        restart_and_wait(target).await
    }

    async fn probe(target: &FaultTarget, _record: &FaultRecord) -> Result<RootCause> {
        Ok(match liveness(target).await? {
            Liveness::Hung => RootCause::present(format!(
                "/health/live did not answer within {}s while the container runs",
                LIVENESS_TIMEOUT.as_secs()
            )),
            Liveness::Answers => RootCause::cleared("/health/live answers"),
            Liveness::Refused => RootCause::cleared(
                "/health/live refuses connections (the agent is starting or stopping), no hang",
            ),
            Liveness::NotRunning => RootCause::cleared("the agent container is not running"),
        })
    }
}

/// `docker restart` (the hung agent no longer handles SIGTERM, so it is killed after
/// [`RESTART_STOP_SECONDS`]), then waits until it answers.
async fn restart_and_wait(target: &FaultTarget) -> Result<()> {
    target.restart(RESTART_STOP_SECONDS).await?;
    let started = Instant::now();
    while started.elapsed() < RECOVERY_TIMEOUT {
        if liveness(target).await? == Liveness::Answers {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(Error::FaultAction {
        container: target.container().to_string(),
        command: "docker restart".to_string(),
        detail: format!(
            "the agent did not answer /health/live within {}s of the restart",
            RECOVERY_TIMEOUT.as_secs()
        ),
    })
}

#[derive(Debug, PartialEq)]
enum Liveness {
    Answers,
    Hung,
    /// Connection refused or reset: nothing listens (starting, stopping), which is not a hang.
    Refused,
    NotRunning,
}

/// Whether the agent answers `/health/live` from the host within [`LIVENESS_TIMEOUT`].
async fn liveness(target: &FaultTarget) -> Result<Liveness> {
    let running = target
        .inspect()
        .await?
        .state
        .and_then(|s| s.running)
        .unwrap_or(false);
    let Some(http) = target.sandbox.http.as_deref().filter(|_| running) else {
        return Ok(Liveness::NotRunning);
    };
    let outcome = client(LIVENESS_TIMEOUT)
        .get(format!("{http}/health/live"))
        .send()
        .await;
    Ok(match outcome {
        Ok(_) => Liveness::Answers,
        Err(error) if error.is_timeout() => Liveness::Hung,
        Err(_) => Liveness::Refused,
    })
}

/// Waits until no worker answers. The client traffic catches the workers one by one on the lock;
/// without traffic, requests to /health (which needs the lock) do it.
async fn wait_until_hung(target: &FaultTarget) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < HANG_SETTLE_TIMEOUT {
        if liveness(target).await? == Liveness::Hung {
            return Ok(());
        }
        if let Some(http) = target.sandbox.http.as_deref() {
            // It hangs by design; only the worker it ties up matters.
            let _ = client(Duration::from_millis(300))
                .get(format!("{http}/health"))
                .send()
                .await;
        }
    }
    Err(Error::FaultAction {
        container: target.container().to_string(),
        command: format!("kill -USR2 $(pidof {AGENT_PROGRAM})"),
        detail: format!(
            "the agent still answered /health/live {}s after the signal",
            HANG_SETTLE_TIMEOUT.as_secs()
        ),
    })
}

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .expect("a client without custom TLS roots always builds")
}
