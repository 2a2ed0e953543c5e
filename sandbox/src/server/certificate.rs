//! The certificate the HTTPS listener serves: created on first start when missing, swapped in place
//! by a reload (`agentctl cert renew` + `agentctl reload`) without dropping the listener.

use std::sync::Mutex;

use axum_server::tls_rustls::RustlsConfig;
use time::OffsetDateTime;

use crate::config::TlsConfig;
use crate::tls::{self, CertInfo};

pub struct ServedCertificate {
    rustls: RustlsConfig,
    info: Mutex<CertInfo>,
    settings: TlsConfig,
}

impl ServedCertificate {
    /// Loads the configured certificate, generating a self-signed one first if it or its key is missing.
    pub async fn prepare(settings: &TlsConfig) -> Result<ServedCertificate, String> {
        if !settings.cert_file.exists() || !settings.key_file.exists() {
            let info = tls::generate_self_signed(
                &settings.cert_file,
                &settings.key_file,
                settings.validity_days,
            )
            .map_err(|e| e.to_string())?;
            tracing::info!(
                cert_file = %settings.cert_file.display(),
                serial = %info.serial,
                not_after = info.not_after,
                "generated a self-signed certificate"
            );
        }
        let info = tls::read_cert_info(&settings.cert_file).map_err(|e| e.to_string())?;
        let rustls = RustlsConfig::from_pem_file(&settings.cert_file, &settings.key_file)
            .await
            .map_err(|e| {
                format!(
                    "cannot load {} / {}: {e}",
                    settings.cert_file.display(),
                    settings.key_file.display()
                )
            })?;
        Ok(ServedCertificate {
            rustls,
            info: Mutex::new(info),
            settings: settings.clone(),
        })
    }

    /// The handle the HTTPS listener reads its certificate from.
    pub fn rustls_config(&self) -> RustlsConfig {
        self.rustls.clone()
    }

    /// The served certificate, with `days_left` as of now.
    pub fn info(&self) -> CertInfo {
        let mut info = self.lock().clone();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        info.days_left = (info.not_after - now).div_euclid(86_400);
        info
    }

    /// Re-reads the certificate files and serves them from now on; returns what changed, if anything.
    /// On error the listener keeps serving the previous certificate.
    pub async fn reload(&self) -> Result<Option<String>, String> {
        let cert_file = &self.settings.cert_file;
        let new = tls::read_cert_info(cert_file).map_err(|e| e.to_string())?;
        self.rustls
            .reload_from_pem_file(cert_file, &self.settings.key_file)
            .await
            .map_err(|e| {
                format!(
                    "cannot load {} / {}: {e}",
                    cert_file.display(),
                    self.settings.key_file.display()
                )
            })?;
        let old = std::mem::replace(&mut *self.lock(), new.clone());
        Ok((old.serial != new.serial).then(|| {
            format!(
                "tls certificate: serial {} -> {} (expires at {}, {} days left)",
                old.serial, new.serial, new.not_after, new.days_left
            )
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CertInfo> {
        self.info
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
