//! Injected faults are recorded on the host, one JSON file each, so `fault revert` from another
//! shell (or a drill's abort) knows exactly what to restore. Files are written atomically.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::catalogue::FaultKind;
use super::params::Params;
use crate::docker::exec::OwnAction;
use crate::error::{Error, Result};

/// A fault as injected: what, where, when, and what revert needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultRecord {
    /// e.g. `f-blue-cpu-burn-1a2b3c4d`
    pub id: String,
    pub kind: FaultKind,
    pub sandbox: String,
    /// The agent container's id when the fault was injected.
    pub container_id: String,
    pub session: String,
    pub params: Params,
    /// Unix seconds.
    pub injected_at: f64,
    /// What the kind saved to restore the baseline (its own shape per kind).
    pub baseline: serde_json::Value,
    /// firedrill's own actions in the container for this fault (left out of the trainee's audit).
    pub own_actions: Vec<OwnAction>,
}

/// The folder of fault records: `faults/` in firedrill's state folder (see `crate::state`).
#[derive(Debug, Clone)]
pub struct FaultStore {
    dir: PathBuf,
}

impl FaultStore {
    pub fn open_default() -> FaultStore {
        FaultStore::at(crate::state::dir().join("faults"))
    }

    pub fn at(dir: impl Into<PathBuf>) -> FaultStore {
        FaultStore { dir: dir.into() }
    }

    /// Saves `record` (replacing an older version of it) atomically.
    pub fn save(&self, record: &FaultRecord) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(Error::io("creating", &self.dir))?;
        let path = self.path_of(&record.id);
        let mut file =
            tempfile::NamedTempFile::new_in(&self.dir).map_err(Error::io("writing", &path))?;
        serde_json::to_writer_pretty(&mut file, record)
            .map_err(|e| Error::io("writing", &path)(e.into()))?;
        file.persist(&path)
            .map_err(|e| Error::io("writing", &path)(e.error))?;
        Ok(())
    }

    /// Every record, oldest first. Unreadable files are skipped with a warning, never deleted.
    pub fn all(&self) -> Result<Vec<FaultRecord>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("reading", &self.dir)(e)),
        };
        let mut records = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            match std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<FaultRecord>(&bytes).ok())
            {
                Some(record) => records.push(record),
                None => tracing::warn!("skipping unreadable fault record {}", path.display()),
            }
        }
        records.sort_by(|a, b| a.injected_at.total_cmp(&b.injected_at));
        Ok(records)
    }

    /// The record with `id`.
    pub fn get(&self, id: &str) -> Result<FaultRecord> {
        self.all()?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| Error::FaultNotFound { id: id.to_string() })
    }

    /// Forgets a record (after its fault was reverted, or its sandbox is gone).
    pub fn remove(&self, id: &str) -> Result<()> {
        let path = self.path_of(id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("removing", &path)(e)),
        }
    }

    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Appends firedrill's own actions in sandbox session `session` (an inject's, a probe's, a
    /// revert's) to that session's log, one JSON object per line. A drill's audit reads the log
    /// to leave these out of the trainee's actions in the Docker events stream.
    pub fn log_own_actions(&self, session: &str, actions: &[OwnAction]) -> Result<()> {
        if actions.is_empty() {
            return Ok(());
        }
        let dir = self.own_actions_dir();
        std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
        let path = self.own_actions_path(session);
        let mut lines = String::new();
        for action in actions {
            lines.push_str(&serde_json::to_string(action).expect("an action serialises"));
            lines.push('\n');
        }
        // One append of whole lines: concurrent firedrill processes never interleave a line.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, lines.as_bytes()))
            .map_err(Error::io("appending to", &path))
    }

    /// Every own action logged for `session`, oldest first (lines that do not parse are skipped).
    pub fn own_actions(&self, session: &str) -> Result<Vec<OwnAction>> {
        let path = self.own_actions_path(session);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io("reading", &path)(e)),
        }
    }

    /// Forgets the own-action log of every session but those in `keep` (the running drills':
    /// their sandboxes are still there).
    pub fn forget_own_actions(&self, keep: &[String]) -> Result<()> {
        let dir = self.own_actions_dir();
        let kept: Vec<PathBuf> = keep.iter().map(|s| self.own_actions_path(s)).collect();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("reading", &dir)(e)),
        };
        for entry in entries.filter_map(|entry| entry.ok()) {
            let path = entry.path();
            if !kept.contains(&path) {
                std::fs::remove_file(&path).map_err(Error::io("removing", &path))?;
            }
        }
        Ok(())
    }

    fn own_actions_dir(&self) -> PathBuf {
        self.dir.join("own-actions")
    }

    fn own_actions_path(&self, session: &str) -> PathBuf {
        // Session ids are firedrill's own (`sbx-<name>-<hex>`), but keep the name a file name.
        let safe: String = session
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.own_actions_dir().join(format!("{safe}.jsonl"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, at: f64) -> FaultRecord {
        FaultRecord {
            id: id.to_string(),
            kind: FaultKind::ResourceSqueeze,
            sandbox: "blue".into(),
            container_id: "abc".into(),
            session: "sbx-blue-1".into(),
            params: Params::parse(FaultKind::ResourceSqueeze, &[]).unwrap(),
            injected_at: at,
            baseline: serde_json::json!({"nano_cpus": 1_000_000_000}),
            own_actions: Vec::new(),
        }
    }

    #[test]
    fn records_round_trip_and_list_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = FaultStore::at(dir.path().join("faults"));
        assert!(store.all().unwrap().is_empty());
        store.save(&record("f-2", 20.0)).unwrap();
        store.save(&record("f-1", 10.0)).unwrap();
        let ids: Vec<String> = store.all().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["f-1", "f-2"]);
        assert_eq!(store.get("f-2").unwrap(), record("f-2", 20.0));
        store.remove("f-2").unwrap();
        assert!(matches!(store.get("f-2"), Err(Error::FaultNotFound { .. })));
    }

    #[test]
    fn own_actions_are_appended_per_session_and_forgotten_with_the_sandboxes() {
        let dir = tempfile::tempdir().unwrap();
        let store = FaultStore::at(dir.path().join("faults"));
        let action = |at: f64, command: &str| OwnAction {
            at,
            exec_id: None,
            command: command.to_string(),
        };
        assert!(store.own_actions("sbx-blue-1").unwrap().is_empty());
        store
            .log_own_actions("sbx-blue-1", &[action(1.0, "yes")])
            .unwrap();
        store
            .log_own_actions("sbx-blue-1", &[action(2.0, "kill 7"), action(3.0, "ls")])
            .unwrap();
        store
            .log_own_actions("sbx-green-2", &[action(4.0, "cat")])
            .unwrap();
        let commands: Vec<String> = store
            .own_actions("sbx-blue-1")
            .unwrap()
            .into_iter()
            .map(|a| a.command)
            .collect();
        assert_eq!(commands, ["yes", "kill 7", "ls"]);
        store
            .forget_own_actions(&["sbx-blue-1".to_string()])
            .unwrap();
        assert!(store.own_actions("sbx-green-2").unwrap().is_empty());
        assert_eq!(store.own_actions("sbx-blue-1").unwrap().len(), 3, "kept");
        store.forget_own_actions(&[]).unwrap();
        assert!(store.own_actions("sbx-blue-1").unwrap().is_empty());
        // The own-action logs live beside the records and are never read as records.
        assert!(store.all().unwrap().is_empty());
    }

    #[test]
    fn an_unreadable_record_is_skipped_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let store = FaultStore::at(dir.path());
        std::fs::write(dir.path().join("broken.json"), "{not json").unwrap();
        store.save(&record("f-1", 1.0)).unwrap();
        assert_eq!(store.all().unwrap().len(), 1);
        assert!(dir.path().join("broken.json").exists());
    }
}
