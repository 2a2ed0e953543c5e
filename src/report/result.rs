//! The result file: one drill's outcome, times, score and timeline as versioned JSON
//! (`firedrill.result/v1`), written atomically and read back with errors that say where.
//!
//! Fields may be added within v1; a reader ignores the ones it does not know. Removing or
//! changing the meaning of one makes a v2.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::ReportError;
use crate::drill::timeline::{Entry, Event, Outcome, Timeline};
use crate::scenario::model::{ActionSource, Scenario};
use crate::score::{
    Component, Deduction, DiagnosisAttempt, PenaltyMatch, Scorecard, StepResult, Times,
};

/// The `schema` of the result files this firedrill writes and reads.
pub const SCHEMA: &str = "firedrill.result/v1";

/// What the drill runner knows that neither the scenario nor the timeline says.
#[derive(Debug, Clone)]
pub struct RunMeta {
    pub session: String,
    pub trainee: String,
    pub seed: u64,
    pub guided: bool,
    pub fault_injected_at: SystemTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    /// Always [`SCHEMA`].
    pub schema: String,
    pub session: String,
    /// The scenario's id.
    pub scenario: String,
    pub scenario_title: String,
    /// The runbook id the drill was scored against.
    pub runbook: String,
    pub trainee: String,
    pub seed: u64,
    pub guided: bool,
    pub outcome: Outcome,
    /// RFC 3339, UTC, milliseconds: the moment every `*_s` figure counts from.
    pub fault_injected_at: String,
    pub targets: TargetTimes,
    pub times: Times,
    pub diagnosis: DiagnosisSummary,
    pub score: Score,
    pub procedure: Vec<StepResult>,
    /// The scenario penalties that matched an action.
    pub penalties: Vec<PenaltyMatch>,
    pub actions: Vec<ActionRecord>,
    pub alerts: Vec<AlertRecord>,
    /// Every entry of the drill's timeline.
    pub timeline: Vec<Entry>,
}

/// The scenario's targets and time limit, in seconds, so a report needs only the result file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetTimes {
    pub acknowledge_s: f64,
    pub detect_s: f64,
    pub resolve_s: f64,
    pub time_limit_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisSummary {
    /// The runbook ids the scenario accepts.
    pub accepted: Vec<String>,
    /// Every `firedrill diagnose`, in order.
    pub submitted: Vec<DiagnosisAttempt>,
    /// Whether an accepted runbook was submitted.
    pub correct: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    pub total: u32,
    pub grade: char,
    pub components: Vec<Component>,
    pub deductions: Vec<Deduction>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub at: f64,
    pub source: ActionSource,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub at: f64,
    pub state: AlertChange,
    pub alert: String,
    pub severity: String,
    /// What the page said (firing entries only).
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertChange {
    Firing,
    Resolved,
}

impl ResultFile {
    pub fn new(
        meta: RunMeta,
        scenario: &Scenario,
        timeline: &Timeline,
        scorecard: &Scorecard,
    ) -> ResultFile {
        let actions = timeline
            .actions()
            .map(|(at, action)| ActionRecord {
                at,
                source: action.source,
                text: action.text.clone(),
            })
            .collect();
        let alerts = timeline
            .entries
            .iter()
            .filter_map(|entry| match &entry.event {
                Event::AlertFiring {
                    alert,
                    severity,
                    summary,
                } => Some(AlertRecord {
                    at: entry.at,
                    state: AlertChange::Firing,
                    alert: alert.clone(),
                    severity: severity.clone(),
                    summary: Some(summary.clone()),
                }),
                Event::AlertResolved { alert, severity } => Some(AlertRecord {
                    at: entry.at,
                    state: AlertChange::Resolved,
                    alert: alert.clone(),
                    severity: severity.clone(),
                    summary: None,
                }),
                _ => None,
            })
            .collect();
        let targets = &scenario.targets;
        ResultFile {
            schema: SCHEMA.to_string(),
            session: meta.session,
            scenario: scenario.id.clone(),
            scenario_title: scenario.title.clone(),
            runbook: scenario.runbook.clone(),
            trainee: meta.trainee,
            seed: meta.seed,
            guided: meta.guided,
            outcome: scorecard.outcome,
            fault_injected_at: humantime::format_rfc3339_millis(meta.fault_injected_at).to_string(),
            targets: TargetTimes {
                acknowledge_s: targets.acknowledge.as_secs_f64(),
                detect_s: targets.detect.as_secs_f64(),
                resolve_s: targets.resolve.as_secs_f64(),
                time_limit_s: scenario.time_limit.as_secs_f64(),
            },
            times: scorecard.times,
            diagnosis: DiagnosisSummary {
                accepted: scenario.diagnosis.accepted.clone(),
                submitted: scorecard.diagnoses.clone(),
                correct: scorecard.diagnoses.iter().any(|d| d.correct),
            },
            score: Score {
                total: scorecard.total,
                grade: scorecard.grade,
                components: scorecard.components.clone(),
                deductions: scorecard.deductions.clone(),
            },
            procedure: scorecard.procedure.clone(),
            penalties: scorecard.penalties_matched.clone(),
            actions,
            alerts,
            timeline: timeline.entries.clone(),
        }
    }

    /// Pretty JSON, as written to disk.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a result file serialises")
    }
}

/// Writes `<dir>/<session>.json` (creating `dir`) through a temporary file in the same folder
/// renamed over the target, so a reader never sees half a file, even if firedrill is killed.
pub fn write_atomically(dir: &Path, result: &ResultFile) -> io::Result<PathBuf> {
    let session = &result.session;
    if session.is_empty() || session.starts_with('.') || session.contains(['/', '\\']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("session id '{session}' cannot name a result file"),
        ));
    }
    fs::create_dir_all(dir)?;
    let path = dir.join(format!("{session}.json"));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(result.to_json().as_bytes())?;
    file.write_all(b"\n")?;
    file.as_file().sync_all()?;
    file.persist(&path).map_err(|e| e.error)?;
    Ok(path)
}

/// Reads a result file, refusing anything that is not `firedrill.result/v1`.
pub fn read(path: &Path) -> Result<ResultFile, ReportError> {
    let text = fs::read_to_string(path).map_err(|source| ReportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // The schema is checked on the raw value first so that a file of another kind or version
    // is named as such, not blamed for the first field it lacks.
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        let (line, column, reason) = position(&e);
        ReportError::NotJson {
            path: path.to_path_buf(),
            line,
            column,
            reason,
        }
    })?;
    match value.get("schema") {
        Some(serde_json::Value::String(schema)) if schema == SCHEMA => {}
        Some(found) => {
            return Err(ReportError::WrongSchema {
                path: path.to_path_buf(),
                found: found
                    .as_str()
                    .map_or_else(|| found.to_string(), str::to_string),
            })
        }
        None => {
            return Err(ReportError::MissingSchema {
                path: path.to_path_buf(),
            })
        }
    }
    serde_json::from_str(&text).map_err(|e| {
        let (line, column, reason) = position(&e);
        ReportError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            reason,
        }
    })
}

/// Line, column and the message without serde_json's own " at line L column C".
fn position(error: &serde_json::Error) -> (usize, usize, String) {
    let (line, column) = (error.line(), error.column());
    let message = error.to_string();
    let suffix = format!(" at line {line} column {column}");
    let reason = message
        .strip_suffix(&suffix)
        .unwrap_or(&message)
        .to_string();
    (line, column, reason)
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    fn file_with(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("result.json");
        fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_written_result_reads_back_the_same_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("results");
        let result = fixture::resolved();
        let path = write_atomically(&results, &result).unwrap();
        assert_eq!(path, results.join("fd-20231114-ada.json"));
        assert_eq!(read(&path).unwrap(), result);
        let names: Vec<_> = fs::read_dir(&results)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["fd-20231114-ada.json"]);
        write_atomically(&results, &result).expect("an existing result is replaced");
    }

    #[test]
    fn a_session_id_that_is_not_a_file_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut result = fixture::resolved();
        result.session = "../escape".to_string();
        let error = write_atomically(dir.path(), &result).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_file_that_is_not_json_is_named_with_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), "{\n  \"schema\": oops\n}");
        let message = read(&path).unwrap_err().to_string();
        assert_eq!(
            message,
            format!("{}:2:13: not JSON: expected value", path.display())
        );
    }

    #[test]
    fn a_missing_or_other_schema_names_the_expected_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), r#"{"session": "x"}"#);
        assert_eq!(
            read(&path).unwrap_err().to_string(),
            format!(
                "{}: no \"schema\" field; expected \"firedrill.result/v1\" (is it a firedrill \
                 result file?)",
                path.display()
            )
        );
        let path = file_with(dir.path(), r#"{"schema": "firedrill.result/v2"}"#);
        assert_eq!(
            read(&path).unwrap_err().to_string(),
            format!(
                "{}: schema is \"firedrill.result/v2\", expected \"firedrill.result/v1\" \
                 (written by another version of firedrill?)",
                path.display()
            )
        );
    }

    #[test]
    fn a_v1_file_with_a_bad_field_says_which_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let json = fixture::resolved()
            .to_json()
            .replace("\"seed\": 42", "\"seed\": \"forty-two\"");
        let path = file_with(dir.path(), &json);
        assert_eq!(
            read(&path).unwrap_err().to_string(),
            format!(
                "{}:8:21: not a valid firedrill.result/v1 result file: invalid type: string \
                 \"forty-two\", expected u64",
                path.display()
            )
        );
    }

    #[test]
    fn an_unreadable_file_says_which() {
        let message = read(Path::new("/no/such/result.json"))
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("cannot read /no/such/result.json: "),
            "{message}"
        );
    }

    #[test]
    fn the_result_lists_actions_alerts_and_whether_the_diagnosis_was_right() {
        let result = fixture::mitigated();
        let actions: Vec<(f64, &str)> = result
            .actions
            .iter()
            .map(|a| (a.at, a.text.as_str()))
            .collect();
        assert_eq!(actions, [(300.0, "restart"), (600.0, "agentctl status")]);
        let alerts: Vec<(f64, AlertChange)> =
            result.alerts.iter().map(|a| (a.at, a.state)).collect();
        assert_eq!(
            alerts,
            [(38.0, AlertChange::Firing), (330.0, AlertChange::Resolved)]
        );
        assert!(!result.diagnosis.correct);
        assert_eq!(
            result.timeline.len(),
            fixture::mitigated_timeline().entries.len()
        );
    }
}
