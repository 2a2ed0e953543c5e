//! Inputs the operator deny-listed (`agentctl jobs cancel ID --deny`), by SHA-256, persisted in
//! `<data_dir>/denylist.json` so a restart does not let a runaway input back in.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::quota::StorageQuota;

pub const DENYLIST_FILE_NAME: &str = "denylist.json";

#[derive(Debug)]
pub struct DenyList {
    file: PathBuf,
    quota: Arc<StorageQuota>,
    hashes: Mutex<BTreeSet<String>>,
}

impl DenyList {
    /// Loads the list from `<data_dir>/denylist.json`; a missing file is an empty list, an
    /// unreadable one is reported and treated as empty (it is rewritten on the next addition).
    pub fn load(data_dir: &Path, quota: Arc<StorageQuota>) -> DenyList {
        let file = data_dir.join(DENYLIST_FILE_NAME);
        let hashes = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(file = %file.display(), error = %e, "deny-list unreadable, starting with an empty one");
                BTreeSet::new()
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "deny-list unreadable, starting with an empty one");
                BTreeSet::new()
            }
        };
        DenyList {
            file,
            quota,
            hashes: Mutex::new(hashes),
        }
    }

    pub fn contains(&self, input_sha256: &str) -> bool {
        self.lock().contains(input_sha256)
    }

    /// Adds a hash and persists the list (through the quota, so it can fail as a full disk).
    pub fn add(&self, input_sha256: &str) -> io::Result<()> {
        let mut hashes = self.lock();
        if !hashes.insert(input_sha256.to_string()) {
            return Ok(());
        }
        let bytes = serde_json::to_vec_pretty(&*hashes)?;
        self.quota.ensure_room(bytes.len() as u64)?;
        let temp = self.file.with_extension("json.new");
        std::fs::write(&temp, &bytes)?;
        std::fs::rename(&temp, &self.file)
    }

    pub fn count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.hashes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    #[test]
    fn an_added_hash_is_denied_and_survives_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let quota = StorageQuota::new(dir.path(), 1 << 20, Counter::default());
        let list = DenyList::load(dir.path(), Arc::clone(&quota));
        assert!(!list.contains("abc"));
        list.add("abc").unwrap();
        list.add("abc").unwrap();
        assert!(list.contains("abc"));
        let reloaded = DenyList::load(dir.path(), quota);
        assert!(reloaded.contains("abc"));
        assert_eq!(reloaded.count(), 1);
    }

    #[test]
    fn a_corrupt_file_gives_an_empty_list() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DENYLIST_FILE_NAME), "{not json").unwrap();
        let quota = StorageQuota::new(dir.path(), 1 << 20, Counter::default());
        assert_eq!(DenyList::load(dir.path(), quota).count(), 0);
    }

    #[test]
    fn persisting_past_the_quota_fails_as_a_full_disk() {
        let dir = tempfile::tempdir().unwrap();
        let quota = StorageQuota::new(dir.path(), 10, Counter::default());
        let list = DenyList::load(dir.path(), quota);
        let err = list.add("a-long-hash-that-does-not-fit").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28));
    }
}
