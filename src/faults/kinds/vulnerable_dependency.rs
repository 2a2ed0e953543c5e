//! `vulnerable-dependency`: an advisory is published against one of the agent's own
//! dependencies (a crate its SBOM lists). Nothing breaks; the agent's self-scan and `trivy sbom`
//! report it, and only a release that ships the fixed version clears it (see `advisory`).

use optimizer_agent::sbom::Layer;
use serde_json::Value;

use super::advisory::{self, AdvisorySpec, SEVERITIES};
use super::Fault;
use crate::error::Result;
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

pub struct VulnerableDependency;

const SPEC: AdvisorySpec = AdvisorySpec {
    kind: "vulnerable-dependency",
    layer: Layer::Application,
    flaw: "a crafted request exhausts memory during parsing (remote denial of service)",
};

pub const DOC: FaultDoc = FaultDoc {
    kind: "vulnerable-dependency",
    summary: "An advisory is published against a library the agent ships (a crate in its SBOM); \
              the running release is affected, the security patch release 1.4.3 is not.",
    params: &[
        ParamDoc {
            name: "package",
            default: "rustls",
            kind: ParamType::PackageName,
            help: "the dependency the advisory names (any crate the image's SBOM lists)",
        },
        ParamDoc {
            name: "severity",
            default: "critical",
            kind: ParamType::Choice(SEVERITIES),
            help: "the advisory's severity",
        },
    ],
    symptoms: "the service works; within ~5 s docker_optimizer_image_vulnerabilities{severity=\"critical\"} \
               is 1 and the agent logs `self-scan: the agent's own image has known vulnerabilities` \
               naming FIREDRILL-YEAR-NNNN, the package, its version and the fixed version; \
               `trivy sbom /usr/local/share/docker-optimizer/sbom.cdx.json` in the container lists it",
    mitigated_by: "-",
    resolved_by: "deploy the release that ships the fixed version: `firedrill sandbox deploy --name <sandbox> \
                  --version 1.4.3` (1.5.0 ships it too, with a regression). A restart or a redeploy of \
                  the same release keeps the vulnerable version; deleting the advisory only hides it",
    runbook: "dependency-updates",
};

impl Fault for VulnerableDependency {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        advisory::inject(target, &SPEC, params).await
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        advisory::revert(target, record).await
    }

    async fn probe(target: &FaultTarget, record: &FaultRecord) -> Result<RootCause> {
        advisory::probe(target, record).await
    }
}
