//! The one place every request result goes: the sliding window for `/stats` and the
//! Prometheus metrics for `/metrics`, kept in step.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::metrics::TrafficMetrics;
use super::outcome::{Endpoint, Outcome};
use super::window::{SlidingWindow, WindowSummary};

pub struct Recorder {
    window: Mutex<SlidingWindow>,
    metrics: TrafficMetrics,
    in_flight: AtomicUsize,
}

/// Marks one request as in flight until dropped, so a cancelled request is not left counted.
pub struct InFlight<'a> {
    recorder: &'a Recorder,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let now = self.recorder.in_flight.fetch_sub(1, Ordering::Relaxed) - 1;
        self.recorder.metrics.set_in_flight(now);
    }
}

impl Recorder {
    pub fn new(window: Duration) -> Recorder {
        Recorder {
            window: Mutex::new(SlidingWindow::new(window)),
            metrics: TrafficMetrics::new(),
            in_flight: AtomicUsize::new(0),
        }
    }

    pub fn start_request(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.metrics.set_in_flight(now);
        InFlight { recorder: self }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Records a finished request; `error_detail` is what `/stats` shows as `last_error`.
    pub fn record(
        &self,
        endpoint: Endpoint,
        outcome: Outcome,
        latency: Option<Duration>,
        error_detail: Option<String>,
    ) {
        self.metrics
            .observe(endpoint, outcome, latency.map(|l| l.as_secs_f64()));
        self.lock_window()
            .record(Instant::now(), outcome, latency, error_detail);
    }

    pub fn window_span(&self) -> Duration {
        self.lock_window().span()
    }

    /// The requests completed in the last `within` (capped at the window's span).
    pub fn summary_within(&self, within: Duration) -> WindowSummary {
        self.lock_window().summary_within(Instant::now(), within)
    }

    pub fn prometheus_text(&self) -> String {
        self.metrics.encode()
    }

    fn lock_window(&self) -> std::sync::MutexGuard<'_, SlidingWindow> {
        // The window stays consistent even if a holder panicked: every update is one push.
        self.window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
