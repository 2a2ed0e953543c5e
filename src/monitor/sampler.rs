//! Watching one sandbox: the readings behind every [`Signal`], once per round.
//!
//! Two engine streams run in the background for the sandbox's lifetime (they survive the agent
//! container being replaced by a deploy, since they follow its name): `docker stats` for CPU and
//! memory, computed as the CLI does, and the container's events for its state (running,
//! restarting, OOM-killed, removed) and for `docker update` of its CPU limit. Each round then
//! asks the agent (`/health/live`, `/metrics`) and the traffic (`/stats`) over HTTP.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bollard::query_parameters::EventsOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use optimizer_agent::traffic::StatsReport;
use tokio::task::JoinHandle;

use super::scrape::ScrapeHistory;
use super::signal::{Sample, Signal};
use crate::docker::sandbox::SandboxInfo;
use crate::docker::stats::{self, ResourceSample};

/// How long an HTTP probe may take before it counts as no answer (the health check's timeout).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The span of the traffic's statistics the rules see: short enough to page within a minute.
const TRAFFIC_WINDOW_SECONDS: u64 = 30;
/// How far back CPU throttling is measured.
const THROTTLING_WINDOW: Duration = Duration::from_secs(30);
/// How far back restarts and OOM kills count.
const RECENT: Duration = Duration::from_secs(300);
/// A stats reading older than this is no data (the stream stalls while the container is down).
const RESOURCES_FRESH: Duration = Duration::from_secs(5);
const NANO: f64 = 1_000_000_000.0;

/// One sandbox under watch.
pub struct SandboxSampler {
    pub sandbox: String,
    agent_url: Option<String>,
    traffic_url: Option<String>,
    client: reqwest::Client,
    shared: Arc<Mutex<Shared>>,
    scrapes: ScrapeHistory,
    tasks: Vec<JoinHandle<()>>,
}

/// What the background streams keep up to date.
#[derive(Debug, Default)]
struct Shared {
    resources: Option<(Instant, ResourceSample)>,
    /// Recent `(when, periods, throttled periods)` of the CPU quota, oldest first.
    throttling: VecDeque<(Instant, u64, u64)>,
    container: ContainerWatch,
    /// The CPU limit in cores (the host's CPUs when unlimited).
    cpu_limit: f64,
}

impl SandboxSampler {
    /// Starts watching `sandbox` (as `sandbox::find` describes it).
    pub async fn start(docker: &Docker, sandbox: &SandboxInfo) -> SandboxSampler {
        let shared = Arc::new(Mutex::new(Shared {
            cpu_limit: cpu_limit(docker, &sandbox.container).await,
            container: ContainerWatch {
                running: sandbox.state == "running",
                ..ContainerWatch::default()
            },
            ..Shared::default()
        }));
        let tasks = vec![
            tokio::spawn(follow_stats(
                docker.clone(),
                sandbox.container.clone(),
                Arc::clone(&shared),
            )),
            tokio::spawn(follow_events(
                docker.clone(),
                sandbox.container.clone(),
                Arc::clone(&shared),
            )),
        ];
        SandboxSampler {
            sandbox: sandbox.name.clone(),
            agent_url: sandbox.http.clone(),
            traffic_url: sandbox.traffic_stats.clone(),
            client: reqwest::Client::builder()
                .timeout(PROBE_TIMEOUT)
                // The audit leaves the monitor's own requests out of the trainee's.
                .user_agent(crate::docker::labels::OWN_USER_AGENT)
                .build()
                .expect("a plain HTTP client builds"),
            shared,
            scrapes: ScrapeHistory::default(),
            tasks,
        }
    }

    /// Takes one round of readings.
    pub async fn sample(&mut self) -> Sample {
        let stats_path = format!("/stats?window={TRAFFIC_WINDOW_SECONDS}");
        let (live, metrics, traffic) = tokio::join!(
            self.get_text(self.agent_url.as_deref(), "/health/live"),
            self.get_text(self.agent_url.as_deref(), "/metrics"),
            self.get_text(self.traffic_url.as_deref(), &stats_path),
        );
        let now = SystemTime::now();
        match &metrics {
            Some(text) => self.scrapes.record(now, text),
            None => self.scrapes.record_failure(),
        }
        let mut sample = Sample::new(now);
        {
            let shared = self.shared.lock().expect("sampler state");
            sample = sample.with(
                Signal::Up,
                f64::from(u8::from(live.is_some() && shared.container.running)),
            );
            if let Some((at, resources)) = shared.resources {
                if at.elapsed() < RESOURCES_FRESH && shared.container.running {
                    let limit = shared.cpu_limit.max(0.01);
                    sample = sample
                        .with(Signal::CpuPercent, resources.cpu_percent / limit)
                        .with(Signal::MemoryPercent, resources.memory_percent());
                    if let Some(percent) = throttled_percent(&shared.throttling) {
                        sample = sample.with(Signal::CpuThrottledPercent, percent);
                    }
                }
            }
            sample = sample
                .with(
                    Signal::RestartsLast5m,
                    shared.container.deaths_within(now, RECENT) as f64,
                )
                .with(
                    Signal::OomKilled,
                    f64::from(u8::from(shared.container.oom_within(now, RECENT))),
                );
        }
        if let Some(report) =
            traffic.and_then(|text| serde_json::from_str::<StatsReport>(&text).ok())
        {
            if let Some(p95_ms) = report.p95_ms {
                sample = sample.with(Signal::ResponseTimeP95Seconds, p95_ms / 1000.0);
            }
            if report.requests > 0 {
                sample = sample.with(Signal::ErrorRatePercent, report.error_rate * 100.0);
            }
        }
        self.scrapes.signals(sample, now)
    }

    async fn get_text(&self, base: Option<&str>, path: &str) -> Option<String> {
        let response = self
            .client
            .get(format!("{}{path}", base?))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.text().await.ok()
    }
}

impl Drop for SandboxSampler {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The share of scheduling periods throttled across `window`; `None` until it spans two readings.
fn throttled_percent(window: &VecDeque<(Instant, u64, u64)>) -> Option<f64> {
    let (&(_, first_periods, first_throttled), &(_, last_periods, last_throttled)) =
        (window.front()?, window.back()?);
    let periods = last_periods.checked_sub(first_periods)?;
    if window.len() < 2 {
        return None;
    }
    // No runnable period at all (an idle container) is no throttling.
    if periods == 0 {
        return Some(0.0);
    }
    let throttled = last_throttled.saturating_sub(first_throttled);
    Some(throttled as f64 * 100.0 / periods as f64)
}

/// The container's CPU limit in cores; the host's CPU count when it has none.
async fn cpu_limit(docker: &Docker, container: &str) -> f64 {
    let inspect = docker.inspect_container(container, None).await.ok();
    let nano_cpus = inspect
        .and_then(|i| i.host_config)
        .and_then(|h| h.nano_cpus)
        .unwrap_or(0);
    if nano_cpus > 0 {
        return nano_cpus as f64 / NANO;
    }
    docker
        .info()
        .await
        .ok()
        .and_then(|info| info.ncpu)
        .map_or(1.0, |n| n as f64)
}

/// Keeps the latest `docker stats` reading; reconnects when the stream ends (a stop, a deploy).
async fn follow_stats(docker: Docker, container: String, shared: Arc<Mutex<Shared>>) {
    loop {
        let mut readings = Box::pin(stats::samples(&docker, &container).skip(1));
        while let Some(Ok(reading)) = readings.next().await {
            let now = Instant::now();
            let mut state = shared.lock().expect("sampler state");
            state.resources = Some((now, reading));
            let window = &mut state.throttling;
            // A new container (a deploy, a restart keeps the cgroup) starts its counters anew.
            if window
                .back()
                .is_some_and(|&(_, periods, _)| periods > reading.cpu_periods)
            {
                window.clear();
            }
            window.push_back((now, reading.cpu_periods, reading.cpu_throttled_periods));
            while window
                .front()
                .is_some_and(|&(at, _, _)| now.duration_since(at) > THROTTLING_WINDOW)
            {
                window.pop_front();
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Applies the container's events to the shared state; reconnects if the stream breaks.
async fn follow_events(docker: Docker, container: String, shared: Arc<Mutex<Shared>>) {
    let filters = HashMap::from([
        ("type", vec!["container"]),
        ("container", vec![container.as_str()]),
    ]);
    loop {
        let options = EventsOptionsBuilder::new().filters(&filters).build();
        let mut events = Box::pin(docker.events(Some(options)));
        while let Some(Ok(event)) = events.next().await {
            let Some(action) = event.action.as_deref() else {
                continue;
            };
            if !crate::docker::events::is_about(&event, &container) {
                continue;
            }
            // `docker update` and a deploy's new container change the limit the CPU % is of.
            let new_limit = if matches!(action, "update" | "start") {
                Some(cpu_limit(&docker, &container).await)
            } else {
                None
            };
            let mut state = shared.lock().expect("sampler state");
            state.container.apply(action, SystemTime::now());
            if let Some(limit) = new_limit {
                state.cpu_limit = limit;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The agent container's state, as its events tell it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ContainerWatch {
    pub running: bool,
    deaths: VecDeque<SystemTime>,
    ooms: VecDeque<SystemTime>,
}

impl ContainerWatch {
    /// Applies one event `action` (`start`, `die`, `oom`, `pause`, `exec_start: ...`).
    pub fn apply(&mut self, action: &str, at: SystemTime) {
        match action {
            "start" | "unpause" => self.running = true,
            "die" => {
                self.running = false;
                self.deaths.push_back(at);
            }
            "oom" => self.ooms.push_back(at),
            "pause" | "destroy" => self.running = false,
            _ => {}
        }
        for times in [&mut self.deaths, &mut self.ooms] {
            while times.len() > 100 {
                times.pop_front();
            }
        }
    }

    /// How many times the container died in the `within` before `now`.
    pub fn deaths_within(&self, now: SystemTime, within: Duration) -> usize {
        recent(&self.deaths, now, within)
    }

    pub fn oom_within(&self, now: SystemTime, within: Duration) -> bool {
        recent(&self.ooms, now, within) > 0
    }
}

fn recent(times: &VecDeque<SystemTime>, now: SystemTime, within: Duration) -> usize {
    times
        .iter()
        .filter(|at| now.duration_since(**at).unwrap_or_default() <= within)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_the_share_of_periods_across_the_window() {
        let start = Instant::now();
        let mut window = VecDeque::from([(start, 1000, 600)]);
        assert_eq!(throttled_percent(&window), None);
        window.push_back((start + Duration::from_secs(10), 1070, 615));
        let percent = throttled_percent(&window).unwrap();
        assert!((percent - 15.0 * 100.0 / 70.0).abs() < 1e-9);
        window.push_back((start + Duration::from_secs(20), 1070, 615));
        window.pop_front();
        window.pop_front();
        window.push_back((start + Duration::from_secs(30), 1070, 615));
        assert_eq!(throttled_percent(&window), Some(0.0), "idle");
    }

    #[test]
    fn events_tell_running_deaths_and_ooms() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut watch = ContainerWatch::default();
        watch.apply("start", start);
        assert!(watch.running);
        for second in [10, 20, 30] {
            let at = start + Duration::from_secs(second);
            watch.apply("die", at);
            assert!(!watch.running);
            watch.apply("start", at);
        }
        watch.apply("oom", start + Duration::from_secs(30));
        watch.apply(
            "exec_start: agentctl status",
            start + Duration::from_secs(31),
        );
        let now = start + Duration::from_secs(40);
        assert!(watch.running);
        assert_eq!(watch.deaths_within(now, RECENT), 3);
        assert!(watch.oom_within(now, RECENT));
        let later = start + Duration::from_secs(325);
        assert_eq!(watch.deaths_within(later, RECENT), 1);
        assert!(!watch.oom_within(later + Duration::from_secs(10), RECENT));
        watch.apply("pause", later);
        assert!(!watch.running);
    }
}
