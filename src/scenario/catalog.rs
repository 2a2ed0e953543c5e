//! The scenarios folder, and how a SCENARIO argument names a file in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::load::{load, problem_in_file, ScenarioError};
use super::model::Scenario;
use crate::error::{Error, Result};
use crate::runbook::RunbookFolder;

/// Points firedrill at a team's own scenarios folder.
pub const FOLDER_ENV: &str = "FIREDRILL_SCENARIOS";

/// A scenario file as it loaded: the scenario, or every problem it has.
pub type Loaded = (PathBuf, Result<Scenario, ScenarioError>);

/// `$FIREDRILL_SCENARIOS`, else `scenarios/` in the current directory, else the folder this
/// build came from, so `cargo run` finds the shipped scenarios from anywhere.
pub fn folder() -> PathBuf {
    if let Some(folder) = std::env::var_os(FOLDER_ENV).filter(|f| !f.is_empty()) {
        return PathBuf::from(folder);
    }
    let local = PathBuf::from("scenarios");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))
}

/// The file a SCENARIO argument names: a path when it exists or looks like one (ends in .yaml
/// or .yml), else an id of the scenarios folder.
pub fn resolve(argument: &str) -> Result<PathBuf> {
    let path = Path::new(argument);
    if path.exists() || is_scenario_file(path) {
        return Ok(path.to_path_buf());
    }
    let folder = folder();
    let files = files(&folder)?;
    files
        .iter()
        .find(|file| stem(file) == argument)
        .cloned()
        .ok_or_else(|| Error::UnknownScenario {
            name: argument.to_string(),
            folder,
            known: files.iter().map(|f| stem(f)).collect::<Vec<_>>().join(", "),
        })
}

/// Every scenario file of the folder, in name order, each loaded, with ids checked across them.
pub fn all() -> Result<Vec<Loaded>> {
    Ok(load_all(files(&folder())?))
}

/// The scenarios SCENARIO arguments name (paths or ids), each loaded; every scenario of the
/// folder when there are none.
pub fn named_or_all(arguments: &[String]) -> Result<Vec<Loaded>> {
    if arguments.is_empty() {
        return all();
    }
    let paths = arguments
        .iter()
        .map(|argument| resolve(argument))
        .collect::<Result<Vec<_>>>()?;
    Ok(load_all(paths))
}

/// `paths` loaded, with ids checked across them: each file after the first with an id fails.
pub fn load_all(paths: Vec<PathBuf>) -> Vec<Loaded> {
    let mut loaded: Vec<Loaded> = paths
        .into_iter()
        .map(|path| {
            let scenario = load(&path);
            (path, scenario)
        })
        .collect();
    let mut first_with: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (path, result) in &mut loaded {
        let Ok(scenario) = result else { continue };
        match first_with.get(&scenario.id) {
            Some(first) => {
                let message = format!(
                    "id `{}` is also the id of {}; expected ids unique across scenarios",
                    scenario.id,
                    first.display()
                );
                *result = Err(ScenarioError {
                    path: path.clone(),
                    problems: vec![problem_in_file(path, "id", message)],
                });
            }
            None => {
                first_with.insert(scenario.id.clone(), path.clone());
            }
        }
    }
    loaded
}

/// Fails each loaded scenario that names a runbook procedure (`runbook`, `diagnosis.accepted`)
/// the runbook folder does not hold, at the key that names it.
pub fn check_runbook_anchors(loaded: &mut [Loaded], runbooks: &RunbookFolder) {
    for (path, result) in loaded.iter_mut() {
        let Ok(scenario) = result else { continue };
        let named = std::iter::once(("runbook".to_string(), &scenario.runbook)).chain(
            scenario
                .diagnosis
                .accepted
                .iter()
                .enumerate()
                .filter(|(_, id)| **id != scenario.runbook)
                .map(|(i, id)| (format!("diagnosis.accepted[{i}]"), id)),
        );
        let problems: Vec<_> = named
            .filter(|(_, id)| runbooks.procedure(id).is_none())
            .map(|(key, id)| {
                let file = crate::runbook::file_of(id).unwrap_or("index.md");
                let message = format!(
                    "runbook `{id}` has no procedure in {}; expected a `## ` heading whose \
                     anchor is `{id}` there",
                    runbooks.path.join(file).display()
                );
                problem_in_file(path, &key, message)
            })
            .collect();
        if !problems.is_empty() {
            *result = Err(ScenarioError {
                path: path.clone(),
                problems,
            });
        }
    }
}

/// The runbook ids no valid scenario of `loaded` drills, in the index's order.
pub fn uncovered_runbooks(loaded: &[Loaded]) -> Vec<&'static str> {
    crate::runbook::ids()
        .filter(|id| {
            !loaded
                .iter()
                .any(|(_, result)| result.as_ref().is_ok_and(|s| s.runbook == *id))
        })
        .collect()
}

/// The scenario files directly in `folder` (runbook texts and other files are not scenarios).
fn files(folder: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(folder).map_err(|source| Error::Io {
        action: "reading the scenarios folder",
        path: folder.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && is_scenario_file(path))
        .collect();
    files.sort();
    Ok(files)
}

fn is_scenario_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext == "yaml" || ext == "yml")
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_scenarios_load_and_have_unique_ids() {
        let shipped = files(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))).unwrap();
        assert!(shipped.len() >= 2, "{shipped:?}");
        for (path, result) in load_all(shipped) {
            if let Err(error) = result {
                panic!("{} does not load:\n{error}", path.display());
            }
        }
    }

    #[test]
    fn a_second_file_with_an_id_fails_at_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let original = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/high-cpu-usage.yaml"
        ));
        let copy = dir.path().join("high-cpu-usage.yaml");
        std::fs::copy(original, &copy).unwrap();
        let loaded = load_all(vec![original.to_path_buf(), copy.clone()]);
        assert!(loaded[0].1.is_ok());
        let error = loaded[1].1.as_ref().unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{}:1:5: id `high-cpu-usage` is also the id of {}; expected ids unique across \
                 scenarios",
                copy.display(),
                original.display()
            )
        );
    }
}
