//! The history database (`<data_dir>/history.redb`): one record per successful optimization.
//! It is the agent's one piece of data that matters: cleanup never deletes it, only pruning by age
//! removes records. Inserts go through the storage quota.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use super::quota::StorageQuota;

pub const HISTORY_FILE_NAME: &str = "history.redb";

/// Record id -> JSON of the record.
const HISTORY: TableDefinition<u64, &[u8]> = TableDefinition::new("history");

/// redb caches pages in memory; the default cache is far more than a few thousand records need
/// and the agent must stay small.
const PAGE_CACHE_BYTES: usize = 512 * 1024;

/// What the agent records about an optimization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizationOutcome {
    pub input_sha256: String,
    pub grade: String,
    pub score: i64,
    pub processing_ms: u64,
    pub input_bytes: u64,
    pub output_bytes: u64,
}

/// A stored record: the outcome with its id and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub id: u64,
    /// Unix seconds.
    pub timestamp: u64,
    #[serde(flatten)]
    pub outcome: OptimizationOutcome,
}

/// `POST /admin/db/prune`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PruneResult {
    pub pruned: u64,
    pub remaining: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Boxed: redb's error is large and this travels through every `Result` of the store.
    #[error("history database: {0}")]
    Database(Box<redb::Error>),
    #[error("history database: {0}")]
    Io(#[from] std::io::Error),
    #[error("history database: corrupt record: {0}")]
    Record(#[from] serde_json::Error),
}

/// Every redb error type converts into [`StoreError`] through `redb::Error`.
macro_rules! from_redb {
    ($($error:ty),*) => {
        $(impl From<$error> for StoreError {
            fn from(e: $error) -> Self {
                StoreError::Database(Box::new(e.into()))
            }
        })*
    };
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

#[derive(Debug)]
pub struct HistoryStore {
    db: Database,
    quota: Arc<StorageQuota>,
}

impl HistoryStore {
    /// Opens (or creates) `<data_dir>/history.redb`.
    pub fn open(data_dir: &Path, quota: Arc<StorageQuota>) -> Result<HistoryStore, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let db = redb::Builder::new()
            .set_cache_size(PAGE_CACHE_BYTES)
            .create(data_dir.join(HISTORY_FILE_NAME))?;
        // Create the table up front so readers never meet a missing table.
        let tx = db.begin_write()?;
        tx.open_table(HISTORY)?;
        tx.commit()?;
        Ok(HistoryStore { db, quota })
    }

    /// Stores a record for `outcome` (next id, current time), or fails as a full disk past the quota.
    pub fn insert(&self, outcome: OptimizationOutcome) -> Result<HistoryRecord, StoreError> {
        let tx = self.db.begin_write()?;
        let record = {
            let mut table = tx.open_table(HISTORY)?;
            let id = table.last()?.map_or(0, |(key, _)| key.value()) + 1;
            let record = HistoryRecord {
                id,
                timestamp: unix_now(),
                outcome,
            };
            let bytes = serde_json::to_vec(&record)?;
            self.quota.ensure_room(bytes.len() as u64)?;
            table.insert(id, bytes.as_slice())?;
            record
        };
        tx.commit()?;
        Ok(record)
    }

    /// Deletes the records older than `max_age_seconds`.
    pub fn prune_older_than(&self, max_age_seconds: u64) -> Result<PruneResult, StoreError> {
        let cutoff = unix_now().saturating_sub(max_age_seconds);
        let tx = self.db.begin_write()?;
        let result = {
            let mut table = tx.open_table(HISTORY)?;
            let before = table.len()?;
            table.retain(|_, bytes| record_timestamp(bytes) >= cutoff)?;
            let remaining = table.len()?;
            PruneResult {
                pruned: before - remaining,
                remaining,
            }
        };
        tx.commit()?;
        Ok(result)
    }

    /// The newest `limit` records, newest first.
    pub fn newest(&self, limit: usize) -> Result<Vec<HistoryRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(HISTORY)?;
        let mut records = Vec::new();
        for entry in table.iter()?.rev().take(limit) {
            let (_, bytes) = entry?;
            records.push(serde_json::from_slice(bytes.value())?);
        }
        Ok(records)
    }

    pub fn count(&self) -> Result<u64, StoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(HISTORY)?.len()?)
    }
}

/// The timestamp of a stored record; an unreadable record counts as new, so pruning keeps it.
fn record_timestamp(bytes: &[u8]) -> u64 {
    #[derive(Deserialize)]
    struct Timestamp {
        timestamp: u64,
    }
    serde_json::from_slice::<Timestamp>(bytes).map_or(u64::MAX, |t| t.timestamp)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    fn outcome(n: u64) -> OptimizationOutcome {
        OptimizationOutcome {
            input_sha256: format!("{n:064}"),
            grade: "A".into(),
            score: 100,
            processing_ms: n,
            input_bytes: 10,
            output_bytes: 20,
        }
    }

    #[test]
    fn records_get_increasing_ids_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let quota = StorageQuota::new(dir.path(), 64 << 20, Counter::default());
        {
            let store = HistoryStore::open(dir.path(), Arc::clone(&quota)).unwrap();
            assert_eq!(store.insert(outcome(1)).unwrap().id, 1);
            assert_eq!(store.insert(outcome(2)).unwrap().id, 2);
        }
        let store = HistoryStore::open(dir.path(), quota).unwrap();
        assert_eq!(store.insert(outcome(3)).unwrap().id, 3);
        let newest = store.newest(2).unwrap();
        assert_eq!(newest.iter().map(|r| r.id).collect::<Vec<_>>(), [3, 2]);
        assert_eq!(newest[0].outcome, outcome(3));
        assert_eq!(store.count().unwrap(), 3);
    }

    #[test]
    fn pruning_removes_only_old_records() {
        let dir = tempfile::tempdir().unwrap();
        let quota = StorageQuota::new(dir.path(), 64 << 20, Counter::default());
        let store = HistoryStore::open(dir.path(), quota).unwrap();
        store.insert(outcome(1)).unwrap();
        assert_eq!(
            store.prune_older_than(3600).unwrap(),
            PruneResult {
                pruned: 0,
                remaining: 1
            }
        );
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(
            store.prune_older_than(0).unwrap(),
            PruneResult {
                pruned: 1,
                remaining: 0
            }
        );
    }

    #[test]
    fn an_insert_past_the_quota_fails_as_a_full_disk() {
        let dir = tempfile::tempdir().unwrap();
        let quota = StorageQuota::new(dir.path(), 64 << 20, Counter::default());
        let store = HistoryStore::open(dir.path(), Arc::clone(&quota)).unwrap();
        quota.set_quota_bytes(0);
        let err = store.insert(outcome(1)).unwrap_err();
        assert!(err.to_string().contains("No space left on device"), "{err}");
        quota.set_quota_bytes(64 << 20);
        quota.recount();
        assert_eq!(store.count().unwrap(), 0);
    }
}
