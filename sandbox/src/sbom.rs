//! The image's software bill of materials: what each release ships, in CycloneDX JSON (the
//! subset `trivy sbom` reads), at [`crate::paths::SBOM_FILE`].
//!
//! Two layers, as in any image: the application's dependencies (the crates of the workspace's
//! `Cargo.lock`, compiled in) and the base, the distribution packages whose files the image
//! carries (found on the build host with dpkg, see firedrill's `docker::rootfs`).
//!
//! Release [`SECURITY_PATCH_RELEASE`] and later are the security patch release: every
//! dependency moved to its next patch version and the image rebuilt on the patched base. The
//! stand-in's binary is the same in every release, so this is what the SBOM declares rather
//! than what the bytes are; advisories are matched against the SBOM, as trivy does.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::scanner::{compare_versions, next_patch, Ecosystem};

/// The first release that carries the security patches (dependency bumps and the patched base).
pub const SECURITY_PATCH_RELEASE: &str = "1.4.3";

/// The workspace's lock file: the crates the agent is built from.
const CARGO_LOCK: &str = include_str!("../../Cargo.lock");

/// The property naming a component's layer.
const LAYER_PROPERTY: &str = "firedrill:layer";

/// Where a component comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// A dependency of the agent's code.
    Application,
    /// A package of the base image.
    Base,
}

impl Layer {
    fn as_str(self) -> &'static str {
        match self {
            Layer::Application => "application",
            Layer::Base => "base",
        }
    }
}

/// The distribution packages the image's base carries, as found on the build host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseLayer {
    /// `debian-12`, `ubuntu-22.04`; empty when the host has no os-release.
    pub distro: String,
    pub packages: Vec<BasePackage>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BasePackage {
    pub name: String,
    pub version: String,
}

/// A CycloneDX document (the fields trivy reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sbom {
    pub bom_format: String,
    pub spec_version: String,
    pub version: u32,
    pub metadata: Metadata,
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub component: Component,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Property {
    pub name: String,
    pub value: String,
}

/// What a component is to the scanner: which ecosystem, which distribution release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub ecosystem: Ecosystem,
    pub release: Option<String>,
}

#[derive(Deserialize)]
struct LockFile {
    package: Vec<LockedPackage>,
}

#[derive(Deserialize)]
struct LockedPackage {
    name: String,
    version: String,
    /// Absent for the workspace's own crates.
    source: Option<String>,
}

impl Sbom {
    /// The SBOM of the image of `release`, built on `base`.
    pub fn for_release(release: &str, base: &BaseLayer) -> Sbom {
        let patched = compare_versions(release, SECURITY_PATCH_RELEASE) != Ordering::Less;
        let shipped = |version: &str| {
            if patched {
                next_patch(version)
            } else {
                version.to_string()
            }
        };
        let lock: LockFile =
            toml::from_str(CARGO_LOCK).expect("the workspace's Cargo.lock is valid TOML");
        let mut components: Vec<Component> = lock
            .package
            .iter()
            .filter(|package| package.source.is_some())
            .map(|package| {
                let version = shipped(&package.version);
                Component::library(
                    &package.name,
                    &version,
                    format!("pkg:cargo/{}@{version}", package.name),
                    Layer::Application,
                )
            })
            .collect();
        for package in &base.packages {
            let version = shipped(&package.version);
            let (vendor, _) = base.distro.split_once('-').unwrap_or(("debian", ""));
            components.push(Component::library(
                &package.name,
                &version,
                format!(
                    "pkg:deb/{vendor}/{}@{version}?distro={}",
                    package.name, base.distro
                ),
                Layer::Base,
            ));
        }
        Sbom {
            bom_format: "CycloneDX".to_string(),
            spec_version: "1.5".to_string(),
            version: 1,
            metadata: Metadata {
                component: Component {
                    kind: "application".to_string(),
                    name: "docker-optimizer-agent".to_string(),
                    version: release.to_string(),
                    purl: None,
                    properties: Vec::new(),
                },
            },
            components,
        }
    }

    pub fn from_json(text: &str) -> Result<Sbom, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an SBOM always serializes") + "\n"
    }

    /// The component called `name`.
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }
}

impl Component {
    fn library(name: &str, version: &str, purl: String, layer: Layer) -> Component {
        Component {
            kind: "library".to_string(),
            name: name.to_string(),
            version: version.to_string(),
            purl: Some(purl),
            properties: vec![Property {
                name: LAYER_PROPERTY.to_string(),
                value: layer.as_str().to_string(),
            }],
        }
    }

    pub fn layer(&self) -> Option<Layer> {
        let value = &self
            .properties
            .iter()
            .find(|p| p.name == LAYER_PROPERTY)?
            .value;
        [Layer::Application, Layer::Base]
            .into_iter()
            .find(|layer| layer.as_str() == value)
    }

    /// The scanner's view of this component, from its package URL: `pkg:cargo/…` is a crate,
    /// `pkg:deb/…?distro=debian-12` a Debian package of that release. `None` for other types.
    pub fn identity(&self) -> Option<Identity> {
        let purl = self.purl.as_deref()?.strip_prefix("pkg:")?;
        let (kind, rest) = purl.split_once('/')?;
        let qualifier = |key: &str| {
            rest.split_once('?')?
                .1
                .split('&')
                .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
        };
        match kind {
            "cargo" => Some(Identity {
                ecosystem: Ecosystem::Cargo,
                release: None,
            }),
            "deb" => Some(Identity {
                ecosystem: Ecosystem::Debian,
                release: qualifier("distro"),
            }),
            "apk" => Some(Identity {
                ecosystem: Ecosystem::Alpine,
                release: qualifier("distro"),
            }),
            "pypi" => Some(Identity {
                ecosystem: Ecosystem::Pip,
                release: None,
            }),
            "npm" => Some(Identity {
                ecosystem: Ecosystem::Npm,
                release: None,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> BaseLayer {
        BaseLayer {
            distro: "debian-12".to_string(),
            packages: vec![BasePackage {
                name: "libc6".to_string(),
                version: "2.36-9+deb12u13".to_string(),
            }],
        }
    }

    #[test]
    fn lists_the_locked_crates_and_the_base_packages() {
        let sbom = Sbom::for_release("1.4.2", &base());
        let tokio = sbom.component("tokio").expect("tokio is a dependency");
        assert_eq!(tokio.layer(), Some(Layer::Application));
        assert!(tokio
            .purl
            .as_deref()
            .unwrap()
            .starts_with("pkg:cargo/tokio@"));
        assert!(sbom.component("optimizer-agent").is_none(), "own crates");
        let libc = sbom.component("libc6").unwrap();
        assert_eq!(libc.version, "2.36-9+deb12u13");
        assert_eq!(libc.layer(), Some(Layer::Base));
        assert_eq!(
            libc.identity(),
            Some(Identity {
                ecosystem: Ecosystem::Debian,
                release: Some("debian-12".to_string())
            })
        );
        assert_eq!(sbom.metadata.component.version, "1.4.2");
        assert_eq!(Sbom::from_json(&sbom.to_json()).unwrap(), sbom);
    }

    #[test]
    fn the_patch_release_ships_the_next_patch_of_everything() {
        let before = Sbom::for_release("1.4.2", &base());
        for release in ["1.4.3", "1.5.0"] {
            let after = Sbom::for_release(release, &base());
            for (old, new) in before.components.iter().zip(&after.components) {
                assert_eq!(old.name, new.name);
                assert_eq!(new.version, next_patch(&old.version), "{release}");
            }
        }
        assert_eq!(
            Sbom::for_release("1.3.0", &base()).components,
            before.components
        );
    }
}
