//! Replicas: further agent containers of a sandbox behind the traffic's network alias, as a
//! platform runs several instances of one service (`sandbox scale`).
//!
//! Replica `i` (2 and up; the primary is 1) is `firedrill-<name>-agent-<i>`: the primary's image,
//! env, limits and confinement (one definition, [`agent_container`]), the sandbox's labels with
//! role `replica` and its index, the network alias the traffic resolves (the engine's DNS answers
//! with every container that carries it), the shared scanner cache, a data volume of its own
//! (`firedrill-<name>-data-<i>`: the history database is a file one process opens) and a loopback
//! host port. The primary stays exactly as it is: faults, probes, the drill monitor and the
//! trainee's URLs all target it.

use std::collections::HashMap;
use std::str::FromStr;

use bollard::models::{ContainerInspectResponse, ContainerSummary, VolumeCreateRequest};
use bollard::query_parameters::RemoveVolumeOptions;
use bollard::Docker;
use optimizer_agent::paths;
use serde::Serialize;

use super::{
    agent_container, container_name, containers, create_and_start, find, free_loopback_ports,
    label, public_url, remove_container, settings_of, slot_name, stop, validate_name, wait_healthy,
    AgentSettings, SandboxInfo, SandboxNames, PRIMARY,
};
use crate::docker::labels;
use crate::error::{Error, Result};
use crate::interrupt::Interrupt;
use crate::ui::Progress;

/// The most agent containers a sandbox runs, the primary included: each is a whole agent
/// (256 MiB, one CPU), and four stay within what one machine gives a drill.
const MAX_REPLICAS: u8 = 4;

/// How many agent containers a sandbox runs, the primary included: 1 to [`MAX_REPLICAS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaCount(u8);

impl ReplicaCount {
    pub fn new(count: u8) -> Option<ReplicaCount> {
        (PRIMARY..=MAX_REPLICAS)
            .contains(&count)
            .then_some(ReplicaCount(count))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl FromStr for ReplicaCount {
    type Err = String;

    fn from_str(text: &str) -> Result<ReplicaCount, String> {
        text.trim()
            .parse()
            .ok()
            .and_then(ReplicaCount::new)
            .ok_or_else(|| {
                format!(
                    "expected a number of agent containers from 1 to {MAX_REPLICAS}, the primary \
                     included"
                )
            })
    }
}

/// One agent container of a sandbox.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaMember {
    /// 1 for the primary, 2 and up for the replicas.
    pub index: u8,
    pub container: String,
    #[serde(skip)]
    pub id: String,
    pub volume: String,
    /// Container state: running, restarting, exited...
    pub state: String,
    /// `http://127.0.0.1:PORT` of its HTTP API.
    pub http: Option<String>,
}

/// What `sandbox scale` did.
#[derive(Debug, Clone, Serialize)]
pub struct Scaled {
    pub name: String,
    /// Agent containers now, the primary included.
    pub replicas: usize,
    pub previous_replicas: usize,
    /// Every agent container now, the primary first.
    pub members: Vec<ReplicaMember>,
    /// Replicas this call started (each answered healthy).
    pub started: Vec<String>,
    /// Replicas this call stopped (they drained) and removed with their data volumes.
    pub removed: Vec<String>,
}

/// Runs `replicas` agent containers in sandbox `name`: starts the missing replicas and waits
/// until each answers healthy, or stops the highest-numbered ones (SIGTERM: they drain while the
/// traffic moves to the others) and removes them and their data volumes. The count it already
/// runs changes nothing.
///
/// When a new replica cannot be started or never answers healthy, what this call made (the new
/// replicas, their new volumes) is removed again, so the sandbox is as it was; the error names
/// the replica and carries its log tail.
pub async fn scale(
    docker: &Docker,
    name: &str,
    replicas: ReplicaCount,
    progress: &Progress,
    interrupt: &Interrupt,
) -> Result<Scaled> {
    validate_name(name)?;
    let primary = find(docker, name).await?;
    let names = SandboxNames::of(name);
    let existing = members(docker, name).await?;
    let previous_replicas = existing.len() + 1;
    let (missing, surplus) = plan(
        &existing.iter().map(|m| m.index).collect::<Vec<_>>(),
        replicas.get(),
    );

    let started = if missing.is_empty() {
        Vec::new()
    } else {
        let mut made = Made::default();
        let added = add(
            docker, &primary, &names, &missing, &mut made, progress, interrupt,
        )
        .await;
        if added.is_err() {
            made.discard(docker).await;
        }
        added?
    };
    let mut removed = Vec::new();
    for index in surplus {
        let Some(member) = existing.iter().find(|m| m.index == index) else {
            continue;
        };
        progress.step(format!(
            "stopping {} (it drains) and removing it with {}",
            member.container, member.volume
        ));
        stop(docker, &member.id).await?;
        remove_container(docker, &member.id).await?;
        remove_volume(docker, &member.volume).await?;
        removed.push(member.container.clone());
    }

    let mut now = vec![primary_member(&primary)];
    now.extend(members(docker, name).await?);
    Ok(Scaled {
        name: name.to_string(),
        replicas: now.len(),
        previous_replicas,
        members: now,
        started,
        removed,
    })
}

/// What reaching `wanted` agent containers takes from replicas `existing`: the indexes to start
/// (lowest first) and those to remove (highest first).
fn plan(existing: &[u8], wanted: u8) -> (Vec<u8>, Vec<u8>) {
    let missing = (PRIMARY + 1..=wanted)
        .filter(|index| !existing.contains(index))
        .collect();
    let mut surplus: Vec<u8> = existing
        .iter()
        .copied()
        .filter(|index| *index > wanted)
        .collect();
    surplus.sort_unstable_by(|a, b| b.cmp(a));
    (missing, surplus)
}

/// Starts replicas `indexes` of the sandbox whose primary is `primary`, then waits until each
/// answers healthy; returns their container names. What it makes is noted in `made` as it goes.
async fn add(
    docker: &Docker,
    primary: &SandboxInfo,
    names: &SandboxNames,
    indexes: &[u8],
    made: &mut Made,
    progress: &Progress,
    interrupt: &Interrupt,
) -> Result<Vec<String>> {
    let inspected = docker
        .inspect_container(&primary.container_id, None)
        .await
        .map_err(Error::docker(format!("inspecting {}", primary.container)))?;
    let image = image_of(docker, &inspected).await;
    let base = settings_of(docker, &inspected).await?;
    let volume_labels = labels::owned(&primary.session, &[(labels::SANDBOX, &primary.name)]);
    let mut started = Vec::new();
    for &index in indexes {
        interrupt.check()?;
        let container = names.agent_of(index);
        let volume = names.volume_of(index);
        progress.step(format!(
            "starting replica {container} ({image}, volume {volume})"
        ));
        // A data volume a replica of this index left (its container gone) is its data: kept.
        if docker.inspect_volume(&volume).await.is_err() {
            docker
                .create_volume(VolumeCreateRequest {
                    name: Some(volume.clone()),
                    labels: Some(volume_labels.clone()),
                    ..Default::default()
                })
                .await
                .map_err(Error::docker(format!("creating volume {volume}")))?;
            made.volumes.push(volume);
        }
        let [http_port, https_port] = free_loopback_ports()?;
        let settings = AgentSettings {
            labels: replica_labels(&base.labels, index),
            env: base.env.clone(),
            http_port,
            https_port,
            limits: base.limits,
        };
        let body = agent_container(&image, names, index, &settings);
        made.containers.push(container.clone());
        create_and_start(docker, &container, body).await?;
        started.push((index, container, format!("http://127.0.0.1:{http_port}")));
    }
    // They start side by side; the wait is as long as the slowest one.
    for (index, container, http) in &started {
        progress.step(format!("waiting for {container} to answer healthy"));
        let slot = slot_name(&primary.name, *index);
        wait_healthy(docker, &slot, container, http, interrupt).await?;
    }
    Ok(started.into_iter().map(|(_, c, _)| c).collect())
}

/// What a scale made so far: removed again, at once, when it fails (none of it served yet).
#[derive(Default)]
struct Made {
    containers: Vec<String>,
    volumes: Vec<String>,
}

impl Made {
    async fn discard(self, docker: &Docker) {
        for container in &self.containers {
            // Only firedrill's: a create that failed on a namesake leaves that one alone.
            let Ok(inspected) = docker.inspect_container(container, None).await else {
                continue;
            };
            if labels::is_managed(inspected.config.and_then(|c| c.labels).as_ref()) {
                remove_container(docker, container).await.ok();
            }
        }
        for volume in &self.volumes {
            remove_volume(docker, volume).await.ok();
        }
    }
}

/// Removes volume `volume` if it is firedrill's (the last check before removing anything).
async fn remove_volume(docker: &Docker, volume: &str) -> Result<()> {
    let Ok(inspected) = docker.inspect_volume(volume).await else {
        return Ok(());
    };
    if !labels::is_managed(Some(&inspected.labels)) {
        return Ok(());
    }
    docker
        .remove_volume(volume, None::<RemoveVolumeOptions>)
        .await
        .map_err(Error::docker(format!("removing volume {volume}")))
}

/// The labels of replica `index`, from the primary's own: the sandbox's (managed, session,
/// sandbox, release, previous release) with role `replica` and the index.
fn replica_labels(primary: &HashMap<String, String>, index: u8) -> HashMap<String, String> {
    let mut replica = labels::own_container_labels(primary);
    replica.insert(labels::ROLE.to_string(), labels::ROLE_REPLICA.to_string());
    replica.insert(labels::REPLICA.to_string(), index.to_string());
    replica
}

/// The image a running container was made from: by the tag it was made with while that tag
/// still names it (so `docker ps` reads well), else by id (a tag rebuilt since names another).
async fn image_of(docker: &Docker, running: &ContainerInspectResponse) -> String {
    let id = running.image.clone().unwrap_or_default();
    let Some(tag) = running.config.as_ref().and_then(|c| c.image.clone()) else {
        return id;
    };
    match docker.inspect_image(&tag).await {
        Ok(image) if image.id.as_deref() == Some(id.as_str()) => tag,
        _ => id,
    }
}

/// Sandbox `name`'s replicas (not the primary), lowest index first. A container a deploy is
/// replacing (renamed aside) is left out: its successor holds the index.
pub async fn members(docker: &Docker, name: &str) -> Result<Vec<ReplicaMember>> {
    let names = SandboxNames::of(name);
    let mut found: Vec<ReplicaMember> = containers(docker, Some(name))
        .await?
        .iter()
        .filter_map(|c| {
            let index = replica_index(c, name)?;
            let container = container_name(c);
            (container == names.agent_of(index)).then(|| ReplicaMember {
                index,
                id: c.id.clone().unwrap_or_default(),
                volume: names.volume_of(index),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                http: public_url(c, paths::HTTP_PORT, "http"),
                container,
            })
        })
        .collect();
    found.sort_by_key(|m| m.index);
    Ok(found)
}

/// How many agent containers sandbox `name` runs among firedrill's containers `all`: the
/// primary and each replica index once (mid-deploy, an index has two containers).
pub(super) fn count(all: &[ContainerSummary], name: &str) -> usize {
    let mut indexes: Vec<u8> = all.iter().filter_map(|c| replica_index(c, name)).collect();
    indexes.sort_unstable();
    indexes.dedup();
    indexes.len() + 1
}

/// The replica index of `container` if it is one of sandbox `name`'s replicas.
fn replica_index(container: &ContainerSummary, name: &str) -> Option<u8> {
    let replica = label(container, labels::SANDBOX) == Some(name)
        && label(container, labels::ROLE) == Some(labels::ROLE_REPLICA);
    if !replica {
        return None;
    }
    label(container, labels::REPLICA)?
        .parse()
        .ok()
        .filter(|index| *index > PRIMARY)
}

fn primary_member(primary: &SandboxInfo) -> ReplicaMember {
    ReplicaMember {
        index: PRIMARY,
        container: primary.container.clone(),
        id: primary.container_id.clone(),
        volume: primary.volume.clone(),
        state: primary.state.clone(),
        http: primary.http.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_names_follow_the_primarys() {
        let names = SandboxNames::of("blue");
        assert_eq!(names.agent_of(PRIMARY), "firedrill-blue-agent");
        assert_eq!(names.volume_of(PRIMARY), "firedrill-blue-data");
        assert_eq!(names.agent_of(3), "firedrill-blue-agent-3");
        assert_eq!(names.volume_of(3), "firedrill-blue-data-3");
    }

    #[test]
    fn replica_counts_run_from_one_to_four() {
        assert_eq!("3".parse::<ReplicaCount>().map(ReplicaCount::get), Ok(3));
        assert_eq!(ReplicaCount::new(1).map(ReplicaCount::get), Some(1));
        for bad in ["0", "5", "9", "-1", "two", ""] {
            let refused = bad.parse::<ReplicaCount>().unwrap_err();
            assert!(refused.contains("from 1 to 4"), "{bad:?}: {refused}");
        }
    }

    #[test]
    fn scaling_starts_the_missing_and_removes_the_highest_first() {
        assert_eq!(plan(&[], 3), (vec![2, 3], vec![]));
        assert_eq!(plan(&[2, 3, 4], 2), (vec![], vec![4, 3]));
        assert_eq!(plan(&[2, 3], 3), (vec![], vec![]), "the same count");
        assert_eq!(plan(&[2, 4], 1), (vec![], vec![4, 2]));
        assert_eq!(plan(&[3], 3), (vec![2], vec![]), "a gap is filled");
    }

    #[test]
    fn a_replica_carries_the_sandboxs_labels_as_a_replica() {
        let mut primary = labels::owned(
            "sbx-blue-1",
            &[
                (labels::SANDBOX, "blue"),
                (labels::ROLE, labels::ROLE_AGENT),
                (labels::RELEASE, "1.4.3"),
                (labels::PREVIOUS_RELEASE, "1.4.2"),
            ],
        );
        primary.insert(labels::CONTENT_HASH.to_string(), "sha256:1".to_string());
        let replica = replica_labels(&primary, 2);
        let expected = labels::owned(
            "sbx-blue-1",
            &[
                (labels::SANDBOX, "blue"),
                (labels::ROLE, labels::ROLE_REPLICA),
                (labels::REPLICA, "2"),
                (labels::RELEASE, "1.4.3"),
                (labels::PREVIOUS_RELEASE, "1.4.2"),
            ],
        );
        assert_eq!(replica, expected);
    }

    fn summary(name: &str, labels: &[(&str, &str)]) -> ContainerSummary {
        ContainerSummary {
            names: Some(vec![format!("/{name}")]),
            labels: Some(labels::owned("s", labels)),
            ..Default::default()
        }
    }

    #[test]
    fn the_count_is_the_primary_and_each_replica_index_once() {
        let replica = |name: &str, sandbox: &str, index: &str| {
            summary(
                name,
                &[
                    (labels::SANDBOX, sandbox),
                    (labels::ROLE, labels::ROLE_REPLICA),
                    (labels::REPLICA, index),
                ],
            )
        };
        let all = vec![
            summary(
                "firedrill-blue-agent",
                &[
                    (labels::SANDBOX, "blue"),
                    (labels::ROLE, labels::ROLE_AGENT),
                ],
            ),
            summary(
                "firedrill-blue-traffic",
                &[
                    (labels::SANDBOX, "blue"),
                    (labels::ROLE, labels::ROLE_TRAFFIC),
                ],
            ),
            replica("firedrill-blue-agent-2", "blue", "2"),
            // Mid-deploy: the replaced replica 2, renamed aside.
            replica("firedrill-blue-agent-2-replaced-0123456789ab", "blue", "2"),
            replica("firedrill-blue-agent-3", "blue", "3"),
            replica("firedrill-green-agent-2", "green", "2"),
        ];
        assert_eq!(count(&all, "blue"), 3);
        assert_eq!(count(&all, "green"), 2);
        assert_eq!(count(&all, "red"), 1);
    }
}
