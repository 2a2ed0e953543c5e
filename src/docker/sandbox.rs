//! A sandbox: the agent container, its client-traffic container, their network and the agent's
//! data volume, all labelled as firedrill's and named after the sandbox.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerCreateBody, ContainerSummary, EndpointSettings, HostConfig, HostConfigLogConfig,
    Mount, MountType, NetworkCreateRequest, NetworkingConfig, PortBinding, RestartPolicy,
    RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use optimizer_agent::paths;
use serde::Serialize;

use super::image::SandboxImage;
use super::labels;
use super::sweep::{self, Swept};
use crate::error::{Error, Result};
use crate::interrupt::Interrupt;
use crate::ui::Progress;

/// The agent's network alias, which the traffic targets.
const AGENT_ALIAS: &str = "optimizer-agent";
/// Limits of the agent container: small enough that a fault never harms the host.
const AGENT_MEMORY_BYTES: i64 = 256 * 1024 * 1024;
const AGENT_NANO_CPUS: i64 = 1_000_000_000;
const AGENT_PIDS: i64 = 128;
/// Limits of the traffic container.
const TRAFFIC_MEMORY_BYTES: i64 = 64 * 1024 * 1024;
const TRAFFIC_NANO_CPUS: i64 = 250_000_000;
const TRAFFIC_PIDS: i64 = 32;
/// Requests per second the synthetic clients send.
const TRAFFIC_RATE: &str = "2";
/// How long `up` waits for the agent's first healthy `/health`.
const HEALTHY_WITHIN: Duration = Duration::from_secs(60);

/// What to start.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// Short name; containers are `firedrill-<name>-agent` and `firedrill-<name>-traffic`.
    pub name: String,
    /// The session the sandbox belongs to (its resources carry it as a label).
    pub session: String,
    /// Extra `KEY=VALUE` environment of the agent (e.g. `DOCKER_OPTIMIZER_*` overrides).
    pub agent_env: Vec<String>,
}

/// A sandbox as the engine reports it.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxInfo {
    pub name: String,
    pub session: String,
    /// The agent container's name.
    pub container: String,
    pub container_id: String,
    pub traffic_container: Option<String>,
    pub network: String,
    pub volume: String,
    pub version: String,
    pub image: String,
    /// Container state: running, restarting, exited...
    pub state: String,
    /// `http://127.0.0.1:PORT` of the agent's HTTP API.
    pub http: Option<String>,
    /// `https://127.0.0.1:PORT` of the agent's HTTPS API.
    pub https: Option<String>,
    /// `http://127.0.0.1:PORT` of the traffic's client-side statistics.
    pub traffic_stats: Option<String>,
    /// Overall status from `/health`, when asked for.
    pub health: Option<String>,
}

/// Resource names of a sandbox.
pub struct SandboxNames {
    pub agent: String,
    pub traffic: String,
    pub network: String,
    pub volume: String,
}

impl SandboxNames {
    pub fn of(name: &str) -> SandboxNames {
        SandboxNames {
            agent: format!("firedrill-{name}-agent"),
            traffic: format!("firedrill-{name}-traffic"),
            network: format!("firedrill-{name}"),
            volume: format!("firedrill-{name}-data"),
        }
    }
}

/// Checks a sandbox name can become part of container, network and volume names.
pub fn validate_name(name: &str) -> Result<()> {
    let invalid = |reason: &str| Error::InvalidSandboxName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() || name.len() > 40 {
        return Err(invalid("use 1 to 40 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(invalid("use lowercase letters, digits and '-'"));
    }
    if name.starts_with('-') {
        return Err(invalid("start with a letter or digit"));
    }
    Ok(())
}

/// Starts a sandbox from `image` and waits until the agent answers healthy.
///
/// On any failure, whatever this call created is removed again.
pub async fn up(
    docker: &Docker,
    spec: &SandboxSpec,
    image: &SandboxImage,
    progress: &Progress,
    interrupt: &Interrupt,
) -> Result<SandboxInfo> {
    validate_name(&spec.name)?;
    let names = SandboxNames::of(&spec.name);
    if let Some(existing) = containers(docker, Some(&spec.name))
        .await?
        .into_iter()
        .next()
    {
        return Err(Error::SandboxExists {
            name: spec.name.clone(),
            container: container_name(&existing),
        });
    }
    let started = start(docker, spec, image, &names, progress, interrupt).await;
    match started {
        Ok(info) => Ok(info),
        Err(error) => {
            // Only what this call made carries its session: a namesake made by anyone else stays.
            sweep::remove_labelled(docker, &[(labels::SESSION, &spec.session)])
                .await
                .ok();
            Err(error)
        }
    }
}

async fn start(
    docker: &Docker,
    spec: &SandboxSpec,
    image: &SandboxImage,
    names: &SandboxNames,
    progress: &Progress,
    interrupt: &Interrupt,
) -> Result<SandboxInfo> {
    interrupt.check()?;
    let sandbox_labels = |extra: &[(&str, &str)]| {
        let mut all = vec![(labels::SANDBOX, spec.name.as_str())];
        all.extend_from_slice(extra);
        labels::owned(&spec.session, &all)
    };
    progress.step(format!(
        "creating network {} and volume {}",
        names.network, names.volume
    ));
    let network = docker.create_network(NetworkCreateRequest {
        name: names.network.clone(),
        driver: Some("bridge".to_string()),
        labels: Some(sandbox_labels(&[])),
        ..Default::default()
    });
    let volume = docker.create_volume(VolumeCreateRequest {
        name: Some(names.volume.clone()),
        labels: Some(sandbox_labels(&[])),
        ..Default::default()
    });
    let (network, volume) = tokio::join!(network, volume);
    network.map_err(Error::docker(format!("creating network {}", names.network)))?;
    volume.map_err(Error::docker(format!("creating volume {}", names.volume)))?;
    let [http_port, https_port, stats_port] = free_loopback_ports()?;

    progress.step(format!(
        "starting agent {} ({}) and client traffic {}",
        names.agent, image.tag, names.traffic
    ));
    let agent = ContainerCreateBody {
        image: Some(image.tag.clone()),
        env: Some(spec.agent_env.clone()),
        labels: Some(sandbox_labels(&[
            (labels::ROLE, labels::ROLE_AGENT),
            (labels::RELEASE, &image.release),
        ])),
        exposed_ports: Some(vec![
            format!("{}/tcp", paths::HTTP_PORT),
            format!("{}/tcp", paths::HTTPS_PORT),
        ]),
        host_config: Some(HostConfig {
            port_bindings: Some(loopback_bindings(&[
                (paths::HTTP_PORT, http_port),
                (paths::HTTPS_PORT, https_port),
            ])),
            mounts: Some(vec![Mount {
                target: Some(paths::DATA_DIR.to_string()),
                source: Some(names.volume.clone()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            }]),
            // Production runs the agent under a restart policy; drills see crash loops as such.
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            ..confined(
                AGENT_MEMORY_BYTES,
                AGENT_NANO_CPUS,
                AGENT_PIDS,
                &names.network,
            )
        }),
        networking_config: Some(aliased(&names.network, AGENT_ALIAS)),
        ..Default::default()
    };
    // The traffic holds its first request until the agent is ready, so both start at once.
    let target = format!("http://{AGENT_ALIAS}:{}", paths::HTTP_PORT);
    let stats_port_arg = paths::TRAFFIC_STATS_PORT.to_string();
    let traffic = ContainerCreateBody {
        image: Some(image.tag.clone()),
        cmd: Some(
            [
                "traffic",
                "--target",
                &target,
                "--rate",
                TRAFFIC_RATE,
                "--stats-port",
                &stats_port_arg,
            ]
            .map(String::from)
            .to_vec(),
        ),
        labels: Some(sandbox_labels(&[
            (labels::ROLE, labels::ROLE_TRAFFIC),
            (labels::RELEASE, &image.release),
        ])),
        exposed_ports: Some(vec![format!("{}/tcp", paths::TRAFFIC_STATS_PORT)]),
        host_config: Some(HostConfig {
            port_bindings: Some(loopback_bindings(&[(
                paths::TRAFFIC_STATS_PORT,
                stats_port,
            )])),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            ..confined(
                TRAFFIC_MEMORY_BYTES,
                TRAFFIC_NANO_CPUS,
                TRAFFIC_PIDS,
                &names.network,
            )
        }),
        networking_config: Some(aliased(&names.network, "traffic")),
        ..Default::default()
    };
    interrupt.check()?;
    let (agent, traffic) = tokio::join!(
        create_and_start(docker, &names.agent, agent),
        create_and_start(docker, &names.traffic, traffic)
    );
    agent.and(traffic)?;

    progress.step(format!("waiting for {} to answer healthy", names.agent));
    let http = format!("http://127.0.0.1:{http_port}");
    wait_healthy(docker, &spec.name, &names.agent, &http, interrupt).await?;
    let mut info = find(docker, &spec.name).await?;
    info.health = Some("healthy".to_string());
    Ok(info)
}

/// The house rules every sandbox container runs under: limits, no privileges, own network only.
fn confined(memory: i64, nano_cpus: i64, pids: i64, network: &str) -> HostConfig {
    HostConfig {
        memory: Some(memory),
        // No swap: memory faults hit the limit as they would on a host without swap.
        memory_swap: Some(memory),
        nano_cpus: Some(nano_cpus),
        pids_limit: Some(pids),
        cap_drop: Some(vec!["ALL".to_string()]),
        security_opt: Some(vec!["no-new-privileges:true".to_string()]),
        network_mode: Some(network.to_string()),
        // Bounded logs, so a chatty fault cannot fill the host's disk.
        log_config: Some(HostConfigLogConfig {
            typ: Some("json-file".to_string()),
            config: Some(HashMap::from([
                ("max-size".to_string(), "10m".to_string()),
                ("max-file".to_string(), "2".to_string()),
            ])),
        }),
        ..Default::default()
    }
}

/// Host ports for a sandbox's HTTP, HTTPS and traffic statistics, free on 127.0.0.1 now.
///
/// Explicit ports (rather than letting the engine pick) keep the sandbox's URLs stable across
/// `docker restart`, as a production endpoint is: the engine re-picks dynamic ports on restart.
fn free_loopback_ports<const N: usize>() -> Result<[u16; N]> {
    let io_error = |source| Error::Io {
        action: "finding a free port on",
        path: "127.0.0.1".into(),
        source,
    };
    // All probes stay bound until every port is chosen, so no two ports come out the same.
    let mut probes = Vec::with_capacity(N);
    let mut ports = [0; N];
    for port in &mut ports {
        let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(io_error)?;
        *port = probe.local_addr().map_err(io_error)?.port();
        probes.push(probe);
    }
    Ok(ports)
}

/// Publishes each `(container port, host port)` on 127.0.0.1 only.
fn loopback_bindings(ports: &[(u16, u16)]) -> HashMap<String, Option<Vec<PortBinding>>> {
    ports
        .iter()
        .map(|(container_port, host_port)| {
            (
                format!("{container_port}/tcp"),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".to_string()),
                    host_port: Some(host_port.to_string()),
                }]),
            )
        })
        .collect()
}

fn aliased(network: &str, alias: &str) -> NetworkingConfig {
    NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            network.to_string(),
            EndpointSettings {
                aliases: Some(vec![alias.to_string()]),
                ..Default::default()
            },
        )])),
    }
}

async fn create_and_start(docker: &Docker, name: &str, body: ContainerCreateBody) -> Result<()> {
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    docker
        .create_container(Some(options), body)
        .await
        .map_err(Error::docker(format!("creating container {name}")))?;
    docker
        .start_container(name, None)
        .await
        .map_err(Error::docker(format!("starting container {name}")))
}

/// Polls `/health` until the agent says healthy; fails early if the container stops.
async fn wait_healthy(
    docker: &Docker,
    name: &str,
    container: &str,
    http: &str,
    interrupt: &Interrupt,
) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("a plain HTTP client always builds");
    let started = Instant::now();
    let mut last = "no answer yet".to_string();
    while started.elapsed() < HEALTHY_WITHIN {
        interrupt.check()?;
        match client.get(format!("{http}/health")).send().await {
            Ok(response) => {
                let code = response.status();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                let status = body["status"].as_str().unwrap_or("?").to_string();
                if code.is_success() && status == "healthy" {
                    return Ok(());
                }
                last = format!("HTTP {code}, status {status}");
            }
            Err(error) => last = error.to_string(),
        }
        let state = docker
            .inspect_container(container, None)
            .await
            .ok()
            .and_then(|c| c.state);
        if let Some(state) = state.filter(|s| s.running != Some(true) || s.restarting == Some(true))
        {
            last = format!(
                "container {} (exit code {})",
                state.status.map(|s| s.to_string()).unwrap_or_default(),
                state.exit_code.unwrap_or_default()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(Error::NotHealthy {
        name: name.to_string(),
        waited: started.elapsed(),
        last,
        log_tail: log_tail(docker, container, 20).await,
    })
}

/// The last `lines` lines of a container's output, for error messages.
pub async fn log_tail(docker: &Docker, container: &str, lines: usize) -> String {
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(&lines.to_string())
        .build();
    let mut stream = docker.logs(container, Some(options));
    let mut tail = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        tail.push_str(&chunk.to_string());
    }
    tail
}

/// firedrill's containers, every one or those of sandbox `name`, stopped ones included.
async fn containers(docker: &Docker, name: Option<&str>) -> Result<Vec<ContainerSummary>> {
    let selectors: Vec<(&str, &str)> = name.map(|n| (labels::SANDBOX, n)).into_iter().collect();
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&labels::filter(&selectors))
        .build();
    let listed = docker
        .list_containers(Some(options))
        .await
        .map_err(Error::docker("listing firedrill's containers"))?;
    Ok(listed
        .into_iter()
        .filter(|c| labels::is_managed(c.labels.as_ref()))
        .collect())
}

fn container_name(container: &ContainerSummary) -> String {
    container
        .names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default()
}

fn label<'a>(container: &'a ContainerSummary, key: &str) -> Option<&'a str> {
    container.labels.as_ref()?.get(key).map(String::as_str)
}

fn public_url(container: &ContainerSummary, private_port: u16, scheme: &str) -> Option<String> {
    container
        .ports
        .as_ref()?
        .iter()
        .find(|p| p.private_port == private_port && p.public_port.is_some())
        .map(|p| format!("{scheme}://127.0.0.1:{}", p.public_port.unwrap_or_default()))
}

/// Every sandbox, from the labels of its containers (the engine is the only source of truth).
pub async fn list(docker: &Docker) -> Result<Vec<SandboxInfo>> {
    let all = containers(docker, None).await?;
    let mut sandboxes: Vec<SandboxInfo> = all
        .iter()
        .filter(|c| label(c, labels::ROLE) == Some(labels::ROLE_AGENT))
        .filter_map(|agent| {
            let name = label(agent, labels::SANDBOX)?.to_string();
            let traffic = all.iter().find(|c| {
                label(c, labels::SANDBOX) == Some(name.as_str())
                    && label(c, labels::ROLE) == Some(labels::ROLE_TRAFFIC)
            });
            let names = SandboxNames::of(&name);
            Some(SandboxInfo {
                session: label(agent, labels::SESSION)
                    .unwrap_or_default()
                    .to_string(),
                container: container_name(agent),
                container_id: agent.id.clone().unwrap_or_default(),
                traffic_container: traffic.map(container_name),
                network: names.network,
                volume: names.volume,
                version: label(agent, labels::RELEASE)
                    .unwrap_or_default()
                    .to_string(),
                image: agent.image.clone().unwrap_or_default(),
                state: agent.state.map(|s| s.to_string()).unwrap_or_default(),
                http: public_url(agent, paths::HTTP_PORT, "http"),
                https: public_url(agent, paths::HTTPS_PORT, "https"),
                traffic_stats: traffic
                    .and_then(|t| public_url(t, paths::TRAFFIC_STATS_PORT, "http")),
                health: None,
                name,
            })
        })
        .collect();
    sandboxes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(sandboxes)
}

/// The sandbox called `name`.
pub async fn find(docker: &Docker, name: &str) -> Result<SandboxInfo> {
    list(docker)
        .await?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| Error::SandboxNotFound {
            name: name.to_string(),
        })
}

/// Asks the agent's `/health` for its overall status (short timeout: status must stay quick).
pub async fn probe_health(info: &mut SandboxInfo) {
    let Some(http) = &info.http else {
        info.health = Some("unreachable".to_string());
        return;
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("a plain HTTP client always builds");
    let status = match client.get(format!("{http}/health")).send().await {
        Ok(response) => response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|b| b["status"].as_str().map(str::to_string))
            .unwrap_or_else(|| "unknown".to_string()),
        Err(error) if error.is_timeout() => "timeout".to_string(),
        Err(_) => "unreachable".to_string(),
    };
    info.health = Some(status);
}

/// Removes sandbox `name` entirely: containers, network and data volume.
pub async fn down(docker: &Docker, name: &str) -> Result<Swept> {
    validate_name(name)?;
    let removed = remove_resources(docker, name).await?;
    if removed.is_empty() {
        return Err(Error::SandboxNotFound {
            name: name.to_string(),
        });
    }
    Ok(removed)
}

/// Removes every firedrill resource labelled with sandbox `name`.
async fn remove_resources(docker: &Docker, name: &str) -> Result<Swept> {
    sweep::remove_labelled(docker, &[(labels::SANDBOX, name)]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_sandbox_name() {
        let names = SandboxNames::of("blue");
        assert_eq!(names.agent, "firedrill-blue-agent");
        assert_eq!(names.traffic, "firedrill-blue-traffic");
        assert_eq!(names.network, "firedrill-blue");
        assert_eq!(names.volume, "firedrill-blue-data");
    }

    #[test]
    fn sandbox_names_are_checked() {
        assert!(validate_name("team-7").is_ok());
        for bad in ["", "Blue", "a b", "-x", "x/y", &"a".repeat(41)] {
            assert!(validate_name(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn ports_are_published_on_loopback_only() {
        let [first, second] = free_loopback_ports().unwrap();
        assert_ne!(first, second);
        let bindings = loopback_bindings(&[(8080, first), (8443, second)]);
        let http = bindings["8080/tcp"].as_ref().unwrap()[0].clone();
        assert_eq!(http.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(http.host_port, Some(first.to_string()));
    }

    #[test]
    fn containers_are_confined() {
        let config = confined(1, 2, 3, "net");
        assert_eq!(config.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(
            config.security_opt,
            Some(vec!["no-new-privileges:true".to_string()])
        );
        assert_eq!(config.memory_swap, config.memory);
        assert_eq!(config.pids_limit, Some(3));
    }
}
