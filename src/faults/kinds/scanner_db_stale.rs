//! `scanner-db-stale`: the DB update job stopped weeks ago. The DB is valid, so every scan
//! succeeds, but it lacks the advisories published since: a Dockerfile with a recent CVE
//! grades better than it should. Only the scanner's age warning (in the agent's log) and
//! `agentctl scanner status` tell.

use std::path::Path;

use optimizer_agent::paths::TRIVY_DB;
use optimizer_agent::scanner::{Database, STALE_AFTER_DAYS};
use serde_json::{json, Value};

use super::scanner_db_corrupt::{read_db, restore_db, write_db};
use super::Fault;
use crate::error::{Error, Result};
use crate::faults::catalogue::{FaultDoc, ParamDoc};
use crate::faults::params::{ParamType, Params};
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause};

pub struct ScannerDbStale;

pub const DOC: FaultDoc = FaultDoc {
    kind: "scanner-db-stale",
    summary: "The vulnerability DB stopped updating: valid, but weeks old and missing recent advisories.",
    params: &[ParamDoc {
        name: "age_days",
        default: "45",
        kind: ParamType::Number {
            min: 8.0,
            max: 365.0,
        },
        help: "how many days ago the DB was last updated (advisories published since are missing)",
    }],
    symptoms: "scans succeed (no scan failures) but miss recent CVEs: a Dockerfile with one grades better than \
               it should (e.g. gunicorn 21.2, express 4.18, golang:1.21 pass as clean); the agent logs \
               `scanner warning` with trivy's `vulnerability DB ... is N days old` on every scan; \
               `agentctl scanner status` shows the DB's age, marked STALE",
    mitigated_by: "-",
    resolved_by: "`agentctl scanner db update` (refreshes it from the image's offline mirror); then find why \
                  updates stopped. A restart keeps the old DB",
    runbook: "security-patches",
};

impl Fault for ScannerDbStale {
    async fn inject(target: &FaultTarget, params: &Params) -> Result<Value> {
        let original = read_db(target, DOC.kind).await?;
        let current =
            Database::from_bytes(Path::new(TRIVY_DB), original.as_bytes()).map_err(|error| {
                Error::FaultUnavailable {
                    kind: DOC.kind.to_string(),
                    reason: format!("the DB does not verify, so it cannot be aged: {error}"),
                }
            })?;
        let age_days = params.number("age_days") as i64;
        let stale = current.as_of(age_days);
        let missing: Vec<&str> = current
            .entries()
            .iter()
            .filter(|entry| !stale.entries().contains(entry))
            .map(|entry| entry.id.as_str())
            .collect();
        write_db(target, stale.to_json().as_bytes()).await?;
        Ok(json!({ "db": TRIVY_DB, "original": original, "missing_advisories": missing }))
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        restore_db(target, record).await
    }

    async fn probe(target: &FaultTarget, _record: &FaultRecord) -> Result<RootCause> {
        let Some(bytes) = target.read_file(TRIVY_DB).await? else {
            return Ok(RootCause::present(format!("{TRIVY_DB} does not exist")));
        };
        Ok(
            match Database::from_bytes(Path::new(TRIVY_DB), &bytes).map(|db| db.info_now()) {
                // Not a current DB either: the scanner still has nothing up to date to use.
                Err(error) => RootCause::present(error.to_string()),
                Ok(info) => {
                    let detail = format!(
                        "{TRIVY_DB} updated {} ({} days ago; stale after {STALE_AFTER_DAYS})",
                        info.updated_at, info.age_days
                    );
                    if info.stale {
                        RootCause::present(detail)
                    } else {
                        RootCause::cleared(detail)
                    }
                }
            },
        )
    }
}
