//! What a Dockerfile installs, and which DB entries that matches.
//!
//! Looked at, per stage:
//! - the base image of every FROM (`python:3.8-slim` is image `python` at version `3.8`);
//! - `apt-get install` / `apk add` packages. Without a pinned version the installed version
//!   is whatever the release's archive has, unknowable here, so an unpinned package matches
//!   only entries marked `*` for the stage's release: vulnerabilities its archive never fixed
//!   (an end-of-life release such as Debian buster or Ubuntu 18.04). A pinned `pkg=version`
//!   is compared like any version. The release comes from the base image (`debian:buster`,
//!   `ubuntu:18.04`, `alpine:3.12`) or from a codename in the tag (`python:3.8-slim-buster`);
//!   when it is unknown, unpinned packages match nothing.
//! - `pip install pkg==version` and `npm install pkg@version`. Unpinned or ranged requests
//!   install the newest release, which we treat as fixed.
//!
//! Results are sorted (severity, then id, package, version) and de-duplicated, so the same
//! Dockerfile always gives the same report.

use std::collections::BTreeSet;

use super::db::{Database, DbEntry, Ecosystem};
use super::report::Vulnerability;
use crate::optimizer::parser::{parse, Item};
use crate::optimizer::shell::RunCommand;
use crate::optimizer::stages::{root_image, stages, ImageRef};
use crate::sbom::Sbom;

const DEBIAN_CODENAMES: &[(&str, &str)] = &[
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
];
const UBUNTU_CODENAMES: &[(&str, &str)] = &[
    ("trusty", "14.04"),
    ("xenial", "16.04"),
    ("bionic", "18.04"),
    ("focal", "20.04"),
    ("jammy", "22.04"),
    ("noble", "24.04"),
];

/// Something the Dockerfile installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Installed {
    pub ecosystem: Ecosystem,
    pub name: String,
    /// `None` when the Dockerfile does not pin it.
    pub version: Option<String>,
    /// The distribution release of the stage (`debian-10`), for distro packages.
    pub release: Option<String>,
}

/// Everything `dockerfile` installs, in order of appearance.
pub(crate) fn installed(dockerfile: &str) -> Vec<Installed> {
    let parsed = parse(dockerfile);
    let stages = stages(&parsed);
    let mut found = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        let image = root_image(&stages, index);
        let release = release_of(&image);
        if stage.parent.is_none() {
            if let (Some(name), Some(version)) = (image.official_name(), image_version(&image)) {
                found.push(Installed {
                    ecosystem: Ecosystem::Image,
                    name: name.to_string(),
                    version: Some(version),
                    release: None,
                });
            }
        }
        for item in &parsed.items[stage.from_item..stage.end_item] {
            let Item::Instruction(instruction) = item else {
                continue;
            };
            if !instruction.is("RUN") {
                continue;
            }
            let Some(run) = RunCommand::parse(&instruction.args) else {
                continue;
            };
            for (_, command) in &run.commands {
                found.extend(packages_of(command, release.as_deref()));
            }
        }
    }
    found
}

/// The vulnerabilities of `dockerfile` according to `database`.
pub fn match_dockerfile(database: &Database, dockerfile: &str) -> Vec<Vulnerability> {
    match_installed(database, installed(dockerfile))
}

/// The vulnerabilities of the components an SBOM lists (components of a type the scanner does
/// not know are skipped, as trivy skips them).
pub fn match_sbom(database: &Database, sbom: &Sbom) -> Vec<Vulnerability> {
    let packages = sbom.components.iter().filter_map(|component| {
        let identity = component.identity()?;
        Some(Installed {
            ecosystem: identity.ecosystem,
            name: component.name.clone(),
            version: Some(component.version.clone()),
            release: identity.release,
        })
    });
    match_installed(database, packages)
}

fn match_installed(
    database: &Database,
    packages: impl IntoIterator<Item = Installed>,
) -> Vec<Vulnerability> {
    let mut seen = BTreeSet::new();
    let mut vulnerabilities = Vec::new();
    for package in packages {
        for (entry, affected) in database.entries().iter().zip(&database.affected) {
            if entry.ecosystem != package.ecosystem || !same_package(entry, &package.name) {
                continue;
            }
            let installed_version = match (&package.version, package.ecosystem) {
                (Some(version), Ecosystem::Debian | Ecosystem::Alpine) => {
                    let release_agrees =
                        package.release.is_none() || package.release == entry.release;
                    if !release_agrees || !affected.matches(version) {
                        continue;
                    }
                    version.clone()
                }
                (Some(version), _) => {
                    if !affected.matches(version) {
                        continue;
                    }
                    version.clone()
                }
                (None, Ecosystem::Debian | Ecosystem::Alpine) => {
                    if !affected.is_any()
                        || package.release.is_none()
                        || package.release != entry.release
                    {
                        continue;
                    }
                    format!(
                        "unpinned ({} archive)",
                        entry.release.as_deref().unwrap_or("distribution")
                    )
                }
                (None, _) => continue,
            };
            if seen.insert((
                entry.id.clone(),
                entry.package.clone(),
                installed_version.clone(),
            )) {
                vulnerabilities.push(Vulnerability {
                    id: entry.id.clone(),
                    package: entry.package.clone(),
                    installed_version,
                    fixed_version: entry.fixed_version.clone(),
                    severity: entry.severity,
                    title: entry.title.clone(),
                });
            }
        }
    }
    vulnerabilities.sort_by(|a, b| {
        (a.severity, &a.id, &a.package, &a.installed_version).cmp(&(
            b.severity,
            &b.id,
            &b.package,
            &b.installed_version,
        ))
    });
    vulnerabilities
}

fn same_package(entry: &DbEntry, name: &str) -> bool {
    match entry.ecosystem {
        Ecosystem::Pip => normalize_pip(&entry.package) == normalize_pip(name),
        _ => entry.package == name,
    }
}

/// PEP 503 name normalization: case and `-`/`_`/`.` do not matter.
fn normalize_pip(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// The release series a tag names: `3.8-slim-buster` -> `3.8`, `18.04` -> `18.04`,
/// `buster-slim` on debian -> `10`; `None` for `latest` and other words.
fn image_version(image: &ImageRef) -> Option<String> {
    let tag = image.tag.as_deref()?;
    let first = tag.split('-').next().unwrap_or(tag);
    let codenames = match image.official_name() {
        Some("debian") => DEBIAN_CODENAMES,
        Some("ubuntu") => UBUNTU_CODENAMES,
        _ => &[],
    };
    if let Some((_, version)) = codenames.iter().find(|(name, _)| *name == first) {
        return Some(version.to_string());
    }
    let version: String = first
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let version = version.trim_end_matches('.');
    (!version.is_empty()).then(|| version.to_string())
}

/// The distribution release a stage runs on, when the image says so.
fn release_of(image: &ImageRef) -> Option<String> {
    match image.official_name() {
        Some("debian") => {
            return image_version(image)
                .map(|v| format!("debian-{}", v.split('.').next().unwrap_or(&v)))
        }
        Some("ubuntu") => return image_version(image).map(|v| format!("ubuntu-{v}")),
        Some("alpine") => {
            return image_version(image).map(|v| {
                format!(
                    "alpine-{}",
                    v.split('.').take(2).collect::<Vec<_>>().join(".")
                )
            })
        }
        _ => {}
    }
    let tag = image.tag.as_deref()?;
    tag.split('-').find_map(|word| {
        if let Some((_, version)) = DEBIAN_CODENAMES.iter().find(|(name, _)| *name == word) {
            return Some(format!("debian-{version}"));
        }
        if let Some((_, version)) = UBUNTU_CODENAMES.iter().find(|(name, _)| *name == word) {
            return Some(format!("ubuntu-{version}"));
        }
        word.strip_prefix("alpine")
            .filter(|v| !v.is_empty())
            .map(|v| format!("alpine-{v}"))
    })
}

/// Packages one shell command installs.
fn packages_of(command: &str, release: Option<&str>) -> Vec<Installed> {
    let words: Vec<&str> = command
        .split_whitespace()
        .map(|w| w.trim_matches(['"', '\'']))
        .collect();
    let tool_at = |names: &[&str]| {
        words
            .iter()
            .position(|w| names.contains(&w.rsplit('/').next().unwrap_or(w)))
    };
    let mut found = Vec::new();
    let mut push = |ecosystem, name: &str, version: Option<&str>, release: Option<&str>| {
        if !name.is_empty() {
            found.push(Installed {
                ecosystem,
                name: name.to_string(),
                version: version.filter(|v| !v.is_empty()).map(str::to_string),
                release: release.map(str::to_string),
            });
        }
    };
    if let Some(tool) = tool_at(&["apt-get", "apt"]) {
        for word in arguments(&words[tool + 1..], "install") {
            let (name, version) = word
                .split_once('=')
                .map_or((word, None), |(n, v)| (n, Some(v)));
            push(
                Ecosystem::Debian,
                name,
                version,
                release.filter(|r| !r.starts_with("alpine")),
            );
        }
    } else if let Some(tool) = tool_at(&["apk"]) {
        for word in arguments(&words[tool + 1..], "add") {
            let (name, version) = word
                .split_once('=')
                .map_or((word, None), |(n, v)| (n, Some(v)));
            push(
                Ecosystem::Alpine,
                name,
                version,
                release.filter(|r| r.starts_with("alpine")),
            );
        }
    } else if let Some(tool) = tool_at(&["pip", "pip3"]) {
        for word in arguments(&words[tool + 1..], "install") {
            // Only exact pins say what gets installed; `pkg>=1.0` or `pkg` take the newest.
            let Some((name, version)) = word.split_once("==") else {
                continue;
            };
            let name = name.split('[').next().unwrap_or(name);
            push(Ecosystem::Pip, name, Some(version), None);
        }
    } else if let Some(tool) = tool_at(&["npm", "yarn", "pnpm"]) {
        let subcommand = match words[tool] {
            "npm" => ["install", "i", "add"],
            _ => ["add", "add", "add"],
        };
        for sub in subcommand {
            let packages = arguments(&words[tool + 1..], sub);
            if packages.is_empty() {
                continue;
            }
            for word in packages {
                // `@scope/name@1.2.3`: the version is after the last `@` that is not the first character.
                let Some(at) = word.rfind('@').filter(|&at| at > 0) else {
                    continue;
                };
                let version = &word[at + 1..];
                if version.starts_with(|c: char| c.is_ascii_digit()) {
                    push(Ecosystem::Npm, &word[..at], Some(version), None);
                }
            }
            break;
        }
    }
    found
}

/// The non-option words after `subcommand` (skipping values of options that take one).
fn arguments<'a>(words: &[&'a str], subcommand: &str) -> Vec<&'a str> {
    let mut iter = words.iter().copied();
    // Find the subcommand: the first word that is not an option.
    loop {
        match iter.next() {
            None => return Vec::new(),
            Some("-o" | "-c" | "-t" | "-r" | "-i" | "--index-url" | "--target") => {
                iter.next();
            }
            Some(word) if word.starts_with('-') => {}
            Some(word) if word == subcommand => break,
            Some(_) => return Vec::new(),
        }
    }
    let mut packages = Vec::new();
    while let Some(word) = iter.next() {
        if matches!(
            word,
            "-o" | "-c"
                | "-t"
                | "-r"
                | "-i"
                | "-e"
                | "--index-url"
                | "--target"
                | "--prefix"
                | "--requirement"
                | "--constraint"
        ) {
            iter.next();
        } else if word.starts_with('-') {
        } else if matches!(word, ">" | ">>" | "2>" | "|" | "2>&1") || word.starts_with('>') {
            break;
        } else if word.starts_with(['.', '/', '$']) || word.contains("://") {
            // Local paths, variables and URLs name no registry package.
        } else {
            packages.push(word);
        }
    }
    packages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::report::Severity;
    use std::path::Path;

    fn shipped() -> Database {
        Database::from_bytes(
            Path::new("shipped"),
            include_str!("../../assets/trivy/vulnerabilities.json").as_bytes(),
        )
        .unwrap()
    }

    fn summary(text: &str) -> Vec<(String, String, String)> {
        installed(text)
            .into_iter()
            .map(|p| {
                (
                    format!("{:?}", p.ecosystem),
                    p.name,
                    format!(
                        "{}@{}",
                        p.version.unwrap_or_default(),
                        p.release.unwrap_or_default()
                    ),
                )
            })
            .collect()
    }

    #[test]
    fn finds_what_a_dockerfile_installs() {
        let text = "FROM python:3.8-slim-buster AS build\n\
                    RUN apt-get update && apt-get install -y --no-install-recommends openssl libssl1.1=1.1.1d-0+deb10u7 > /dev/null\n\
                    RUN pip install --no-cache-dir requests==2.19.1 'Django==3.1.4' flask -r requirements.txt PyYAML>=5\n\
                    FROM node:14-alpine3.12\n\
                    RUN apk add --no-cache curl && npm install -g lodash@4.17.15 @angular/core@12.0.0 express@^4.17.0 left-pad\n\
                    FROM build\n";
        let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            summary(text),
            vec![
                s("Image", "python", "3.8@"),
                s("Debian", "openssl", "@debian-10"),
                s("Debian", "libssl1.1", "1.1.1d-0+deb10u7@debian-10"),
                s("Pip", "requests", "2.19.1@"),
                s("Pip", "Django", "3.1.4@"),
                s("Image", "node", "14@"),
                s("Alpine", "curl", "@alpine-3.12"),
                s("Npm", "lodash", "4.17.15@"),
                s("Npm", "@angular/core", "12.0.0@"),
            ]
        );
    }

    #[test]
    fn image_versions_and_releases() {
        let version = |r: &str| image_version(&ImageRef::parse(r));
        assert_eq!(version("python:3.8-slim"), Some("3.8".into()));
        assert_eq!(version("ubuntu:bionic"), Some("18.04".into()));
        assert_eq!(version("debian:buster-slim"), Some("10".into()));
        assert_eq!(version("node:latest"), None);
        assert_eq!(version("node"), None);
        let release = |r: &str| release_of(&ImageRef::parse(r));
        assert_eq!(release("debian:10.13-slim"), Some("debian-10".into()));
        assert_eq!(release("ubuntu:18.04"), Some("ubuntu-18.04".into()));
        assert_eq!(release("alpine:3.12.4"), Some("alpine-3.12".into()));
        assert_eq!(
            release("golang:1.16-alpine3.13"),
            Some("alpine-3.13".into())
        );
        assert_eq!(release("python:3.12-slim"), None);
    }

    #[test]
    fn old_bases_and_pinned_packages_match_and_modern_ones_do_not() {
        let database = shipped();
        let old = match_dockerfile(
            &database,
            "FROM python:3.8\nRUN pip install requests==2.19.1 pyyaml==5.3\nFROM ubuntu:18.04\nRUN apt-get install -y openssl curl\n",
        );
        let packages: BTreeSet<_> = old.iter().map(|v| v.package.as_str()).collect();
        for expected in ["python", "requests", "pyyaml", "ubuntu", "openssl", "curl"] {
            assert!(
                packages.contains(expected),
                "{expected} missing from {packages:?}"
            );
        }
        assert!(
            old.windows(2).all(|w| w[0].severity <= w[1].severity),
            "sorted by severity"
        );
        assert!(old.iter().any(|v| v.severity == Severity::Critical));
        let modern = match_dockerfile(
            &database,
            "FROM python:3.12-slim\nRUN apt-get install -y openssl && pip install requests==2.31.0 pyyaml\nFROM node:20-alpine\nRUN npm install lodash@4.17.21\n",
        );
        assert!(modern.is_empty(), "{modern:?}");
        // Deterministic.
        assert_eq!(old, match_dockerfile(&database, "FROM python:3.8\nRUN pip install requests==2.19.1 pyyaml==5.3\nFROM ubuntu:18.04\nRUN apt-get install -y openssl curl\n"));
    }

    #[test]
    fn every_pinned_base_of_the_optimizer_is_clean() {
        let database = shipped();
        for image in [
            "python:3.12-slim",
            "node:20-alpine",
            "ubuntu:22.04",
            "debian:bookworm-slim",
            "alpine:3.19",
            "nginx:1.25-alpine",
            "golang:1.22-alpine",
        ] {
            let found = match_dockerfile(&database, &format!("FROM {image}\n"));
            assert!(found.is_empty(), "{image}: {found:?}");
        }
    }
}
