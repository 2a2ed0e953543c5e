//! Merge consecutive RUN instructions of a stage into one, chained with `&&`: one layer
//! instead of several, and files a later RUN deletes no longer linger in an earlier layer.
//!
//! Merging must not change what the commands do, so it only joins RUNs that:
//! - are shell form without flags or heredocs (`--mount` and friends apply per RUN);
//! - chain their commands with `&&` only (with `;` or `||` an earlier failure would no
//!   longer fail the build);
//! - are not followed by another RUN after a top-level `cd`/`export`/... (separate RUNs start
//!   from a fresh shell; a merged one would carry that state over).
//!
//! Stages that change the SHELL are left alone. Comments between merged RUNs move above
//! the merged RUN; blank lines between them go.

use super::{instruction_at, Category, Change};
use crate::optimizer::parser::{Dockerfile, Instruction, Item};
use crate::optimizer::shell::RunCommand;

pub(crate) fn merge_runs(dockerfile: &mut Dockerfile) -> Vec<Change> {
    let shell_changed = stages_with_shell(dockerfile);
    let mut changes = Vec::new();
    let old_items = std::mem::take(&mut dockerfile.items);
    let mut items: Vec<Item> = Vec::with_capacity(old_items.len());
    let mut stage = 0usize;
    let mut index = 0;
    while index < old_items.len() {
        if let Item::Instruction(instruction) = &old_items[index] {
            if instruction.is("FROM") {
                stage += 1;
            }
        }
        let group = if shell_changed.contains(&stage) {
            vec![index]
        } else {
            mergeable_group(&old_items, index)
        };
        if group.len() < 2 {
            items.push(old_items[index].clone());
            index += 1;
            continue;
        }
        let last = *group.last().expect("group has at least two RUNs");
        let mut merged: Option<RunCommand> = None;
        let mut lines = Vec::new();
        for item in &old_items[index..=last] {
            match item {
                Item::Trivia(text) if !text.trim().is_empty() => items.push(item.clone()),
                Item::Trivia(_) => {}
                Item::Instruction(run) => {
                    lines.push(run.line);
                    let command =
                        RunCommand::parse(&run.args).expect("only parseable RUNs are grouped");
                    match merged.as_mut() {
                        Some(merged) => merged.append(command),
                        None => merged = Some(command),
                    }
                }
            }
        }
        let merged = merged.expect("group has RUNs");
        let first_line = lines.iter().copied().find(|&line| line > 0).unwrap_or(0);
        let mut instruction = Instruction::synthetic("RUN", merged.logical());
        instruction.line = first_line;
        items.push(Item::Instruction(instruction));
        let line_list = lines
            .iter()
            .map(|line| {
                if *line == 0 {
                    "added".to_string()
                } else {
                    line.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        changes.push(Change {
            rule: "merge-run",
            line: first_line,
            category: Category::Layers,
            problem: format!(
                "{} consecutive RUN instructions (lines {line_list}) each add a layer",
                lines.len()
            ),
            fix: format!(
                "merged {} consecutive RUN instructions (lines {line_list}) into one layer",
                lines.len()
            ),
            applied: true,
        });
        index = last + 1;
    }
    dockerfile.items = items;
    changes
}

/// Item indices of the RUNs that can merge starting at `start` (just `start` if none can).
fn mergeable_group(items: &[Item], start: usize) -> Vec<usize> {
    let Some(first) = mergeable(items, start) else {
        return vec![start];
    };
    let mut group = vec![start];
    let mut carries_state = first.changes_shell_state();
    let mut next = start + 1;
    while !carries_state {
        while matches!(items.get(next), Some(Item::Trivia(_))) {
            next += 1;
        }
        let Some(run) = mergeable(items, next) else {
            break;
        };
        carries_state = run.changes_shell_state();
        group.push(next);
        next += 1;
    }
    group
}

fn mergeable(items: &[Item], index: usize) -> Option<RunCommand> {
    let Some(Item::Instruction(instruction)) = items.get(index) else {
        return None;
    };
    if !instruction.is("RUN") || instruction.heredoc.is_some() {
        return None;
    }
    RunCommand::parse(&instruction.args).filter(|run| run.flags.is_empty() && run.is_and_chain())
}

/// 1-based numbers of the stages that contain a SHELL instruction.
fn stages_with_shell(dockerfile: &Dockerfile) -> Vec<usize> {
    let mut stage = 0;
    let mut found = Vec::new();
    for index in 0..dockerfile.items.len() {
        if let Some(instruction) = instruction_at(dockerfile, index) {
            if instruction.is("FROM") {
                stage += 1;
            } else if instruction.is("SHELL") {
                found.push(stage);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use crate::optimizer::optimize;

    const USER: &str = "USER app\n";

    #[test]
    fn consecutive_runs_become_one_with_comments_moved_above() {
        let text = format!("FROM alpine:3.19\nRUN apk add --no-cache git\n# fetch sources\n\nRUN git clone https://example.com/r.git /src\nrun make -C /src\nCOPY x /x\nRUN echo done\n{USER}");
        let result = optimize(&text).unwrap();
        assert_eq!(
            result.optimized_dockerfile,
            format!("FROM alpine:3.19\n# fetch sources\nRUN apk add --no-cache git && \\\n    git clone https://example.com/r.git /src && \\\n    make -C /src\nCOPY x /x\nRUN echo done\n{USER}")
        );
        assert_eq!(result.layer_optimizations.len(), 1);
        assert_eq!(result.layer_optimizations[0].rule, "merge-run");
        assert_eq!(result.layer_optimizations[0].line, 2);
        assert_eq!((result.original_layers, result.optimized_layers), (5, 3));
    }

    #[test]
    fn runs_that_would_change_meaning_are_not_merged() {
        for text in [
            // `;` would hide the failure of the first command.
            "FROM alpine:3.19\nRUN false; true\nRUN echo\nUSER app\n",
            // `cd` would carry into the next RUN.
            "FROM alpine:3.19\nRUN cd /tmp && echo\nRUN ls\nUSER app\n",
            // per-RUN flags and exec form.
            "FROM alpine:3.19\nRUN --network=none echo\nRUN echo\nRUN [\"ls\"]\nUSER app\n",
            // another shell.
            "FROM mcr.microsoft.com/powershell:7.4-ubuntu-22.04\nSHELL [\"pwsh\", \"-c\"]\nRUN Write-Host a\nRUN Write-Host b\nUSER app\n",
            // different stages.
            "FROM alpine:3.19 AS a\nRUN echo a\nFROM alpine:3.19\nRUN echo b\nUSER app\n",
        ] {
            assert_eq!(optimize(text).unwrap().optimized_dockerfile, text, "{text}");
        }
    }

    #[test]
    fn a_stateful_run_may_close_a_group() {
        let result = optimize(
            "FROM alpine:3.19\nRUN mkdir /w\nRUN cd /w && \\\n    touch f\nRUN ls\nUSER app\n",
        )
        .unwrap();
        assert_eq!(
            result.optimized_dockerfile,
            "FROM alpine:3.19\nRUN mkdir /w && \\\n    cd /w && \\\n    touch f\nRUN ls\nUSER app\n"
        );
    }
}
