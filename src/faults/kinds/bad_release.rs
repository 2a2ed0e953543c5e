//! `bad-release`: release 1.5.0, which carries a regression, was rolled out over the sandbox's
//! release the way a platform deploys (`firedrill sandbox deploy`): same URLs, data and limits,
//! new image. The regression is real behaviour of the 1.5.0 agent, so only a rollback clears it.

use optimizer_agent::paths::RELEASE_FILE;
use serde_json::{json, Value};

use super::Fault;
use crate::docker::{image, sandbox};
use crate::error::{Error, Result};
use crate::faults::catalogue::FaultDoc;
use crate::faults::params::Params;
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};
use crate::interrupt::Interrupt;
use crate::ui::Progress;

pub struct BadRelease;

/// The release with the regression.
const BAD_RELEASE: &str = "1.5.0";

pub const DOC: FaultDoc = FaultDoc {
    kind: "bad-release",
    summary: "Release 1.5.0, which carries a regression, was deployed over the sandbox's release \
              (same URLs, data and limits; new image).",
    params: &[],
    symptoms: "right after a deploy: 5xx on part of POST /optimize (error rate on the traffic's \
               /stats and docker_optimizer_requests_total{status=\"error\"} well past 5 %) and \
               higher latency; error lines in `docker logs`; `/`, `/health`, `agentctl version` \
               and docker_optimizer_build_info say 1.5.0, `docker ps` shows the new image and a \
               short uptime",
    mitigated_by: "-",
    resolved_by: "roll back: `firedrill sandbox deploy --name <sandbox> --version <previous>`; a \
                  restart runs the same image and changes nothing",
    runbook: "rollback",
};

impl Fault for BadRelease {
    async fn inject(target: &FaultTarget, _params: &Params) -> Result<Value> {
        let baseline = running_release(target).await?;
        if baseline == BAD_RELEASE {
            return Err(Error::FaultUnavailable {
                kind: DOC.kind.to_string(),
                reason: format!(
                    "sandbox '{}' already runs {BAD_RELEASE}; start it on another release",
                    target.sandbox.name
                ),
            });
        }
        if let Err(error) = deploy(target, BAD_RELEASE).await {
            // No record is kept of a failed inject, so leave nothing broken behind it.
            if running_release(target).await.ok().as_deref() != Some(baseline.as_str()) {
                deploy(target, &baseline).await.ok();
            }
            return Err(error);
        }
        Ok(json!({ "release": baseline }))
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        let baseline = baseline_release(record);
        if running_release(target).await? != baseline {
            deploy(target, baseline).await?;
        }
        Ok(())
    }

    async fn probe(target: &FaultTarget, record: &FaultRecord) -> Result<RootCause> {
        let running = running_release(target).await?;
        let detail = format!(
            "the agent runs release {running} (baseline {})",
            baseline_release(record)
        );
        Ok(if running == BAD_RELEASE {
            RootCause::present(detail)
        } else {
            RootCause::cleared(detail)
        })
    }
}

fn baseline_release(record: &FaultRecord) -> &str {
    record.baseline["release"]
        .as_str()
        .unwrap_or(optimizer_agent::version::DEFAULT_RELEASE)
}

/// The release the agent container's image carries (readable while it restarts, too).
async fn running_release(target: &FaultTarget) -> Result<String> {
    let contents = target
        .read_file(RELEASE_FILE)
        .await?
        .ok_or_else(|| Error::FaultAction {
            container: target.container().to_string(),
            command: format!("reading {RELEASE_FILE}"),
            detail: "the image carries no release file".to_string(),
        })?;
    Ok(String::from_utf8_lossy(&contents).trim().to_string())
}

/// Deploys `release` as `firedrill sandbox deploy` does, without a word on the drill's terminal.
async fn deploy(target: &FaultTarget, release: &str) -> Result<()> {
    let progress = Progress::silent();
    let interrupt = Interrupt::default();
    let image = image::ensure(
        &target.docker,
        release,
        &target.sandbox.session,
        &progress,
        &interrupt,
    )
    .await?;
    // Logged once the image is there: the audit matches the deploy's events to it by time, and
    // building an image takes longer than any deploy's events trail it.
    target.journal.record_engine_action(format!(
        "firedrill sandbox deploy --name {} --version {release}",
        target.sandbox.name
    ));
    sandbox::deploy(
        &target.docker,
        &target.sandbox.name,
        &image,
        &progress,
        &interrupt,
    )
    .await
    .map(drop)
}
