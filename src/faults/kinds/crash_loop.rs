//! `crash-loop`: the agent's cache index (`/var/lib/docker-optimizer/cache/index.json`, the
//! answers it saves to start warm) is truncated, as a write cut short by a host crash leaves it.
//! The agent refuses to start on it (exit 70, a log line that names the file and says the cache is
//! disposable) and the restart policy turns that into a crash loop. The history database beside
//! it is untouched: deleting it as well "works" but loses data.

use optimizer_agent::paths::DATA_DIR;
use optimizer_agent::server::{cache_index_defect, CACHE_INDEX_FILE_NAME};
use serde_json::{json, Value};

use super::Fault;
use crate::error::{Error, Result};
use crate::faults::catalogue::FaultDoc;
use crate::faults::params::Params;
use crate::faults::record::FaultRecord;
use crate::faults::target::{FaultTarget, RootCause, AGENT_USER};

pub struct CrashLoop;

pub const DOC: FaultDoc = FaultDoc {
    kind: "crash-loop",
    summary: "A truncated cache index on the data volume makes every start of the agent fail: a crash loop.",
    params: &[],
    symptoms: "`docker ps` shows the agent Restarting, RestartCount climbing; exit code 70; \
               `docker logs` ends with `agent failed to start` naming \
               /var/lib/docker-optimizer/cache/index.json as corrupt and saying the cache is \
               disposable; every client request fails (connection refused)",
    mitigated_by: "- (a restart fails the same way)",
    resolved_by: "remove the corrupt cache index and let the agent start with an empty cache, e.g. \
                  `docker run --rm -v <volume>:/var/lib/docker-optimizer --entrypoint rm <image> \
                  /var/lib/docker-optimizer/cache/index.json` (or `docker exec <agent> rm ...` in a \
                  running window); keep history.redb: deleting it too also starts the agent but loses \
                  the optimization history",
    runbook: "service-unavailable",
};

/// The docker stop grace: the agent saves its index when it stops.
const STOP_GRACE_SECONDS: i32 = 10;
/// How long revert waits for the agent to answer again.
const BACK_UP_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

fn index_path() -> String {
    format!("{DATA_DIR}/cache/{CACHE_INDEX_FILE_NAME}")
}

/// An index with no entries: what the agent saves when its cache is empty.
fn empty_index() -> String {
    json!({"format": "docker-optimizer-cache", "version": 1, "saved_at": 0, "entries": []})
        .to_string()
}

/// The first two thirds of a good index: the write stopped mid-entry.
fn truncated(index: &str) -> String {
    let mut cut = index.len() * 2 / 3;
    while !index.is_char_boundary(cut) {
        cut -= 1;
    }
    index[..cut].to_string()
}

impl Fault for CrashLoop {
    async fn inject(target: &FaultTarget, _params: &Params) -> Result<Value> {
        // Stopped first: the agent saves a fresh index on its way out, which is the one cut short.
        target.stop(STOP_GRACE_SECONDS).await?;
        let saved = target
            .read_file(&index_path())
            .await?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        let corrupt = truncated(saved.as_deref().unwrap_or(&empty_index()));
        target
            .write_file(&index_path(), corrupt.as_bytes(), 0o644, agent_uid())
            .await?;
        target.start().await?;
        Ok(json!({ "index": saved }))
    }

    async fn revert(target: &FaultTarget, record: &FaultRecord) -> Result<()> {
        // Stopping ends the loop, so the restored index is read by one clean start.
        target.stop(STOP_GRACE_SECONDS).await?;
        let index = record.baseline["index"]
            .as_str()
            .map_or_else(empty_index, str::to_string);
        target
            .write_file(&index_path(), index.as_bytes(), 0o644, agent_uid())
            .await?;
        target.start().await?;
        wait_until_answering(target).await
    }

    async fn probe(target: &FaultTarget, _record: &FaultRecord) -> Result<RootCause> {
        let path = index_path();
        Ok(match target.read_file(&path).await? {
            None => RootCause::cleared(format!("no cache index at {path}")),
            Some(bytes) => match cache_index_defect(&bytes) {
                Some(defect) => RootCause::present(format!("{path} is corrupt: {defect}")),
                None => RootCause::cleared(format!("{path} is a valid cache index")),
            },
        })
    }
}

fn agent_uid() -> u64 {
    AGENT_USER.parse().unwrap_or(10001)
}

/// Waits until `agentctl status` answers inside the agent.
async fn wait_until_answering(target: &FaultTarget) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        let output = target
            .exec(AGENT_USER, &["agentctl", "status", "--json"])
            .await;
        if output.is_ok_and(|o| o.success()) {
            return Ok(());
        }
        if started.elapsed() > BACK_UP_WITHIN {
            return Err(Error::FaultAction {
                container: target.container().to_string(),
                command: "agentctl status".to_string(),
                detail: format!(
                    "the agent did not answer within {}s of restoring its cache index",
                    BACK_UP_WITHIN.as_secs()
                ),
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_index_is_valid_and_a_truncated_one_is_not() {
        assert_eq!(cache_index_defect(empty_index().as_bytes()), None);
        let defect = cache_index_defect(truncated(&empty_index()).as_bytes()).unwrap();
        assert!(defect.contains("EOF while parsing"), "{defect}");
        assert_eq!(truncated("ab€cd").len(), 2, "cut on a character boundary");
    }
}
