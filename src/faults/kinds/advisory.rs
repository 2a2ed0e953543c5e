//! A security advisory published against a component the running image ships: what
//! `vulnerable-dependency` (an application crate) and `base-image-cve` (a package of the base)
//! have in common. The advisory goes into the scanner's feed (the DB on the scanner-cache
//! volume and the image's offline mirror, so `db update` keeps it); the agent's self-scan
//! reports it. Only an image whose SBOM ships the fixed version clears the root cause: the
//! security patch release ([`SECURITY_PATCH_RELEASE`]) does, a restart or a redeploy of the
//! same release does not, and neither does deleting the advisory from the DB.
//!
//! Advisory ids are `FIREDRILL-YEAR-NNNN`, so nobody mistakes a drill finding for a real CVE.

use std::cmp::Ordering;
use std::path::Path;

use optimizer_agent::paths::{SBOM_FILE, TRIVY_DB, TRIVY_DB_MIRROR};
use optimizer_agent::sbom::{Layer, Sbom, SECURITY_PATCH_RELEASE};
use optimizer_agent::scanner::{compare_versions, next_patch, Database, DbEntry, Severity};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::docker::rootfs::AGENT_UID;
use crate::error::{Error, Result};
use crate::faults::params::Params;
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

/// The severities the `severity` parameter takes.
pub const SEVERITIES: &[&str] = &["critical", "high", "medium", "low"];

/// What the two kinds differ in.
pub struct AdvisorySpec {
    pub kind: &'static str,
    pub layer: Layer,
    /// What the flaw is, for the advisory's title.
    pub flaw: &'static str,
}

/// The two copies of the feed and their owners: the live DB (the agent's) and the image's
/// mirror (root's, uid 0).
const FEED_FILES: [(&str, u64); 2] = [(TRIVY_DB, AGENT_UID), (TRIVY_DB_MIRROR, 0)];

pub async fn inject(target: &FaultTarget, spec: &AdvisorySpec, params: &Params) -> Result<Value> {
    let unavailable = |reason: String| Error::FaultUnavailable {
        kind: spec.kind.to_string(),
        reason,
    };
    let sbom = read_sbom(target).await?.map_err(unavailable)?;
    let release = &sbom.metadata.component.version;
    if compare_versions(release, SECURITY_PATCH_RELEASE) != Ordering::Less {
        return Err(unavailable(format!(
            "the sandbox runs {release}, which already ships the security patches; \
             start it on an earlier release (e.g. --version 1.4.2)"
        )));
    }
    let package = params.get("package");
    let component = sbom
        .components
        .iter()
        .find(|c| c.name == package && c.layer() == Some(spec.layer))
        .ok_or_else(|| {
            let shipped: Vec<&str> = sbom
                .components
                .iter()
                .filter(|c| c.layer() == Some(spec.layer))
                .map(|c| c.name.as_str())
                .collect();
            unavailable(if shipped.is_empty() {
                format!("the image's SBOM lists no {:?} components", spec.layer)
            } else {
                format!(
                    "the image does not ship '{package}'; it ships: {}",
                    shipped.join(", ")
                )
            })
        })?;
    let identity = component
        .identity()
        .ok_or_else(|| unavailable(format!("'{package}' has no package URL the scanner reads")))?;
    let fixed = next_patch(&component.version);
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let advisory = DbEntry {
        id: advisory_id(spec.kind, package, &now[..4]),
        ecosystem: identity.ecosystem,
        release: identity.release,
        package: package.to_string(),
        affected: format!("<{fixed}"),
        fixed_version: Some(fixed.clone()),
        severity: severity(params.get("severity")),
        title: format!(
            "{package}: {} (drill advisory; fixed in {fixed})",
            spec.flaw
        ),
        published: Some(now[..10].to_string()),
    };
    for (path, owner) in FEED_FILES {
        let feed = read_feed(target, path).await?.map_err(unavailable)?;
        let published = feed
            .publish(advisory.clone())
            .map_err(|reason| unavailable(format!("cannot publish the advisory: {reason}")))?;
        target
            .write_file(path, published.to_json().as_bytes(), 0o644, owner)
            .await?;
    }
    Ok(json!({
        "advisory": advisory,
        "component": package,
        "installed": component.version,
        "release": release,
    }))
}

/// Withdraws the advisory from the feed (whatever else the trainee did to the DB stays).
pub async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
    let advisory = advisory_of(target, record)?;
    for (path, owner) in FEED_FILES {
        // A feed the trainee broke or removed has no advisory left to withdraw.
        let Ok(feed) = read_feed(target, path).await? else {
            continue;
        };
        if feed.entries().iter().any(|entry| entry.id == advisory.id) {
            let withdrawn = feed.without(&advisory.id);
            target
                .write_file(path, withdrawn.to_json().as_bytes(), 0o644, owner)
                .await?;
        }
    }
    Ok(())
}

/// Present while the running image's SBOM ships a version the advisory affects.
pub async fn probe(target: &FaultTarget, record: &FaultRecord) -> Result<RootCause> {
    let advisory = advisory_of(target, record)?;
    let sbom = match read_sbom(target).await? {
        Ok(sbom) => sbom,
        Err(reason) => return Ok(RootCause::present(reason)),
    };
    let release = &sbom.metadata.component.version;
    Ok(match sbom.component(&advisory.package) {
        Some(component) if advisory.affects(&component.version) => RootCause::present(format!(
            "release {release} ships {} {}, affected by {} (fixed in {})",
            advisory.package,
            component.version,
            advisory.id,
            advisory.fixed_version.as_deref().unwrap_or("-")
        )),
        Some(component) => RootCause::cleared(format!(
            "release {release} ships {} {}, not affected by {}",
            advisory.package, component.version, advisory.id
        )),
        None => RootCause::cleared(format!(
            "release {release} no longer ships {}",
            advisory.package
        )),
    })
}

fn advisory_of(target: &FaultTarget, record: &FaultRecord) -> Result<DbEntry> {
    serde_json::from_value(record.baseline["advisory"].clone()).map_err(|error| {
        Error::FaultAction {
            container: target.container().to_string(),
            command: "reading the fault record".to_string(),
            detail: format!("the record holds no advisory: {error}"),
        }
    })
}

/// The running image's SBOM, or why there is none to use.
async fn read_sbom(target: &FaultTarget) -> Result<std::result::Result<Sbom, String>> {
    Ok(match target.read_file(SBOM_FILE).await? {
        None => Err(format!(
            "the image has no SBOM at {SBOM_FILE}; rebuild it with this firedrill"
        )),
        Some(bytes) => Sbom::from_json(&String::from_utf8_lossy(&bytes))
            .map_err(|error| format!("{SBOM_FILE} is not a CycloneDX SBOM: {error}")),
    })
}

async fn read_feed(
    target: &FaultTarget,
    path: &str,
) -> Result<std::result::Result<Database, String>> {
    Ok(match target.read_file(path).await? {
        None => Err(format!("the sandbox has no vulnerability feed at {path}")),
        Some(bytes) => Database::from_bytes(Path::new(path), &bytes)
            .map_err(|error| format!("the feed does not verify: {error}")),
    })
}

/// `FIREDRILL-2026-0413`: stable for a kind and package, so re-injecting replaces the entry.
fn advisory_id(kind: &str, package: &str, year: &str) -> String {
    let digest = Sha256::digest(format!("{kind}/{package}"));
    let number = u16::from_be_bytes([digest[0], digest[1]]) % 10_000;
    format!("FIREDRILL-{year}-{number:04}")
}

fn severity(name: &str) -> Severity {
    match name {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" => Severity::Medium,
        _ => Severity::Low,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advisory_ids_are_stable_and_look_like_drills() {
        let id = advisory_id("base-image-cve", "libc6", "2026");
        assert_eq!(id, advisory_id("base-image-cve", "libc6", "2026"));
        assert_ne!(id, advisory_id("vulnerable-dependency", "libc6", "2026"));
        assert!(id.starts_with("FIREDRILL-2026-") && id.len() == 19, "{id}");
    }
}
