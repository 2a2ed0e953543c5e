//! What a fault acts on: one sandbox's agent container, through the engine, with every exec
//! firedrill runs there journaled.

use bollard::models::{ContainerInspectResponse, ContainerUpdateBody};
use bollard::query_parameters::{
    RestartContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
};
use bollard::Docker;
use serde_json::Value;

use crate::docker::exec::{self, ExecJournal, ExecOutput};
use crate::docker::sandbox::{self, SandboxInfo};
use crate::error::{Error, Result};

/// The user the agent runs as; faults that imitate the agent's own doing act as it.
pub const AGENT_USER: &str = "10001";
/// root inside the container (still without capabilities: the house rules hold for faults too).
pub const ROOT: &str = "0";

/// A sandbox as a fault sees it.
pub struct FaultTarget {
    pub docker: Docker,
    pub sandbox: SandboxInfo,
    pub journal: ExecJournal,
}

impl FaultTarget {
    pub fn new(docker: Docker, sandbox: SandboxInfo) -> FaultTarget {
        FaultTarget {
            docker,
            sandbox,
            journal: ExecJournal::default(),
        }
    }

    /// The agent container's name.
    pub fn container(&self) -> &str {
        &self.sandbox.container
    }

    /// Runs `cmd` in the agent container as `user` and returns what it printed.
    pub async fn exec(&self, user: &str, cmd: &[&str]) -> Result<ExecOutput> {
        exec::run(&self.docker, &self.journal, self.container(), user, cmd).await
    }

    /// Like [`exec`](Self::exec), but a non-zero exit is an error carrying its stderr.
    pub async fn exec_ok(&self, user: &str, cmd: &[&str]) -> Result<String> {
        let output = self.exec(user, cmd).await?;
        if output.success() {
            Ok(output.stdout)
        } else {
            Err(Error::FaultAction {
                container: self.container().to_string(),
                command: cmd.join(" "),
                detail: format!(
                    "exit {}: {}",
                    output.exit_code,
                    output.stderr.trim().lines().last().unwrap_or_default()
                ),
            })
        }
    }

    /// Starts `cmd` in the agent container as `user` and leaves it running.
    pub async fn spawn(&self, user: &str, cmd: &[&str]) -> Result<()> {
        exec::spawn(&self.docker, &self.journal, self.container(), user, cmd).await
    }

    /// `agentctl <args> --json` inside the agent, parsed.
    pub async fn agentctl_json(&self, args: &[&str]) -> Result<Value> {
        let mut cmd = vec!["agentctl"];
        cmd.extend_from_slice(args);
        cmd.push("--json");
        let stdout = self.exec_ok(AGENT_USER, &cmd).await?;
        serde_json::from_str(&stdout).map_err(|e| Error::FaultAction {
            container: self.container().to_string(),
            command: cmd.join(" "),
            detail: format!("printed no JSON ({e})"),
        })
    }

    /// Writes a file into the agent container (works while it is stopped or restarting).
    pub async fn write_file(&self, path: &str, contents: &[u8], mode: u32, uid: u64) -> Result<()> {
        exec::write_file(
            &self.docker,
            &self.journal,
            self.container(),
            path,
            contents,
            mode,
            uid,
        )
        .await
    }

    /// Reads a file out of the agent container; `None` when it does not exist.
    pub async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>> {
        // A copy out shows in the events stream as `archive-path`, as a trainee's `docker cp`.
        self.journal
            .record_engine_action(format!("docker cp {}:{path} -", self.container()));
        exec::read_file(&self.docker, self.container(), path).await
    }

    /// The engine's view of the agent container.
    pub async fn inspect(&self) -> Result<ContainerInspectResponse> {
        self.docker
            .inspect_container(self.container(), None)
            .await
            .map_err(Error::docker(format!("inspecting {}", self.container())))
    }

    /// Whether the agent container is running (not stopped, not between restarts).
    pub async fn is_running(&self) -> Result<bool> {
        Ok(self
            .inspect()
            .await?
            .state
            .and_then(|s| s.running)
            .unwrap_or(false))
    }

    /// The agent's CPU limit in billionths of a CPU; 0 when it has none.
    pub async fn nano_cpus(&self) -> Result<i64> {
        self.nano_cpus_of(self.container()).await
    }

    /// The CPU limit of `container` (one of this sandbox's) in billionths of a CPU; 0 when it
    /// has none.
    pub async fn nano_cpus_of(&self, container: &str) -> Result<i64> {
        Ok(self
            .docker
            .inspect_container(container, None)
            .await
            .map_err(Error::docker(format!("inspecting {container}")))?
            .host_config
            .and_then(|h| h.nano_cpus)
            .unwrap_or(0))
    }

    /// The host's CPUs in billionths of a CPU: the most a container's CPU limit can be.
    pub async fn host_nano_cpus(&self) -> Result<i64> {
        let cpus = self
            .docker
            .info()
            .await
            .map_err(Error::docker(
                "asking the engine how many CPUs the host has",
            ))?
            .ncpu
            .unwrap_or(1);
        Ok(cpus * 1_000_000_000)
    }

    /// The CPU the sandbox's running agent containers may use together, in billionths of a CPU
    /// (`host`: the host's, which a container without a limit may use whole). Scaling up and
    /// scaling out both add to it.
    pub async fn agent_capacity(&self, host: i64) -> Result<i64> {
        let mut total = 0;
        for container in self.running_agents().await? {
            let limit = self.nano_cpus_of(&container).await?;
            total += if limit > 0 { limit.min(host) } else { host };
        }
        Ok(total)
    }

    /// The sandbox's agent containers that run: the primary (when it does) and its running
    /// replicas, by name.
    pub async fn running_agents(&self) -> Result<Vec<String>> {
        let mut running = Vec::new();
        if self.is_running().await? {
            running.push(self.container().to_string());
        }
        for member in sandbox::replica_members(&self.docker, &self.sandbox.name).await? {
            if member.state == "running" {
                running.push(member.container);
            }
        }
        Ok(running)
    }

    /// Changes the agent's CPU limit live, as `docker update --cpus` does.
    pub async fn set_nano_cpus(&self, nano_cpus: i64) -> Result<()> {
        self.set_nano_cpus_of(self.container(), nano_cpus).await
    }

    /// Changes the CPU limit of `container` (one of this sandbox's) live.
    pub async fn set_nano_cpus_of(&self, container: &str, nano_cpus: i64) -> Result<()> {
        self.journal.record_engine_action(format!(
            "docker update --cpus {} {container}",
            nano_cpus as f64 / 1e9
        ));
        self.docker
            .update_container(
                container,
                ContainerUpdateBody {
                    nano_cpus: Some(nano_cpus),
                    ..Default::default()
                },
            )
            .await
            .map_err(Error::docker(format!(
                "updating the CPU limit of {container}"
            )))
    }

    /// `docker restart -t <grace_seconds>` of the agent.
    pub async fn restart(&self, grace_seconds: i32) -> Result<()> {
        self.journal.record_engine_action(format!(
            "docker restart -t {grace_seconds} {}",
            self.container()
        ));
        let options = RestartContainerOptionsBuilder::default()
            .t(grace_seconds)
            .build();
        self.docker
            .restart_container(self.container(), Some(options))
            .await
            .map_err(Error::docker(format!("restarting {}", self.container())))
    }

    /// `docker stop -t <grace_seconds>` of the agent; already stopped is fine.
    pub async fn stop(&self, grace_seconds: i32) -> Result<()> {
        self.journal.record_engine_action(format!(
            "docker stop -t {grace_seconds} {}",
            self.container()
        ));
        let options = StopContainerOptionsBuilder::default()
            .t(grace_seconds)
            .build();
        let result = self
            .docker
            .stop_container(self.container(), Some(options))
            .await;
        unless_already(result).map_err(Error::docker(format!("stopping {}", self.container())))
    }

    /// `docker start` of the agent; already running is fine.
    pub async fn start(&self) -> Result<()> {
        self.journal
            .record_engine_action(format!("docker start {}", self.container()));
        let result = self
            .docker
            .start_container(self.container(), None::<StartContainerOptions>)
            .await;
        unless_already(result).map_err(Error::docker(format!("starting {}", self.container())))
    }

    /// Fails with a clear error when the image has no shell tools a fault needs.
    pub async fn require_shell_tools(&self, kind: &str) -> Result<()> {
        match self.read_file("/bin/busybox").await? {
            Some(_) => Ok(()),
            None => Err(Error::FaultUnavailable {
                kind: kind.to_string(),
                reason: "the sandbox image has no shell tools (busybox); install Debian's \
                         busybox-static on this host and start a new sandbox"
                    .to_string(),
            }),
        }
    }
}

/// The engine answers 304 when a container already is as asked: that is success here.
fn unless_already(
    result: std::result::Result<(), bollard::errors::Error>,
) -> std::result::Result<(), bollard::errors::Error> {
    match result {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        }) => Ok(()),
        other => other,
    }
}

/// Whether a fault's root cause is still there, and what shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RootCause {
    pub present: bool,
    pub detail: String,
}

impl RootCause {
    pub fn present(detail: impl Into<String>) -> RootCause {
        RootCause {
            present: true,
            detail: detail.into(),
        }
    }

    pub fn cleared(detail: impl Into<String>) -> RootCause {
        RootCause {
            present: false,
            detail: detail.into(),
        }
    }
}
