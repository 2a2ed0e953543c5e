//! Run the final stage as an unprivileged user when it sets no USER.
//!
//! Only the final stage matters: it is the image that runs. The USER goes right before the
//! first CMD/ENTRYPOINT (after the build steps, which may need root), or at the end of the
//! stage when there is neither. An explicit `USER root` is a decision someone made; it is
//! reported, not overridden.

use super::{Category, Change};
use crate::optimizer::base_images::{user_setup, UserSetup};
use crate::optimizer::parser::{Dockerfile, Instruction, Item};
use crate::optimizer::shell::RunCommand;
use crate::optimizer::stages::{root_image, stages, Stage};

pub(crate) fn non_root_user(dockerfile: &mut Dockerfile) -> Vec<Change> {
    let stages = stages(dockerfile);
    let Some(final_index) = stages.len().checked_sub(1) else {
        return Vec::new();
    };
    let final_stage = &stages[final_index];
    let final_from_line = match &dockerfile.items[final_stage.from_item] {
        Item::Instruction(from) => from.line,
        Item::Trivia(_) => 0,
    };

    if let Some(user) = effective_user(dockerfile, &stages, final_index) {
        if is_root(&user.args) {
            return vec![Change {
                rule: "non-root-user",
                line: user.line,
                category: Category::Security,
                problem: format!("the final stage runs as root (`USER {}` at line {})", user.args, user.line),
                fix: format!("left `USER {}` as written: switching it is a decision for the author; run as an unprivileged user if nothing needs root at runtime", user.args),
                applied: false,
            }];
        }
        return Vec::new();
    }

    let insert_at = insertion_point(dockerfile, final_stage);
    // Findings point at the CMD/ENTRYPOINT the USER goes before (or the FROM without one).
    let anchor_line = dockerfile.items[insert_at..final_stage.end_item]
        .iter()
        .find_map(|item| match item {
            Item::Instruction(next) => Some(next.line),
            Item::Trivia(_) => None,
        })
        .unwrap_or(final_from_line);
    let problem = "the final stage sets no USER, so the container runs as root".to_string();
    let setup = match created_user(dockerfile, final_stage) {
        Some(name) => UserSetup::Existing { user: name },
        None => user_setup(&root_image(&stages, final_index)),
    };
    let (added, fix): (Vec<Instruction>, String) = match setup {
        UserSetup::Create { command } => (
            vec![Instruction::synthetic("RUN", command), Instruction::synthetic("USER", "app")],
            format!("added `RUN {command}` and `USER app` so the container does not run as root"),
        ),
        UserSetup::Existing { user } => (
            vec![Instruction::synthetic("USER", user.clone())],
            format!("added `USER {user}` (a user the image or an earlier RUN already creates) so the container does not run as root"),
        ),
        UserSetup::NumericOnly { user } => (
            vec![Instruction::synthetic("USER", user)],
            format!("added `USER {user}`: the base image has no known user tools, and a numeric uid drops root without them"),
        ),
        UserSetup::Unsuitable { reason } => {
            return vec![Change {
                rule: "non-root-user",
                line: anchor_line,
                category: Category::Security,
                problem,
                fix: format!("left USER unset: {reason}"),
                applied: false,
            }];
        }
    };
    for (offset, instruction) in added.into_iter().enumerate() {
        dockerfile
            .items
            .insert(insert_at + offset, Item::Instruction(instruction));
    }
    vec![Change {
        rule: "non-root-user",
        line: anchor_line,
        category: Category::Security,
        problem,
        fix,
        applied: true,
    }]
}

/// The last USER of the final stage, or of the stages it builds on (`FROM builder` inherits it).
fn effective_user<'a>(
    dockerfile: &'a Dockerfile,
    stages: &[Stage],
    index: usize,
) -> Option<&'a Instruction> {
    let mut current = Some(index);
    while let Some(stage_index) = current {
        let stage = &stages[stage_index];
        let last_user = dockerfile.items[stage.from_item..stage.end_item]
            .iter()
            .filter_map(|item| match item {
                Item::Instruction(i) if i.is("USER") => Some(i),
                _ => None,
            })
            .next_back();
        if last_user.is_some() {
            return last_user;
        }
        current = stage.parent;
    }
    None
}

fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or(user).trim();
    name == "root" || name == "0"
}

/// A user the stage's RUNs already create (`useradd ... name` / `adduser ... name`): the
/// author chose a name, so only the USER line is missing.
fn created_user(dockerfile: &Dockerfile, stage: &Stage) -> Option<String> {
    dockerfile.items[stage.from_item..stage.end_item]
        .iter()
        .filter_map(|item| match item {
            Item::Instruction(i) if i.is("RUN") => RunCommand::parse(&i.args),
            _ => None,
        })
        .flat_map(|run| run.commands)
        .filter_map(|(_, command)| {
            let mut words = command.split_whitespace();
            let tool = words.next()?;
            matches!(tool, "useradd" | "adduser").then(|| words.last().map(str::to_string))?
        })
        .next_back()
}

/// Before the first CMD/ENTRYPOINT of the stage (and the comments right above it), else at its end.
fn insertion_point(dockerfile: &Dockerfile, stage: &Stage) -> usize {
    let items = &dockerfile.items;
    let Some(mut index) = (stage.from_item..stage.end_item)
        .find(|&i| matches!(&items[i], Item::Instruction(x) if x.is("CMD") || x.is("ENTRYPOINT")))
    else {
        // End of the stage, but before trailing blank lines and comments.
        let mut end = stage.end_item;
        while end > stage.from_item + 1 && matches!(&items[end - 1], Item::Trivia(_)) {
            end -= 1;
        }
        return end;
    };
    while index > stage.from_item + 1
        && matches!(&items[index - 1], Item::Trivia(t) if t.trim_start().starts_with('#'))
    {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use crate::optimizer::optimize;

    #[test]
    fn debian_based_final_stage_gets_a_system_user_before_cmd() {
        let result = optimize(
            "FROM python:3.12-slim\nCOPY . /app\n# start it\nCMD [\"python\", \"/app/main.py\"]\n",
        )
        .unwrap();
        assert_eq!(
            result.optimized_dockerfile,
            "FROM python:3.12-slim\nCOPY . /app\nRUN groupadd --system app && \\\n    useradd --system --gid app --no-create-home app\nUSER app\n# start it\nCMD [\"python\", \"/app/main.py\"]\n"
        );
        assert_eq!(result.security_fixes[0].rule, "non-root-user");
        assert_eq!(result.security_fixes[0].line, 4);
    }

    #[test]
    fn alpine_user_joins_the_run_before_it() {
        let result =
            optimize("FROM alpine:3.19\nRUN apk add --no-cache curl\nENTRYPOINT [\"curl\"]\n")
                .unwrap();
        assert_eq!(
            result.optimized_dockerfile,
            "FROM alpine:3.19\nRUN apk add --no-cache curl && \\\n    addgroup -S app && \\\n    adduser -S -G app app\nUSER app\nENTRYPOINT [\"curl\"]\n"
        );
    }

    #[test]
    fn only_the_final_stage_counts_and_stage_parents_pass_their_user_on() {
        let multi = "FROM golang:1.22-alpine AS build\nRUN go build -o /out/app .\nFROM gcr.io/distroless/static-debian12\nCOPY --from=build /out/app /app\nENTRYPOINT [\"/app\"]\n";
        let result = optimize(multi).unwrap();
        assert!(result
            .optimized_dockerfile
            .contains("COPY --from=build /out/app /app\nUSER nonroot\nENTRYPOINT"));
        let inherited = "FROM node:20-alpine AS base\nUSER node\nFROM base\nCMD [\"node\"]\n";
        assert_eq!(optimize(inherited).unwrap().optimized_dockerfile, inherited);
    }

    #[test]
    fn existing_useradd_and_explicit_root_are_respected() {
        let created =
            optimize("FROM debian:bookworm-slim\nRUN useradd -r -u 1001 svc\nCMD [\"svc\"]\n")
                .unwrap();
        assert!(created
            .optimized_dockerfile
            .contains("RUN useradd -r -u 1001 svc\nUSER svc\nCMD"));
        let root = "FROM debian:bookworm-slim\nUSER root\nCMD [\"bash\"]\n";
        let result = optimize(root).unwrap();
        assert_eq!(result.optimized_dockerfile, root);
        assert!(result.security_fixes.is_empty());
        assert!(result.explanation.contains("USER root"));
    }

    #[test]
    fn nginx_is_left_to_start_as_root_and_scratch_gets_a_numeric_user() {
        let nginx = "FROM nginx:1.25-alpine\nCOPY site /usr/share/nginx/html\n";
        assert_eq!(optimize(nginx).unwrap().optimized_dockerfile, nginx);
        let scratch = optimize("FROM scratch\nCOPY app /app\n\n").unwrap();
        assert_eq!(
            scratch.optimized_dockerfile,
            "FROM scratch\nCOPY app /app\nUSER 65534:65534\n\n"
        );
    }
}
