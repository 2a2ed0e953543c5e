//! The sandbox certificate: a self-signed certificate for `localhost` and `optimizer-agent` whose
//! validity dates are real, so certificate-expiry drills see what clients would see.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SerialNumber};
use time::{Duration, OffsetDateTime};

/// The names the certificate is valid for.
pub const CERT_NAMES: [&str; 2] = ["localhost", "optimizer-agent"];

const SECONDS_PER_DAY: i64 = 86_400;

/// What operators and health checks need to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertInfo {
    /// The subject, e.g. `CN=localhost`.
    pub subject: String,
    /// The serial number in colon-separated hex.
    pub serial: String,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// Whole days until `not_after`, negative once expired.
    pub days_left: i64,
}

impl CertInfo {
    /// Whether the certificate is past its `not_after` at `now` (unix seconds).
    pub fn is_expired_at(&self, now: i64) -> bool {
        now >= self.not_after
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a PEM X.509 certificate: {detail}", path.display())]
    Parse { path: PathBuf, detail: String },
    #[error("cannot generate the certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// Writes a new self-signed certificate and key valid for `validity_days` (may be negative: already expired).
pub fn generate_self_signed(
    cert_file: &Path,
    key_file: &Path,
    validity_days: i64,
) -> Result<CertInfo, TlsError> {
    let now = OffsetDateTime::now_utc();
    let not_after = now + Duration::days(validity_days);
    // An expired certificate still needs not_before < not_after; it was "issued" a day before it ended.
    let not_before = now.min(not_after - Duration::days(1));

    let mut params = CertificateParams::new(CERT_NAMES.map(String::from).to_vec())?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, CERT_NAMES[0]);
    subject.push(DnType::OrganizationName, "Docker Optimizer Agent (sandbox)");
    params.distinguished_name = subject;
    params.not_before = not_before;
    params.not_after = not_after;
    // A fresh serial per certificate, so a renewal is visibly a different certificate.
    let mut serial = rand::random::<[u8; 16]>();
    serial[0] &= 0x7f; // keep it a positive DER integer
    params.serial_number = Some(SerialNumber::from_slice(&serial));

    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    write_file(key_file, key.serialize_pem().as_bytes(), 0o600)?;
    write_file(cert_file, cert.pem().as_bytes(), 0o644)?;
    read_cert_info(cert_file)
}

/// Reads the certificate at `cert_file`.
pub fn read_cert_info(cert_file: &Path) -> Result<CertInfo, TlsError> {
    let pem_bytes = std::fs::read(cert_file).map_err(|source| TlsError::Read {
        path: cert_file.to_path_buf(),
        source,
    })?;
    let parse_error = |detail: String| TlsError::Parse {
        path: cert_file.to_path_buf(),
        detail,
    };
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(&pem_bytes).map_err(|e| parse_error(e.to_string()))?;
    let cert = pem.parse_x509().map_err(|e| parse_error(e.to_string()))?;
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        serial: cert.raw_serial_as_string(),
        not_before,
        not_after,
        days_left: (not_after - now).div_euclid(SECONDS_PER_DAY),
    })
}

/// Replaces `path` atomically (write a sibling, then rename) with the given permission bits.
fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let write_error = |source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(".new");
    let temp = PathBuf::from(temp_name);
    let _ = std::fs::remove_file(&temp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .map_err(write_error)?;
    file.write_all(contents).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    std::fs::rename(&temp, path).map_err(write_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_generated_certificate_reads_back_with_real_dates() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (
            dir.path().join("tls/server.crt"),
            dir.path().join("tls/server.key"),
        );
        let generated = generate_self_signed(&cert, &key, 90).unwrap();
        let read = read_cert_info(&cert).unwrap();
        assert_eq!(generated, read);
        assert!(read.subject.contains("CN=localhost"), "{}", read.subject);
        assert!(
            read.days_left == 89 || read.days_left == 90,
            "{}",
            read.days_left
        );
        assert_eq!(read.not_after - read.not_before, 90 * SECONDS_PER_DAY);
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert!(!read.is_expired_at(now));
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(std::fs::read_to_string(&key)
            .unwrap()
            .contains("PRIVATE KEY"));
    }

    #[test]
    fn negative_validity_gives_an_expired_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
        let info = generate_self_signed(&cert, &key, -3).unwrap();
        assert_eq!(info.days_left, -3);
        assert!(info.not_before < info.not_after);
        assert!(info.is_expired_at(OffsetDateTime::now_utc().unix_timestamp()));
    }

    #[test]
    fn renewal_changes_the_serial() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
        let first = generate_self_signed(&cert, &key, 10).unwrap();
        let second = generate_self_signed(&cert, &key, 10).unwrap();
        assert_ne!(first.serial, second.serial);
    }

    #[test]
    fn a_missing_or_garbled_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.crt");
        assert!(read_cert_info(&missing)
            .unwrap_err()
            .to_string()
            .contains("none.crt"));
        let garbled = dir.path().join("bad.crt");
        std::fs::write(&garbled, "not a certificate").unwrap();
        let err = read_cert_info(&garbled).unwrap_err();
        assert!(matches!(err, TlsError::Parse { .. }), "{err}");
    }
}
