//! The change budget of a task drill: the live client traffic's error rate and p95 latency may
//! not pass the scenario's limits while the trainee makes the change. Pure: the drill runner
//! feeds it each sample taken after the injection, and tells it when the drill ends.
//!
//! Each excursion over a limit is two events: where it crossed (the moment it cost points) and,
//! once it is over, the worst value it reached (what the debrief tells the trainee the change
//! cost the clients: a stop that began at 1.7 % errors may have ended at 40 %).

use super::timeline::Event;
use crate::monitor::{Sample, Signal};
use crate::scenario::model::ChangeBudget;

/// Watches each limit: two events per excursion over it.
#[derive(Debug, Clone)]
pub struct BudgetWatch {
    limits: Vec<Limit>,
}

#[derive(Debug, Clone)]
struct Limit {
    metric: &'static str,
    signal: Signal,
    limit: f64,
    /// The worst value of the excursion under way, if one is.
    excursion: Option<f64>,
}

impl BudgetWatch {
    pub fn new(budget: &ChangeBudget) -> BudgetWatch {
        let error_rate = budget.error_rate.map(|limit| Limit {
            metric: "error rate %",
            signal: Signal::ErrorRatePercent,
            limit,
            excursion: None,
        });
        let p95 = budget.p95.map(|p95| Limit {
            metric: "p95 s",
            signal: Signal::ResponseTimeP95Seconds,
            limit: p95.as_secs_f64(),
            excursion: None,
        });
        BudgetWatch {
            limits: error_rate.into_iter().chain(p95).collect(),
        }
    }

    /// The excursions `sample` begins (a limit it breaks that the sample before did not) and
    /// ends (back within a limit).
    pub fn observe(&mut self, sample: &Sample) -> Vec<Event> {
        let mut events = Vec::new();
        for limit in &mut self.limits {
            let Some(value) = sample.get(limit.signal) else {
                continue;
            };
            match (value > limit.limit, limit.excursion) {
                (true, None) => {
                    events.push(Event::ChangeBudgetExceeded {
                        metric: limit.metric.to_string(),
                        value: rounded(value),
                        limit: limit.limit,
                    });
                    limit.excursion = Some(value);
                }
                (true, Some(worst)) => limit.excursion = Some(worst.max(value)),
                (false, Some(_)) => events.extend(limit.end_excursion()),
                (false, None) => {}
            }
        }
        events
    }

    /// The excursions still under way when the drill ends.
    pub fn finish(&mut self) -> Vec<Event> {
        self.limits
            .iter_mut()
            .filter_map(Limit::end_excursion)
            .collect()
    }
}

impl Limit {
    fn end_excursion(&mut self) -> Option<Event> {
        let worst = self.excursion.take()?;
        Some(Event::ChangeBudgetExcursionEnded {
            metric: self.metric.to_string(),
            worst: rounded(worst),
            limit: self.limit,
        })
    }
}

fn rounded(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
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
    fn each_excursion_over_a_limit_is_where_it_crossed_and_its_worst() {
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
            watch.observe(&sample(41.666, 0.5)).is_empty(),
            "still the same excursion"
        );
        assert!(watch.observe(&sample(20.0, 0.5)).is_empty());
        assert_eq!(
            watch.observe(&sample(1.0, 0.5)),
            vec![Event::ChangeBudgetExcursionEnded {
                metric: "error rate %".into(),
                worst: 41.67,
                limit: 2.0
            }]
        );
        assert_eq!(
            watch.observe(&sample(3.0, 3.5)).len(),
            2,
            "a new excursion, and the p95"
        );
        assert_eq!(
            watch.finish(),
            vec![
                Event::ChangeBudgetExcursionEnded {
                    metric: "error rate %".into(),
                    worst: 3.0,
                    limit: 2.0
                },
                Event::ChangeBudgetExcursionEnded {
                    metric: "p95 s".into(),
                    worst: 3.5,
                    limit: 3.0
                }
            ],
            "the drill's end ends the excursions under way"
        );
        assert!(watch.finish().is_empty());
    }

    #[test]
    fn a_budget_without_a_limit_watches_nothing() {
        let mut watch = BudgetWatch::new(&ChangeBudget::default());
        assert!(watch.observe(&sample(100.0, 60.0)).is_empty());
    }
}
