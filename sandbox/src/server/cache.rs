//! The response cache: input SHA-256 -> the optimization answer, bounded by `cache.max_size`
//! (oldest evicted first) and `cache.ttl_seconds`. The bounds are enforced in one place,
//! [`Entries::enforce_bounds`].
//!
//! So a restart does not start cold, the newest answers (up to [`INDEX_BUDGET_BYTES`]) are saved
//! to `<data_dir>/cache/index.json` every [`PERSIST_INTERVAL`] and at shutdown, and loaded at
//! start. An index that cannot be read stops the start-up with a message that says so: the
//! cache is disposable, the file may be deleted (the history database is another file).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::Counter;
use serde::{Deserialize, Serialize};

use super::quota::StorageQuota;
use super::state::AppState;

/// The cache index, under the cache directory.
pub const INDEX_FILE_NAME: &str = "index.json";
/// How much of the cache is saved: the newest answers, up to this many bytes of JSON.
pub const INDEX_BUDGET_BYTES: usize = 4 * 1024 * 1024;
/// How often the index is saved while the agent runs.
const PERSIST_INTERVAL: Duration = Duration::from_secs(60);
/// The `format` and `version` an index carries.
const INDEX_FORMAT: &str = "docker-optimizer-cache";
const INDEX_VERSION: u32 = 1;

/// A cached answer: the JSON object of an optimization response without its per-request fields.
pub type CachedAnswer = Arc<serde_json::Map<String, serde_json::Value>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    pub max_size: usize,
    pub ttl: Duration,
}

/// `GET /admin/cache`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    pub entries: usize,
    pub max_size: usize,
    pub ttl_seconds: u64,
    pub hits: u64,
    pub misses: u64,
}

#[derive(Debug)]
pub struct ResponseCache {
    entries: Mutex<Entries>,
    hits: Counter,
    misses: Counter,
}

#[derive(Debug)]
struct Entries {
    limits: CacheLimits,
    by_key: HashMap<String, Entry>,
    /// Insertion sequence -> key: the first is the oldest entry.
    by_age: BTreeMap<u64, String>,
    next_sequence: u64,
}

#[derive(Debug)]
struct Entry {
    answer: CachedAnswer,
    stored_at: Instant,
    sequence: u64,
}

impl ResponseCache {
    /// `hits` and `misses` are the metric counters the cache keeps up to date.
    pub fn new(limits: CacheLimits, hits: Counter, misses: Counter) -> ResponseCache {
        ResponseCache {
            entries: Mutex::new(Entries {
                limits,
                by_key: HashMap::new(),
                by_age: BTreeMap::new(),
                next_sequence: 0,
            }),
            hits,
            misses,
        }
    }

    /// The cached answer for `key` if present and younger than the TTL; counts a hit or a miss.
    pub fn get(&self, key: &str, now: Instant) -> Option<CachedAnswer> {
        let mut entries = self.lock();
        entries.enforce_bounds(now);
        let answer = entries
            .by_key
            .get(key)
            .map(|entry| Arc::clone(&entry.answer));
        match answer {
            Some(_) => self.hits.inc(),
            None => self.misses.inc(),
        };
        answer
    }

    pub fn insert(&self, key: String, answer: CachedAnswer, now: Instant) {
        let mut entries = self.lock();
        entries.remove(&key);
        let sequence = entries.next_sequence;
        entries.next_sequence += 1;
        entries.by_age.insert(sequence, key.clone());
        entries.by_key.insert(
            key,
            Entry {
                answer,
                stored_at: now,
                sequence,
            },
        );
        entries.enforce_bounds(now);
    }

    /// New limits (a config reload); a smaller `max_size` evicts right away.
    pub fn set_limits(&self, limits: CacheLimits, now: Instant) {
        let mut entries = self.lock();
        entries.limits = limits;
        entries.enforce_bounds(now);
    }

    /// Empties the cache; returns how many entries it held.
    pub fn clear(&self) -> usize {
        let mut entries = self.lock();
        let cleared = entries.by_key.len();
        entries.by_key.clear();
        entries.by_age.clear();
        cleared
    }

    pub fn stats(&self) -> CacheStats {
        let entries = self.lock();
        CacheStats {
            entries: entries.by_key.len(),
            max_size: entries.limits.max_size,
            ttl_seconds: entries.limits.ttl.as_secs(),
            hits: self.hits.get(),
            misses: self.misses.get(),
        }
    }

    /// The newest entries, newest first, as long as their JSON fits in `budget_bytes`.
    fn newest_within(&self, budget_bytes: usize, now: Instant) -> Vec<IndexEntry> {
        let entries = self.lock();
        let mut saved = Vec::new();
        let mut used = 0;
        for key in entries.by_age.values().rev() {
            let entry = &entries.by_key[key];
            let answer = (*entry.answer).clone();
            let size = serde_json::to_vec(&answer).map_or(usize::MAX, |json| json.len());
            used += size.saturating_add(key.len());
            if used > budget_bytes {
                break;
            }
            let age_seconds = now.saturating_duration_since(entry.stored_at).as_secs();
            saved.push(IndexEntry {
                key: key.clone(),
                age_seconds,
                answer,
            });
        }
        saved
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Entries {
    /// Drops expired entries, then the oldest ones until at most `max_size` remain.
    fn enforce_bounds(&mut self, now: Instant) {
        while let Some((_, oldest_key)) = self.by_age.first_key_value() {
            let oldest = &self.by_key[oldest_key];
            let expired = now.saturating_duration_since(oldest.stored_at) >= self.limits.ttl;
            if !expired && self.by_key.len() <= self.limits.max_size {
                break;
            }
            let oldest_key = oldest_key.clone();
            self.remove(&oldest_key);
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.by_key.remove(key) {
            self.by_age.remove(&entry.sequence);
        }
    }
}

/// What `index.json` holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheIndex {
    format: String,
    version: u32,
    /// Unix seconds.
    saved_at: u64,
    /// Newest first.
    entries: Vec<IndexEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexEntry {
    key: String,
    age_seconds: u64,
    answer: serde_json::Map<String, serde_json::Value>,
}

/// Why the cache index stops the start-up.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(
        "cache index {} is corrupt: {detail}; the cache is disposable: delete {} and start the \
         agent again (the history database is separate, keep it)",
        path.display(),
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("cannot read the cache index {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
}

/// Why `bytes` is not a cache index the agent can load, or `None` when it is one.
pub fn index_defect(bytes: &[u8]) -> Option<String> {
    parse_index(bytes).err()
}

fn parse_index(bytes: &[u8]) -> Result<CacheIndex, String> {
    let index: CacheIndex = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if index.format != INDEX_FORMAT || index.version != INDEX_VERSION {
        return Err(format!(
            "format {} version {}, expected {INDEX_FORMAT} version {INDEX_VERSION}",
            index.format, index.version
        ));
    }
    Ok(index)
}

/// Loads `<cache_dir>/index.json` into `cache` (entries past the TTL are left out); returns how
/// many entries were restored. No index is an empty cache.
pub fn load_index(cache: &ResponseCache, cache_dir: &Path) -> Result<usize, IndexError> {
    let path = cache_dir.join(INDEX_FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(source) => return Err(IndexError::Unreadable { path, source }),
    };
    let index = parse_index(&bytes).map_err(|detail| IndexError::Corrupt {
        path: path.clone(),
        detail,
    })?;
    let now = Instant::now();
    // Oldest first, so the newest end up newest in the cache too; the bounds apply as they go.
    for entry in index.entries.into_iter().rev() {
        if let Some(stored_at) = now.checked_sub(Duration::from_secs(entry.age_seconds)) {
            cache.insert(entry.key, Arc::new(entry.answer), stored_at);
        }
    }
    let restored = cache.stats().entries;
    tracing::info!(file = %path.display(), restored, "cache index loaded");
    Ok(restored)
}

/// Saves the newest entries to `<cache_dir>/index.json` (atomically, through the quota);
/// returns how many were saved.
pub fn save_index(
    cache: &ResponseCache,
    cache_dir: &Path,
    quota: &StorageQuota,
) -> io::Result<usize> {
    let index = CacheIndex {
        format: INDEX_FORMAT.to_string(),
        version: INDEX_VERSION,
        saved_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        entries: cache.newest_within(INDEX_BUDGET_BYTES, Instant::now()),
    };
    let bytes = serde_json::to_vec(&index)?;
    quota.ensure_room(bytes.len() as u64)?;
    let path = cache_dir.join(INDEX_FILE_NAME);
    let temp = path.with_extension("json.new");
    std::fs::write(&temp, &bytes)?;
    std::fs::rename(&temp, &path)?;
    Ok(index.entries.len())
}

/// Saves the index of the running agent now; a failure is logged (the cache is disposable).
pub fn persist(state: &AppState) {
    let cache_dir = state
        .config()
        .config
        .storage
        .data_dir
        .join(super::state::CACHE_DIR_NAME);
    match save_index(&state.cache, &cache_dir, &state.quota) {
        Ok(saved) => tracing::debug!(saved, "cache index saved"),
        Err(e) => tracing::warn!(error = %e, "could not save the cache index"),
    }
}

/// Saves the index every [`PERSIST_INTERVAL`].
pub fn spawn_persistence(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(PERSIST_INTERVAL);
        ticks.tick().await; // the first tick is immediate: nothing new to save at start
        loop {
            ticks.tick().await;
            let saving = Arc::clone(&state);
            if let Err(e) = tokio::task::spawn_blocking(move || persist(&saving)).await {
                tracing::warn!(error = %e, "saving the cache index crashed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(n: u64) -> CachedAnswer {
        let mut map = serde_json::Map::new();
        map.insert("n".into(), n.into());
        Arc::new(map)
    }

    fn cache(max_size: usize, ttl_seconds: u64) -> ResponseCache {
        let limits = CacheLimits {
            max_size,
            ttl: Duration::from_secs(ttl_seconds),
        };
        ResponseCache::new(limits, Counter::default(), Counter::default())
    }

    #[test]
    fn the_oldest_entry_is_evicted_past_max_size() {
        let cache = cache(2, 60);
        let now = Instant::now();
        for n in 0..3 {
            cache.insert(format!("k{n}"), answer(n), now);
        }
        assert_eq!(cache.stats().entries, 2);
        assert!(cache.get("k0", now).is_none());
        assert_eq!(cache.get("k2", now).unwrap()["n"], 2);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (1, 1));
    }

    #[test]
    fn reinserting_a_key_makes_it_the_newest() {
        let cache = cache(2, 60);
        let now = Instant::now();
        cache.insert("a".into(), answer(1), now);
        cache.insert("b".into(), answer(2), now);
        cache.insert("a".into(), answer(3), now);
        cache.insert("c".into(), answer(4), now);
        assert!(cache.get("b", now).is_none());
        assert_eq!(cache.get("a", now).unwrap()["n"], 3);
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = cache(10, 5);
        let start = Instant::now();
        cache.insert("a".into(), answer(1), start);
        assert!(cache.get("a", start + Duration::from_secs(4)).is_some());
        assert!(cache.get("a", start + Duration::from_secs(5)).is_none());
        assert_eq!(cache.stats().entries, 0);
    }

    #[test]
    fn lowering_max_size_evicts_at_once_and_clear_empties() {
        let cache = cache(10, 60);
        let now = Instant::now();
        for n in 0..10 {
            cache.insert(format!("k{n}"), answer(n), now);
        }
        let limits = CacheLimits {
            max_size: 3,
            ttl: Duration::from_secs(60),
        };
        cache.set_limits(limits, now);
        assert_eq!(cache.stats().entries, 3);
        assert!(cache.get("k9", now).is_some());
        assert_eq!(cache.clear(), 3);
        assert_eq!(cache.stats().entries, 0);
    }

    #[test]
    fn the_index_round_trips_the_newest_entries_within_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let quota = StorageQuota::new(dir.path(), 1 << 30, Counter::default());
        let saved = cache(10, 60);
        let now = Instant::now();
        for n in 0..5 {
            saved.insert(format!("k{n}"), answer(n), now);
        }
        assert_eq!(save_index(&saved, dir.path(), &quota).unwrap(), 5);
        let bytes = std::fs::read(dir.path().join(INDEX_FILE_NAME)).unwrap();
        assert_eq!(index_defect(&bytes), None);
        let loaded = cache(3, 60);
        assert_eq!(load_index(&loaded, dir.path()).unwrap(), 3);
        assert_eq!(loaded.get("k4", Instant::now()).unwrap()["n"], 4);
        assert!(
            loaded.get("k1", Instant::now()).is_none(),
            "oldest past max_size"
        );
        assert!(
            saved.newest_within(20, now).len() < 5,
            "the budget caps what is saved"
        );
    }

    #[test]
    fn no_index_is_an_empty_cache_and_a_corrupt_one_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_index(&cache(10, 60), dir.path()).unwrap(), 0);
        let path = dir.path().join(INDEX_FILE_NAME);
        std::fs::write(
            &path,
            r#"{"format":"docker-optimizer-cache","version":1,"saved_at":1,"entries":[{"key":"#,
        )
        .unwrap();
        let message = load_index(&cache(10, 60), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("is corrupt: EOF while parsing"),
            "{message}"
        );
        assert!(
            message.contains("the cache is disposable: delete"),
            "{message}"
        );
        assert!(
            message.contains("history database is separate"),
            "{message}"
        );
        assert!(
            index_defect(br#"{"format":"other","version":1,"saved_at":1,"entries":[]}"#)
                .unwrap()
                .contains("expected docker-optimizer-cache")
        );
    }
}
