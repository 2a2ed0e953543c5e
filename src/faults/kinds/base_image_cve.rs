//! `base-image-cve`: an advisory is published against a package of the image's base (the
//! distribution packages its C libraries and shell tools come from). The fix is an image rebuilt
//! on the patched base, which the security patch release is (see `advisory`).

use optimizer_agent::sbom::Layer;
use serde_json::Value;

use super::advisory::{self, AdvisorySpec, SEVERITIES};
use super::Fault;
use crate::error::Result;
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

pub struct BaseImageCve;

const SPEC: AdvisorySpec = AdvisorySpec {
    kind: "base-image-cve",
    layer: Layer::Base,
    flaw: "heap buffer overflow in a library routine (code execution)",
};

pub const DOC: FaultDoc = FaultDoc {
    kind: "base-image-cve",
    summary: "An advisory is published against a package of the image's base (e.g. libc6); the \
              running release's image is affected, the security patch release 1.4.3 (rebuilt on \
              the patched base) is not.",
    params: &[
        ParamDoc {
            name: "package",
            default: "libc6",
            kind: ParamType::PackageName,
            help: "the base package the advisory names (any deb package the image's SBOM lists)",
        },
        ParamDoc {
            name: "severity",
            default: "high",
            kind: ParamType::Choice(SEVERITIES),
            help: "the advisory's severity",
        },
    ],
    symptoms: "the service works; within ~5 s docker_optimizer_image_vulnerabilities{severity=\"high\"} \
               is 1 and the agent logs `self-scan: the agent's own image has known vulnerabilities` \
               naming FIREDRILL-YEAR-NNNN and the base package (e.g. libc6 2.36-9+deb12u14, fixed \
               in the next revision); `trivy sbom /usr/local/share/docker-optimizer/sbom.cdx.json` \
               lists it",
    mitigated_by: "-",
    resolved_by: "deploy the image rebuilt on the patched base: `firedrill sandbox deploy --name <sandbox> \
                  --version 1.4.3`. A restart or a redeploy of the same release keeps the vulnerable \
                  base; deleting the advisory only hides it",
    runbook: "security-patches",
};

impl Fault for BaseImageCve {
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
