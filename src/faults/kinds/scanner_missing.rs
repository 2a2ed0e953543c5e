//! `scanner-missing`: the `trivy` binary is gone from the agent's image, as after a botched
//! image build or someone "cleaning up" /usr/local/bin. The agent fails open: every answer
//! still grades A, /health stays healthy, and only the scan-failure metric and the logs tell.

use optimizer_agent::paths::TRIVY_BIN;
use serde_json::{json, Value};

use super::Fault;
use crate::error::{Error, Result};
use crate::faults::catalogue::FaultDoc;
use crate::faults::params::Params;
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause, AGENT_USER, ROOT};

pub struct ScannerMissing;

pub const DOC: FaultDoc = FaultDoc {
    kind: "scanner-missing",
    summary: "The scanner binary /usr/local/bin/trivy was removed from the agent container.",
    params: &[],
    symptoms: "docker_optimizer_security_scan_failures_total{reason=\"missing\"} climbs with the traffic; \
               warning logs `security scan failed ... scanner binary /usr/local/bin/trivy not found`; every \
               answer still grades A (fail open); /health stays healthy (its scanner check is shallow); \
               `agentctl scanner status` shows the binary MISSING",
    mitigated_by: "-",
    resolved_by: "restore the scanner: as root in the container `ln -s optimizer-agent /usr/local/bin/trivy`, \
                  or recreate the container from its image (a restart keeps the container's writable layer, \
                  so the binary stays missing)",
    runbook: "security-scanner-failures",
};

impl Fault for ScannerMissing {
    async fn inject(target: &FaultTarget, _params: &Params) -> Result<Value> {
        target.require_shell_tools(DOC.kind).await?;
        // The image ships trivy as a symlink to the multi-call binary; that link is the baseline.
        let link = target.exec(ROOT, &["readlink", TRIVY_BIN]).await?;
        if !link.success() {
            return Err(Error::FaultUnavailable {
                kind: DOC.kind.to_string(),
                reason: format!(
                    "{TRIVY_BIN} is not the image's symlink (already missing or replaced); \
                     recreate the sandbox"
                ),
            });
        }
        let link_target = link.stdout.trim().to_string();
        target.exec_ok(ROOT, &["rm", TRIVY_BIN]).await?;
        Ok(json!({ "binary": TRIVY_BIN, "symlink_to": link_target }))
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        let link_target = record.baseline["symlink_to"]
            .as_str()
            .unwrap_or("optimizer-agent");
        // `-f`: whatever the trainee put there meanwhile, the baseline is the image's link.
        target
            .exec_ok(ROOT, &["ln", "-sf", link_target, TRIVY_BIN])
            .await?;
        Ok(())
    }

    async fn probe(target: &FaultTarget, _record: &FaultRecord) -> Result<RootCause> {
        if !target.is_running().await? {
            // No exec while stopped; the file system still answers.
            return Ok(match target.read_file(TRIVY_BIN).await? {
                None => RootCause::present(format!("{TRIVY_BIN} does not exist")),
                Some(_) => RootCause::cleared(format!("{TRIVY_BIN} exists")),
            });
        }
        // As the agent runs it: a dangling link or a file without the x bit is just as missing.
        let runnable = target
            .exec(AGENT_USER, &["test", "-x", TRIVY_BIN])
            .await?
            .success();
        Ok(if runnable {
            RootCause::cleared(format!("{TRIVY_BIN} is present and executable"))
        } else {
            RootCause::present(format!(
                "{TRIVY_BIN} is missing or not executable for the agent"
            ))
        })
    }
}
