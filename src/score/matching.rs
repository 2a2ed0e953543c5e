//! Matching the trainee's actions against the scenario's procedure steps and penalties.

use regex::Regex;

use super::{PenaltyMatch, StepResult};
use crate::drill::timeline::{Action, Timeline};
use crate::scenario::model::{ActionMatcher, ActionSource, PenaltySpec, ProcedureStep};

/// One `{ <source>: <regex> }` pair, compiled once per scoring.
struct Matcher {
    source: ActionSource,
    /// `None` when the pattern does not compile: scoring cannot fail, and refusing such a
    /// scenario is the loader's job, so the pair simply matches nothing.
    pattern: Option<Regex>,
}

impl Matcher {
    fn compile(any_of: &[ActionMatcher]) -> Vec<Matcher> {
        any_of
            .iter()
            .flatten()
            .map(|(source, pattern)| Matcher {
                source: *source,
                pattern: Regex::new(pattern).ok(),
            })
            .collect()
    }

    fn matches(&self, action: &Action) -> bool {
        action.source == self.source
            && self
                .pattern
                .as_ref()
                .is_some_and(|pattern| pattern.is_match(&action.text))
    }
}

/// The first action from the fault's injection on that any of `any_of` matches and `counts`
/// accepts (by its time).
fn first_match(
    any_of: &[ActionMatcher],
    timeline: &Timeline,
    counts: impl Fn(f64) -> bool,
) -> Option<(f64, Action)> {
    let matchers = Matcher::compile(any_of);
    timeline
        .matchable_actions()
        .filter(|(at, _)| *at >= 0.0 && counts(*at))
        .find(|(_, action)| matchers.iter().any(|m| m.matches(action)))
}

/// Each step at the first matching action after every step of its `after` list (those come
/// earlier in the procedure, so they are settled first); when no such action exists, at its
/// first matching action, out of order. So evidence looked at again after the fix (a verify
/// step) counts, even if the same command was run before it.
pub(super) fn procedure(steps: &[ProcedureStep], timeline: &Timeline) -> Vec<StepResult> {
    let mut results: Vec<StepResult> = Vec::with_capacity(steps.len());
    for step in steps {
        let done_at = |id: &str| {
            results
                .iter()
                .find(|done| done.id == id)
                .and_then(|done| done.done_at)
        };
        let prerequisites: Option<f64> = step
            .after
            .iter()
            .map(|id| done_at(id))
            .try_fold(f64::NEG_INFINITY, |latest, at| at.map(|at| latest.max(at)));
        let in_order_at = prerequisites.and_then(|after| {
            first_match(&step.any_of, timeline, |at| at > after).map(|(at, _)| at)
        });
        let at =
            in_order_at.or_else(|| first_match(&step.any_of, timeline, |_| true).map(|(at, _)| at));
        let should_follow: Vec<String> = match (at, in_order_at) {
            (Some(at), None) => step
                .after
                .iter()
                .filter(|id| done_at(id).is_none_or(|before| before >= at))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        results.push(StepResult {
            id: step.id.clone(),
            title: step.title.clone(),
            done_at: at,
            in_order: in_order_at.is_some(),
            weight: step.weight,
            should_follow,
        });
    }
    results
}

/// The penalties that matched, each at its first matching action that counts: an action after
/// every step of the penalty's `unless_after` (as `procedure` found them) does not.
pub(super) fn penalties(
    penalties: &[PenaltySpec],
    procedure: &[StepResult],
    timeline: &Timeline,
) -> Vec<PenaltyMatch> {
    let done_at = |id: &str| {
        procedure
            .iter()
            .find(|step| step.id == id)
            .and_then(|step| step.done_at)
    };
    penalties
        .iter()
        .filter_map(|penalty| {
            let harmless_after = penalty
                .unless_after
                .iter()
                .map(|id| done_at(id))
                .try_fold(f64::NEG_INFINITY, |latest, at| at.map(|at| latest.max(at)));
            let counts = |at: f64| {
                penalty.unless_after.is_empty() || harmless_after.is_none_or(|after| at <= after)
            };
            first_match(&penalty.any_of, timeline, counts).map(|(at, action)| PenaltyMatch {
                id: penalty.id.clone(),
                title: penalty.title.clone(),
                points: penalty.points,
                at,
                action: action.text.clone(),
            })
        })
        .collect()
}
