//! `cert-expired`: the agent serves a certificate that ran out (nobody renewed it in time).

use serde_json::Value;

use super::cert_expiring::{install_certificate, probe_certificate, restore_certificate};
use super::Fault;
use crate::error::Result;
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

pub struct CertExpired;

pub const DOC: FaultDoc = FaultDoc {
    kind: "cert-expired",
    summary: "The agent's HTTPS certificate has expired.",
    params: &[ParamDoc {
        name: "days_ago",
        default: "1",
        kind: ParamType::Number {
            min: 1.0,
            max: 365.0,
        },
        help: "how many days ago the served certificate expired",
    }],
    symptoms: "HTTPS clients fail the handshake (`certificate has expired`); /health answers 503 with the `tls` \
               check unhealthy (`certificate ... expired N days ago`); docker_optimizer_health_status 3; \
               docker_optimizer_certificate_expiry_timestamp_seconds in the past; `agentctl cert show` says EXPIRED",
    mitigated_by: "-",
    resolved_by: "`agentctl cert renew` (new certificate, swapped in by a live reload: no downtime); \
                  a restart serves the same expired certificate",
    runbook: "certificate-renewal",
};

impl Fault for CertExpired {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        install_certificate(target, DOC.kind, -(params.number("days_ago") as i64)).await
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        restore_certificate(target, record).await
    }

    async fn probe(target: &FaultTarget, record: &FaultRecord) -> Result<RootCause> {
        probe_certificate(target, record).await
    }
}
