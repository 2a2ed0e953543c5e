//! A small line-based Dockerfile parser that keeps enough of the original text to write the
//! file back out: untouched instructions and comments are reproduced byte for byte, only the
//! instructions a rule rewrites are re-rendered.
//!
//! What it understands: `\` continuations (or the character of a `# escape=` directive),
//! comment and blank lines inside a continuation (Docker drops them), heredocs
//! (`RUN <<EOF ... EOF`, never rewritten) and `FROM image [AS name]` stages.
//! [`parse`] never fails, so the scanner can read whatever it is given; [`validate`] adds the
//! checks the optimizer needs before it rewrites anything.

use super::DockerfileError;

/// Larger inputs are refused: no real Dockerfile comes close, and the agent keeps inputs in memory.
pub const MAX_DOCKERFILE_BYTES: usize = 256 * 1024;

/// Every instruction keyword Docker knows.
const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// A parsed Dockerfile: instructions and the comment/blank lines around them, in order.
#[derive(Debug, Clone)]
pub(crate) struct Dockerfile {
    pub items: Vec<Item>,
    /// The line-continuation character (`\` unless a `# escape=` directive says otherwise).
    pub escape: char,
}

#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// A comment or blank line outside any instruction, kept verbatim.
    Trivia(String),
    Instruction(Instruction),
}

#[derive(Debug, Clone)]
pub(crate) struct Instruction {
    /// 1-based line of the instruction's first physical line; 0 for instructions a rule added.
    pub line: usize,
    /// Upper-cased keyword (`RUN`, `FROM`, ...).
    pub keyword: String,
    /// Arguments with continuations joined into one line (single spaces at the joins).
    pub args: String,
    /// The original text (all physical lines), or `None` once a rule rewrote the instruction.
    pub original: Option<String>,
    /// Heredoc marker if the instruction carries a heredoc body; such instructions are never rewritten.
    pub heredoc: Option<String>,
    /// Set when the heredoc's terminator never came (the rest of the file was taken as its body).
    pub heredoc_unterminated: bool,
}

impl Instruction {
    /// An instruction a rule adds (rendered from `keyword` and `args`).
    pub fn synthetic(keyword: &str, args: impl Into<String>) -> Instruction {
        Instruction {
            line: 0,
            keyword: keyword.to_string(),
            args: args.into(),
            original: None,
            heredoc: None,
            heredoc_unterminated: false,
        }
    }

    pub fn is(&self, keyword: &str) -> bool {
        self.keyword == keyword
    }
}

impl Dockerfile {
    pub fn instructions(&self) -> impl Iterator<Item = &Instruction> {
        self.items.iter().filter_map(|item| match item {
            Item::Instruction(instruction) => Some(instruction),
            Item::Trivia(_) => None,
        })
    }

    /// Number of instructions that add a filesystem layer (RUN, COPY, ADD), over all stages.
    pub fn layer_count(&self) -> usize {
        self.instructions()
            .filter(|i| matches!(i.keyword.as_str(), "RUN" | "COPY" | "ADD"))
            .count()
    }

    /// Writes the file back out; always ends with a newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for item in &self.items {
            match item {
                Item::Trivia(line) => out.push_str(line),
                Item::Instruction(instruction) => match &instruction.original {
                    Some(original) => out.push_str(original),
                    None => out.push_str(&render_instruction(instruction, self.escape)),
                },
            }
            out.push('\n');
        }
        out
    }
}

/// Renders a rewritten instruction. RUN commands chained with `&&` get one command per line,
/// the layout people use by hand for long RUNs.
fn render_instruction(instruction: &Instruction, escape: char) -> String {
    if instruction.is("RUN") {
        if let Some(run) = super::shell::RunCommand::parse(&instruction.args) {
            return format!("RUN {}", run.render(escape));
        }
    }
    format!("{} {}", instruction.keyword, instruction.args)
}

/// Parses `text`; never fails (see the module docs).
pub(crate) fn parse(text: &str) -> Dockerfile {
    let lines: Vec<&str> = text.lines().collect();
    let escape = escape_directive(&lines).unwrap_or('\\');
    let mut items = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let first = lines[index];
        let trimmed = first.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            items.push(Item::Trivia(first.to_string()));
            index += 1;
            continue;
        }
        let start = index;
        let mut logical = String::new();
        let mut current = first;
        loop {
            let (content, continues) = strip_continuation(current, escape);
            let content = if logical.is_empty() {
                content.trim()
            } else {
                content.trim_start()
            };
            if !content.is_empty() {
                if !logical.is_empty() && !logical.ends_with(' ') {
                    logical.push(' ');
                }
                logical.push_str(content.trim_end());
            }
            if !continues {
                break;
            }
            index += 1;
            // Docker ignores comment and empty lines inside a continued instruction.
            while index < lines.len() && is_skippable_in_continuation(lines[index]) {
                index += 1;
            }
            if index >= lines.len() {
                break;
            }
            current = lines[index];
        }
        index += 1;
        let (keyword, args) = split_keyword(&logical);
        let mut instruction = Instruction {
            line: start + 1,
            keyword,
            args,
            original: None,
            heredoc: None,
            heredoc_unterminated: false,
        };
        if matches!(instruction.keyword.as_str(), "RUN" | "COPY" | "ADD") {
            if let Some(marker) = heredoc_marker(&instruction.args) {
                let terminator = marker.trim_start_matches('-').to_string();
                let strip_tabs = marker.starts_with('-');
                let mut terminated = false;
                while index < lines.len() {
                    let body_line = if strip_tabs {
                        lines[index].trim_start_matches('\t')
                    } else {
                        lines[index]
                    };
                    index += 1;
                    if body_line == terminator {
                        terminated = true;
                        break;
                    }
                }
                instruction.heredoc = Some(terminator);
                instruction.heredoc_unterminated = !terminated;
            }
        }
        instruction.original = Some(lines[start..index.min(lines.len())].join("\n"));
        items.push(Item::Instruction(instruction));
    }
    Dockerfile { items, escape }
}

/// Checks what the optimizer relies on: something to work on, known instructions with
/// arguments, a FROM first (only ARG may precede it), well-formed FROM lines, closed heredocs.
pub(crate) fn validate(text: &str, dockerfile: &Dockerfile) -> Result<(), DockerfileError> {
    if text.trim().is_empty() {
        return Err(DockerfileError::Empty);
    }
    if text.len() > MAX_DOCKERFILE_BYTES {
        return Err(DockerfileError::TooLarge {
            bytes: text.len(),
            limit: MAX_DOCKERFILE_BYTES,
        });
    }
    let mut seen_from = false;
    let mut any = false;
    for instruction in dockerfile.instructions() {
        any = true;
        if !KEYWORDS.contains(&instruction.keyword.as_str()) {
            return Err(DockerfileError::UnknownInstruction {
                line: instruction.line,
                keyword: instruction.keyword.clone(),
            });
        }
        if instruction.args.is_empty() {
            return Err(DockerfileError::MissingArguments {
                line: instruction.line,
                keyword: instruction.keyword.clone(),
            });
        }
        if instruction.heredoc_unterminated {
            return Err(DockerfileError::UnterminatedHeredoc {
                line: instruction.line,
                marker: instruction.heredoc.clone().unwrap_or_default(),
            });
        }
        if instruction.is("FROM") {
            seen_from = true;
            super::stages::FromLine::parse(&instruction.args).map_err(|detail| {
                DockerfileError::InvalidFrom {
                    line: instruction.line,
                    detail,
                }
            })?;
        } else if !seen_from && !instruction.is("ARG") {
            return Err(DockerfileError::NoFrom {
                line: instruction.line,
                found: instruction.keyword.clone(),
            });
        }
    }
    if !any {
        return Err(DockerfileError::NoInstructions);
    }
    if !seen_from {
        return Err(DockerfileError::NoFrom {
            line: 0,
            found: "only ARG instructions".to_string(),
        });
    }
    Ok(())
}

/// `# escape=` must be among the parser directives at the very top of the file.
fn escape_directive(lines: &[&str]) -> Option<char> {
    for line in lines {
        let trimmed = line.trim();
        // The first line that is not a `# key=value` directive ends the directives.
        let directive = trimmed.strip_prefix('#')?;
        let (key, value) = directive.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("escape") {
            let value = value.trim();
            return match value {
                "`" => Some('`'),
                "\\" => Some('\\'),
                _ => None,
            };
        }
    }
    None
}

fn strip_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end();
    match trimmed.strip_suffix(escape) {
        Some(rest) => (rest, true),
        None => (trimmed, false),
    }
}

fn is_skippable_in_continuation(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.is_empty() || trimmed.starts_with('#')
}

fn split_keyword(logical: &str) -> (String, String) {
    match logical.split_once(char::is_whitespace) {
        Some((keyword, args)) => (keyword.to_ascii_uppercase(), args.trim().to_string()),
        None => (logical.to_ascii_uppercase(), String::new()),
    }
}

/// The marker of a Dockerfile heredoc (`<<EOF`, `<<-EOF`, `<<"EOF"`), with a leading `-`
/// kept to say tabs are stripped.
fn heredoc_marker(args: &str) -> Option<String> {
    let position = args.find("<<")?;
    let rest = &args[position + 2..];
    let (dash, rest) = match rest.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", rest),
    };
    let rest = rest.trim_start_matches(['"', '\'']);
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let starts_like_identifier = word
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    starts_like_identifier.then(|| format!("{dash}{word}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instructions(text: &str) -> Vec<Instruction> {
        parse(text).instructions().cloned().collect()
    }

    #[test]
    fn continuations_are_joined_and_comment_lines_inside_them_dropped() {
        let parsed = instructions(
            "FROM debian:bookworm-slim\nRUN apt-get update && \\\n    # tools\n    apt-get install -y curl\n",
        );
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].line, 2);
        assert_eq!(parsed[1].keyword, "RUN");
        assert_eq!(parsed[1].args, "apt-get update && apt-get install -y curl");
    }

    #[test]
    fn untouched_input_renders_identically() {
        let text = "# syntax=docker/dockerfile:1\nFROM python:3.12-slim AS base\n\nrun pip install \\\n  flask\n# done\nCMD [\"python\"]\n";
        assert_eq!(parse(text).render(), text);
    }

    #[test]
    fn escape_directive_changes_the_continuation_character() {
        let parsed = instructions(
            "# escape=`\nFROM mcr.microsoft.com/windows/servercore\nRUN dir `\n  C:\\\n",
        );
        assert_eq!(parsed[1].args, "dir C:\\");
    }

    #[test]
    fn heredoc_bodies_belong_to_their_instruction() {
        let text = "FROM alpine:3.19\nRUN <<EOF\napk add curl\nRUN not an instruction\nEOF\nCMD [\"sh\"]\n";
        let parsed = instructions(text);
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[1].heredoc.as_deref(), Some("EOF"));
        assert!(!parsed[1].heredoc_unterminated);
        assert_eq!(parse(text).render(), text);
    }

    #[test]
    fn validation_reports_the_first_problem_with_its_line() {
        let check = |text: &str| validate(text, &parse(text));
        assert!(matches!(check("  \n"), Err(DockerfileError::Empty)));
        assert!(matches!(
            check("# only a comment\n"),
            Err(DockerfileError::NoInstructions)
        ));
        assert!(matches!(
            check("ARG V=1\nRUN echo hi\n"),
            Err(DockerfileError::NoFrom { line: 2, .. })
        ));
        assert!(matches!(
            check("FROM alpine\nRUNN echo\n"),
            Err(DockerfileError::UnknownInstruction { line: 2, .. })
        ));
        assert!(matches!(
            check("FROM alpine\nWORKDIR\n"),
            Err(DockerfileError::MissingArguments { line: 2, .. })
        ));
        assert!(matches!(
            check("FROM alpine AS\n"),
            Err(DockerfileError::InvalidFrom { line: 1, .. })
        ));
        assert!(matches!(
            check("FROM alpine\nRUN <<EOF\necho\n"),
            Err(DockerfileError::UnterminatedHeredoc { line: 2, .. })
        ));
        assert!(check("ARG BASE=alpine:3.19\nFROM ${BASE}\n").is_ok());
    }

    #[test]
    fn oversized_input_is_refused() {
        let text = format!("FROM alpine\n{}", "# padding\n".repeat(30_000));
        assert!(matches!(
            validate(&text, &parse(&text)),
            Err(DockerfileError::TooLarge { .. })
        ));
    }
}
