//! Which request to send next: mostly optimisations of sample Dockerfiles (a small corpus, so
//! repeats hit the agent's cache as in production), some analyses, a health check now and then.
//! A share of the Dockerfiles are fresh revisions never seen before, as CI pipelines produce, so
//! the agent keeps scanning: without them the cache would soon answer everything and a broken
//! scanner would go unnoticed by the traffic, which production never allows.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::outcome::Endpoint;

/// Out of 100 requests: 75 optimisations, 20 analyses, 5 health checks.
const OPTIMIZE_PERCENT: u32 = 75;
const ANALYZE_PERCENT: u32 = 20;
/// Out of 100 optimisations or analyses, how many carry a fresh revision (a cache miss).
const FRESH_PERCENT: u32 = 20;

/// One request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    pub endpoint: Endpoint,
    /// The Dockerfile of an optimisation or analysis; `None` for a health check.
    pub dockerfile: Option<String>,
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
        let mut dockerfile = self.corpus[self.rng.random_range(0..self.corpus.len())].to_string();
        if self.rng.random_range(0..100) < FRESH_PERCENT {
            let revision: u64 = self.rng.random();
            dockerfile.push_str(&format!(
                "\nLABEL org.opencontainers.image.revision=\"{revision:016x}\"\n"
            ));
        }
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
    fn a_share_of_the_dockerfiles_are_fresh_revisions() {
        let requests = sample(&mut RequestMix::new(&CORPUS, Some(3)), 2000);
        let with_dockerfile: Vec<&String> = requests
            .iter()
            .filter_map(|r| r.dockerfile.as_ref())
            .collect();
        let fresh = with_dockerfile
            .iter()
            .filter(|d| d.contains("org.opencontainers.image.revision"))
            .count();
        let share = fresh as f64 / with_dockerfile.len() as f64;
        assert!((0.15..0.25).contains(&share), "{share}");
        let unique: std::collections::HashSet<&&String> = with_dockerfile.iter().collect();
        assert!(unique.len() >= fresh, "every fresh revision is distinct");
    }

    #[test]
    fn an_empty_corpus_sends_only_health_checks() {
        let requests = sample(&mut RequestMix::new(&[], Some(1)), 20);
        assert!(requests.iter().all(|r| r.endpoint == Endpoint::Health));
    }
}
