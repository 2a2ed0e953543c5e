//! A sandbox: the agent container, its client-traffic container, their network, the agent's
//! data volume and its scanner-cache volume, all labelled as firedrill's and named after the
//! sandbox; after `sandbox scale`, further agent containers (replicas, see [`replicas`]) behind
//! the same network alias.

mod replicas;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, EndpointSettings, HostConfig,
    HostConfigLogConfig, Mount, MountType, NetworkCreateRequest, NetworkingConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RenameContainerOptionsBuilder, StopContainerOptionsBuilder,
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

pub use replicas::{members as replica_members, scale, ReplicaCount, ReplicaMember, Scaled};

/// The agent's network alias, which the traffic targets.
const AGENT_ALIAS: &str = "optimizer-agent";
/// Limits of the traffic container.
const TRAFFIC_MEMORY_BYTES: i64 = 64 * 1024 * 1024;
const TRAFFIC_NANO_CPUS: i64 = 250_000_000;
const TRAFFIC_PIDS: i64 = 32;
/// Requests per second the synthetic clients send.
const TRAFFIC_RATE: &str = "2";
/// How long `up` and `deploy` wait for the agent's first healthy `/health`.
const HEALTHY_WITHIN: Duration = Duration::from_secs(60);
/// How long a replaced agent gets to drain on SIGTERM before the engine kills it.
const STOP_GRACE_SECONDS: i32 = 10;
/// The replica index of the primary agent, `firedrill-<name>-agent`.
const PRIMARY: u8 = 1;

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
    /// The scanner's cache (its vulnerability DB): a volume, as platforms persist trivy's
    /// cache, so a redeploy keeps the DB it had (including advisories published since the
    /// image was built) and only `agentctl scanner db update` changes it.
    pub scanner_volume: String,
}

impl SandboxNames {
    pub fn of(name: &str) -> SandboxNames {
        SandboxNames {
            agent: format!("firedrill-{name}-agent"),
            traffic: format!("firedrill-{name}-traffic"),
            network: format!("firedrill-{name}"),
            volume: format!("firedrill-{name}-data"),
            scanner_volume: format!("firedrill-{name}-scanner"),
        }
    }

    /// The agent container of replica `index`: the primary's name for 1, `<agent>-<index>` after.
    pub fn agent_of(&self, index: u8) -> String {
        match index {
            PRIMARY => self.agent.clone(),
            _ => format!("{}-{index}", self.agent),
        }
    }

    /// The data volume of replica `index`: each replica has its own, as the history database
    /// is a file only one process can open.
    pub fn volume_of(&self, index: u8) -> String {
        match index {
            PRIMARY => self.volume.clone(),
            _ => format!("{}-{index}", self.volume),
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
        "creating network {} and volumes {}, {}",
        names.network, names.volume, names.scanner_volume
    ));
    let network = docker.create_network(NetworkCreateRequest {
        name: names.network.clone(),
        driver: Some("bridge".to_string()),
        labels: Some(sandbox_labels(&[])),
        ..Default::default()
    });
    let volume = |name: &str| {
        docker.create_volume(VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(sandbox_labels(&[])),
            ..Default::default()
        })
    };
    let (network, data_volume, scanner_volume) = tokio::join!(
        network,
        volume(&names.volume),
        volume(&names.scanner_volume)
    );
    network.map_err(Error::docker(format!("creating network {}", names.network)))?;
    data_volume.map_err(Error::docker(format!("creating volume {}", names.volume)))?;
    scanner_volume.map_err(Error::docker(format!(
        "creating volume {}",
        names.scanner_volume
    )))?;
    let [http_port, https_port, stats_port] = free_loopback_ports()?;

    progress.step(format!(
        "starting agent {} ({}) and client traffic {}",
        names.agent, image.tag, names.traffic
    ));
    let agent = agent_container(
        &image.tag,
        names,
        PRIMARY,
        &AgentSettings {
            labels: sandbox_labels(&[
                (labels::ROLE, labels::ROLE_AGENT),
                (labels::RELEASE, &image.release),
            ]),
            env: spec.agent_env.clone(),
            http_port,
            https_port,
            limits: AgentLimits::SANDBOX,
        },
    );
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

/// Everything that makes one agent container what it is, apart from its image: what `up` chooses
/// and what `deploy` carries over from the container it replaces.
struct AgentSettings {
    labels: HashMap<String, String>,
    /// `KEY=VALUE` environment given to the container (the image's own `ENV` is not repeated).
    env: Vec<String>,
    /// Host ports on 127.0.0.1 of the agent's HTTP and HTTPS.
    http_port: u16,
    https_port: u16,
    limits: AgentLimits,
}

/// Resource limits of the agent container.
#[derive(Debug, Clone, Copy, PartialEq)]
struct AgentLimits {
    memory_bytes: i64,
    nano_cpus: i64,
    pids: i64,
}

impl AgentLimits {
    /// What `up` gives the agent: small enough that a fault never harms the host.
    const SANDBOX: AgentLimits = AgentLimits {
        memory_bytes: 256 * 1024 * 1024,
        nano_cpus: 1_000_000_000,
        pids: 128,
    };

    /// The limits a container runs under now (a `docker update` since `up` included); a limit
    /// the engine does not report keeps the sandbox's.
    fn of(host: &HostConfig) -> AgentLimits {
        AgentLimits {
            memory_bytes: host
                .memory
                .filter(|m| *m > 0)
                .unwrap_or(Self::SANDBOX.memory_bytes),
            nano_cpus: host
                .nano_cpus
                .filter(|n| *n > 0)
                .unwrap_or(Self::SANDBOX.nano_cpus),
            pids: host
                .pids_limit
                .filter(|p| *p > 0)
                .unwrap_or(Self::SANDBOX.pids),
        }
    }
}

/// Agent container `index` (the primary is [`PRIMARY`]) of sandbox `names` running `image_tag`:
/// the one definition `up`, `deploy` and `scale` share, so a deployed agent or a replica is made
/// exactly as a fresh one is. Only the data volume is the replica's own; the scanner cache and
/// the network alias are shared.
fn agent_container(
    image_tag: &str,
    names: &SandboxNames,
    index: u8,
    settings: &AgentSettings,
) -> ContainerCreateBody {
    ContainerCreateBody {
        image: Some(image_tag.to_string()),
        env: Some(settings.env.clone()),
        labels: Some(settings.labels.clone()),
        exposed_ports: Some(vec![
            format!("{}/tcp", paths::HTTP_PORT),
            format!("{}/tcp", paths::HTTPS_PORT),
        ]),
        host_config: Some(HostConfig {
            port_bindings: Some(loopback_bindings(&[
                (paths::HTTP_PORT, settings.http_port),
                (paths::HTTPS_PORT, settings.https_port),
            ])),
            // A new volume is filled from the image's directory on first use, so a fresh
            // sandbox starts with the image's data layout and scanner DB.
            mounts: Some(vec![
                Mount {
                    target: Some(paths::DATA_DIR.to_string()),
                    source: Some(names.volume_of(index)),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                },
                Mount {
                    target: Some(paths::SCANNER_CACHE_DIR.to_string()),
                    source: Some(names.scanner_volume.clone()),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                },
            ]),
            // Production runs the agent under a restart policy; drills see crash loops as such.
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            ..confined(
                settings.limits.memory_bytes,
                settings.limits.nano_cpus,
                settings.limits.pids,
                &names.network,
            )
        }),
        networking_config: Some(aliased(&names.network, AGENT_ALIAS)),
        ..Default::default()
    }
}

/// What a deploy did.
#[derive(Debug, Clone, Serialize)]
pub struct Deployed {
    #[serde(flatten)]
    pub sandbox: SandboxInfo,
    /// The release the replaced agent ran.
    pub previous_version: String,
    /// Agent containers replaced, one at a time: the replicas, then the primary.
    pub replicas_rolled: usize,
}

/// Rolls sandbox `name` to `image`, as a platform deploys a release: every agent container, the
/// replicas in order and then the primary, is replaced by one from `image` with the same name,
/// session, labels (release updated), env, host ports (the URLs stay), network alias, data
/// volume (nothing is lost) and limits. The next one is replaced only once the last answers
/// healthy, so at most one is ever out of service.
///
/// One container's replacement cannot run beside it: it needs the same host ports and the same
/// history database (a redb file that one process opens). So each is one stop (the old agent
/// drains: it refuses new connections, which the traffic's client then sends to another
/// replica, and finishes those in flight) and one start, the new container created while the
/// old one still serves. With two or more replicas the others carry the traffic meanwhile and
/// clients see no errors; with one, the gap is under a second with the image cached.
///
/// When a new container cannot be started, the old one is put back. When it starts but never
/// answers healthy, it is left running (that is what a failed deploy looks like), the roll stops
/// there (the containers not reached keep their release) and the error carries its log tail.
pub async fn deploy(
    docker: &Docker,
    name: &str,
    image: &SandboxImage,
    progress: &Progress,
    interrupt: &Interrupt,
) -> Result<Deployed> {
    validate_name(name)?;
    let current = find(docker, name).await?;
    let rollout = Rollout {
        docker,
        name,
        names: SandboxNames::of(name),
        image,
        progress,
        interrupt,
    };
    // The primary last: the trainee's URLs, the faults and the monitor move to the new release
    // once it has proven itself on the replicas.
    let mut slots: Vec<(u8, String)> = replicas::members(docker, name)
        .await?
        .into_iter()
        .map(|member| (member.index, member.id))
        .collect();
    slots.push((PRIMARY, current.container_id.clone()));
    for (done, (index, container_id)) in slots.iter().enumerate() {
        let step = format!("{} of {}", done + 1, slots.len());
        rollout.roll(*index, container_id, &step).await?;
    }
    let mut sandbox = find(docker, name).await?;
    sandbox.health = Some("healthy".to_string());
    Ok(Deployed {
        sandbox,
        previous_version: current.version,
        replicas_rolled: slots.len(),
    })
}

/// What every step of a deploy shares.
struct Rollout<'a> {
    docker: &'a Docker,
    name: &'a str,
    names: SandboxNames,
    image: &'a SandboxImage,
    progress: &'a Progress,
    interrupt: &'a Interrupt,
}

impl Rollout<'_> {
    /// Replaces agent container `index` (now `container_id`) with one running the new image,
    /// then waits until the new one answers healthy.
    async fn roll(&self, index: u8, container_id: &str, step: &str) -> Result<()> {
        let docker = self.docker;
        let container = self.names.agent_of(index);
        let running = docker
            .inspect_container(container_id, None)
            .await
            .map_err(Error::docker(format!("inspecting {container}")))?;
        let was = running
            .config
            .as_ref()
            .and_then(|c| c.labels.as_ref())
            .and_then(|l| l.get(labels::RELEASE))
            .cloned()
            .unwrap_or_else(|| "?".to_string());
        let settings = settings_of(docker, &running)
            .await?
            .for_release(&self.image.release);
        self.interrupt.check()?;
        self.progress.step(format!(
            "deploying {} to {container} (was {was}; {step})",
            self.image.tag
        ));
        let state = running.state.unwrap_or_default();
        let serving = state.running == Some(true) && state.restarting != Some(true);
        let body = agent_container(&self.image.tag, &self.names, index, &settings);
        replace_agent(docker, &container, container_id, serving, &body).await?;

        self.progress
            .step(format!("waiting for {container} to answer healthy"));
        let http = format!("http://127.0.0.1:{}", settings.http_port);
        let slot = slot_name(self.name, index);
        wait_healthy(docker, &slot, &container, &http, self.interrupt).await
    }
}

/// How errors name sandbox `name`'s agent container `index`: the sandbox for the primary.
fn slot_name(name: &str, index: u8) -> String {
    match index {
        PRIMARY => name.to_string(),
        _ => format!("{name} (replica {index})"),
    }
}

/// The settings of a running agent container, as they are (see [`AgentSettings::for_release`]).
async fn settings_of(docker: &Docker, running: &ContainerInspectResponse) -> Result<AgentSettings> {
    let config = running.config.clone().unwrap_or_default();
    let host = running.host_config.clone().unwrap_or_default();
    // The image's own ENV comes with the new image; only what the container was given carries over.
    let image_env = match &running.image {
        Some(image) => docker
            .inspect_image(image)
            .await
            .ok()
            .and_then(|i| i.config)
            .and_then(|c| c.env)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let env = config
        .env
        .unwrap_or_default()
        .into_iter()
        .filter(|entry| !image_env.contains(entry))
        .collect();
    let bindings = host.port_bindings.clone().unwrap_or_default();
    let [http_port, https_port] = match (
        bound_host_port(&bindings, paths::HTTP_PORT),
        bound_host_port(&bindings, paths::HTTPS_PORT),
    ) {
        (Some(http), Some(https)) => [http, https],
        // `up` publishes both; a container someone re-made by hand without them gets fresh ones.
        _ => free_loopback_ports()?,
    };
    Ok(AgentSettings {
        labels: labels::own_container_labels(&config.labels.unwrap_or_default()),
        env,
        http_port,
        https_port,
        limits: AgentLimits::of(&host),
    })
}

impl AgentSettings {
    /// The same settings for a container running `release`: the release it replaces is kept
    /// as the previous one, which `sandbox rollback` goes back to.
    fn for_release(mut self, release: &str) -> AgentSettings {
        if let Some(current) = self.labels.get(labels::RELEASE).cloned() {
            self.labels
                .insert(labels::PREVIOUS_RELEASE.to_string(), current);
        }
        self.labels
            .insert(labels::RELEASE.to_string(), release.to_string());
        self
    }
}

/// The 127.0.0.1 host port `container_port` is published on, if any.
fn bound_host_port(
    bindings: &HashMap<String, Option<Vec<PortBinding>>>,
    container_port: u16,
) -> Option<u16> {
    bindings
        .get(&format!("{container_port}/tcp"))?
        .as_ref()?
        .iter()
        .find_map(|b| b.host_port.as_deref()?.parse().ok())
}

/// Swaps agent container `container` (now `old`, an id) for a container made from `body` under
/// the same name. `serving`: the old one is up (not crash-looping or stopped), so it keeps
/// serving until the new one is made.
async fn replace_agent(
    docker: &Docker,
    container: &str,
    old: &str,
    serving: bool,
    body: &ContainerCreateBody,
) -> Result<()> {
    let retired = format!("{container}-replaced-{}", &old[..12.min(old.len())]);
    // The engine cannot rename a container between two starts of a crash loop (its network
    // sandbox is gone), and such an agent serves nothing anyway: stop it first.
    if !serving {
        stop(docker, old).await?;
    }
    // The old container steps aside under another name, so the new one can take the name while
    // the old one still serves.
    let serving = match rename(docker, old, &retired).await {
        Ok(()) => serving,
        // A crash-looping agent can look up when inspected and be between two starts a moment
        // later, when the engine finds no network sandbox to rename (404): stop it and step it
        // aside stopped. Any other refusal leaves a serving agent serving.
        Err(Error::Docker {
            source:
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                },
            ..
        }) if serving => {
            stop(docker, old).await?;
            rename(docker, old, &retired).await?;
            false
        }
        Err(error) => return Err(error),
    };
    let swapped = async {
        let options = CreateContainerOptionsBuilder::default()
            .name(container)
            .build();
        docker
            .create_container(Some(options), body.clone())
            .await
            .map_err(Error::docker(format!("creating container {container}")))?;
        // The host ports and the history database are the old container's until it stops.
        if serving {
            stop(docker, old).await?;
        }
        docker
            .start_container(container, None)
            .await
            .map_err(Error::docker(format!("starting container {container}")))
    };
    if let Err(error) = swapped.await {
        // Put the old agent back as it was; the error says what went wrong.
        remove_container(docker, container).await.ok();
        rename(docker, old, container).await.ok();
        docker.start_container(old, None).await.ok();
        return Err(error);
    }
    remove_container(docker, old).await
}

/// `docker stop`: SIGTERM, so the agent drains, then SIGKILL after the grace period.
async fn stop(docker: &Docker, container: &str) -> Result<()> {
    let options = StopContainerOptionsBuilder::default()
        .t(STOP_GRACE_SECONDS)
        .build();
    docker
        .stop_container(container, Some(options))
        .await
        .map_err(Error::docker(format!("stopping {container}")))
}

async fn rename(docker: &Docker, container: &str, name: &str) -> Result<()> {
    let options = RenameContainerOptionsBuilder::default().name(name).build();
    docker
        .rename_container(container, options)
        .await
        .map_err(Error::docker(format!("renaming {container} to {name}")))
}

/// Removes a container (not its volumes: the data volume is named and outlives it).
async fn remove_container(docker: &Docker, container: &str) -> Result<()> {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    docker
        .remove_container(container, Some(options))
        .await
        .map_err(Error::docker(format!("removing {container}")))
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

/// Polls `/health` until the agent says healthy; fails early if the container stops or restarts.
pub async fn wait_healthy(
    docker: &Docker,
    name: &str,
    container: &str,
    http: &str,
    interrupt: &Interrupt,
) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .user_agent(labels::OWN_USER_AGENT)
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
    for sandbox in &mut sandboxes {
        if sandbox.http.is_none() || sandbox.https.is_none() {
            add_configured_urls(docker, sandbox).await;
        }
    }
    // Mid-deploy, the agent being replaced is listed too: the one under the agent's name first.
    let replaced = |s: &SandboxInfo| s.container != SandboxNames::of(&s.name).agent;
    sandboxes.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| replaced(a).cmp(&replaced(b)))
    });
    Ok(sandboxes)
}

/// A sandbox as `sandbox status` shows it: with how many agent containers it runs.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxStatus {
    #[serde(flatten)]
    pub sandbox: SandboxInfo,
    /// Agent containers behind the traffic's network alias, the primary included: 1 until
    /// `sandbox scale` adds replicas.
    pub replicas: usize,
}

/// Every sandbox with its replica count (see [`list`]).
pub async fn status(docker: &Docker) -> Result<Vec<SandboxStatus>> {
    let sandboxes = list(docker).await?;
    let all = containers(docker, None).await?;
    Ok(sandboxes
        .into_iter()
        .map(|sandbox| SandboxStatus {
            replicas: replicas::count(&all, &sandbox.name),
            sandbox,
        })
        .collect())
}

/// Fills in the URLs of an agent that lists no ports because it is not running (between two
/// starts of a crash loop): its host ports are fixed in its configuration, so its URLs are too.
async fn add_configured_urls(docker: &Docker, sandbox: &mut SandboxInfo) {
    let Ok(inspect) = docker.inspect_container(&sandbox.container_id, None).await else {
        return;
    };
    let bindings = inspect
        .host_config
        .and_then(|h| h.port_bindings)
        .unwrap_or_default();
    let url = |port, scheme| {
        bound_host_port(&bindings, port).map(|p| format!("{scheme}://127.0.0.1:{p}"))
    };
    sandbox.http = sandbox
        .http
        .take()
        .or_else(|| url(paths::HTTP_PORT, "http"));
    sandbox.https = sandbox
        .https
        .take()
        .or_else(|| url(paths::HTTPS_PORT, "https"));
}

/// The release sandbox `name`'s agent replaced at its last deploy (`None` when it still runs
/// what `up` started): what a rollback goes back to.
pub async fn previous_release(docker: &Docker, name: &str) -> Result<Option<String>> {
    let current = find(docker, name).await?;
    let inspected = docker
        .inspect_container(&current.container_id, None)
        .await
        .map_err(Error::docker(format!("inspecting {}", current.container)))?;
    Ok(inspected
        .config
        .and_then(|config| config.labels)
        .and_then(|labels| labels.get(labels::PREVIOUS_RELEASE).cloned()))
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
        .user_agent(labels::OWN_USER_AGENT)
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

/// Removes sandbox `name` entirely: containers, network and volumes.
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
    fn a_replacement_agent_keeps_ports_limits_volume_and_alias() {
        let names = SandboxNames::of("blue");
        let squeezed = AgentLimits {
            nano_cpus: 200_000_000,
            ..AgentLimits::SANDBOX
        };
        let settings = AgentSettings {
            labels: labels::owned("sbx-blue-1", &[(labels::RELEASE, "1.3.0")]),
            env: vec!["DOCKER_OPTIMIZER_CACHE_MAX_SIZE=500".to_string()],
            http_port: 41000,
            https_port: 41001,
            limits: squeezed,
        };
        let body = agent_container(
            "firedrill/optimizer-agent:1.3.0",
            &names,
            PRIMARY,
            &settings,
        );
        let host = body.host_config.clone().unwrap();
        let bindings = host.port_bindings.clone().unwrap();
        assert_eq!(bound_host_port(&bindings, paths::HTTP_PORT), Some(41000));
        assert_eq!(bound_host_port(&bindings, paths::HTTPS_PORT), Some(41001));
        assert_eq!(AgentLimits::of(&host), squeezed);
        let mounts = host.mounts.unwrap();
        assert_eq!(mounts[0].source.as_deref(), Some("firedrill-blue-data"));
        assert_eq!(mounts[1].source.as_deref(), Some("firedrill-blue-scanner"));
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(
            endpoints["firedrill-blue"].aliases,
            Some(vec![AGENT_ALIAS.to_string()])
        );
        assert_eq!(body.env, Some(settings.env));
    }

    #[test]
    fn a_replica_has_its_own_data_volume_and_shares_the_scanner_cache_and_alias() {
        let names = SandboxNames::of("blue");
        let settings = AgentSettings {
            labels: labels::owned("sbx-blue-1", &[]),
            env: Vec::new(),
            http_port: 41000,
            https_port: 41001,
            limits: AgentLimits::SANDBOX,
        };
        let body = agent_container("firedrill/optimizer-agent:1.4.2", &names, 3, &settings);
        let host = body.host_config.unwrap();
        let mounts = host.mounts.unwrap();
        assert_eq!(mounts[0].source.as_deref(), Some("firedrill-blue-data-3"));
        assert_eq!(mounts[1].source.as_deref(), Some("firedrill-blue-scanner"));
        assert_eq!(host.security_opt, confined(1, 2, 3, "n").security_opt);
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(
            endpoints["firedrill-blue"].aliases,
            Some(vec![AGENT_ALIAS.to_string()])
        );
    }

    #[test]
    fn a_new_release_keeps_the_one_it_replaces_for_rollback() {
        let settings = AgentSettings {
            labels: labels::owned("sbx-blue-1", &[(labels::RELEASE, "1.4.2")]),
            env: Vec::new(),
            http_port: 41000,
            https_port: 41001,
            limits: AgentLimits::SANDBOX,
        }
        .for_release("1.4.3");
        assert_eq!(settings.labels[labels::RELEASE], "1.4.3");
        assert_eq!(settings.labels[labels::PREVIOUS_RELEASE], "1.4.2");
    }

    #[test]
    fn errors_name_the_replica_or_the_sandbox() {
        assert_eq!(slot_name("blue", PRIMARY), "blue");
        assert_eq!(slot_name("blue", 2), "blue (replica 2)");
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
