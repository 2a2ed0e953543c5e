//! `POST /admin/cleanup`: frees space by deleting what is safe to lose, temp files (`tmp/`,
//! `cache/` under the data directory) and rotated logs (`agent.log.N`). The history database,
//! the deny-list, the TLS material and the live log are never touched.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::logging::is_rotated_log;
use super::state::{CACHE_DIR_NAME, TMP_DIR_NAME};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovedFile {
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    pub dry_run: bool,
    /// What was removed (or would be, on a dry run).
    pub removed: Vec<RemovedFile>,
    pub freed_bytes: u64,
}

/// Deletes (or on a dry run, lists) the temp files under `data_dir` and the rotated logs in `log_dir`.
pub fn clean(data_dir: &Path, log_dir: &Path, dry_run: bool) -> CleanupReport {
    let mut candidates = Vec::new();
    for dir in [TMP_DIR_NAME, CACHE_DIR_NAME] {
        collect_files(&data_dir.join(dir), &mut candidates);
    }
    let rotated_logs = std::fs::read_dir(log_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_str().is_some_and(is_rotated_log))
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .map(|entry| entry.path());
    candidates.extend(rotated_logs);

    let mut removed = Vec::new();
    for path in candidates {
        let bytes = std::fs::symlink_metadata(&path).map_or(0, |m| m.len());
        if !dry_run {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cleanup could not remove a file");
                continue;
            }
        }
        removed.push(RemovedFile {
            path: path.display().to_string(),
            bytes,
        });
    }
    let freed_bytes = removed.iter().map(|file| file.bytes).sum();
    CleanupReport {
        dry_run,
        removed,
        freed_bytes,
    }
}

/// Every file (not directory) under `dir`, recursively; symlinks are listed, not followed.
fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => collect_files(&entry.path(), files),
            Ok(_) => files.push(entry.path()),
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["tmp/scan", "cache", "logs", "tls"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        for (file, size) in [
            ("tmp/scan/input", 100),
            ("tmp/fill.bin", 1000),
            ("cache/blob", 10),
            ("logs/agent.log", 50),
            ("logs/agent.log.1", 60),
            ("logs/agent.log.2", 70),
            ("history.redb", 500),
            ("denylist.json", 5),
            ("tls/server.key", 5),
        ] {
            std::fs::write(root.join(file), vec![0u8; size]).unwrap();
        }
        dir
    }

    #[test]
    fn a_dry_run_lists_without_deleting() {
        let dir = tree();
        let report = clean(dir.path(), &dir.path().join("logs"), true);
        assert_eq!(report.removed.len(), 5);
        assert_eq!(report.freed_bytes, 1240);
        assert!(dir.path().join("tmp/fill.bin").exists());
    }

    #[test]
    fn cleanup_removes_temp_files_and_rotated_logs_only() {
        let dir = tree();
        let report = clean(dir.path(), &dir.path().join("logs"), false);
        assert_eq!(report.freed_bytes, 1240);
        for kept in [
            "history.redb",
            "denylist.json",
            "tls/server.key",
            "logs/agent.log",
            "tmp/scan",
        ] {
            assert!(dir.path().join(kept).exists(), "{kept} was removed");
        }
        for gone in [
            "tmp/fill.bin",
            "tmp/scan/input",
            "cache/blob",
            "logs/agent.log.1",
            "logs/agent.log.2",
        ] {
            assert!(!dir.path().join(gone).exists(), "{gone} is still there");
        }
        let again = clean(dir.path(), &dir.path().join("logs"), false);
        assert!(again.removed.is_empty());
    }
}
