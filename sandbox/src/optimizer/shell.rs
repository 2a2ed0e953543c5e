//! Just enough shell syntax for RUN rewriting: split a shell-form command into the commands
//! chained at top level by `&&`, `||` and `;` (quotes, escapes and parentheses respected),
//! and put it back together.

/// How a command is chained to the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chain {
    And,
    Or,
    Then,
}

impl Chain {
    fn token(self) -> &'static str {
        match self {
            Chain::And => "&&",
            Chain::Or => "||",
            Chain::Then => ";",
        }
    }
}

/// A shell-form RUN: its `--flag` options and its top-level command chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunCommand {
    /// `--mount=...`, `--network=...` and the like, as written.
    pub flags: Vec<String>,
    /// The first command has no chain of its own (`None`).
    pub commands: Vec<(Option<Chain>, String)>,
}

/// Commands whose effect outlives the command itself within one shell: merging a RUN that
/// runs one of these with later RUNs would change what the later commands see.
const SHELL_STATE_COMMANDS: &[&str] = &[
    "cd", "pushd", "popd", "export", "unset", "set", "umask", "source", ".", "alias", "shopt",
    "trap", "ulimit",
];

impl RunCommand {
    /// `None` for exec form (`RUN ["..."]`) and for heredocs, which are left alone.
    pub fn parse(args: &str) -> Option<RunCommand> {
        let mut rest = args.trim();
        let mut flags = Vec::new();
        while rest.starts_with("--") {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            flags.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
        if rest.is_empty() || rest.starts_with('[') || rest.contains("<<") {
            return None;
        }
        Some(RunCommand {
            flags,
            commands: split_chain(rest),
        })
    }

    /// Only `&&` chains keep the all-or-nothing meaning of separate RUNs when merged: with
    /// `;` or `||` a failure early in the chain would no longer fail the build.
    pub fn is_and_chain(&self) -> bool {
        self.commands
            .iter()
            .all(|(chain, _)| matches!(chain, None | Some(Chain::And)))
    }

    /// True when a top-level command changes shell state (`cd`, `export`, ...).
    pub fn changes_shell_state(&self) -> bool {
        self.commands.iter().any(|(_, command)| {
            command
                .split_whitespace()
                .next()
                .is_some_and(|word| SHELL_STATE_COMMANDS.contains(&word))
        })
    }

    /// True when a `--mount=type=cache` flag keeps a cache on purpose.
    pub fn has_cache_mount(&self) -> bool {
        self.flags
            .iter()
            .any(|flag| flag.starts_with("--mount") && flag.contains("type=cache"))
    }

    /// Appends `other`'s commands with `&&`.
    pub fn append(&mut self, other: RunCommand) {
        for (index, (chain, command)) in other.commands.into_iter().enumerate() {
            let chain = if index == 0 { Some(Chain::And) } else { chain };
            self.commands.push((chain, command));
        }
    }

    /// The command on one line, as the parser stores instruction arguments.
    pub fn logical(&self) -> String {
        let mut out = String::new();
        for flag in &self.flags {
            out.push_str(flag);
            out.push(' ');
        }
        for (chain, command) in &self.commands {
            if let Some(chain) = chain {
                out.push(' ');
                out.push_str(chain.token());
                out.push(' ');
            }
            out.push_str(command);
        }
        out
    }

    /// One command per line after each `&&`, continued with `escape`.
    pub fn render(&self, escape: char) -> String {
        let mut out = String::new();
        for flag in &self.flags {
            out.push_str(flag);
            out.push(' ');
        }
        for (chain, command) in &self.commands {
            match chain {
                None => {}
                Some(Chain::And) => out.push_str(&format!(" && {escape}\n    ")),
                Some(other) => {
                    out.push(' ');
                    out.push_str(other.token());
                    out.push(' ');
                }
            }
            out.push_str(command);
        }
        out
    }
}

/// Splits at top-level `&&`, `||` and `;`.
pub(crate) fn split_chain(command: &str) -> Vec<(Option<Chain>, String)> {
    let mut commands = Vec::new();
    let mut current = String::new();
    let mut pending_chain = None;
    let mut single_quoted = false;
    let mut double_quoted = false;
    let mut depth = 0usize;
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        if single_quoted {
            single_quoted = c != '\'';
            current.push(c);
            continue;
        }
        match c {
            '\\' => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                continue;
            }
            '\'' if !double_quoted => single_quoted = true,
            '"' => double_quoted = !double_quoted,
            '(' if !double_quoted => depth += 1,
            ')' if !double_quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
        let top_level = !double_quoted && depth == 0;
        let chain = match c {
            '&' if top_level && chars.peek() == Some(&'&') => Some(Chain::And),
            '|' if top_level && chars.peek() == Some(&'|') => Some(Chain::Or),
            ';' if top_level => Some(Chain::Then),
            _ => None,
        };
        match chain {
            Some(chain) => {
                if chain != Chain::Then {
                    chars.next();
                }
                push_command(&mut commands, pending_chain, &current);
                current.clear();
                pending_chain = Some(chain);
            }
            None => current.push(c),
        }
    }
    push_command(&mut commands, pending_chain, &current);
    commands
}

fn push_command(commands: &mut Vec<(Option<Chain>, String)>, chain: Option<Chain>, text: &str) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    // The first command has no chain even if the text began with a separator.
    let chain = if commands.is_empty() { None } else { chain };
    commands.push((chain, text.to_string()));
}

/// The words of one command with their byte offsets, for in-place edits.
pub(crate) fn words(command: &str) -> Vec<(usize, &str)> {
    command
        .split_whitespace()
        .map(|word| (word.as_ptr() as usize - command.as_ptr() as usize, word))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_only_at_top_level_separators() {
        let run =
            RunCommand::parse("apt-get update && echo 'a && b' ; (cd x && make) || echo \"c; d\"")
                .unwrap();
        let texts: Vec<_> = run.commands.iter().map(|(c, t)| (*c, t.as_str())).collect();
        assert_eq!(
            texts,
            vec![
                (None, "apt-get update"),
                (Some(Chain::And), "echo 'a && b'"),
                (Some(Chain::Then), "(cd x && make)"),
                (Some(Chain::Or), "echo \"c; d\""),
            ]
        );
        assert!(!run.is_and_chain());
    }

    #[test]
    fn flags_exec_form_and_heredocs() {
        let run =
            RunCommand::parse("--mount=type=cache,target=/root/.cache pip install x").unwrap();
        assert_eq!(run.flags, vec!["--mount=type=cache,target=/root/.cache"]);
        assert!(run.has_cache_mount());
        assert!(RunCommand::parse("[\"make\", \"all\"]").is_none());
        assert!(RunCommand::parse("<<EOF").is_none());
    }

    #[test]
    fn renders_one_command_per_line() {
        let mut run = RunCommand::parse("apt-get update").unwrap();
        run.append(RunCommand::parse("apt-get install -y curl").unwrap());
        assert_eq!(
            run.render('\\'),
            "apt-get update && \\\n    apt-get install -y curl"
        );
    }

    #[test]
    fn detects_shell_state_changes() {
        assert!(RunCommand::parse("cd /app && make")
            .unwrap()
            .changes_shell_state());
        assert!(!RunCommand::parse("(cd /app && make)")
            .unwrap()
            .changes_shell_state());
    }

    #[test]
    fn words_carry_offsets() {
        assert_eq!(words("a  bc d"), vec![(0, "a"), (3, "bc"), (6, "d")]);
    }
}
