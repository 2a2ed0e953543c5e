//! The runbook texts: a folder of Markdown files (the shipped `scenarios/runbooks/`, or a team's
//! own, `$FIREDRILL_RUNBOOKS`), read for what firedrill relies on: each procedure of the index
//! under a `## ` heading whose anchor is its id, the six parts of the house structure as `### `
//! headings, and the expected time to resolution stated in its Overview.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::RUNBOOK_FILES;

/// Points firedrill at a team's own runbook folder.
pub const FOLDER_ENV: &str = "FIREDRILL_RUNBOOKS";

/// The six parts of every procedure, in order.
pub const SECTIONS: [&str; 6] = [
    "Overview",
    "Detection",
    "Initial Response",
    "Investigation",
    "Resolution",
    "Prevention",
];

/// The Overview line that states the procedure's expected time to resolution.
const EXPECTED_TIME: &str = "**Expected time to resolution:**";

/// `$FIREDRILL_RUNBOOKS`, else `runbooks/` in the scenarios folder.
pub fn folder() -> PathBuf {
    match std::env::var_os(FOLDER_ENV).filter(|f| !f.is_empty()) {
        Some(folder) => PathBuf::from(folder),
        None => crate::scenario::catalog::folder().join("runbooks"),
    }
}

/// One procedure as its file writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Procedure {
    pub id: String,
    pub path: PathBuf,
    /// 1-based line of its `## ` heading.
    pub line: usize,
    /// Its `### ` headings, in order.
    pub sections: Vec<String>,
    /// From the Overview's expected-time line.
    pub expected_resolution: Option<Duration>,
}

/// A problem of a runbook file, at its line (0 for the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookProblem {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for RunbookProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.path.display(), self.message),
            line => write!(f, "{}:{line}: {}", self.path.display(), self.message),
        }
    }
}

/// The runbook folder as read: the procedures of the index found in their files, and every
/// problem (a missing file or procedure, a part missing or out of order, no expected time).
#[derive(Debug, Clone, Default)]
pub struct RunbookFolder {
    pub path: PathBuf,
    pub procedures: Vec<Procedure>,
    pub problems: Vec<RunbookProblem>,
}

impl RunbookFolder {
    pub fn load(folder: &Path) -> RunbookFolder {
        let mut read = RunbookFolder {
            path: folder.to_path_buf(),
            ..RunbookFolder::default()
        };
        for (file, ids) in RUNBOOK_FILES {
            let path = folder.join(file);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(error) => {
                    read.problems.push(RunbookProblem {
                        path,
                        line: 0,
                        message: format!(
                            "cannot read the runbook file ({error}); expected the procedures {} \
                             in it",
                            ids.join(", ")
                        ),
                    });
                    continue;
                }
            };
            let procedures = parse(&path, &text);
            for id in ids {
                match procedures.iter().find(|p| p.id == id) {
                    Some(procedure) => {
                        read.problems.extend(structure_problems(procedure));
                        read.procedures.push(procedure.clone());
                    }
                    None => read.problems.push(RunbookProblem {
                        path: path.clone(),
                        line: 0,
                        message: format!(
                            "no procedure `{id}`; expected a `## ` heading whose anchor is \
                             `{id}` (e.g. `## {}`)",
                            title_of(id)
                        ),
                    }),
                }
            }
        }
        read
    }

    pub fn procedure(&self, id: &str) -> Option<&Procedure> {
        self.procedures.iter().find(|p| p.id == id)
    }
}

/// Every `## ` section of a Markdown text as a procedure (code blocks skipped).
fn parse(path: &Path, text: &str) -> Vec<Procedure> {
    let mut procedures: Vec<Procedure> = Vec::new();
    let mut in_code = false;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(heading) = line.strip_prefix("## ") {
            procedures.push(Procedure {
                id: anchor(heading),
                path: path.to_path_buf(),
                line: index + 1,
                sections: Vec::new(),
                expected_resolution: None,
            });
        } else if let Some(procedure) = procedures.last_mut() {
            if let Some(section) = line.strip_prefix("### ") {
                procedure.sections.push(section.trim().to_string());
            } else if let Some(rest) = trimmed.strip_prefix(EXPECTED_TIME) {
                procedure.expected_resolution = humantime::parse_duration(rest.trim()).ok();
            }
        }
    }
    procedures
}

fn structure_problems(procedure: &Procedure) -> Vec<RunbookProblem> {
    let mut problems = Vec::new();
    let at = |message: String| RunbookProblem {
        path: procedure.path.clone(),
        line: procedure.line,
        message,
    };
    let same = procedure.sections.len() == SECTIONS.len()
        && procedure
            .sections
            .iter()
            .zip(SECTIONS)
            .all(|(found, expected)| found.eq_ignore_ascii_case(expected));
    if !same {
        problems.push(at(format!(
            "procedure `{}` has the parts [{}]; expected [{}]",
            procedure.id,
            procedure.sections.join(", "),
            SECTIONS.join(", ")
        )));
    }
    if procedure.expected_resolution.is_none() {
        problems.push(at(format!(
            "procedure `{}` states no expected time to resolution; expected a line \
             `{EXPECTED_TIME} 15 minutes` in its Overview",
            procedure.id
        )));
    }
    problems
}

/// The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces as hyphens.
pub fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// `High cpu usage` for `high-cpu-usage`: a heading that gets the id as its anchor.
fn title_of(id: &str) -> String {
    crate::ui::capitalised(&id.replace('-', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROCEDURE: &str = "## High CPU usage\n\n### Overview\nText.\n\n\
        **Expected time to resolution:** 15 minutes\n\n### Detection\n### Initial Response\n\
        ```sh\n## not a heading\n```\n### Investigation\n### Resolution\n### Prevention\n";

    #[test]
    fn anchors_are_githubs() {
        assert_eq!(anchor("High CPU usage"), "high-cpu-usage");
        assert_eq!(
            anchor("Security scanner failures "),
            "security-scanner-failures"
        );
        assert_eq!(anchor("Rollback (releases)"), "rollback-releases");
    }

    #[test]
    fn a_procedure_has_its_parts_and_expected_time() {
        let procedures = parse(Path::new("incident-response.md"), PROCEDURE);
        assert_eq!(procedures.len(), 1, "a heading in a code block is not one");
        let procedure = &procedures[0];
        assert_eq!(procedure.id, "high-cpu-usage");
        assert_eq!(procedure.line, 1);
        assert_eq!(procedure.sections, SECTIONS);
        assert_eq!(
            procedure.expected_resolution,
            Some(Duration::from_secs(900))
        );
        assert!(structure_problems(procedure).is_empty());
    }

    #[test]
    fn missing_parts_and_times_are_problems_at_the_heading() {
        let text = PROCEDURE
            .replace("### Investigation\n", "")
            .replace("15 minutes", "soon");
        let procedure = &parse(Path::new("x.md"), &text)[0];
        let problems: Vec<String> = structure_problems(procedure)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            [
                "x.md:1: procedure `high-cpu-usage` has the parts [Overview, Detection, Initial \
                 Response, Resolution, Prevention]; expected [Overview, Detection, Initial \
                 Response, Investigation, Resolution, Prevention]",
                "x.md:1: procedure `high-cpu-usage` states no expected time to resolution; \
                 expected a line `**Expected time to resolution:** 15 minutes` in its Overview"
            ]
        );
    }

    #[test]
    fn a_folder_names_each_missing_file_and_procedure() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("incident-response.md"), PROCEDURE).unwrap();
        let folder = RunbookFolder::load(dir.path());
        assert_eq!(folder.procedures.len(), 1);
        assert!(folder.procedure("high-cpu-usage").is_some());
        let messages: Vec<String> = folder.problems.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 3 + 3, "{messages:#?}");
        assert!(messages[0].ends_with(
            "incident-response.md: no procedure `memory-leaks`; expected a `## ` heading whose \
             anchor is `memory-leaks` (e.g. `## Memory leaks`)"
        ));
        assert!(messages[3].contains("maintenance.md: cannot read the runbook file"));
    }

    #[test]
    fn the_shipped_runbooks_hold_every_procedure() {
        let shipped = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/runbooks"));
        let folder = RunbookFolder::load(shipped);
        let problems: Vec<String> = folder.problems.iter().map(ToString::to_string).collect();
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(folder.procedures.len(), 16);
    }
}
