//! Pin floating base images (`:latest` or no tag) to a concrete tag.
//!
//! Official images in the table get its tag. Anything else keeps its reference and gets a
//! `# TODO` comment above the FROM: inventing a version for an image we know nothing about
//! could pull an image that does not exist or is not the one meant, and the comment keeps
//! the problem visible in the file itself, where a reviewer will see it.

use super::{rewrite, Category, Change};
use crate::optimizer::base_images::pinned_tag;
use crate::optimizer::parser::{Dockerfile, Item};
use crate::optimizer::stages::{stages, FromLine, ImageRef};

pub(crate) fn pin_base_images(dockerfile: &mut Dockerfile) -> Vec<Change> {
    let mut changes = Vec::new();
    // Back to front: a TODO comment inserted for one stage must not shift the next stage's index.
    for stage in stages(dockerfile).iter().rev() {
        let image = stage.image();
        if stage.parent.is_some()
            || image.repository == "scratch"
            || image.is_templated()
            || !image.floats()
        {
            continue;
        }
        let uses_apt = dockerfile.items[stage.from_item..stage.end_item]
            .iter()
            .any(|item| matches!(item, Item::Instruction(i) if i.is("RUN") && (i.args.contains("apt-get ") || i.args.contains("apt install"))));
        let Item::Instruction(from) = &mut dockerfile.items[stage.from_item] else {
            continue;
        };
        let line = from.line;
        let written = stage.from.image.clone();
        let floating = match &image.tag {
            Some(_) => format!("`{written}` floats: `:latest` moves to a new release whenever upstream publishes one, so builds are not reproducible"),
            None => format!("`{written}` has no tag, which means `:latest`: builds are not reproducible"),
        };
        match pinned_tag(&image, uses_apt) {
            Some(tag) => {
                let pinned = ImageRef {
                    tag: Some(tag.to_string()),
                    ..image.clone()
                }
                .render();
                let new_from = FromLine {
                    image: pinned.clone(),
                    ..stage.from.clone()
                };
                rewrite(from, new_from.render());
                let variant = if uses_apt {
                    " (a Debian-based variant, because this stage uses apt-get)"
                } else {
                    ""
                };
                changes.push(Change {
                    rule: "pin-base-image",
                    line,
                    category: Category::Security,
                    problem: format!("base image {floating}"),
                    fix: format!("pinned base image `{written}` to `{pinned}`{variant}"),
                    applied: true,
                });
            }
            None => {
                let todo = format!(
                    "# TODO: pin {} to a version tag or digest",
                    image.repository
                );
                let already_marked = stage.from_item > 0
                    && matches!(&dockerfile.items[stage.from_item - 1], Item::Trivia(previous) if previous.trim() == todo);
                if !already_marked {
                    dockerfile.items.insert(stage.from_item, Item::Trivia(todo));
                }
                changes.push(Change {
                    rule: "unpinned-base-image",
                    line,
                    category: Category::Security,
                    problem: format!("base image {floating}"),
                    fix: format!("could not pin `{written}` (no known version for it): left it as written with a TODO comment; pin it to a tag or digest"),
                    applied: true,
                });
            }
        }
    }
    changes.reverse();
    changes
}

#[cfg(test)]
mod tests {
    use crate::optimizer::optimize;

    #[test]
    fn latest_and_untagged_official_images_get_the_table_tag() {
        let result =
            optimize("FROM python:latest AS build\nRUN pip wheel .\nFROM node\nCMD [\"node\"]\n")
                .unwrap();
        assert!(result
            .optimized_dockerfile
            .starts_with("FROM python:3.12-slim AS build\n"));
        assert!(result
            .optimized_dockerfile
            .contains("FROM node:20-alpine\n"));
        assert_eq!(
            result
                .security_fixes
                .iter()
                .filter(|f| f.rule == "pin-base-image")
                .count(),
            2
        );
    }

    #[test]
    fn stages_using_apt_keep_a_debian_variant() {
        let result = optimize("FROM node:latest\nRUN apt-get update\nUSER node\n").unwrap();
        assert!(result
            .optimized_dockerfile
            .starts_with("FROM node:20-bookworm-slim\n"));
    }

    #[test]
    fn unknown_images_get_a_todo_once() {
        let once = optimize("FROM --platform=linux/amd64 myorg/base:latest\nUSER app\n").unwrap();
        assert_eq!(
            once.optimized_dockerfile,
            "# TODO: pin myorg/base to a version tag or digest\nFROM --platform=linux/amd64 myorg/base:latest\nUSER app\n"
        );
        let twice = optimize(&once.optimized_dockerfile).unwrap();
        assert_eq!(twice.optimized_dockerfile, once.optimized_dockerfile);
    }

    #[test]
    fn tagged_digested_templated_and_stage_references_are_left_alone() {
        let text = "ARG BASE=alpine\nFROM ${BASE} AS one\nFROM one\nFROM alpine:3.18@sha256:abc\nFROM golang:1.21\nFROM scratch\nUSER 1000\n";
        let result = optimize(text).unwrap();
        assert_eq!(result.optimized_dockerfile, text);
        assert!(result.security_fixes.is_empty());
    }
}
