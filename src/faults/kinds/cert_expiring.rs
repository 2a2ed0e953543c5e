//! `cert-expiring`: the agent serves a certificate that runs out in a few days (the renewal
//! job broke weeks ago). Also the certificate plumbing `cert-expired` shares: put a certificate
//! of a given validity in place of the agent's, and read back the one its HTTPS port serves.

use std::path::Path;
use std::time::Duration;

use optimizer_agent::tls::{generate_self_signed, read_cert_info, CertInfo};
use serde_json::{json, Value};

use super::Fault;
use crate::docker::rootfs::AGENT_UID;
use crate::error::{Error, Result};
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

pub struct CertExpiring;

pub const DOC: FaultDoc = FaultDoc {
    kind: "cert-expiring",
    summary: "The agent's HTTPS certificate expires in a few days (its renewal never ran).",
    params: &[ParamDoc {
        name: "days",
        default: "5",
        kind: ParamType::Number {
            min: 1.0,
            max: 13.0,
        },
        help: "days until the served certificate expires",
    }],
    symptoms: "docker_optimizer_certificate_expiry_timestamp_seconds a few days ahead; /health `tls` check \
               degraded (`certificate ... expires in N days`), overall degraded; `agentctl cert show` and \
               `agentctl status` show the days left; HTTPS clients see the near notAfter",
    mitigated_by: "-",
    resolved_by: "`agentctl cert renew` (new certificate, swapped in by a live reload: no downtime); \
                  a restart serves the same certificate",
    runbook: "certificate-renewal",
};

/// Below this many days left the certificate counts as the fault's (the probe's threshold).
const RENEW_BEFORE_DAYS: i64 = 14;
const DEFAULT_CERT_FILE: &str = "/var/lib/docker-optimizer/tls/server.crt";
const DEFAULT_KEY_FILE: &str = "/var/lib/docker-optimizer/tls/server.key";

impl Fault for CertExpiring {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        install_certificate(target, DOC.kind, params.number("days") as i64).await
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        restore_certificate(target, record).await
    }

    async fn probe(target: &FaultTarget, record: &FaultRecord) -> Result<RootCause> {
        probe_certificate(target, record).await
    }
}

/// Puts a new certificate valid for `validity_days` (negative: expired that long ago) in place
/// of the agent's and has the agent reload it. Returns the baseline: the original files.
pub(super) async fn install_certificate(
    target: &FaultTarget,
    kind: &str,
    validity_days: i64,
) -> Result<Value> {
    let (cert_file, key_file) = certificate_paths(target).await?;
    let original_cert = read_text(target, &cert_file).await?;
    let original_key = read_text(target, &key_file).await?;
    let (info, cert, key) = issue(validity_days).map_err(|reason| Error::FaultUnavailable {
        kind: kind.to_string(),
        reason,
    })?;
    // As the agent's own files, key private, exactly as `agentctl cert renew` writes them.
    target.write_file(&key_file, &key, 0o600, AGENT_UID).await?;
    target
        .write_file(&cert_file, &cert, 0o644, AGENT_UID)
        .await?;
    target.agentctl_json(&["reload"]).await?;
    Ok(json!({
        "cert_file": cert_file,
        "key_file": key_file,
        "original_cert": original_cert,
        "original_key": original_key,
        "injected_serial": info.serial,
        "injected_not_after": info.not_after,
    }))
}

/// Puts the original certificate and key back and has the agent serve them again.
pub(super) async fn restore_certificate(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
    let baseline = &record.baseline;
    let field = |name: &str| {
        baseline[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::FaultAction {
                container: target.container().to_string(),
                command: "restore the certificate".to_string(),
                detail: format!("the fault record has no {name}"),
            })
    };
    let (cert_file, key_file) = (field("cert_file")?, field("key_file")?);
    target
        .write_file(
            &key_file,
            field("original_key")?.as_bytes(),
            0o600,
            AGENT_UID,
        )
        .await?;
    target
        .write_file(
            &cert_file,
            field("original_cert")?.as_bytes(),
            0o644,
            AGENT_UID,
        )
        .await?;
    target.agentctl_json(&["reload"]).await?;
    Ok(())
}

/// Present while the certificate the agent serves has fewer than [`RENEW_BEFORE_DAYS`] left.
/// The served one counts (a TLS handshake from the host): a renewed file the agent has not
/// reloaded does not fix anything. While HTTPS does not answer, the file on disk tells.
pub(super) async fn probe_certificate(
    target: &FaultTarget,
    record: &FaultRecord,
) -> Result<RootCause> {
    let (info, source) = match served_certificate(target).await {
        Some(info) => (info, "served on HTTPS"),
        None => {
            let cert_file = record.baseline["cert_file"]
                .as_str()
                .unwrap_or(DEFAULT_CERT_FILE);
            let pem = read_text(target, cert_file).await?;
            (parse_pem(pem.as_bytes())?, "on disk (HTTPS not answering)")
        }
    };
    let detail = format!(
        "certificate {} {source}: {} days left (renew before {RENEW_BEFORE_DAYS})",
        info.serial, info.days_left
    );
    Ok(if info.days_left < RENEW_BEFORE_DAYS {
        RootCause::present(detail)
    } else {
        RootCause::cleared(detail)
    })
}

/// Where the agent's configuration keeps its certificate and key.
async fn certificate_paths(target: &FaultTarget) -> Result<(String, String)> {
    let config = target.agentctl_json(&["config", "show"]).await?;
    let tls = &config["config"]["tls"];
    let path = |key: &str, default: &str| tls[key].as_str().unwrap_or(default).to_string();
    Ok((
        path("cert_file", DEFAULT_CERT_FILE),
        path("key_file", DEFAULT_KEY_FILE),
    ))
}

async fn read_text(target: &FaultTarget, path: &str) -> Result<String> {
    let bytes = target
        .read_file(path)
        .await?
        .ok_or_else(|| Error::FaultAction {
            container: target.container().to_string(),
            command: format!("read {path}"),
            detail: "no such file".to_string(),
        })?;
    String::from_utf8(bytes).map_err(|_| Error::FaultAction {
        container: target.container().to_string(),
        command: format!("read {path}"),
        detail: "not a PEM text file".to_string(),
    })
}

/// A self-signed certificate like the agent's own, issued on the host: (info, cert, key),
/// or why it could not be.
fn issue(validity_days: i64) -> std::result::Result<(CertInfo, Vec<u8>, Vec<u8>), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("no temp dir for the certificate: {e}"))?;
    let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
    let info = generate_self_signed(&cert, &key, validity_days).map_err(|e| e.to_string())?;
    let read = |path: &Path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    Ok((info, read(&cert)?, read(&key)?))
}

/// The certificate the agent's HTTPS port presents, `None` when it does not answer.
async fn served_certificate(target: &FaultTarget) -> Option<CertInfo> {
    let url = target.sandbox.https.as_deref()?;
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        // The drill's audit leaves firedrill's own requests out of the trainee's by this.
        .user_agent(crate::docker::labels::OWN_USER_AGENT)
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    let response = client.get(format!("{url}/health/live")).send().await.ok()?;
    let der = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()?
        .peer_certificate()?
        .to_vec();
    parse_pem(pem_of(&der).as_bytes()).ok()
}

fn parse_pem(pem: &[u8]) -> Result<CertInfo> {
    let dir = tempfile::tempdir().map_err(Error::io("creating", Path::new("a temp dir")))?;
    let file = dir.path().join("served.crt");
    std::fs::write(&file, pem).map_err(Error::io("writing", &file))?;
    read_cert_info(&file).map_err(|error| Error::FaultAction {
        container: "-".to_string(),
        command: "read the agent's certificate".to_string(),
        detail: error.to_string(),
    })
}

/// DER as a PEM certificate (base64 in 64-column lines).
fn pem_of(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::new();
    for chunk in der.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let bits = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for index in 0..4 {
            if index <= chunk.len() {
                encoded.push(ALPHABET[(bits >> (18 - 6 * index) & 0x3f) as usize] as char);
            } else {
                encoded.push('=');
            }
        }
    }
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_encoding_is_standard_base64() {
        let pem = pem_of(b"Man Ma M");
        assert_eq!(
            pem,
            "-----BEGIN CERTIFICATE-----\nTWFuIE1hIE0=\n-----END CERTIFICATE-----\n"
        );
    }

    #[test]
    fn an_issued_certificate_round_trips_through_pem() {
        let (info, cert, _key) = issue(5).unwrap();
        assert!((4..=5).contains(&info.days_left), "{info:?}");
        assert_eq!(parse_pem(&cert).unwrap(), info);
    }
}
