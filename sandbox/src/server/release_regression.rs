//! The regression shipped in release 1.5.0 (bad-release drills roll back from it).
//!
//! 1.5.0 added a pre-pass that resolves `COPY --from=<stage>` references before the cache lookup.
//! It is slow on every `/optimize` (about [`ADDED_LATENCY`]) and it indexes the stage list off by
//! one, so every multi-stage Dockerfile (a third of the traffic's corpus) fails with a 500 whose
//! message is the panic it caught. 1.3.0 and 1.4.2 do not have the pass.

use std::time::Duration;

/// The release with the regression.
pub const REGRESSED_RELEASE: &str = "1.5.0";

/// What the 1.5.0 stage pre-pass costs on every `/optimize`.
pub const ADDED_LATENCY: Duration = Duration::from_millis(300);

/// What the stage pre-pass does to one `/optimize` request of release `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StagePrePass {
    /// The release has no pre-pass.
    Absent,
    /// The pre-pass ran (slowly) and found nothing wrong.
    Passed,
    /// The pre-pass crashed: the request fails with this internal error.
    Crashed(String),
}

/// Runs 1.5.0's stage pre-pass over `dockerfile` (a no-op on other releases).
pub fn stage_pre_pass(version: &str, dockerfile: &str) -> StagePrePass {
    if version != REGRESSED_RELEASE {
        return StagePrePass::Absent;
    }
    let stages = dockerfile
        .lines()
        .filter(|line| {
            line.trim_start()
                .get(..5)
                .is_some_and(|word| word.eq_ignore_ascii_case("FROM "))
        })
        .count();
    let copy_from = dockerfile.lines().find_map(|line| {
        line.split_whitespace()
            .find_map(|word| word.strip_prefix("--from="))
            .map(str::to_string)
    });
    match copy_from {
        // The off-by-one: the final stage is looked up at index `stages` in a list of `stages`.
        Some(stage) if stages > 1 => StagePrePass::Crashed(format!(
            "internal error: optimizer panicked at 'index out of bounds: the len is {stages} but \
             the index is {stages}' while resolving COPY --from={stage}"
        )),
        _ => StagePrePass::Passed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SINGLE_STAGE: &str = "FROM python:3.11\nRUN pip install flask\n";
    const MULTI_STAGE: &str = "FROM golang:1.22 AS build\nRUN go build -o /app .\n\n\
                               FROM alpine:3.19\nCOPY --from=build /app /app\n";

    #[test]
    fn releases_without_the_regression_skip_the_pre_pass() {
        for version in ["1.3.0", "1.4.2"] {
            assert_eq!(stage_pre_pass(version, MULTI_STAGE), StagePrePass::Absent);
            assert_eq!(stage_pre_pass(version, SINGLE_STAGE), StagePrePass::Absent);
        }
    }

    #[test]
    fn release_1_5_0_crashes_on_multi_stage_dockerfiles_only() {
        assert_eq!(stage_pre_pass("1.5.0", SINGLE_STAGE), StagePrePass::Passed);
        let StagePrePass::Crashed(message) = stage_pre_pass("1.5.0", MULTI_STAGE) else {
            panic!("a multi-stage Dockerfile crashes the 1.5.0 pre-pass");
        };
        assert_eq!(
            message,
            "internal error: optimizer panicked at 'index out of bounds: the len is 2 but the \
             index is 2' while resolving COPY --from=build"
        );
    }

    #[test]
    fn about_a_third_of_the_traffic_corpus_fails_on_1_5_0() {
        let corpus = crate::assets::corpus();
        let failing: Vec<&str> = corpus
            .iter()
            .filter(|(_, dockerfile)| {
                matches!(
                    stage_pre_pass("1.5.0", dockerfile),
                    StagePrePass::Crashed(_)
                )
            })
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(
            failing,
            [
                "go-distroless",
                "go-old-alpine",
                "java-spring",
                "node-next-good",
                "react-nginx-multistage"
            ],
            "of {} corpus files",
            corpus.len()
        );
    }
}
