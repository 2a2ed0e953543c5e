//! The monitor: samplers that read a sandbox ([`sampler`], [`scrape`]), the alert rules
//! ([`RuleSet`]), the state machine that turns samples into pages ([`AlertEngine`]), the
//! renderings of its output (console line, JSONL, Alertmanager webhook, Prometheus rule file),
//! the sinks that deliver pages ([`sinks`]) and the loop that ties them ([`watch`]).
//!
//! Only `sampler`, `sinks` and `watch` do I/O. The engine reads no clock: samplers stamp each
//! [`Sample`] with its time and `for` durations are measured with those stamps, so a drill
//! replays the same way in a test.

pub mod alertmanager;
pub mod engine;
pub mod export;
pub mod render;
pub mod rules;
pub mod sampler;
mod scrape;
pub mod signal;
pub mod sinks;
pub mod watch;

pub use engine::{Alert, AlertEngine, AlertEvent, AlertEventKind, AlertState};
pub use rules::{Comparison, Rule, RuleError, RuleGroup, RuleOverride, RuleSet, Severity};
pub use signal::{Sample, Signal};

use std::time::SystemTime;

/// RFC 3339 in UTC with milliseconds, the precision Alertmanager itself prints.
fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// Serde helpers writing [`SystemTime`]s as RFC 3339 strings.
mod rfc3339_serde {
    use std::time::SystemTime;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(at: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::rfc3339(*at))
    }

    pub mod option {
        use std::time::SystemTime;

        use serde::Serializer;

        pub fn serialize<S: Serializer>(
            at: &Option<SystemTime>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, serializer),
                None => serializer.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn times_are_utc_rfc3339_with_milliseconds() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        assert_eq!(super::rfc3339(at), "2023-11-14T22:13:20.250Z");
    }
}
