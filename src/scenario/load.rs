//! Reading a scenario file: YAML into the model, then validation. Every problem names its
//! `path:line:col`: serde_yaml knows where its own errors are, and [`YamlText`] finds where a
//! value that parsed but makes no sense is written.

use std::fmt;
use std::path::{Path, PathBuf};

use super::model::Scenario;
use super::validate;

/// Why a scenario file cannot be used: every problem found in it, each where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

/// One thing wrong in a scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// `None` when the file could not be read at all.
    pub at: Option<Location>,
    pub message: String,
}

/// A place in a file, both numbers from 1, the column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for ScenarioError {
    /// One line per problem: `path:line:col: message`, or `path: message` without a place.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            match problem.at {
                Some(at) => write!(f, "{path}:{}:{}: {}", at.line, at.column, problem.message)?,
                None => write!(f, "{path}: {}", problem.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// Reads, parses and validates the scenario at `path`: a scenario that loads is one a drill can
/// run.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.to_path_buf(),
        problems: vec![Problem {
            at: None,
            message: format!("cannot read: {e}"),
        }],
    })?;
    parse(path, &text)
}

/// [`load`] of `text`, as if read from `path` (whose stem must be the scenario's id).
pub(crate) fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let error = |problems| ScenarioError {
        path: path.to_path_buf(),
        problems,
    };
    let scenario: Scenario =
        serde_yaml::from_str(text).map_err(|e| error(vec![yaml_problem(&e)]))?;
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let problems = validate::validate(&scenario, &stem, &YamlText::new(text));
    if problems.is_empty() {
        Ok(scenario)
    } else {
        Err(error(problems))
    }
}

/// A problem found after `path` loaded (e.g. across several files), placed at `key_path`.
pub(crate) fn problem_in_file(path: &Path, key_path: &str, message: String) -> Problem {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    YamlText::new(&text).problem(key_path, message)
}

/// serde_yaml's message without its own ` at line L column C`, which the problem's place says.
fn yaml_problem(error: &serde_yaml::Error) -> Problem {
    let message = error.to_string();
    let Some(at) = error.location() else {
        // Only an empty document has no place: it ends before the scenario starts.
        return Problem {
            at: Some(Location { line: 1, column: 1 }),
            message: format!(
                "{message}; expected a scenario (a mapping with id, title, runbook, ...)"
            ),
        };
    };
    let suffix = format!(" at line {} column {}", at.line(), at.column());
    Problem {
        at: Some(Location {
            line: at.line(),
            column: at.column(),
        }),
        message: message.replacen(&suffix, "", 1),
    }
}

/// The text of a YAML file, searched for where a value sits by its key path, e.g.
/// `procedure[2].any_of[0].exec`. It follows block and flow style as scenario files use them
/// (no anchors, no multi-document files); a path it cannot follow to the end gives the place of
/// the deepest part it found, so a problem is never placed at random.
pub(crate) struct YamlText {
    lines: Vec<Vec<char>>,
}

/// A line and a column, both from 0, the column in characters.
type Pos = (usize, usize);

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A key or sequence item found: where it is written, and where its value starts (`None` for an
/// empty value).
struct Node {
    at: Pos,
    value: Option<Pos>,
}

impl YamlText {
    pub(crate) fn new(text: &str) -> YamlText {
        YamlText {
            lines: text.lines().map(|line| line.chars().collect()).collect(),
        }
    }

    pub(crate) fn problem(&self, key_path: &str, message: impl Into<String>) -> Problem {
        Problem {
            at: Some(self.locate(key_path)),
            message: message.into(),
        }
    }

    /// Where the value at `key_path` starts (or its key, when the value is empty).
    pub(crate) fn locate(&self, key_path: &str) -> Location {
        let mut found = self.root().unwrap_or((0, 0));
        let mut value = self.root();
        for step in steps(key_path) {
            let Some(at) = value else { break };
            let node = match step {
                Step::Key(key) => self.key(at, key),
                Step::Index(index) => self.item(at, index),
            };
            let Some(node) = node else { break };
            found = node.value.unwrap_or(node.at);
            value = node.value;
        }
        Location {
            line: found.0 + 1,
            column: found.1 + 1,
        }
    }

    fn char_at(&self, (line, column): Pos) -> Option<char> {
        self.lines.get(line)?.get(column).copied()
    }

    fn root(&self) -> Option<Pos> {
        let line = (0..self.lines.len()).find(|&l| {
            let text: String = self.lines[l].iter().collect();
            let text = text.trim();
            !text.is_empty() && !text.starts_with('#') && text != "---"
        })?;
        Some((line, indent(&self.lines[line])))
    }

    /// The first line from `line` on with something other than blanks and comments.
    fn content_line_from(&self, line: usize) -> Option<usize> {
        (line..self.lines.len()).find(|&l| {
            let text = &self.lines[l];
            text.get(indent(text)).is_some_and(|&c| c != '#')
        })
    }

    /// Whether a block sequence item (`- `) starts at `at`.
    fn is_item(&self, (line, column): Pos) -> bool {
        self.char_at((line, column)) == Some('-')
            && self
                .char_at((line, column + 1))
                .is_none_or(char::is_whitespace)
    }

    /// The entry `key` of the mapping whose first key (or opening brace) is at `at`.
    fn key(&self, at: Pos, key: &str) -> Option<Node> {
        if self.char_at(at) == Some('{') {
            return self.flow_entries(at).into_iter().find_map(|entry| {
                let (name, colon) = self.key_at(entry)?;
                (name == key).then(|| Node {
                    at: entry,
                    value: self.flow_value_after(colon),
                })
            });
        }
        if self.char_at(at) == Some('[') || self.is_item(at) {
            return None;
        }
        let column = at.1;
        let mut candidates = vec![at];
        let mut line = at.0 + 1;
        while let Some(l) = self.content_line_from(line) {
            let here = indent(&self.lines[l]);
            if here < column {
                break;
            }
            // A sequence may sit at its key's indentation; its items are not keys.
            if here == column && !self.is_item((l, here)) {
                candidates.push((l, here));
            }
            line = l + 1;
        }
        candidates.into_iter().find_map(|entry| {
            let (name, colon) = self.key_at(entry)?;
            (name == key).then(|| Node {
                at: entry,
                value: self.block_value_after(colon, column),
            })
        })
    }

    /// Item `index` of the sequence whose first `- ` (or opening bracket) is at `at`.
    fn item(&self, at: Pos, index: usize) -> Option<Node> {
        if self.char_at(at) == Some('[') {
            let entry = *self.flow_entries(at).get(index)?;
            return Some(Node {
                at: entry,
                value: Some(entry),
            });
        }
        if !self.is_item(at) {
            return None;
        }
        let column = at.1;
        let mut items = vec![at];
        let mut line = at.0 + 1;
        while let Some(l) = self.content_line_from(line) {
            let here = indent(&self.lines[l]);
            if here < column || (here == column && !self.is_item((l, here))) {
                break;
            }
            if here == column {
                items.push((l, here));
            }
            line = l + 1;
        }
        let dash = *items.get(index)?;
        Some(Node {
            at: dash,
            value: self.block_value_after(dash, column),
        })
    }

    /// The key written at `at` and the place of its colon, if a key is written there.
    fn key_at(&self, at: Pos) -> Option<(String, Pos)> {
        let line = &self.lines[at.0];
        let start = at.1;
        if let Some(quote @ ('"' | '\'')) = line.get(start).copied() {
            let close = (start + 1..line.len()).find(|&c| line[c] == quote)?;
            let colon = (close + 1..line.len()).find(|&c| !line[c].is_whitespace())?;
            return (line[colon] == ':')
                .then(|| (line[start + 1..close].iter().collect(), (at.0, colon)));
        }
        for c in start..line.len() {
            match line[c] {
                ':' if line.get(c + 1).is_none_or(|n| n.is_whitespace()) => {
                    let key: String = line[start..c].iter().collect();
                    let key = key.trim_end().to_string();
                    return (!key.is_empty()).then_some((key, (at.0, c)));
                }
                ',' | '{' | '}' | '[' | ']' => return None,
                '#' if c > start && line[c - 1].is_whitespace() => return None,
                _ => {}
            }
        }
        None
    }

    /// Where the value after a block key's colon (or an item's dash) at `after` starts: on the
    /// same line, or on the next line with content when that is indented deeper than `column`
    /// (or is a sequence at the same indentation, which YAML allows under a key).
    fn block_value_after(&self, after: Pos, column: usize) -> Option<Pos> {
        let line = &self.lines[after.0];
        match (after.1 + 1..line.len()).find(|&c| !line[c].is_whitespace()) {
            Some(c) if line[c] != '#' => Some((after.0, c)),
            _ => self.value_below(after.0, column),
        }
    }

    fn value_below(&self, line: usize, column: usize) -> Option<Pos> {
        let next = self.content_line_from(line + 1)?;
        let here = indent(&self.lines[next]);
        (here > column || (here == column && self.is_item((next, here)))).then_some((next, here))
    }

    /// Where the value after a flow key's colon at `colon` starts; `None` when it is empty.
    fn flow_value_after(&self, colon: Pos) -> Option<Pos> {
        let mut pos = (colon.0, colon.1 + 1);
        loop {
            match self.char_at(pos) {
                Some(c) if c.is_whitespace() => pos.1 += 1,
                Some(',' | '}') => return None,
                Some(_) => return Some(pos),
                None => pos = (self.content_line_from(pos.0 + 1)?, 0),
            }
        }
    }

    /// Where each entry of the flow collection opened at `open` starts, in order.
    fn flow_entries(&self, open: Pos) -> Vec<Pos> {
        let mut entries = Vec::new();
        let mut depth = 0usize;
        let mut expecting_entry = false;
        let mut quote: Option<char> = None;
        // A quote opens a quoted scalar only where a scalar starts, not inside `it's`.
        let mut previous = ',';
        let (mut line, mut column) = open;
        while let Some(text) = self.lines.get(line) {
            while column < text.len() {
                let c = text[column];
                column += 1;
                if let Some(open_quote) = quote {
                    match c {
                        '\\' if open_quote == '"' => column += 1,
                        '\'' if open_quote == '\'' && text.get(column) == Some(&'\'') => {
                            column += 1
                        }
                        _ if c == open_quote => {
                            quote = None;
                            previous = c;
                        }
                        _ => {}
                    }
                    continue;
                }
                if c.is_whitespace() {
                    continue;
                }
                if c == '#' && (column == 1 || text[column - 2].is_whitespace()) {
                    break;
                }
                if depth == 1 && expecting_entry && !matches!(c, '}' | ']') {
                    entries.push((line, column - 1));
                }
                expecting_entry = false;
                match c {
                    '{' | '[' => {
                        depth += 1;
                        expecting_entry = depth == 1;
                    }
                    '}' | ']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return entries;
                        }
                    }
                    ',' => expecting_entry = depth == 1,
                    '"' | '\'' if matches!(previous, '{' | '[' | ',' | ':') => quote = Some(c),
                    _ => {}
                }
                previous = c;
            }
            line += 1;
            column = 0;
        }
        entries
    }
}

fn indent(line: &[char]) -> usize {
    line.iter().take_while(|c| **c == ' ').count()
}

/// `faults[0].params.rate` as keys and indexes.
fn steps(key_path: &str) -> Vec<Step<'_>> {
    let mut steps = Vec::new();
    for part in key_path.split('.').filter(|p| !p.is_empty()) {
        let (name, indexes) = part.split_once('[').unwrap_or((part, ""));
        if !name.is_empty() {
            steps.push(Step::Key(name));
        }
        steps.extend(
            indexes
                .split(['[', ']'])
                .filter_map(|i| i.parse().ok())
                .map(Step::Index),
        );
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK_AND_FLOW: &str = "\
# a comment
id: demo
briefing: |
  id: not a key
  kind: nor this
faults:
  - kind: cpu-runaway
    onset: { after: 20s, within: 40s }
  - onset:
      after: 1m
    kind: memory-leak
    params:
      rate_mib_s: 9
alerts:
  expected: [AgentHighCpu, 'Agent,Odd', AgentHighMemory]
procedure:
  - id: look
    any_of:
    - { exec: \"^top\" }
    - {http: 'GET /metrics', firedrill: ack}
    after: []
targets: {
  acknowledge: 2m,
  detect: 5m }
empty:
";

    fn at(path: &str) -> (usize, usize) {
        let location = YamlText::new(BLOCK_AND_FLOW).locate(path);
        (location.line, location.column)
    }

    #[test]
    fn block_keys_and_items_are_found_by_their_path() {
        assert_eq!(at("id"), (2, 5));
        assert_eq!(at("faults[0].kind"), (7, 11));
        assert_eq!(at("faults[1].kind"), (11, 11));
        assert_eq!(at("faults[1].onset.after"), (10, 14));
        assert_eq!(at("faults[1].params.rate_mib_s"), (13, 19));
        assert_eq!(at("procedure[0].id"), (17, 9));
    }

    #[test]
    fn flow_collections_are_followed_across_quotes_and_lines() {
        assert_eq!(at("faults[0].onset.within"), (8, 34));
        assert_eq!(at("alerts.expected[0]"), (15, 14));
        assert_eq!(at("alerts.expected[2]"), (15, 41));
        assert_eq!(at("procedure[0].any_of[0].exec"), (19, 15));
        assert_eq!(at("procedure[0].any_of[1].firedrill"), (20, 41));
        assert_eq!(at("targets.detect"), (24, 11));
    }

    #[test]
    fn a_path_that_ends_early_gives_its_deepest_part() {
        // `stability` is not written: the place of what holds it.
        assert_eq!(at("targets.stability"), (22, 10));
        assert_eq!(at("faults[5].kind"), (7, 3));
        // An empty value is placed at its key.
        assert_eq!(at("empty"), (25, 1));
        assert_eq!(at("empty.deeper"), (25, 1));
        assert_eq!(at("procedure[0].after[0]"), (21, 12));
    }

    #[test]
    fn syntax_and_type_errors_keep_the_place_serde_yaml_gives() {
        let error = parse(
            Path::new("x.yaml"),
            "id: demo\ntitle: \"unclosed\nrunbook: x\n",
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "x.yaml:4:1: found unexpected end of stream, while scanning a quoted scalar at line 2 \
             column 8"
        );
        let error = parse(Path::new("x.yaml"), "id: demo\ntitle: [a]\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "x.yaml:2:8: title: invalid type: sequence, expected a string"
        );
        let error = parse(Path::new("x.yaml"), "id: demo\nprocedur: []\n").unwrap_err();
        assert_eq!(error.problems[0].at, Some(Location { line: 2, column: 1 }));
        assert!(
            error
                .to_string()
                .starts_with("x.yaml:2:1: unknown field `procedur`, expected one of `id`, `title`"),
            "{error}"
        );
        let error = parse(Path::new("x.yaml"), "").unwrap_err();
        assert_eq!(error.problems[0].at, Some(Location { line: 1, column: 1 }));
    }

    #[test]
    fn an_unreadable_file_says_so_without_a_place() {
        let error = load(Path::new("/no/such/dir/x.yaml")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("/no/such/dir/x.yaml: cannot read: "),
            "{error}"
        );
    }
}
