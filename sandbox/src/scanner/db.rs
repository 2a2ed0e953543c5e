//! The vulnerability database: a JSON file
//! `{"schema": 1, "updated_at": RFC3339, "checksum": hex, "entries": [...]}` whose checksum is
//! the SHA-256 of the entries' canonical serialization (compact JSON, fields in declaration
//! order). Loading checks, in order: readable, JSON, schema, checksum; each failure says
//! which file and what is wrong, because that message is what an operator sees.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use time::OffsetDateTime;

use super::lock::{DbLock, LockError, LockHolder};
use super::report::Severity;
use super::timestamp;
use super::version::Affected;

/// The only schema this scanner reads.
pub const DB_SCHEMA: u32 = 1;

/// A DB older than this many days is stale: the scanner warns on every scan and operators'
/// tools flag it (the feed publishes daily; a week without an update means the update job broke).
pub const STALE_AFTER_DAYS: i64 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// A base image (`package` is the official image name, versions are its tags).
    Image,
    /// dpkg packages of Debian and Ubuntu (`release` says which: `debian-10`, `ubuntu-18.04`).
    Debian,
    /// apk packages of Alpine (`release`: `alpine-3.12`).
    Alpine,
    Pip,
    Npm,
    /// Rust crates (what an image's SBOM lists for the agent's own dependencies).
    Cargo,
}

/// One vulnerability record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbEntry {
    pub id: String,
    pub ecosystem: Ecosystem,
    /// The distribution release a distro-package entry applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    pub package: String,
    /// Affected versions (see `version.rs`); `*` on a distro package means unfixed in that release.
    pub affected: String,
    pub fixed_version: Option<String>,
    pub severity: Severity,
    pub title: String,
    /// The day the advisory was published (`YYYY-MM-DD`), as the feed lists it. A feed as it
    /// stood on some day holds only the entries published by then (see [`Database::as_of`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DbFile {
    pub schema: u32,
    pub updated_at: String,
    pub checksum: String,
    pub entries: Vec<DbEntry>,
}

impl DbEntry {
    /// Whether installed `version` is in this entry's affected range (false when the range
    /// does not parse: a verified DB's always do).
    pub fn affects(&self, version: &str) -> bool {
        Affected::parse(&self.affected).is_ok_and(|affected| affected.matches(version))
    }
}

/// A loaded, verified database.
#[derive(Debug, Clone)]
pub struct Database {
    pub path: PathBuf,
    pub(crate) file: DbFile,
    pub(crate) affected: Vec<Affected>,
    pub(crate) updated_at: OffsetDateTime,
}

/// What `db verify` and `db update` report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbInfo {
    pub path: PathBuf,
    pub entries: usize,
    pub updated_at: String,
    /// Whole days since `updated_at` (negative if it lies in the future).
    pub age_days: i64,
    /// Older than [`STALE_AFTER_DAYS`]: scans miss what was published since.
    pub stale: bool,
    pub checksum: String,
}

#[derive(Debug, Error)]
pub enum DbError {
    #[error("cannot read vulnerability DB {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("vulnerability DB {} is not valid JSON (truncated or corrupt?): {detail}", path.display())]
    NotJson { path: PathBuf, detail: String },
    #[error("vulnerability DB {} has the wrong schema: {detail}", path.display())]
    WrongSchema { path: PathBuf, detail: String },
    #[error("vulnerability DB {} failed its checksum: the file records {recorded} but its entries hash to {computed} (modified or corrupt; run `agentctl scanner db update`)", path.display())]
    ChecksumMismatch {
        path: PathBuf,
        recorded: String,
        computed: String,
    },
    #[error("cannot write vulnerability DB {}: {source}", path.display())]
    Unwritable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("vulnerability DB {} is locked by {holder}; wait for it to finish, or end that process if it hangs", path.display())]
    Locked { path: PathBuf, holder: LockHolder },
}

impl DbError {
    /// A short machine-friendly kind, for logs and JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            DbError::Unreadable { .. } => "unreadable",
            DbError::NotJson { .. } => "not_json",
            DbError::WrongSchema { .. } => "wrong_schema",
            DbError::ChecksumMismatch { .. } => "checksum_mismatch",
            DbError::Unwritable { .. } => "unwritable",
            DbError::Locked { .. } => "locked",
        }
    }
}

/// SHA-256 (hex) of the canonical serialization of `entries`.
pub fn checksum(entries: &[DbEntry]) -> String {
    let canonical = serde_json::to_vec(entries).expect("DB entries always serialize");
    Sha256::digest(&canonical)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl Database {
    /// Reads and verifies the DB at `path`.
    pub fn load(path: &Path) -> Result<Database, DbError> {
        let bytes = fs::read(path).map_err(|source| DbError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        Database::from_bytes(path, &bytes)
    }

    /// Verifies `bytes` as the contents of `path`.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Database, DbError> {
        let path = path.to_path_buf();
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|error| DbError::NotJson {
                path: path.clone(),
                detail: if bytes.iter().all(u8::is_ascii_whitespace) {
                    "the file is empty".to_string()
                } else {
                    error.to_string()
                },
            })?;
        let wrong_schema = |detail: String| DbError::WrongSchema {
            path: path.clone(),
            detail,
        };
        if let Some(schema) = value.get("schema").and_then(|s| s.as_u64()) {
            if schema != u64::from(DB_SCHEMA) {
                return Err(wrong_schema(format!(
                    "schema {schema} is not supported (expected {DB_SCHEMA})"
                )));
            }
        }
        let file: DbFile =
            serde_json::from_value(value).map_err(|error| wrong_schema(error.to_string()))?;
        let updated_at = timestamp::parse(&file.updated_at).ok_or_else(|| {
            wrong_schema(format!(
                "updated_at `{}` is not an RFC 3339 timestamp",
                file.updated_at
            ))
        })?;
        let affected = file
            .entries
            .iter()
            .map(|entry| {
                Affected::parse(&entry.affected)
                    .map_err(|e| wrong_schema(format!("entry {}: affected {e}", entry.id)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let computed = checksum(&file.entries);
        if !computed.eq_ignore_ascii_case(&file.checksum) {
            return Err(DbError::ChecksumMismatch {
                path,
                recorded: file.checksum,
                computed,
            });
        }
        Ok(Database {
            path,
            file,
            affected,
            updated_at,
        })
    }

    pub fn entries(&self) -> &[DbEntry] {
        &self.file.entries
    }

    pub fn info(&self, now: OffsetDateTime) -> DbInfo {
        let age_days = (now - self.updated_at).whole_days();
        DbInfo {
            path: self.path.clone(),
            entries: self.file.entries.len(),
            updated_at: self.file.updated_at.clone(),
            age_days,
            stale: age_days > STALE_AFTER_DAYS,
            checksum: self.file.checksum.clone(),
        }
    }

    /// [`info`](Self::info) as of now.
    /// When the feed was last updated, in Unix seconds.
    pub fn updated_at_unix(&self) -> i64 {
        self.updated_at.unix_timestamp()
    }

    pub fn info_now(&self) -> DbInfo {
        self.info(OffsetDateTime::now_utc())
    }

    /// This feed as it stood `age_days` before its newest entry was published, updated
    /// `age_days` ago: the entries published since are not in it yet (entries without a
    /// publication date count as old). What a DB that stopped updating looks like.
    pub fn as_of(&self, age_days: i64) -> Database {
        let newest = self.file.entries.iter().filter_map(published_day).max();
        let cutoff = newest.map(|day| day - time::Duration::days(age_days));
        let mut older = self.clone();
        older
            .file
            .entries
            .retain(|entry| match (published_day(entry), cutoff) {
                (Some(day), Some(cutoff)) => day <= cutoff,
                _ => true,
            });
        older.affected = older
            .file
            .entries
            .iter()
            .map(|entry| Affected::parse(&entry.affected).expect("a verified DB's ranges parse"))
            .collect();
        older.stamp(OffsetDateTime::now_utc() - time::Duration::days(age_days));
        older
    }

    /// This feed after it publishes `entry` now: an entry with the same id is replaced, the
    /// checksum recomputed and `updated_at` set to now (a feed that just published is current).
    pub fn publish(&self, entry: DbEntry) -> Result<Database, String> {
        let affected = Affected::parse(&entry.affected)
            .map_err(|error| format!("entry {}: affected {error}", entry.id))?;
        let mut published = self.without(&entry.id);
        published.file.entries.push(entry);
        published.affected.push(affected);
        published.stamp(OffsetDateTime::now_utc());
        Ok(published)
    }

    /// This feed without the entry `id` (the same feed when it has none); `updated_at` is kept.
    pub fn without(&self, id: &str) -> Database {
        let mut kept = self.clone();
        let (entries, affected) = self
            .file
            .entries
            .iter()
            .cloned()
            .zip(self.affected.iter().cloned())
            .filter(|(entry, _)| entry.id != id)
            .unzip();
        kept.file.entries = entries;
        kept.affected = affected;
        kept.file.checksum = checksum(&kept.file.entries);
        kept
    }

    /// The DB as it is written to disk: pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.file).expect("the DB always serializes") + "\n"
    }

    /// Sets `updated_at` (the checksum covers only the entries, so it stays valid).
    pub(crate) fn stamp(&mut self, at: OffsetDateTime) {
        self.file.updated_at = timestamp::format(at);
        self.updated_at =
            timestamp::parse(&self.file.updated_at).expect("a formatted timestamp parses");
        self.file.checksum = checksum(&self.file.entries);
    }
}

fn published_day(entry: &DbEntry) -> Option<time::Date> {
    timestamp::parse(&format!("{}T00:00:00Z", entry.published.as_deref()?)).map(|at| at.date())
}

/// Verifies the DB at `path`.
pub fn db_verify(path: &Path) -> Result<DbInfo, DbError> {
    Ok(Database::load(path)?.info(OffsetDateTime::now_utc()))
}

/// Replaces the DB at `db` with the verified mirror at `mirror`, stamped now. The updater holds
/// the DB lock throughout (scans wait for it, see [`super::lock`]); the new file is written next
/// to `db` and renamed over it, so a reader never sees half a database.
pub fn db_update(db: &Path, mirror: &Path) -> Result<DbInfo, DbError> {
    let _lock = DbLock::acquire(db).map_err(|error| match error {
        LockError::Held(holder) => DbError::Locked {
            path: db.to_path_buf(),
            holder,
        },
        LockError::Io(source) => DbError::Unwritable {
            path: db.to_path_buf(),
            source,
        },
    })?;
    let mut database = Database::load(mirror)?;
    let now = OffsetDateTime::now_utc();
    database.stamp(now);
    database.path = db.to_path_buf();
    write_atomically(db, database.to_json().as_bytes()).map_err(|source| DbError::Unwritable {
        path: db.to_path_buf(),
        source,
    })?;
    Ok(database.info(now))
}

fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(directory)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = directory.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SHIPPED: &str = include_str!("../../assets/trivy/vulnerabilities.json");

    fn shipped_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/trivy/vulnerabilities.json")
    }

    #[test]
    fn the_shipped_db_verifies() {
        let info = db_verify(&shipped_path()).unwrap();
        assert!(
            (40..=80).contains(&info.entries),
            "{} entries",
            info.entries
        );
        let database = Database::from_bytes(Path::new("x"), SHIPPED.as_bytes()).unwrap();
        let mut ids: Vec<_> = database
            .entries()
            .iter()
            .map(|e| (&e.id, &e.package, &e.release))
            .collect();
        let total = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "duplicate (id, package, release) entries");
    }

    /// Rewrites the shipped DB with a fresh checksum after editing its entries:
    /// `cargo test -p optimizer-agent --lib regenerate_shipped_db -- --ignored`
    #[test]
    #[ignore]
    fn regenerate_shipped_db() {
        let mut file: DbFile = serde_json::from_str(SHIPPED).unwrap();
        file.checksum = checksum(&file.entries);
        let json = serde_json::to_string_pretty(&file).unwrap() + "\n";
        fs::write(shipped_path(), json).unwrap();
    }

    fn write(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn corrupt_databases_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let error = db_verify(&missing).unwrap_err();
        assert_eq!(error.kind(), "unreadable");
        assert!(error.to_string().contains("missing.json"));

        let truncated = write(
            dir.path(),
            "truncated.json",
            &SHIPPED.as_bytes()[..SHIPPED.len() / 2],
        );
        let error = db_verify(&truncated).unwrap_err();
        assert_eq!(error.kind(), "not_json");
        assert!(error.to_string().starts_with(&format!(
            "vulnerability DB {} is not valid JSON",
            truncated.display()
        )));

        let empty = write(dir.path(), "empty.json", b"");
        assert!(db_verify(&empty)
            .unwrap_err()
            .to_string()
            .contains("the file is empty"));

        let garbage = write(dir.path(), "garbage.json", &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(db_verify(&garbage).unwrap_err().kind(), "not_json");

        let tampered_text = SHIPPED.replacen("\"CRITICAL\"", "\"LOW\"", 1);
        let tampered = write(dir.path(), "tampered.json", tampered_text.as_bytes());
        let error = db_verify(&tampered).unwrap_err();
        assert_eq!(error.kind(), "checksum_mismatch");
        assert!(error.to_string().contains("failed its checksum"));

        let future = SHIPPED.replacen("\"schema\": 1", "\"schema\": 2", 1);
        let future = write(dir.path(), "future.json", future.as_bytes());
        assert!(db_verify(&future)
            .unwrap_err()
            .to_string()
            .contains("schema 2 is not supported"));

        let other = write(
            dir.path(),
            "other.json",
            br#"{"schema":1,"entries":"none"}"#,
        );
        assert_eq!(db_verify(&other).unwrap_err().kind(), "wrong_schema");
    }

    #[test]
    fn a_feed_as_of_days_ago_lacks_what_was_published_since() {
        let current = Database::from_bytes(Path::new("x"), SHIPPED.as_bytes()).unwrap();
        assert!(
            current.entries().iter().all(|e| e.published.is_some()),
            "every shipped entry has a publication date"
        );
        let older = current.as_of(45);
        let info = older.info_now();
        assert_eq!((info.age_days, info.stale), (45, true));
        let missing: Vec<&str> = current
            .entries()
            .iter()
            .filter(|e| !older.entries().contains(e))
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(
            missing,
            ["CVE-2023-45288", "CVE-2024-1135", "CVE-2024-29041"]
        );
        // Still a valid DB: it round-trips through its own verification.
        let reloaded = Database::from_bytes(Path::new("x"), older.to_json().as_bytes()).unwrap();
        assert_eq!(reloaded.info_now(), info);
        assert_eq!(current.as_of(0).entries().len(), current.entries().len());
    }

    #[test]
    fn update_copies_the_mirror_and_stamps_it() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = write(dir.path(), "mirror.json", SHIPPED.as_bytes());
        let db = dir.path().join("db/vulnerabilities.json");
        let info = db_update(&db, &mirror).unwrap();
        assert_eq!(info.path, db);
        assert_eq!((info.age_days, info.stale), (0, false));
        assert_eq!(db_verify(&db).unwrap(), info);
        let leftovers: Vec<_> = fs::read_dir(db.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");

        // A corrupt mirror leaves the current DB alone.
        let bad_mirror = write(dir.path(), "bad.json", b"{");
        let error = db_update(&db, &bad_mirror).unwrap_err();
        assert!(error.to_string().contains("bad.json"));
        assert_eq!(db_verify(&db).unwrap(), info);
    }
}
