//! Fault injection for resilience testing (`testing:` in the configuration): a delay added to, and
//! a 503 answer instead of, an exact share of the `/optimize` and `/analyze` requests.
//!
//! Meant for staging. Left on in production it is an incident of its own, which is why the agent
//! warns at start and at every reload while it is on. Shares are applied exactly and evenly spread
//! (request n is picked when `floor((n+1)·ratio) > floor(n·ratio)`), not by coin flips, so a test
//! asking for 10 % errors sees 10 % over any window, however short.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::TestingConfig;

/// What fault injection does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Injection {
    /// Added before the request is processed.
    pub delay: Option<Duration>,
    /// Answer 503 instead of processing.
    pub abort: bool,
}

/// Counts requests so each share is picked exactly.
#[derive(Debug, Default)]
pub struct FaultInjector {
    delay_counter: AtomicU64,
    abort_counter: AtomicU64,
}

impl FaultInjector {
    /// What to do to the next request under `settings`.
    pub fn next(&self, settings: &TestingConfig) -> Injection {
        let delayed =
            settings.latency_ms > 0 && picked(&self.delay_counter, settings.latency_ratio);
        Injection {
            delay: delayed.then(|| Duration::from_millis(settings.latency_ms)),
            abort: picked(&self.abort_counter, settings.error_ratio),
        }
    }
}

/// Whether the next request (counted in `counter`) falls in the share `ratio`.
fn picked(counter: &AtomicU64, ratio: f64) -> bool {
    if ratio <= 0.0 {
        return false;
    }
    let n = counter.fetch_add(1, Ordering::Relaxed) as f64;
    ((n + 1.0) * ratio).floor() > (n * ratio).floor()
}

/// Logs a warning when fault injection is on (at start and after each reload).
pub fn warn_if_active(settings: &TestingConfig) {
    if settings.is_active() {
        tracing::warn!(
            latency_ms = settings.latency_ms,
            latency_ratio = settings.latency_ratio,
            error_ratio = settings.error_ratio,
            "fault injection is enabled (testing.*): requests are being delayed or failed on \
             purpose; set testing.latency_ms, testing.latency_ratio and testing.error_ratio to 0 \
             outside resilience tests"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(latency_ms: u64, latency_ratio: f64, error_ratio: f64) -> TestingConfig {
        TestingConfig {
            latency_ms,
            latency_ratio,
            error_ratio,
        }
    }

    #[test]
    fn nothing_is_injected_when_off() {
        let injector = FaultInjector::default();
        for _ in 0..100 {
            assert_eq!(injector.next(&settings(0, 0.0, 0.0)), Injection::default());
            assert_eq!(
                injector.next(&settings(0, 1.0, 0.0)),
                Injection::default(),
                "no delay without latency_ms"
            );
        }
    }

    #[test]
    fn shares_are_exact_and_evenly_spread() {
        let injector = FaultInjector::default();
        let plan: Vec<Injection> = (0..200)
            .map(|_| injector.next(&settings(1500, 0.25, 0.1)))
            .collect();
        let delayed = plan.iter().filter(|i| i.delay.is_some()).count();
        let aborted = plan.iter().filter(|i| i.abort).count();
        assert_eq!((delayed, aborted), (50, 20));
        // Any 40 consecutive requests hold 10 delayed and 4 aborted.
        for window in plan.windows(40) {
            assert_eq!(window.iter().filter(|i| i.delay.is_some()).count(), 10);
            assert_eq!(window.iter().filter(|i| i.abort).count(), 4);
        }
        assert_eq!(plan[3].delay, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn a_full_share_picks_every_request() {
        let injector = FaultInjector::default();
        assert!((0..50).all(|_| injector.next(&settings(0, 0.0, 1.0)).abort));
    }
}
