//! Which request to send next: mostly optimisations of sample Dockerfiles (a small corpus, so
//! repeats hit the agent's cache as in production), some analyses, a health check now and then.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::outcome::Endpoint;

/// Out of 100 requests: 75 optimisations, 20 analyses, 5 health checks.
const OPTIMIZE_PERCENT: u32 = 75;
const ANALYZE_PERCENT: u32 = 20;

/// One request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    pub endpoint: Endpoint,
    /// The Dockerfile of an optimisation or analysis; `None` for a health check.
    pub dockerfile: Option<&'static str>,
}

pub struct RequestMix {
    corpus: Vec<&'static str>,
    rng: StdRng,
}

impl RequestMix {
    /// A mix over `corpus` (name, Dockerfile); `seed` makes the sequence reproducible.
    /// With an empty corpus only health checks can be sent.
    pub fn new(corpus: &[(&'static str, &'static str)], seed: Option<u64>) -> RequestMix {
        RequestMix {
            corpus: corpus.iter().map(|(_, dockerfile)| *dockerfile).collect(),
            rng: match seed {
                Some(seed) => StdRng::seed_from_u64(seed),
                None => StdRng::from_os_rng(),
            },
        }
    }

    pub fn next_request(&mut self) -> PlannedRequest {
        let roll = self.rng.random_range(0..100);
        let endpoint = if roll < OPTIMIZE_PERCENT {
            Endpoint::Optimize
        } else if roll < OPTIMIZE_PERCENT + ANALYZE_PERCENT {
            Endpoint::Analyze
        } else {
            Endpoint::Health
        };
        if endpoint == Endpoint::Health || self.corpus.is_empty() {
            return PlannedRequest {
                endpoint: Endpoint::Health,
                dockerfile: None,
            };
        }
        let dockerfile = self.corpus[self.rng.random_range(0..self.corpus.len())];
        PlannedRequest {
            endpoint,
            dockerfile: Some(dockerfile),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORPUS: [(&str, &str); 2] = [
        ("node", "FROM node:18\nCOPY . .\n"),
        ("python", "FROM python:3.11\nRUN pip install flask\n"),
    ];

    fn sample(mix: &mut RequestMix, n: usize) -> Vec<PlannedRequest> {
        (0..n).map(|_| mix.next_request()).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let first = sample(&mut RequestMix::new(&CORPUS, Some(7)), 50);
        let second = sample(&mut RequestMix::new(&CORPUS, Some(7)), 50);
        assert_eq!(first, second);
    }

    #[test]
    fn mostly_optimisations_with_some_analyses_and_health_checks() {
        let requests = sample(&mut RequestMix::new(&CORPUS, Some(1)), 2000);
        let share = |endpoint| requests.iter().filter(|r| r.endpoint == endpoint).count();
        assert!((1300..1700).contains(&share(Endpoint::Optimize)));
        assert!((250..550).contains(&share(Endpoint::Analyze)));
        assert!((30..180).contains(&share(Endpoint::Health)));
        assert!(requests
            .iter()
            .all(|r| (r.endpoint == Endpoint::Health) == r.dockerfile.is_none()));
    }

    #[test]
    fn an_empty_corpus_sends_only_health_checks() {
        let requests = sample(&mut RequestMix::new(&[], Some(1)), 20);
        assert!(requests.iter().all(|r| r.endpoint == Endpoint::Health));
    }
}
