//! The scorecard a trainee sees when the drill ends.

use std::fmt::Write as _;

use super::{measured, target, time_rows, ResultFile};
use crate::drill::timeline::Outcome;
use crate::score;

/// The end-of-drill scorecard: who, how it ended, the score with every lost point, the times
/// against their targets and the runbook steps. ANSI colour only when `color` (the caller
/// decides from `NO_COLOR` and whether stdout is a terminal).
pub fn scorecard(result: &ResultFile, color: bool) -> String {
    let paint = Paint { color };
    let score = &result.score;
    let mut out = String::new();

    let _ = writeln!(
        out,
        "{}",
        paint.tone(
            Tone::Bold,
            &format!("Drill scorecard: {}", result.scenario_title)
        )
    );
    let _ = writeln!(
        out,
        "  scenario  {} (runbook {})",
        result.scenario, result.runbook
    );
    let guided = if result.guided { " (guided)" } else { "" };
    let _ = writeln!(out, "  trainee   {}{guided}", result.trainee);
    let _ = writeln!(out, "  session   {}, seed {}", result.session, result.seed);
    let outcome_tone = match result.outcome {
        Outcome::Resolved => Tone::Good,
        Outcome::Mitigated => Tone::Warn,
        Outcome::TimedOut | Outcome::Aborted => Tone::Bad,
    };
    let _ = writeln!(
        out,
        "  outcome   {}",
        paint.tone(outcome_tone, score::outcome_label(result.outcome))
    );
    let grade_tone = match score.grade {
        'A' | 'B' => Tone::Good,
        'C' | 'D' => Tone::Warn,
        _ => Tone::Bad,
    };
    let _ = writeln!(
        out,
        "  score     {}",
        paint.tone(
            grade_tone,
            &format!("{}/100, grade {}", score.total, score.grade)
        )
    );

    let _ = writeln!(out, "\n{}", paint.tone(Tone::Bold, "Points"));
    for component in &score.components {
        let line = format!(
            "{:<12} {:>3}/{}",
            component.name, component.points, component.max
        );
        let tone = match component.points {
            0 => Tone::Bad,
            points if points == component.max => Tone::Good,
            _ => Tone::Warn,
        };
        let _ = writeln!(out, "  {}", paint.tone(tone, &line));
        for reason in &component.reasons {
            let _ = writeln!(out, "      {reason}");
        }
    }
    if !score.deductions.is_empty() {
        let taken: i32 = score.deductions.iter().map(|d| d.points).sum();
        let line = format!("{:<12} {taken:>3}", "deductions");
        let tone = if taken < 0 { Tone::Bad } else { Tone::Good };
        let _ = writeln!(out, "  {}", paint.tone(tone, &line));
        for deduction in &score.deductions {
            let _ = writeln!(out, "      {:>3}  {}", deduction.points, deduction.reason);
        }
    }

    let _ = writeln!(
        out,
        "\n{}",
        paint.tone(Tone::Bold, "Times (from the fault's injection)")
    );
    for (label, at, goal) in time_rows(result) {
        let at = at.map_or_else(|| "never".to_string(), measured);
        let goal = goal.map(|g| format!("(target {})", target(g)));
        let line = format!("  {label:<12}  {at:<8} {}", goal.unwrap_or_default());
        let _ = writeln!(out, "{}", line.trim_end());
    }

    let _ = writeln!(out, "\n{}", paint.tone(Tone::Bold, "Runbook procedure"));
    for step in &result.procedure {
        let (mark, when) = match step.done_at {
            Some(at) if step.in_order => (paint.tone(Tone::Good, "✓"), score::offset(at)),
            Some(at) => (paint.tone(Tone::Warn, "✓"), score::offset(at)),
            None => (paint.tone(Tone::Bad, "✗"), "not done".to_string()),
        };
        let _ = writeln!(out, "  {mark} {when:<9} {} ({})", step.title, step.id);
        if step.done_at.is_some() && !step.in_order {
            let _ = writeln!(
                out,
                "              out of order: should follow {}",
                step.should_follow.join(", ")
            );
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Tone {
    Bold,
    Good,
    Warn,
    Bad,
}

struct Paint {
    color: bool,
}

impl Paint {
    fn tone(&self, tone: Tone, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match tone {
            Tone::Bold => "1",
            Tone::Good => "32",
            Tone::Warn => "33",
            Tone::Bad => "31",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn a_resolved_drill_shows_every_lost_point_and_the_times_against_their_targets() {
        insta::assert_snapshot!(scorecard(&fixture::resolved(), false));
    }

    #[test]
    fn a_mitigated_drill_shows_the_capped_resolution_and_the_missed_steps() {
        insta::assert_snapshot!(scorecard(&fixture::mitigated(), false));
    }

    #[test]
    fn colour_is_only_added_when_asked_for() {
        let plain = scorecard(&fixture::resolved(), false);
        let coloured = scorecard(&fixture::resolved(), true);
        assert!(!plain.contains('\x1b'));
        assert!(coloured.contains("\x1b[32m"));
        let stripped = coloured
            .split("\x1b[")
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part
                } else {
                    part.split_once('m').unwrap().1
                }
            })
            .collect::<String>();
        assert_eq!(stripped, plain);
    }
}
