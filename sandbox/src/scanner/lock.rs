//! The vulnerability DB's lock, as trivy has one: `db update` holds it while it replaces the
//! database, and scans wait while a live process holds it. A hung update therefore stalls
//! every scan, which is a classic way the real scanner "hangs".
//!
//! The lock is a file `db.lock` beside the DB, created exclusively, naming its holder. A lock
//! whose holder is gone (killed, or the container restarted) is stale: scans ignore it and the
//! next writer replaces it. A holder is identified by pid *and* process start time, so a pid
//! reused after a restart is not mistaken for the holder.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::timestamp;

/// The lock file's name, in the DB's directory.
pub const LOCK_FILE_NAME: &str = "db.lock";

/// Who holds the lock (the lock file's contents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    /// The holder's start time in clock ticks after boot (`/proc/PID/stat` field 22).
    pub start_ticks: u64,
    /// Its command line, as `ps` would show it.
    pub command: String,
    /// When it took the lock (RFC 3339).
    pub since: String,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} (`{}`, since {})",
            self.pid, self.command, self.since
        )
    }
}

impl LockHolder {
    /// Whether the process that took the lock is still running.
    pub fn is_alive(&self) -> bool {
        process_start_ticks(self.pid) == Some(self.start_ticks)
    }
}

#[derive(Debug)]
pub enum LockError {
    /// A live process holds the lock.
    Held(LockHolder),
    Io(std::io::Error),
}

/// The lock file of the DB at `db`.
pub fn lock_path(db: &Path) -> PathBuf {
    db.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(LOCK_FILE_NAME)
}

/// The live holder of the lock of the DB at `db`, if any (a stale lock file counts as free).
pub fn live_holder(db: &Path) -> Option<LockHolder> {
    read_holder(&lock_path(db)).filter(LockHolder::is_alive)
}

/// Waits until no live process holds the lock of `db`, at most `limit`; returns the holder
/// that outlasted it. `on_wait` is called once, with the holder, when waiting begins.
pub fn wait_until_free(
    db: &Path,
    limit: Duration,
    mut on_wait: impl FnMut(&LockHolder),
) -> Result<(), LockHolder> {
    const POLL: Duration = Duration::from_millis(100);
    let started = Instant::now();
    let mut announced = false;
    while let Some(holder) = live_holder(db) {
        if !announced {
            on_wait(&holder);
            announced = true;
        }
        if started.elapsed() >= limit {
            return Err(holder);
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// The lock, held by this process until dropped.
#[derive(Debug)]
pub struct DbLock {
    path: PathBuf,
    holder: LockHolder,
}

impl DbLock {
    /// Takes the lock of the DB at `db`, replacing a stale one; fails at once if a live
    /// process holds it (the caller says so rather than queueing behind a possibly hung writer).
    pub fn acquire(db: &Path) -> Result<DbLock, LockError> {
        let path = lock_path(db);
        let holder = LockHolder {
            pid: std::process::id(),
            start_ticks: process_start_ticks(std::process::id()).unwrap_or_default(),
            command: own_command_line(),
            since: timestamp::format(OffsetDateTime::now_utc()),
        };
        let contents = serde_json::to_vec(&holder).expect("a lock holder always serializes");
        if let Some(dir) = path.parent() {
            // The first update may be the one that creates the DB's directory.
            fs::create_dir_all(dir).map_err(LockError::Io)?;
        }
        // Twice at most: the second attempt follows the removal of a stale lock.
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    file.write_all(&contents).map_err(LockError::Io)?;
                    return Ok(DbLock { path, holder });
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    match read_holder(&path) {
                        Some(other) if other.is_alive() => return Err(LockError::Held(other)),
                        // Stale (or unreadable, e.g. a writer killed mid-write): replace it.
                        _ => match fs::remove_file(&path) {
                            Ok(()) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => return Err(LockError::Io(e)),
                        },
                    }
                }
                Err(error) => return Err(LockError::Io(error)),
            }
        }
        match read_holder(&path) {
            Some(other) => Err(LockError::Held(other)),
            None => Err(LockError::Io(std::io::Error::other(format!(
                "could not take {}",
                path.display()
            )))),
        }
    }
}

impl Drop for DbLock {
    fn drop(&mut self) {
        // Only our own lock: never remove one another writer took after ours went stale.
        if read_holder(&self.path).as_ref() == Some(&self.holder) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn read_holder(path: &Path) -> Option<LockHolder> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// The start time of process `pid`, `None` when there is no such live process.
fn process_start_ticks(pid: u32) -> Option<u64> {
    start_ticks_from_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Field 22 (start time) of a `/proc/PID/stat` line, `None` for a zombie (dead for this
/// purpose). Public so tools outside the container can check a holder with a `cat`.
pub fn start_ticks_from_stat(stat: &str) -> Option<u64> {
    // The command name (field 2) is parenthesised and may contain spaces: split after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // Fields 3.. follow; the start time is field 22, i.e. the 20th after the state.
    fields.nth(18)?.parse().ok()
}

fn own_command_line() -> String {
    let raw = fs::read("/proc/self/cmdline").unwrap_or_default();
    let words: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|word| !word.is_empty())
        .map(|word| String::from_utf8_lossy(word).into_owned())
        .collect();
    match words.split_first() {
        // argv[0] by its file name, as `ps` users recognise it.
        Some((program, args)) => std::iter::once(
            Path::new(program)
                .file_name()
                .map_or(program.clone(), |n| n.to_string_lossy().into_owned()),
        )
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" "),
        None => format!("pid {}", std::process::id()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_in(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("vulnerabilities.json")
    }

    #[test]
    fn the_lock_is_exclusive_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let db = db_in(&dir);
        let lock = DbLock::acquire(&db).unwrap();
        let holder = live_holder(&db).expect("held by this process");
        assert_eq!(holder.pid, std::process::id());
        match DbLock::acquire(&db) {
            Err(LockError::Held(other)) => assert_eq!(other, holder),
            other => panic!("expected Held, got {other:?}"),
        }
        assert!(wait_until_free(&db, Duration::from_millis(250), |_| {}).is_err());
        drop(lock);
        assert!(!lock_path(&db).exists());
        assert_eq!(live_holder(&db), None);
        assert!(wait_until_free(&db, Duration::ZERO, |_| panic!("no wait")).is_ok());
    }

    #[test]
    fn a_stale_lock_is_ignored_by_scans_and_replaced_by_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let db = db_in(&dir);
        // Our own pid with another start time: a pid reused after its holder died.
        let stale = LockHolder {
            pid: std::process::id(),
            start_ticks: 1,
            command: "trivy db update".into(),
            since: "2024-01-01T00:00:00Z".into(),
        };
        fs::write(lock_path(&db), serde_json::to_vec(&stale).unwrap()).unwrap();
        assert_eq!(live_holder(&db), None);
        assert!(wait_until_free(&db, Duration::ZERO, |_| panic!("no wait")).is_ok());
        let lock = DbLock::acquire(&db).unwrap();
        assert_ne!(live_holder(&db), Some(stale));
        drop(lock);
        // A half-written lock file is stale too.
        fs::write(lock_path(&db), b"{\"pid\":").unwrap();
        assert!(DbLock::acquire(&db).is_ok());
    }

    #[test]
    fn the_holder_reads_like_ps() {
        let dir = tempfile::tempdir().unwrap();
        let db = db_in(&dir);
        let _lock = DbLock::acquire(&db).unwrap();
        let text = live_holder(&db).unwrap().to_string();
        assert!(
            text.starts_with(&format!("pid {} (`", std::process::id())),
            "{text}"
        );
    }
}
