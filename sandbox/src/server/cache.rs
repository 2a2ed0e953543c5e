//! The response cache: input SHA-256 -> the optimization answer, bounded by `cache.max_size`
//! (oldest evicted first) and `cache.ttl_seconds`. The bounds are enforced in one place,
//! [`Entries::enforce_bounds`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use serde::Serialize;

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
}
