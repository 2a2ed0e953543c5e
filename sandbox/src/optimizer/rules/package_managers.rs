//! Package-manager hygiene inside RUN commands:
//! - `apt-get install` without `--no-install-recommends` pulls in packages nobody asked for;
//! - `apt-get install` without removing `/var/lib/apt/lists` leaves the package index (tens
//!   of MB) in the layer;
//! - `apk add` without `--no-cache` keeps the index in `/var/cache/apk`;
//! - `pip install` without `--no-cache-dir` keeps downloaded wheels in `~/.cache/pip`.
//!
//! RUNs with a `--mount=type=cache` keep their caches on purpose and are left alone.

use super::{rewrite, Category, Change};
use crate::optimizer::parser::{Dockerfile, Item};
use crate::optimizer::shell::{words, RunCommand};

/// A flag one package-manager subcommand should carry.
struct FlagRule {
    rule: &'static str,
    tools: &'static [&'static str],
    subcommand: &'static str,
    flag: &'static str,
    /// Other spellings that already do the job.
    equivalents: &'static [&'static str],
    problem: &'static str,
}

const FLAG_RULES: &[FlagRule] = &[
    FlagRule {
        rule: "no-install-recommends",
        tools: &["apt-get", "apt"],
        subcommand: "install",
        flag: "--no-install-recommends",
        equivalents: &["Install-Recommends"],
        problem: "`apt-get install` without --no-install-recommends also installs recommended packages the image does not need",
    },
    FlagRule {
        rule: "apk-no-cache",
        tools: &["apk"],
        subcommand: "add",
        flag: "--no-cache",
        equivalents: &[],
        problem: "`apk add` without --no-cache leaves the package index in /var/cache/apk",
    },
    FlagRule {
        rule: "pip-no-cache-dir",
        tools: &["pip", "pip3"],
        subcommand: "install",
        flag: "--no-cache-dir",
        equivalents: &[],
        problem: "`pip install` without --no-cache-dir leaves downloaded packages in the pip cache",
    },
];

pub(crate) fn package_manager_flags(dockerfile: &mut Dockerfile) -> Vec<Change> {
    let pip_cache_disabled = dockerfile
        .instructions()
        .any(|i| (i.is("ENV") || i.is("ARG")) && i.args.contains("PIP_NO_CACHE_DIR"));
    let mut changes = Vec::new();
    for item in &mut dockerfile.items {
        let Item::Instruction(instruction) = item else {
            continue;
        };
        let Some(mut run) = runnable(instruction) else {
            continue;
        };
        let mut changed = false;
        for (_, command) in &mut run.commands {
            for rule in FLAG_RULES {
                if rule.rule == "pip-no-cache-dir" && pip_cache_disabled {
                    continue;
                }
                if let Some(updated) = add_flag(command, rule) {
                    *command = updated;
                    changed = true;
                    changes.push(Change {
                        rule: rule.rule,
                        line: instruction.line,
                        category: Category::Layers,
                        problem: rule.problem.to_string(),
                        fix: format!(
                            "added {} to `{} {}`",
                            rule.flag, rule.tools[0], rule.subcommand
                        ),
                        applied: true,
                    });
                }
            }
        }
        if changed {
            rewrite(instruction, run.logical());
        }
    }
    changes
}

pub(crate) fn apt_lists_cleanup(dockerfile: &mut Dockerfile) -> Vec<Change> {
    let mut changes = Vec::new();
    for item in &mut dockerfile.items {
        let Item::Instruction(instruction) = item else {
            continue;
        };
        let Some(mut run) = runnable(instruction) else {
            continue;
        };
        let installs = run.commands.iter().any(|(_, command)| {
            subcommand_position(command, &["apt-get", "apt"], "install").is_some()
        });
        let cleans = run
            .commands
            .iter()
            .any(|(_, command)| command.contains("/var/lib/apt/lists"));
        if !installs || cleans {
            continue;
        }
        run.append(
            RunCommand::parse("rm -rf /var/lib/apt/lists/*").expect("a plain command parses"),
        );
        rewrite(instruction, run.logical());
        changes.push(Change {
            rule: "apt-lists-cleanup",
            line: instruction.line,
            category: Category::Layers,
            problem:
                "`apt-get install` leaves the package lists in /var/lib/apt/lists in the layer"
                    .to_string(),
            fix: "appended `&& rm -rf /var/lib/apt/lists/*` to the RUN that installs packages"
                .to_string(),
            applied: true,
        });
    }
    changes
}

/// A shell-form RUN without heredoc or cache mount, the only kind these rules rewrite.
fn runnable(instruction: &crate::optimizer::parser::Instruction) -> Option<RunCommand> {
    if !instruction.is("RUN") || instruction.heredoc.is_some() {
        return None;
    }
    RunCommand::parse(&instruction.args).filter(|run| !run.has_cache_mount())
}

/// `command` with the rule's flag added after the subcommand, or `None` when it does not apply.
fn add_flag(command: &str, rule: &FlagRule) -> Option<String> {
    let (offset, subcommand) = subcommand_position(command, rule.tools, rule.subcommand)?;
    let has_flag = words(command).iter().any(|(_, word)| {
        *word == rule.flag
            || rule
                .equivalents
                .iter()
                .any(|equivalent| word.contains(equivalent))
    });
    if has_flag {
        return None;
    }
    let end = offset + subcommand.len();
    Some(format!(
        "{} {}{}",
        &command[..end],
        rule.flag,
        &command[end..]
    ))
}

/// Where `subcommand` of one of `tools` starts in `command` (`apt-get -y install`,
/// `DEBIAN_FRONTEND=noninteractive apt-get install`, `python3 -m pip install`, `sudo apk add`).
fn subcommand_position<'a>(
    command: &'a str,
    tools: &[&str],
    subcommand: &str,
) -> Option<(usize, &'a str)> {
    let words = words(command);
    let tool = words.iter().position(|(_, word)| {
        let name = word.rsplit('/').next().unwrap_or(word);
        tools.contains(&name)
    })?;
    let mut rest = words[tool + 1..].iter();
    while let Some((offset, word)) = rest.next() {
        if word.starts_with('-') {
            // Options that take a separate value (`apt-get -o Key=Value`, `pip -r file`).
            if matches!(*word, "-o" | "-c" | "-t" | "-r") {
                rest.next();
            }
            continue;
        }
        return (*word == subcommand).then_some((*offset, *word));
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::optimizer::optimize;

    fn rewritten(run: &str) -> String {
        let text = format!("FROM debian:bookworm-slim\n{run}\nUSER app\n");
        let out = optimize(&text).unwrap().optimized_dockerfile;
        out.strip_prefix("FROM debian:bookworm-slim\n")
            .unwrap()
            .strip_suffix("USER app\n")
            .unwrap()
            .to_string()
    }

    #[test]
    fn apt_install_gets_no_install_recommends_and_list_cleanup() {
        assert_eq!(
            rewritten("RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -y install curl ca-certificates"),
            "RUN apt-get update && \\\n    DEBIAN_FRONTEND=noninteractive apt-get -y install --no-install-recommends curl ca-certificates && \\\n    rm -rf /var/lib/apt/lists/*\n"
        );
    }

    #[test]
    fn tidy_apt_runs_are_unchanged() {
        for run in [
            "RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*",
            "RUN apt-get -o APT::Install-Recommends=false install -y curl && rm -rf /var/lib/apt/lists/*",
            "RUN --mount=type=cache,target=/var/cache/apt apt-get update && apt-get install -y gcc",
            "RUN apt-get update",
        ] {
            assert_eq!(rewritten(run), format!("{run}\n"), "{run}");
        }
    }

    #[test]
    fn cleanup_goes_once_at_the_end_of_a_merged_run() {
        assert_eq!(
            rewritten("RUN apt-get update\nRUN apt-get install -y --no-install-recommends git\nRUN git --version"),
            "RUN apt-get update && \\\n    apt-get install -y --no-install-recommends git && \\\n    git --version && \\\n    rm -rf /var/lib/apt/lists/*\n"
        );
    }

    #[test]
    fn apk_and_pip_get_their_no_cache_flags() {
        let result = optimize("FROM python:3.12-alpine\nRUN apk add gcc musl-dev && python -m pip install -r requirements.txt\nUSER app\n").unwrap();
        assert_eq!(
            result.optimized_dockerfile,
            "FROM python:3.12-alpine\nRUN apk add --no-cache gcc musl-dev && \\\n    python -m pip install --no-cache-dir -r requirements.txt\nUSER app\n"
        );
        let rules: Vec<_> = result
            .layer_optimizations
            .iter()
            .map(|f| f.rule.as_str())
            .collect();
        assert_eq!(rules, vec!["apk-no-cache", "pip-no-cache-dir"]);
        let env =
            "FROM python:3.12-slim\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask\nUSER app\n";
        assert_eq!(optimize(env).unwrap().optimized_dockerfile, env);
    }
}
