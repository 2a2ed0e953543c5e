//! The sliding window behind `GET /stats`: counts and latency percentiles of the requests that
//! completed in the last `span`. Pure bookkeeping, the caller supplies the clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::outcome::Outcome;

/// One completed (or refused) request.
#[derive(Debug, Clone, Copy)]
struct Sample {
    completed_at: Instant,
    outcome: Outcome,
    /// `None` for requests that were never sent (overload).
    latency: Option<Duration>,
}

/// Requests completed within the last `span`, oldest first.
#[derive(Debug)]
pub struct SlidingWindow {
    span: Duration,
    samples: VecDeque<Sample>,
    last_error: Option<(Instant, String)>,
}

/// What the window holds at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSummary {
    pub requests: u64,
    pub errors: u64,
    pub timeouts: u64,
    /// `errors / requests`, 0 when there were no requests.
    pub error_rate: f64,
    /// Latency percentiles in milliseconds, `None` when no request in the window has a latency.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The most recent error inside the window.
    pub last_error: Option<String>,
}

impl SlidingWindow {
    pub fn new(span: Duration) -> SlidingWindow {
        SlidingWindow {
            span,
            samples: VecDeque::new(),
            last_error: None,
        }
    }

    pub fn span(&self) -> Duration {
        self.span
    }

    /// Records a request that ended at `completed_at`. Calls must come in completion order,
    /// which holds when the caller stamps `completed_at` with the current time.
    pub fn record(
        &mut self,
        completed_at: Instant,
        outcome: Outcome,
        latency: Option<Duration>,
        error_detail: Option<String>,
    ) {
        if let Some(detail) = error_detail {
            self.last_error = Some((completed_at, detail));
        }
        self.samples.push_back(Sample {
            completed_at,
            outcome,
            latency,
        });
        self.evict_before(completed_at);
    }

    /// Summarises the requests completed in the last `within` (at most the window's span, so
    /// `Duration::MAX` means the whole window), forgetting those older than the span. A shorter
    /// view serves monitors that must see a change sooner than a full window.
    pub fn summary_within(&mut self, now: Instant, within: Duration) -> WindowSummary {
        self.evict_before(now);
        let within = within.min(self.span);
        let recent = |at: Instant| now.saturating_duration_since(at) < within;
        let samples: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| recent(s.completed_at))
            .collect();
        let requests = samples.len() as u64;
        let errors = samples.iter().filter(|s| s.outcome.is_error()).count() as u64;
        let timeouts = samples
            .iter()
            .filter(|s| s.outcome == Outcome::Timeout)
            .count() as u64;
        let mut latencies: Vec<Duration> = samples.iter().filter_map(|s| s.latency).collect();
        latencies.sort_unstable();
        let last_error = self
            .last_error
            .as_ref()
            .filter(|(at, _)| recent(*at))
            .map(|(_, detail)| detail.clone());
        WindowSummary {
            requests,
            errors,
            timeouts,
            error_rate: if requests == 0 {
                0.0
            } else {
                errors as f64 / requests as f64
            },
            p50_ms: percentile_ms(&latencies, 50.0),
            p95_ms: percentile_ms(&latencies, 95.0),
            p99_ms: percentile_ms(&latencies, 99.0),
            last_error,
        }
    }

    fn is_inside(&self, at: Instant, now: Instant) -> bool {
        now.saturating_duration_since(at) < self.span
    }

    fn evict_before(&mut self, now: Instant) {
        while let Some(oldest) = self.samples.front() {
            if self.is_inside(oldest.completed_at, now) {
                break;
            }
            self.samples.pop_front();
        }
    }
}

/// Nearest-rank percentile of `sorted` latencies, in milliseconds rounded to 0.1 ms.
fn percentile_ms(sorted: &[Duration], percent: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    let latency = sorted[rank.clamp(1, sorted.len()) - 1];
    Some((latency.as_secs_f64() * 10_000.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn empty_window_has_no_errors_and_no_percentiles() {
        let mut window = SlidingWindow::new(Duration::from_secs(60));
        let summary = window.summary_within(Instant::now(), Duration::MAX);
        assert_eq!(summary.requests, 0);
        assert_eq!(summary.error_rate, 0.0);
        assert_eq!(summary.p50_ms, None);
        assert_eq!(summary.last_error, None);
    }

    #[test]
    fn a_shorter_view_sees_only_the_recent_requests() {
        let mut window = SlidingWindow::new(Duration::from_secs(60));
        let start = Instant::now();
        window.record(start, Outcome::Success, Some(ms(5000)), None);
        let now = start + Duration::from_secs(40);
        window.record(now, Outcome::Success, Some(ms(10)), None);
        let recent = window.summary_within(now, Duration::from_secs(30));
        assert_eq!((recent.requests, recent.p95_ms), (1, Some(10.0)));
        let whole = window.summary_within(now, Duration::from_secs(600));
        assert_eq!((whole.requests, whole.p95_ms), (2, Some(5000.0)));
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut window = SlidingWindow::new(Duration::from_secs(60));
        let now = Instant::now();
        for latency in 1..=100 {
            window.record(now, Outcome::Success, Some(ms(latency)), None);
        }
        let summary = window.summary_within(now, Duration::MAX);
        assert_eq!(summary.p50_ms, Some(50.0));
        assert_eq!(summary.p95_ms, Some(95.0));
        assert_eq!(summary.p99_ms, Some(99.0));
    }

    #[test]
    fn a_single_sample_is_every_percentile() {
        let mut window = SlidingWindow::new(Duration::from_secs(60));
        let now = Instant::now();
        window.record(
            now,
            Outcome::Success,
            Some(Duration::from_micros(12_345)),
            None,
        );
        let summary = window.summary_within(now, Duration::MAX);
        assert_eq!(summary.p50_ms, Some(12.3));
        assert_eq!(summary.p99_ms, Some(12.3));
    }

    #[test]
    fn errors_timeouts_and_rate_are_counted() {
        let mut window = SlidingWindow::new(Duration::from_secs(60));
        let now = Instant::now();
        window.record(now, Outcome::Success, Some(ms(5)), None);
        window.record(now, Outcome::ClientError, Some(ms(5)), None);
        window.record(
            now,
            Outcome::ServerError,
            Some(ms(5)),
            Some("HTTP 500".into()),
        );
        window.record(
            now,
            Outcome::Timeout,
            Some(ms(10_000)),
            Some("timed out".into()),
        );
        let summary = window.summary_within(now, Duration::MAX);
        assert_eq!(summary.requests, 4);
        assert_eq!(summary.errors, 2);
        assert_eq!(summary.timeouts, 1);
        assert_eq!(summary.error_rate, 0.5);
        assert_eq!(summary.last_error.as_deref(), Some("timed out"));
    }

    #[test]
    fn overloaded_requests_count_as_errors_without_a_latency() {
        let mut window = SlidingWindow::new(Duration::from_secs(60));
        let now = Instant::now();
        window.record(now, Outcome::Overload, None, Some("overload".into()));
        let summary = window.summary_within(now, Duration::MAX);
        assert_eq!((summary.requests, summary.errors), (1, 1));
        assert_eq!(summary.p50_ms, None);
    }

    #[test]
    fn requests_older_than_the_span_drop_out() {
        let mut window = SlidingWindow::new(Duration::from_secs(60));
        let start = Instant::now();
        window.record(
            start,
            Outcome::ServerError,
            Some(ms(900)),
            Some("HTTP 500".into()),
        );
        window.record(
            start + Duration::from_secs(30),
            Outcome::Success,
            Some(ms(10)),
            None,
        );

        let at_59s = window.summary_within(start + Duration::from_secs(59), Duration::MAX);
        assert_eq!((at_59s.requests, at_59s.errors), (2, 1));

        let at_60s = window.summary_within(start + Duration::from_secs(60), Duration::MAX);
        assert_eq!((at_60s.requests, at_60s.errors), (1, 0));
        assert_eq!(at_60s.p99_ms, Some(10.0));
        assert_eq!(at_60s.last_error, None, "a recovered agent shows no error");

        let at_90s = window.summary_within(start + Duration::from_secs(90), Duration::MAX);
        assert_eq!(at_90s.requests, 0);
    }
}
