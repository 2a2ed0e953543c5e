//! The vulnerability scanner: the `trivy` stand-in CLI the image carries ([`cli`]), its
//! database ([`db`]), how a Dockerfile is matched against it, and how the agent runs it as a
//! subprocess ([`scan`]).

pub mod cli;
pub mod db;
mod invoke;
pub mod lock;
mod matching;
mod report;
mod timestamp;
mod version;

pub use db::{
    db_update, db_verify, Database, DbEntry, DbError, DbInfo, Ecosystem, STALE_AFTER_DAYS,
};
pub use invoke::{scan, scan_sbom, ScanError, ScannerSettings};
pub use matching::{match_dockerfile, match_sbom};
pub use report::{ScanReport, Severity, SeverityCounts, Vulnerability};
pub use version::{compare as compare_versions, next_patch};
