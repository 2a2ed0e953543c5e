//! The change budget of a task drill: the live client traffic's error rate and p95 latency may
//! not pass the scenario's limits while the trainee makes the change. Pure: the drill runner
//! feeds it each sample taken after the injection.

use super::timeline::Event;
use crate::monitor::{Sample, Signal};
use crate::scenario::model::ChangeBudget;

/// Watches each limit, one event per excursion over it.
#[derive(Debug, Clone)]
pub struct BudgetWatch {
    limits: Vec<Limit>,
}

#[derive(Debug, Clone)]
struct Limit {
    metric: &'static str,
    signal: Signal,
    limit: f64,
    over: bool,
}

impl BudgetWatch {
    pub fn new(budget: &ChangeBudget) -> BudgetWatch {
        let error_rate = budget.error_rate.map(|limit| Limit {
            metric: "error rate %",
            signal: Signal::ErrorRatePercent,
            limit,
            over: false,
        });
        let p95 = budget.p95.map(|p95| Limit {
            metric: "p95 s",
            signal: Signal::ResponseTimeP95Seconds,
            limit: p95.as_secs_f64(),
            over: false,
        });
        BudgetWatch {
            limits: error_rate.into_iter().chain(p95).collect(),
        }
    }

    /// The limits `sample` breaks that it did not break the sample before.
    pub fn observe(&mut self, sample: &Sample) -> Vec<Event> {
        let mut events = Vec::new();
        for limit in &mut self.limits {
            let Some(value) = sample.get(limit.signal) else {
                continue;
            };
            let over = value > limit.limit;
            if over && !limit.over {
                events.push(Event::ChangeBudgetExceeded {
                    metric: limit.metric.to_string(),
                    value: (value * 100.0).round() / 100.0,
                    limit: limit.limit,
                });
            }
            limit.over = over;
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn sample(error_rate: f64, p95: f64) -> Sample {
        Sample::new(SystemTime::UNIX_EPOCH)
            .with(Signal::ErrorRatePercent, error_rate)
            .with(Signal::ResponseTimeP95Seconds, p95)
    }

    #[test]
    fn each_excursion_over_a_limit_is_one_event() {
        let mut watch = BudgetWatch::new(&ChangeBudget {
            error_rate: Some(2.0),
            p95: Some(Duration::from_secs(3)),
        });
        assert!(watch.observe(&sample(1.0, 0.5)).is_empty());
        let events = watch.observe(&sample(4.256, 0.5));
        assert_eq!(
            events,
            vec![Event::ChangeBudgetExceeded {
                metric: "error rate %".into(),
                value: 4.26,
                limit: 2.0
            }]
        );
        assert!(
            watch.observe(&sample(5.0, 0.5)).is_empty(),
            "still the same excursion"
        );
        assert!(watch.observe(&sample(1.0, 0.5)).is_empty());
        assert_eq!(
            watch.observe(&sample(3.0, 3.5)).len(),
            2,
            "a new excursion, and the p95"
        );
    }

    #[test]
    fn a_budget_without_a_limit_watches_nothing() {
        let mut watch = BudgetWatch::new(&ChangeBudget::default());
        assert!(watch.observe(&sample(100.0, 60.0)).is_empty());
    }
}
