//! Where things live inside the sandbox image. The config file can move the data and log
//! directories (tests run the agent outside a container); everything else is fixed by the image.

/// The agent's configuration file.
pub const CONFIG_FILE: &str = "/etc/docker-optimizer/config.yml";
/// State: history database, temp files, cache, TLS material, logs. A Docker volume in the sandbox.
pub const DATA_DIR: &str = "/var/lib/docker-optimizer";
/// Log directory; in the image a symlink to `DATA_DIR/logs`, so logs count against the quota.
pub const LOG_DIR: &str = "/var/log/docker-optimizer";
/// The scanner binary the agent runs as a subprocess.
pub const TRIVY_BIN: &str = "/usr/local/bin/trivy";
/// The scanner's cache directory (a volume in the sandbox, as platforms persist trivy's cache).
pub const SCANNER_CACHE_DIR: &str = "/var/lib/trivy";
/// The scanner's vulnerability database, in the scanner cache.
pub const TRIVY_DB: &str = "/var/lib/trivy/db/vulnerabilities.json";
/// The offline mirror `agentctl scanner db update` refreshes the database from.
pub const TRIVY_DB_MIRROR: &str = "/usr/share/trivy/mirror/vulnerabilities.json";
/// The image's software bill of materials (CycloneDX JSON; `trivy sbom` scans it).
pub const SBOM_FILE: &str = "/usr/local/share/docker-optimizer/sbom.cdx.json";
/// The release this image carries (one line, e.g. `1.4.2`).
pub const RELEASE_FILE: &str = "/usr/local/share/docker-optimizer/VERSION";

/// Public HTTP port (published on 127.0.0.1 by firedrill).
pub const HTTP_PORT: u16 = 8080;
/// Public HTTPS port (published on 127.0.0.1 by firedrill).
pub const HTTPS_PORT: u16 = 8443;
/// Operator API used by `agentctl`; bound to 127.0.0.1 inside the container, never published.
pub const ADMIN_PORT: u16 = 9090;
/// Client-side statistics of the traffic generator (`GET /stats`, `GET /metrics`).
pub const TRAFFIC_STATS_PORT: u16 = 9100;
