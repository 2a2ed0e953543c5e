//! `firedrill check [SCENARIO...]` and `firedrill list`: the scenarios a drill can run, and what
//! is wrong with the others.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::runbook::RunbookFolder;
use crate::scenario::catalog::{self, Loaded};
use crate::scenario::model::Difficulty;

/// Checks the named scenarios (all of the folder when none are named): one `ok` line per valid
/// file, one `path:line:col: message` line per problem; fails when any file has a problem.
/// The runbook folder is checked too: each procedure a scenario names must be there, in the
/// house structure; checking the whole folder, every runbook id must have a scenario.
pub fn check(scenarios: &[String]) -> Result<ExitCode> {
    let whole_folder = scenarios.is_empty();
    let mut loaded = catalog::named_or_all(scenarios)?;
    if loaded.is_empty() {
        println!("no scenario files in {}", catalog::folder().display());
    }
    // Coverage counts every scenario that parsed, even one whose runbook text is missing (that
    // is its own problem, reported at its line).
    let uncovered = catalog::uncovered_runbooks(&loaded);
    let runbooks = RunbookFolder::load(&crate::runbook::folder::folder());
    catalog::check_runbook_anchors(&mut loaded, &runbooks);
    print!("{}", render_check(&loaded));
    let mut runbook_problems: Vec<String> =
        runbooks.problems.iter().map(ToString::to_string).collect();
    if whole_folder {
        runbook_problems.extend(uncovered.into_iter().map(|id| {
            format!(
                "{}: no scenario drills runbook `{id}` ({}); expected at least one",
                catalog::folder().display(),
                crate::runbook::url(id)
            )
        }));
    }
    for problem in &runbook_problems {
        println!("{problem}");
    }
    if runbook_problems.is_empty() {
        println!(
            "ok   runbooks {}: {} procedures",
            runbooks.path.display(),
            runbooks.procedures.len()
        );
    }
    verdict(&loaded)?;
    if !runbook_problems.is_empty() {
        return Err(Error::RunbookProblems {
            count: runbook_problems.len(),
        });
    }
    Ok(ExitCode::SUCCESS)
}

/// Validates scenarios (see [`crate::validate`]), prints the summary and writes the reports.
/// Exit 0 when every check of every scenario passed, 1 when any failed.
pub async fn validate(
    options: crate::validate::ValidateOptions,
    junit: Option<&std::path::Path>,
    json: Option<&std::path::Path>,
) -> Result<ExitCode> {
    let interrupt = crate::interrupt::Interrupt::listen();
    let report = crate::validate::validate(options, &interrupt).await?;
    print!("{}", report.summary());
    if let Some(path) = junit {
        super::write_atomically(path, &report.to_junit(), "writing the JUnit report")?;
    }
    if let Some(path) = json {
        super::write_atomically(path, &report.to_json(), "writing the validation report")?;
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::error::EXIT_FAILED)
    })
}

/// Lists the valid scenarios of the folder; the problems of the others go to stderr.
pub fn list(json: bool) -> Result<ExitCode> {
    let loaded = catalog::all()?;
    let entries: Vec<ListEntry> = loaded
        .iter()
        .filter_map(|(path, result)| {
            let scenario = result.as_ref().ok()?;
            Some(ListEntry {
                id: &scenario.id,
                title: &scenario.title,
                runbook: &scenario.runbook,
                difficulty: scenario.difficulty,
                path: path.display().to_string(),
            })
        })
        .collect();
    for error in loaded
        .iter()
        .filter_map(|(_, result)| result.as_ref().err())
    {
        eprintln!("{error}");
    }
    if json {
        println!("{}", super::to_json(&entries));
    } else if entries.is_empty() {
        println!("no valid scenarios in {}", catalog::folder().display());
    } else {
        print!("{}", render_list(&entries));
    }
    verdict(&loaded)
}

#[derive(Debug, Serialize)]
struct ListEntry<'a> {
    id: &'a str,
    title: &'a str,
    runbook: &'a str,
    difficulty: Difficulty,
    path: String,
}

/// Exit 0 when every file loaded; bad input (2) when any did not.
fn verdict(loaded: &[Loaded]) -> Result<ExitCode> {
    let invalid = loaded.iter().filter(|(_, result)| result.is_err()).count();
    if invalid > 0 {
        return Err(Error::InvalidScenarios {
            invalid,
            total: loaded.len(),
        });
    }
    Ok(ExitCode::SUCCESS)
}

fn render_check(loaded: &[Loaded]) -> String {
    let mut out = String::new();
    for (path, result) in loaded {
        let _ = match result {
            Ok(scenario) => writeln!(
                out,
                "ok   {}  {} ({})",
                path.display(),
                scenario.id,
                scenario.runbook
            ),
            Err(error) => writeln!(out, "{error}"),
        };
    }
    out
}

/// An aligned table: ID, TITLE, RUNBOOK, DIFFICULTY.
fn render_list(entries: &[ListEntry]) -> String {
    let rows: Vec<[&str; 4]> = entries
        .iter()
        .map(|e| [e.id, e.title, e.runbook, difficulty_name(e.difficulty)])
        .collect();
    let header = ["ID", "TITLE", "RUNBOOK", "DIFFICULTY"];
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

fn difficulty_name(difficulty: Difficulty) -> &'static str {
    match difficulty {
        Difficulty::Easy => "easy",
        Difficulty::Medium => "medium",
        Difficulty::Hard => "hard",
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::scenario::load;

    #[test]
    fn check_prints_ok_lines_and_problem_lines() {
        let missing = PathBuf::from("/no/such/x.yaml");
        let shipped = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/memory-leaks.yaml"
        ));
        let loaded = vec![
            (shipped.clone(), load(&shipped)),
            (missing.clone(), load(&missing)),
        ];
        assert_eq!(
            render_check(&loaded),
            format!(
                "ok   {}  memory-leaks (memory-leaks)\n/no/such/x.yaml: cannot read: No such file \
                 or directory (os error 2)\n",
                shipped.display()
            )
        );
        let error = verdict(&loaded).unwrap_err();
        assert_eq!(error.exit_code(), crate::error::EXIT_BAD_INPUT);
        assert_eq!(
            error.to_string(),
            "1 of 2 scenario files invalid (each problem is listed above)"
        );
    }

    #[test]
    fn the_list_is_an_aligned_table() {
        let entries = [
            ListEntry {
                id: "high-cpu-usage",
                title: "A runaway job",
                runbook: "high-cpu-usage",
                difficulty: Difficulty::Easy,
                path: String::new(),
            },
            ListEntry {
                id: "memory-leaks",
                title: "Memory that only grows",
                runbook: "memory-leaks",
                difficulty: Difficulty::Medium,
                path: String::new(),
            },
        ];
        assert_eq!(
            render_list(&entries),
            "\
ID              TITLE                   RUNBOOK         DIFFICULTY
high-cpu-usage  A runaway job           high-cpu-usage  easy
memory-leaks    Memory that only grows  memory-leaks    medium
"
        );
    }
}
