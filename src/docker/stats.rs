//! Container CPU and memory figures computed exactly as `docker stats` computes them, so what
//! firedrill measures (and later alerts on) is what the trainee sees in their terminal.

use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptions;
use bollard::Docker;
use futures_util::{Stream, StreamExt};

use crate::error::{Error, Result};

/// One `docker stats` line's worth of figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourceSample {
    /// CPU use in percent of one core, as `docker stats` shows it (200 % = two cores busy).
    pub cpu_percent: f64,
    /// Memory in use, without the inactive file cache (as `docker stats`).
    pub memory_bytes: u64,
    /// The container's memory limit.
    pub memory_limit_bytes: u64,
    /// CFS scheduling periods so far, and those in which the CPU quota throttled the container
    /// (cumulative; 0 without a quota).
    pub cpu_periods: u64,
    pub cpu_throttled_periods: u64,
}

impl ResourceSample {
    /// Memory use in percent of the limit.
    pub fn memory_percent(&self) -> f64 {
        if self.memory_limit_bytes == 0 {
            0.0
        } else {
            self.memory_bytes as f64 * 100.0 / self.memory_limit_bytes as f64
        }
    }
}

/// CPU percent between two consecutive engine stats, by the docker CLI's formula:
/// container CPU time delta over host CPU time delta, times the number of online CPUs.
pub fn cpu_percent(previous: &ContainerStatsResponse, current: &ContainerStatsResponse) -> f64 {
    let total = |s: &ContainerStatsResponse| {
        s.cpu_stats
            .as_ref()
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let system = |s: &ContainerStatsResponse| {
        s.cpu_stats
            .as_ref()
            .and_then(|c| c.system_cpu_usage)
            .unwrap_or(0)
    };
    let cpu_delta = total(current).saturating_sub(total(previous)) as f64;
    let system_delta = system(current).saturating_sub(system(previous)) as f64;
    let online = current
        .cpu_stats
        .as_ref()
        .and_then(|c| {
            c.online_cpus.map(u64::from).or_else(|| {
                c.cpu_usage
                    .as_ref()
                    .and_then(|u| u.percpu_usage.as_ref())
                    .map(|p| p.len() as u64)
            })
        })
        .unwrap_or(1) as f64;
    if system_delta <= 0.0 || cpu_delta <= 0.0 {
        0.0
    } else {
        cpu_delta / system_delta * online * 100.0
    }
}

/// Memory in use as `docker stats` counts it: usage less the inactive file cache
/// (`total_inactive_file` on cgroup v1, `inactive_file` on cgroup v2), so a volume's page cache
/// does not count but tmpfs does.
pub fn memory_used(stats: &ContainerStatsResponse) -> u64 {
    let Some(memory) = &stats.memory_stats else {
        return 0;
    };
    let usage = memory.usage.unwrap_or(0);
    let inactive = memory
        .stats
        .as_ref()
        .and_then(|s| {
            s.get("total_inactive_file")
                .or_else(|| s.get("inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    if inactive < usage {
        usage - inactive
    } else {
        usage
    }
}

/// `(periods, throttled periods)` of the container's CPU quota, cumulative.
fn throttling(stats: &ContainerStatsResponse) -> (u64, u64) {
    let data = stats
        .cpu_stats
        .as_ref()
        .and_then(|c| c.throttling_data.as_ref());
    (
        data.and_then(|t| t.periods).unwrap_or(0),
        data.and_then(|t| t.throttled_periods).unwrap_or(0),
    )
}

/// The engine's stats stream of `container` (about one sample a second), as figures.
pub fn samples(docker: &Docker, container: &str) -> impl Stream<Item = Result<ResourceSample>> {
    let container_name = container.to_string();
    let mut previous: Option<ContainerStatsResponse> = None;
    docker
        .stats(
            container,
            Some(StatsOptions {
                stream: true,
                one_shot: false,
            }),
        )
        .map(move |stats| {
            let stats =
                stats.map_err(Error::docker(format!("reading stats of {container_name}")))?;
            let cpu = previous
                .as_ref()
                .map(|p| cpu_percent(p, &stats))
                .unwrap_or(0.0);
            let sample = ResourceSample {
                cpu_percent: cpu,
                memory_bytes: memory_used(&stats),
                memory_limit_bytes: stats
                    .memory_stats
                    .as_ref()
                    .and_then(|m| m.limit)
                    .unwrap_or(0),
                cpu_periods: throttling(&stats).0,
                cpu_throttled_periods: throttling(&stats).1,
            };
            previous = Some(stats);
            Ok(sample)
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::{ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats};

    use super::*;

    fn stats(total: u64, system: u64, online: u32) -> ContainerStatsResponse {
        ContainerStatsResponse {
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(total),
                    ..Default::default()
                }),
                system_cpu_usage: Some(system),
                online_cpus: Some(online),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn one_busy_core_of_two_is_100_percent() {
        // The host's two CPUs ran 2 s in total; the container used 1 s of it.
        let before = stats(0, 0, 2);
        let after = stats(1_000_000_000, 2_000_000_000, 2);
        assert!((cpu_percent(&before, &after) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn an_idle_or_first_sample_is_zero() {
        let same = stats(5, 10, 2);
        assert_eq!(cpu_percent(&same, &same), 0.0);
    }

    #[test]
    fn memory_excludes_the_inactive_file_cache_on_both_cgroup_versions() {
        for key in ["total_inactive_file", "inactive_file"] {
            let sample = ContainerStatsResponse {
                memory_stats: Some(ContainerMemoryStats {
                    usage: Some(100 * 1024 * 1024),
                    limit: Some(256 * 1024 * 1024),
                    stats: Some(HashMap::from([(key.to_string(), 40 * 1024 * 1024)])),
                    ..Default::default()
                }),
                ..Default::default()
            };
            assert_eq!(memory_used(&sample), 60 * 1024 * 1024, "{key}");
        }
    }

    #[test]
    fn memory_percent_is_of_the_limit() {
        let sample = ResourceSample {
            cpu_percent: 0.0,
            memory_bytes: 64,
            memory_limit_bytes: 256,
            cpu_periods: 0,
            cpu_throttled_periods: 0,
        };
        assert_eq!(sample.memory_percent(), 25.0);
    }
}
