//! The registry of jobs in flight: every `/optimize` and `/analyze` request is a job the operator
//! can list and cancel. Cancelling sets a flag the processing checks between its steps.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Optimize,
    Analyze,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Optimize => "optimize",
            Operation::Analyze => "analyze",
        }
    }
}

/// The step a job is at, as the operator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStep {
    Queued,
    Processing,
    Scanning,
    Recording,
}

impl JobStep {
    fn as_str(self) -> &'static str {
        match self {
            JobStep::Queued => "queued",
            JobStep::Processing => "processing",
            JobStep::Scanning => "scanning",
            JobStep::Recording => "recording",
        }
    }
}

/// One line of `GET /admin/jobs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobSnapshot {
    pub id: u64,
    pub operation: Operation,
    pub input_sha256: String,
    /// Unix seconds.
    pub started_at: u64,
    pub elapsed_seconds: f64,
    /// The step, or `cancelled` once the operator cancelled it (it stops at the next step).
    pub state: String,
}

#[derive(Debug, Default)]
pub struct JobRegistry {
    /// The last id handed out; ids start at 1.
    last_id: AtomicU64,
    jobs: Mutex<BTreeMap<u64, Arc<JobRecord>>>,
}

#[derive(Debug)]
struct JobRecord {
    id: u64,
    operation: Operation,
    input_sha256: String,
    started_at: u64,
    started: Instant,
    step: Mutex<JobStep>,
    cancelled: AtomicBool,
}

/// A registered job; dropping it (the work ended, or was abandoned) removes it from the registry.
#[derive(Debug)]
pub struct Job {
    registry: Arc<JobRegistry>,
    record: Arc<JobRecord>,
}

impl JobRegistry {
    pub fn start(self: &Arc<Self>, operation: Operation, input_sha256: &str) -> Job {
        let id = self.last_id.fetch_add(1, Ordering::Relaxed) + 1;
        let started_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let record = Arc::new(JobRecord {
            id,
            operation,
            input_sha256: input_sha256.to_string(),
            started_at,
            started: Instant::now(),
            step: Mutex::new(JobStep::Queued),
            cancelled: AtomicBool::new(false),
        });
        self.lock().insert(id, Arc::clone(&record));
        Job {
            registry: Arc::clone(self),
            record,
        }
    }

    /// Flags job `id` as cancelled; returns its input hash, or `None` if no such job is in flight.
    pub fn cancel(&self, id: u64) -> Option<String> {
        let jobs = self.lock();
        let record = jobs.get(&id)?;
        record.cancelled.store(true, Ordering::Relaxed);
        Some(record.input_sha256.clone())
    }

    /// Flags every job in flight on `input_sha256` as cancelled (deny-listing an input stops it
    /// everywhere); returns their ids.
    pub fn cancel_input(&self, input_sha256: &str) -> Vec<u64> {
        self.lock()
            .values()
            .filter(|record| record.input_sha256 == input_sha256)
            .map(|record| {
                record.cancelled.store(true, Ordering::Relaxed);
                record.id
            })
            .collect()
    }

    pub fn in_flight(&self) -> usize {
        self.lock().len()
    }

    /// The jobs in flight, oldest first.
    pub fn snapshot(&self) -> Vec<JobSnapshot> {
        self.lock()
            .values()
            .map(|record| {
                let state = if record.cancelled.load(Ordering::Relaxed) {
                    "cancelled"
                } else {
                    lock_step(record).as_str()
                };
                JobSnapshot {
                    id: record.id,
                    operation: record.operation,
                    input_sha256: record.input_sha256.clone(),
                    started_at: record.started_at,
                    elapsed_seconds: (record.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
                    state: state.to_string(),
                }
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<JobRecord>>> {
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn lock_step(record: &JobRecord) -> std::sync::MutexGuard<'_, JobStep> {
    record
        .step
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Job {
    pub fn id(&self) -> u64 {
        self.record.id
    }

    pub fn set_step(&self, step: JobStep) {
        *lock_step(&self.record) = step;
    }

    pub fn is_cancelled(&self) -> bool {
        self.record.cancelled.load(Ordering::Relaxed)
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.record.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_listed_while_in_flight_and_removed_when_dropped() {
        let registry = Arc::new(JobRegistry::default());
        let first = registry.start(Operation::Optimize, "aaa");
        let second = registry.start(Operation::Analyze, "bbb");
        assert_eq!((first.id(), second.id()), (1, 2));
        second.set_step(JobStep::Scanning);
        let listed = registry.snapshot();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].state, "scanning");
        assert_eq!(listed[1].operation, Operation::Analyze);
        drop(first);
        assert_eq!(registry.in_flight(), 1);
        assert_eq!(registry.start(Operation::Optimize, "ccc").id(), 3);
    }

    #[test]
    fn cancelling_flags_the_job_and_returns_its_input() {
        let registry = Arc::new(JobRegistry::default());
        let job = registry.start(Operation::Optimize, "abc");
        assert_eq!(registry.cancel(job.id()), Some("abc".to_string()));
        assert!(job.is_cancelled());
        assert_eq!(registry.snapshot()[0].state, "cancelled");
        assert_eq!(registry.cancel(42), None);
    }

    #[test]
    fn cancelling_an_input_flags_every_job_on_it() {
        let registry = Arc::new(JobRegistry::default());
        let first = registry.start(Operation::Optimize, "loop");
        let other = registry.start(Operation::Optimize, "fine");
        let second = registry.start(Operation::Analyze, "loop");
        assert_eq!(registry.cancel_input("loop"), vec![first.id(), second.id()]);
        assert!(first.is_cancelled() && second.is_cancelled());
        assert!(!other.is_cancelled());
        assert!(registry.cancel_input("none").is_empty());
    }
}
