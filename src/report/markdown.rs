//! The debrief: a postmortem draft in Markdown that the team edits and files after a drill.

use crate::ui::capitalised;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{describe, measured, source_label, target, ResultFile};
use crate::drill::timeline::{Event, Outcome};
use crate::runbook;
use crate::score::{self, DeductionKind};

/// Title, summary, timeline, what went well and what did not, action items (one per missed
/// step, penalty, slow or missing time, wrong diagnosis and hint) and the score breakdown.
pub fn debrief(result: &ResultFile) -> String {
    let findings = Findings::of(result);
    let mut out = String::new();

    let _ = writeln!(out, "# Drill debrief: {}\n", text(&result.scenario_title));
    let _ = writeln!(
        out,
        "> Postmortem draft written by firedrill for session {}. Edit it before you share it.\n",
        code(&result.session)
    );

    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(
        out,
        "- **Scenario:** {} ({})",
        text(&result.scenario_title),
        code(&result.scenario)
    );
    let _ = writeln!(out, "- **Runbook:** {}", link(&result.runbook));
    let guided = if result.guided { " (guided mode)" } else { "" };
    let _ = writeln!(out, "- **Trainee:** {}{guided}", text(&result.trainee));
    let _ = writeln!(
        out,
        "- **Fault injected:** {} (seed {})",
        result.fault_injected_at, result.seed
    );
    let _ = writeln!(
        out,
        "- **Outcome:** {}",
        score::outcome_label(result.outcome)
    );
    let _ = writeln!(
        out,
        "- **Score:** {}/100, grade {}\n",
        result.score.total, result.score.grade
    );

    let _ = writeln!(out, "## Timeline\n");
    let _ = writeln!(out, "Times are from the fault's injection.\n");
    let _ = writeln!(out, "| time | event |\n|---:|---|");
    for entry in &result.timeline {
        let event = match &entry.event {
            Event::Action(action) => {
                format!("{} {}", source_label(action.source), code(&action.text))
            }
            other => text(&describe(other)),
        };
        let _ = writeln!(out, "| {} | {} |", score::offset(entry.at), cell(&event));
    }

    let sections = [
        (
            "What went well",
            &findings.well,
            "- Nothing stood out this time.",
        ),
        (
            "What did not",
            &findings.not,
            "- Nothing: every point was earned.",
        ),
    ];
    for (title, items, none) in sections {
        let _ = writeln!(out, "\n## {title}\n");
        if items.is_empty() {
            let _ = writeln!(out, "{none}");
        }
        for item in items {
            let _ = writeln!(out, "- {item}");
        }
    }
    let _ = writeln!(out, "\n## Action items\n");
    if findings.todo.is_empty() {
        let _ = writeln!(
            out,
            "- [ ] Nothing from the score; note here what the drill did not test."
        );
    }
    for item in &findings.todo {
        let _ = writeln!(out, "- [ ] {item}");
    }

    let _ = writeln!(out, "\n## Score breakdown\n");
    let _ = writeln!(out, "| part | points | lost points |\n|---|---:|---|");
    for component in &result.score.components {
        let reasons: Vec<String> = component.reasons.iter().map(|r| text(r)).collect();
        let _ = writeln!(
            out,
            "| {} | {}/{} | {} |",
            component.name,
            component.points,
            component.max,
            cell(&reasons.join("<br>"))
        );
    }
    for deduction in &result.score.deductions {
        let _ = writeln!(
            out,
            "| deduction | {} | {} |",
            deduction.points,
            cell(&text(&deduction.reason))
        );
    }
    let _ = writeln!(
        out,
        "| **total** | **{}/100** | grade **{}** |",
        result.score.total, result.score.grade
    );
    out
}

/// The debrief's judgement, each finding already phrased in Markdown.
struct Findings {
    well: Vec<String>,
    not: Vec<String>,
    todo: Vec<String>,
}

impl Findings {
    fn of(result: &ResultFile) -> Findings {
        let mut findings = Findings {
            well: Vec::new(),
            not: Vec::new(),
            todo: Vec::new(),
        };
        findings.acknowledge(result);
        findings.diagnosis(result);
        findings.resolution(result);
        findings.procedure(result);
        findings.deductions(result);
        findings
    }

    fn acknowledge(&mut self, result: &ResultFile) {
        let goal = target(result.targets.acknowledge_s);
        match result.times.acknowledge_s {
            Some(at) if at <= result.targets.acknowledge_s => self.well.push(format!(
                "The page was acknowledged in {} (target {goal}).",
                measured(at)
            )),
            Some(at) => {
                self.not.push(format!(
                    "The page was acknowledged after {}, past the {goal} target.",
                    measured(at)
                ));
                self.todo.push(format!(
                    "Acknowledge pages within {goal}: check that the page reaches the on-call \
                     engineer at once and that acknowledging comes first."
                ));
            }
            None => {
                self.not
                    .push("The page was never acknowledged.".to_string());
                self.todo.push(
                    "Acknowledge every page (`firedrill ack`) so the team knows someone is on it."
                        .to_string(),
                );
            }
        }
    }

    fn diagnosis(&mut self, result: &ResultFile) {
        let runbook = link(&result.runbook);
        let goal = target(result.targets.detect_s);
        let submitted = &result.diagnosis.submitted;
        let first_correct = submitted.iter().position(|d| d.correct);
        match (result.times.detect_s, first_correct) {
            (Some(at), Some(first)) if at <= result.targets.detect_s => {
                self.well.push(format!(
                    "The right runbook ({}) was named in {} (target {goal}).",
                    code(&submitted[first].runbook),
                    measured(at)
                ));
            }
            (Some(at), _) => {
                self.not.push(format!(
                    "The right diagnosis came after {}, past the {goal} target.",
                    measured(at)
                ));
                self.todo.push(format!(
                    "Reach the diagnosis within {goal}: rehearse the Detection section of {runbook}."
                ));
            }
            (None, _) => {
                let accepted: Vec<String> = result
                    .diagnosis
                    .accepted
                    .iter()
                    .map(|id| code(id))
                    .collect();
                self.not.push(format!(
                    "No correct diagnosis was given (accepted: {}).",
                    accepted.join(", ")
                ));
                self.todo.push(format!(
                    "Study the Detection and Investigation sections of {runbook} until the \
                     symptoms point to it."
                ));
            }
        }
        let wrong = &submitted[..first_correct.unwrap_or(submitted.len())];
        if first_correct == Some(0) {
            self.well
                .push("The first diagnosis was the right one.".to_string());
        }
        let mut compared = BTreeSet::new();
        for attempt in wrong {
            self.not.push(format!(
                "Wrong diagnosis {} at {}.",
                code(&attempt.runbook),
                score::offset(attempt.at)
            ));
            if compared.insert(attempt.runbook.as_str()) {
                self.todo.push(format!(
                    "Tell {} and {runbook} apart: compare their Detection sections.",
                    link(&attempt.runbook)
                ));
            }
        }
    }

    fn resolution(&mut self, result: &ResultFile) {
        let runbook = link(&result.runbook);
        let goal = target(result.targets.resolve_s);
        match (result.times.resolve_s, result.outcome) {
            (Some(at), _) if at <= result.targets.resolve_s => self.well.push(format!(
                "Resolved in {} (target {goal}): the root cause is gone and stayed gone.",
                measured(at)
            )),
            (Some(at), _) => {
                self.not.push(format!(
                    "Resolved after {}, past the {goal} target.",
                    measured(at)
                ));
                self.todo.push(format!(
                    "Resolve within {goal}: rehearse the Resolution section of {runbook}."
                ));
            }
            (None, Outcome::Mitigated) => {
                let when = result
                    .times
                    .mitigate_s
                    .map(|at| format!(" at {}", score::offset(at)))
                    .unwrap_or_default();
                self.not.push(format!(
                    "The impact went away{when} but the root cause stayed: a restart only hides it."
                ));
                self.todo.push(format!(
                    "Fix the root cause, not only the symptom: follow the Resolution section of \
                     {runbook}."
                ));
            }
            (None, outcome) => {
                self.not.push(format!(
                    "Not resolved before the drill ended ({}).",
                    score::outcome_label(outcome)
                ));
                self.todo.push(format!(
                    "Rehearse the Resolution section of {runbook} until the fix fits in {goal}."
                ));
            }
        }
    }

    fn procedure(&mut self, result: &ResultFile) {
        let title_of = |id: &str| {
            result
                .procedure
                .iter()
                .find(|step| step.id == id)
                .map_or_else(|| code(id), |step| format!("*{}*", text(&step.title)))
        };
        for step in &result.procedure {
            let title = format!("*{}*", text(&step.title));
            match step.done_at {
                Some(at) if step.in_order => self
                    .well
                    .push(format!("Done in order: {title} ({}).", score::offset(at))),
                Some(at) => {
                    let before: Vec<String> =
                        step.should_follow.iter().map(|id| title_of(id)).collect();
                    let before = before.join(", ");
                    self.not.push(format!(
                        "{title} was done at {}, before {before}, which it should follow.",
                        score::offset(at)
                    ));
                    self.todo.push(format!(
                        "Do {title} only after {before}, in the runbook's order."
                    ));
                }
                None => {
                    self.not.push(format!("Missed step: {title}."));
                    self.todo.push(format!(
                        "Practise the missed step {title} ({}).",
                        link(&result.runbook)
                    ));
                }
            }
        }
    }

    fn deductions(&mut self, result: &ResultFile) {
        for penalty in &result.penalties {
            self.not.push(format!(
                "{}: {} at {} cost {} points.",
                text(&penalty.title),
                code(&penalty.action),
                score::offset(penalty.at),
                penalty.points
            ));
            self.todo.push(format!(
                "Do not repeat {} ({}): find the step of {} that does the job safely.",
                code(&penalty.action),
                text(&penalty.title),
                link(&result.runbook)
            ));
        }
        if !result.guided {
            let mut seen = BTreeSet::new();
            for entry in &result.timeline {
                if let Event::HintShown { index, text: hint } = &entry.event {
                    if seen.insert(*index) {
                        self.not
                            .push(format!("Hint {} was needed: “{}”", index + 1, text(hint)));
                        self.todo.push(format!(
                            "Learn what hint {} gave away, so the next drill needs none.",
                            index + 1
                        ));
                    }
                }
            }
        }
        for deduction in &result.score.deductions {
            let todo = match deduction.kind {
                // Said above, with the hint's text and the penalised action.
                DeductionKind::Hint | DeductionKind::Penalty => continue,
                DeductionKind::DataLoss => {
                    "Find a fix that keeps the data: nothing on the agent's volume is disposable."
                }
                DeductionKind::ContainerDestroyed => {
                    "Fix the agent in place: this drill does not allow removing or recreating \
                     its container."
                }
                DeductionKind::ChangeBudget => {
                    "Make the change without hurting the clients: check the traffic's error \
                     rate and latency before, during and after each step."
                }
                DeductionKind::Aborted => "Run the drill again, to the end.",
            };
            self.not
                .push(format!("{}.", capitalised(&text(&deduction.reason))));
            self.todo.push(todo.to_string());
        }
        // An aborted drill lists no deductions but its abort, so it cannot vouch for itself.
        let harmful = result.outcome == Outcome::Aborted
            || !result.penalties.is_empty()
            || result.score.deductions.iter().any(|d| {
                matches!(
                    d.kind,
                    DeductionKind::DataLoss
                        | DeductionKind::ContainerDestroyed
                        | DeductionKind::ChangeBudget
                )
            });
        if !harmful {
            self.well.push(
                "No harmful or needless action: no penalty, no data lost, the container kept."
                    .to_string(),
            );
        }
    }
}

/// `[`id`](runbooks/<file>#<id>)`.
fn link(runbook: &str) -> String {
    format!("[{}]({})", code(runbook), runbook::url(runbook))
}

/// Plain text with the characters Markdown would read as formatting escaped.
fn text(plain: &str) -> String {
    let mut escaped = String::with_capacity(plain.len());
    for c in plain.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A code span, fenced with two backticks when the text holds one.
fn code(literal: &str) -> String {
    if literal.contains('`') {
        format!("`` {literal} ``")
    } else {
        format!("`{literal}`")
    }
}

/// Markdown made safe for a table cell: pipes escaped (GFM honours that even in code spans),
/// one line.
fn cell(markdown: &str) -> String {
    markdown.replace('|', "\\|").replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn the_debrief_of_a_resolved_drill_reads_as_a_postmortem_draft() {
        insta::assert_snapshot!(debrief(&fixture::resolved()));
    }

    #[test]
    fn the_debrief_of_a_mitigated_drill_has_an_action_item_per_miss() {
        let debrief = debrief(&fixture::mitigated());
        let todo = debrief
            .split("## Action items")
            .nth(1)
            .and_then(|rest| rest.split("## Score breakdown").next())
            .unwrap();
        for item in [
            "Acknowledge pages within 2m",
            "Study the Detection and Investigation sections",
            "Fix the root cause, not only the symptom",
            "Practise the missed step *List the jobs",
            "Practise the missed step *Cancel the job",
            "Do *Check the agent's health and metrics* only after *Cancel the job",
            "Do not repeat `restart`",
        ] {
            assert!(todo.contains(item), "no action item {item:?} in:\n{todo}");
        }
        assert_eq!(todo.matches("- [ ]").count(), 7);
    }

    #[test]
    fn table_cells_keep_pipes_and_markdown_characters_literal() {
        assert_eq!(cell(&text("a | b*c*")), "a \\| b\\*c\\*");
        assert_eq!(cell(&code("grep a|b")), "`grep a\\|b`");
        assert_eq!(code("echo `date`"), "`` echo `date` ``");
    }
}
