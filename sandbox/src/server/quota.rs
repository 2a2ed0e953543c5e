//! The storage quota over the data directory.
//!
//! A container cannot get a small filesystem of its own without privileges, so the agent keeps
//! its own account of the bytes under `storage.data_dir` and refuses writes past `storage.quota_mb`
//! exactly as a full disk would (`ENOSPC`). The account is recounted from the tree every
//! [`RECOUNT_INTERVAL`], which also picks up files other processes wrote or removed.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use serde::Serialize;

/// How often the tree is walked again.
pub const RECOUNT_INTERVAL: Duration = Duration::from_secs(2);

/// `ENOSPC`: what a write past the quota fails with, like a full disk.
const NO_SPACE_LEFT: i32 = 28;

/// Usage of the data directory against the quota.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DiskUsage {
    pub used_bytes: u64,
    pub quota_bytes: u64,
    /// Usage in percent of the quota (may pass 100 when files are written behind the agent's back).
    pub percent: f64,
}

#[derive(Debug)]
pub struct StorageQuota {
    data_dir: PathBuf,
    quota_bytes: AtomicU64,
    used_bytes: AtomicU64,
    /// `docker_optimizer_errors_total{error_type="disk_full"}`: every refused write counts.
    refused_writes: Counter,
}

impl StorageQuota {
    /// A quota over `data_dir`, counted once right away.
    pub fn new(data_dir: &Path, quota_bytes: u64, refused_writes: Counter) -> Arc<StorageQuota> {
        let quota = Arc::new(StorageQuota {
            data_dir: data_dir.to_path_buf(),
            quota_bytes: AtomicU64::new(quota_bytes),
            used_bytes: AtomicU64::new(0),
            refused_writes,
        });
        quota.recount();
        quota
    }

    /// Changes the quota (a config reload).
    pub fn set_quota_bytes(&self, quota_bytes: u64) {
        self.quota_bytes.store(quota_bytes, Ordering::Relaxed);
    }

    /// Reserves room for `bytes` about to be written, or fails as a full disk does.
    /// The reservation counts until the next recount sees the real file sizes.
    pub fn ensure_room(&self, bytes: u64) -> io::Result<()> {
        let quota = self.quota_bytes.load(Ordering::Relaxed);
        let reserved = self
            .used_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|total| *total <= quota)
            });
        match reserved {
            Ok(_) => Ok(()),
            Err(_) => {
                self.refused_writes.inc();
                Err(io::Error::from_raw_os_error(NO_SPACE_LEFT))
            }
        }
    }

    /// Gives back room after the agent deleted files (cleanup), until the next recount.
    pub fn release(&self, bytes: u64) {
        let _ = self
            .used_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(bytes))
            });
    }

    pub fn usage(&self) -> DiskUsage {
        let used_bytes = self.used_bytes.load(Ordering::Relaxed);
        let quota_bytes = self.quota_bytes.load(Ordering::Relaxed);
        let percent = if quota_bytes == 0 {
            100.0
        } else {
            // Two decimals are plenty for a percentage on a dashboard.
            (used_bytes as f64 * 10_000.0 / quota_bytes as f64).round() / 100.0
        };
        DiskUsage {
            used_bytes,
            quota_bytes,
            percent,
        }
    }

    /// Walks the data directory and sets the usage to the sum of its file sizes.
    pub fn recount(&self) {
        self.used_bytes
            .store(tree_size(&self.data_dir), Ordering::Relaxed);
    }

    /// Recounts every [`RECOUNT_INTERVAL`] until the runtime shuts down.
    pub fn spawn_recount(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let quota = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(RECOUNT_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let walker = Arc::clone(&quota);
                // The walk does blocking file-system calls.
                let _ = tokio::task::spawn_blocking(move || walker.recount()).await;
            }
        })
    }
}

/// The total size of the regular files under `dir`; symlinks are not followed (the log directory
/// symlink of the image points into the data directory, which is walked anyway).
pub fn tree_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => tree_size(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recount_sums_every_file_in_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp/deep")).unwrap();
        std::fs::write(dir.path().join("a"), vec![0; 100]).unwrap();
        std::fs::write(dir.path().join("tmp/deep/b"), vec![0; 250]).unwrap();
        let quota = StorageQuota::new(dir.path(), 1000, Counter::default());
        assert_eq!(quota.usage().used_bytes, 350);
        assert_eq!(quota.usage().percent, 35.0);
        std::fs::remove_file(dir.path().join("a")).unwrap();
        quota.recount();
        assert_eq!(quota.usage().used_bytes, 250);
    }

    #[test]
    fn a_write_past_the_quota_fails_like_a_full_disk_and_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let refused = Counter::default();
        let quota = StorageQuota::new(dir.path(), 1000, refused.clone());
        quota.ensure_room(600).unwrap();
        quota.ensure_room(400).unwrap();
        let err = quota.ensure_room(1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert_eq!(err.raw_os_error(), Some(28));
        assert!(
            err.to_string().starts_with("No space left on device"),
            "{err}"
        );
        assert_eq!(refused.get(), 1);
        quota.release(500);
        quota.ensure_room(500).unwrap();
    }

    #[test]
    fn reservations_are_replaced_by_the_real_sizes_on_recount() {
        let dir = tempfile::tempdir().unwrap();
        let quota = StorageQuota::new(dir.path(), 1000, Counter::default());
        quota.ensure_room(900).unwrap();
        quota.recount();
        assert_eq!(quota.usage().used_bytes, 0);
        quota.set_quota_bytes(10);
        assert!(quota.ensure_room(11).is_err());
    }
}
