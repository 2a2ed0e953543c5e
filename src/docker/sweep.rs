//! `firedrill cleanup`: removes everything firedrill made, including what a killed process left,
//! except what a drill still running (another terminal's, another engineer's) uses.
//!
//! Only resources carrying `io.firedrill.managed=true` are listed, and each is checked again
//! before removal, so nothing of anyone else's is ever touched.

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    RemoveVolumeOptionsBuilder,
};
use bollard::Docker;
use serde::Serialize;

use std::collections::BTreeSet;

use super::labels;
use crate::error::{Error, Result};

/// What a sweep removed.
#[derive(Debug, Default, Serialize)]
pub struct Swept {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
    /// Resources left alone because a running drill's session owns them.
    pub spared: Vec<String>,
    /// Images the spared containers run (never removed under them).
    #[serde(skip)]
    images_in_use: BTreeSet<String>,
}

impl Swept {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty()
            && self.networks.is_empty()
            && self.volumes.is_empty()
            && self.images.is_empty()
    }
}

/// Which images a sweep removes besides the dangling ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Keep the tagged sandbox images: the next `sandbox up` reuses them.
    KeepCachedImages,
    /// Remove the tagged sandbox images too (CI, or freeing disk).
    WithCachedImages,
}

/// Removes every firedrill container, network and volume but those of the sessions in `spare`
/// (the drills still running), and firedrill images left dangling (with
/// [`Scope::WithCachedImages`], every firedrill image no spared container runs).
pub async fn sweep(docker: &Docker, scope: Scope, spare: &[String]) -> Result<Swept> {
    let mut swept = remove_labelled_sparing(docker, &[], spare).await?;
    swept.images = remove_images(docker, scope, &swept.images_in_use).await?;
    Ok(swept)
}

/// Removes firedrill's containers (forcibly, running or not), then networks, then volumes,
/// that carry every `label=value` in `selectors` besides the firedrill marker.
pub async fn remove_labelled(docker: &Docker, selectors: &[(&str, &str)]) -> Result<Swept> {
    remove_labelled_sparing(docker, selectors, &[]).await
}

/// Whether a resource with `labels` belongs to one of the sessions in `spare`.
fn spared(labels: Option<&std::collections::HashMap<String, String>>, spare: &[String]) -> bool {
    labels
        .and_then(|l| l.get(labels::SESSION))
        .is_some_and(|session| spare.contains(session))
}

async fn remove_labelled_sparing(
    docker: &Docker,
    selectors: &[(&str, &str)],
    spare: &[String],
) -> Result<Swept> {
    let filter = labels::filter(selectors);
    let mut swept = Swept::default();
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filter)
                .build(),
        ))
        .await
        .map_err(Error::docker("listing firedrill's containers"))?;
    for container in containers
        .into_iter()
        .filter(|c| labels::is_managed(c.labels.as_ref()))
    {
        let id = container.id.unwrap_or_default();
        let name = container
            .names
            .and_then(|n| n.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_else(|| id.clone());
        if spared(container.labels.as_ref(), spare) {
            swept.images_in_use.extend(container.image_id);
            swept.spared.push(name);
            continue;
        }
        docker
            .remove_container(
                &id,
                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
            )
            .await
            .map_err(Error::docker(format!("removing container {name}")))?;
        swept.containers.push(name);
    }

    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await
        .map_err(Error::docker("listing firedrill's networks"))?;
    for network in networks
        .into_iter()
        .filter(|n| labels::is_managed(n.labels.as_ref()))
    {
        let name = network.name.unwrap_or_default();
        if spared(network.labels.as_ref(), spare) {
            swept.spared.push(name);
            continue;
        }
        docker
            .remove_network(&name)
            .await
            .map_err(Error::docker(format!("removing network {name}")))?;
        swept.networks.push(name);
    }

    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await
        .map_err(Error::docker("listing firedrill's volumes"))?;
    for volume in volumes
        .volumes
        .unwrap_or_default()
        .into_iter()
        .filter(|v| labels::is_managed(Some(&v.labels)))
    {
        if spared(Some(&volume.labels), spare) {
            swept.spared.push(volume.name);
            continue;
        }
        docker
            .remove_volume(
                &volume.name,
                Some(RemoveVolumeOptionsBuilder::default().build()),
            )
            .await
            .map_err(Error::docker(format!("removing volume {}", volume.name)))?;
        swept.volumes.push(volume.name);
    }
    Ok(swept)
}

/// Removes firedrill's dangling images (with [`Scope::WithCachedImages`], all of them) but those
/// `in_use` by a spared container.
async fn remove_images(
    docker: &Docker,
    scope: Scope,
    in_use: &BTreeSet<String>,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut image_filter = labels::filter(&[]);
    if scope == Scope::KeepCachedImages {
        image_filter.insert("dangling".to_string(), vec!["true".to_string()]);
    }
    let images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .all(false)
                .filters(&image_filter)
                .build(),
        ))
        .await
        .map_err(Error::docker("listing firedrill's dangling images"))?;
    for image in images
        .into_iter()
        .filter(|i| labels::is_managed(Some(&i.labels)))
        .filter(|i| !in_use.contains(&i.id))
    {
        docker
            .remove_image(
                &image.id,
                Some(RemoveImageOptionsBuilder::default().force(true).build()),
                None,
            )
            .await
            .map_err(Error::docker(format!("removing image {}", image.id)))?;
        removed.push(image.id);
    }
    Ok(removed)
}
