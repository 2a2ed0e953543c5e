//! The monitor loop: every interval, sample each watched sandbox, run its alert engine, and
//! hand the resulting pages to the sinks.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use futures_util::future::join_all;

use super::engine::AlertEngine;
use super::rules::RuleSet;
use super::sampler::SandboxSampler;
use super::sinks::Sink;
use crate::docker::sandbox::{self, SandboxInfo};
use crate::error::{Error, Result};
use crate::interrupt::Interrupt;

/// How often a watched sandbox is checked to still exist.
const EXISTENCE_CHECK: Duration = Duration::from_secs(10);

/// One sandbox under watch: its sampler and its own alert state.
struct Watched {
    sampler: SandboxSampler,
    engine: AlertEngine,
}

pub struct Monitor {
    docker: Docker,
    watched: Vec<Watched>,
    sinks: Vec<Sink>,
    interval: Duration,
}

/// What a watch saw, for its closing line.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WatchSummary {
    pub rounds: u64,
    pub fired: u64,
    pub resolved: u64,
}

impl Monitor {
    /// Starts the samplers of `sandboxes`; every alert carries the sandbox and session labels.
    pub async fn start(
        docker: &Docker,
        sandboxes: &[SandboxInfo],
        rules: &RuleSet,
        sinks: Vec<Sink>,
        interval: Duration,
    ) -> Monitor {
        let mut watched = Vec::new();
        for info in sandboxes {
            let labels = BTreeMap::from([
                ("sandbox".to_string(), info.name.clone()),
                ("session".to_string(), info.session.clone()),
            ]);
            watched.push(Watched {
                sampler: SandboxSampler::start(docker, info).await,
                engine: AlertEngine::new(rules.clone(), labels),
            });
        }
        Monitor {
            docker: docker.clone(),
            watched,
            sinks,
            interval,
        }
    }

    /// Runs until interrupted (or for `limit`, when given), then lets webhook deliveries finish.
    /// A watched sandbox that is removed ends the watch with an error.
    pub async fn run(
        &mut self,
        interrupt: &Interrupt,
        limit: Option<Duration>,
    ) -> Result<WatchSummary> {
        let started = Instant::now();
        let mut summary = WatchSummary::default();
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_check = Instant::now();
        let outcome = loop {
            ticks.tick().await;
            if interrupt.is_requested() || limit.is_some_and(|l| started.elapsed() >= l) {
                break Ok(());
            }
            if last_check.elapsed() >= EXISTENCE_CHECK {
                last_check = Instant::now();
                if let Err(error) = self.check_sandboxes_exist().await {
                    break Err(error);
                }
            }
            if let Err(error) = self.round(&mut summary).await {
                break Err(error);
            }
        };
        for sink in &mut self.sinks {
            sink.finish().await;
        }
        outcome.map(|()| summary)
    }

    async fn round(&mut self, summary: &mut WatchSummary) -> Result<()> {
        let samples = join_all(self.watched.iter_mut().map(|w| w.sampler.sample())).await;
        summary.rounds += 1;
        for (watched, sample) in self.watched.iter_mut().zip(samples) {
            let events = watched.engine.observe(&sample);
            for event in &events {
                match event.kind {
                    super::AlertEventKind::Firing => summary.fired += 1,
                    super::AlertEventKind::Resolved => summary.resolved += 1,
                }
            }
            for sink in &mut self.sinks {
                sink.deliver(&watched.sampler.sandbox, &events)?;
            }
        }
        Ok(())
    }

    async fn check_sandboxes_exist(&self) -> Result<()> {
        for watched in &self.watched {
            match sandbox::find(&self.docker, &watched.sampler.sandbox).await {
                Err(Error::SandboxNotFound { name }) => return Err(Error::SandboxGone { name }),
                Err(other) => return Err(other),
                Ok(_) => {}
            }
        }
        Ok(())
    }
}
