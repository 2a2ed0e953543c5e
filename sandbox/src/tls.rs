//! STUB — owned by the server helper; replaced wholesale. Keep these signatures.
use std::path::Path;

#[derive(Debug, Clone, serde::Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub serial: String,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    pub days_left: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("tls error")]
pub struct TlsError;

/// Writes a new self-signed certificate and key valid for `validity_days` (may be negative: already expired).
pub fn generate_self_signed(_cert_file: &Path, _key_file: &Path, _validity_days: i64) -> Result<CertInfo, TlsError> {
    Err(TlsError)
}

/// Reads the certificate at `cert_file`.
pub fn read_cert_info(_cert_file: &Path) -> Result<CertInfo, TlsError> {
    Err(TlsError)
}
