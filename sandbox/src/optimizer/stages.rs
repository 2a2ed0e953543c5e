//! Build stages: `FROM [--platform=..] image [AS name]`, image references and which stage
//! each instruction belongs to.

use super::parser::{Dockerfile, Item};

/// The arguments of one FROM line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FromLine {
    /// `--platform=...` and other flags, as written.
    pub flags: Vec<String>,
    pub image: String,
    /// The `AS name` of the stage, as written.
    pub alias: Option<String>,
}

impl FromLine {
    pub fn parse(args: &str) -> Result<FromLine, String> {
        let mut words = args.split_whitespace().peekable();
        let mut flags = Vec::new();
        while let Some(flag) = words.next_if(|word| word.starts_with("--")) {
            flags.push(flag.to_string());
        }
        let image = words
            .next()
            .ok_or_else(|| "FROM names no image".to_string())?
            .to_string();
        let alias = match words.next() {
            None => None,
            Some(word) if word.eq_ignore_ascii_case("as") => Some(
                words
                    .next()
                    .ok_or_else(|| format!("`{image} AS` names no stage"))?
                    .to_string(),
            ),
            Some(word) => {
                return Err(format!(
                    "unexpected `{word}` after the image (expected `AS <stage name>`)"
                ))
            }
        };
        if let Some(extra) = words.next() {
            return Err(format!("unexpected `{extra}` after the stage name"));
        }
        Ok(FromLine {
            flags,
            image,
            alias,
        })
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for flag in &self.flags {
            out.push_str(flag);
            out.push(' ');
        }
        out.push_str(&self.image);
        if let Some(alias) = &self.alias {
            out.push_str(" AS ");
            out.push_str(alias);
        }
        out
    }
}

/// `[registry[:port]/]path[:tag][@digest]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRef {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(reference: &str) -> ImageRef {
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest.to_string())),
            None => (reference, None),
        };
        // A colon after the last slash is a tag; before it, a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        match rest[last_slash..].rfind(':') {
            Some(colon) => ImageRef {
                repository: rest[..last_slash + colon].to_string(),
                tag: Some(rest[last_slash + colon + 1..].to_string()),
                digest,
            },
            None => ImageRef {
                repository: rest.to_string(),
                tag: None,
                digest,
            },
        }
    }

    /// The Docker Hub official-image name (`python` for `python`, `library/python` or
    /// `docker.io/library/python`), `None` for anything else.
    pub fn official_name(&self) -> Option<&str> {
        let name = self
            .repository
            .strip_prefix("docker.io/")
            .unwrap_or(&self.repository);
        let name = name.strip_prefix("library/").unwrap_or(name);
        (!name.contains('/')).then_some(name)
    }

    /// The last path component (`distroless/static` -> `static`, `bitnami/nginx` -> `nginx`).
    pub fn base_name(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }

    /// Untagged references mean `:latest`.
    pub fn floats(&self) -> bool {
        self.digest.is_none() && self.tag.as_deref().is_none_or(|tag| tag == "latest")
    }

    /// Variables (`${BASE}`) are resolved at build time; nothing can be said about them here.
    pub fn is_templated(&self) -> bool {
        self.repository.contains('$') || self.tag.as_deref().is_some_and(|t| t.contains('$'))
    }

    pub fn render(&self) -> String {
        let mut out = self.repository.clone();
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }
}

/// One build stage: the FROM item and the items up to the next FROM.
#[derive(Debug, Clone)]
pub(crate) struct Stage {
    /// Index of the FROM item in `Dockerfile::items`.
    pub from_item: usize,
    /// One past the stage's last item.
    pub end_item: usize,
    pub from: FromLine,
    /// Index of the earlier stage this one builds on (`FROM builder`), if any.
    pub parent: Option<usize>,
}

impl Stage {
    pub fn image(&self) -> ImageRef {
        ImageRef::parse(&self.from.image)
    }
}

/// The stages of a (validated) Dockerfile, in order.
pub(crate) fn stages(dockerfile: &Dockerfile) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    for (index, item) in dockerfile.items.iter().enumerate() {
        let Item::Instruction(instruction) = item else {
            continue;
        };
        if !instruction.is("FROM") {
            continue;
        }
        let Ok(from) = FromLine::parse(&instruction.args) else {
            continue;
        };
        if let Some(last) = stages.last_mut() {
            last.end_item = index;
        }
        let parent = stages.iter().position(|stage| {
            stage
                .from
                .alias
                .as_deref()
                .is_some_and(|alias| alias.eq_ignore_ascii_case(&from.image))
        });
        stages.push(Stage {
            from_item: index,
            end_item: dockerfile.items.len(),
            from,
            parent,
        });
    }
    stages
}

/// The external image a stage ultimately builds on (following `FROM <earlier stage>`).
pub(crate) fn root_image(stages: &[Stage], index: usize) -> ImageRef {
    let mut current = index;
    while let Some(parent) = stages[current].parent {
        current = parent;
    }
    stages[current].image()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lines() {
        assert_eq!(
            FromLine::parse("--platform=$BUILDPLATFORM golang:1.22 as build").unwrap(),
            FromLine {
                flags: vec!["--platform=$BUILDPLATFORM".into()],
                image: "golang:1.22".into(),
                alias: Some("build".into())
            }
        );
        assert!(FromLine::parse("alpine AS").is_err());
        assert!(FromLine::parse("alpine builder").is_err());
    }

    #[test]
    fn image_references() {
        let local = ImageRef::parse("localhost:5000/team/app");
        assert_eq!(local.repository, "localhost:5000/team/app");
        assert_eq!(local.tag, None);
        assert!(local.floats());
        let official = ImageRef::parse("docker.io/library/python:3.12-slim");
        assert_eq!(official.official_name(), Some("python"));
        assert_eq!(official.tag.as_deref(), Some("3.12-slim"));
        assert!(!official.floats());
        let pinned = ImageRef::parse("node@sha256:abc");
        assert!(!pinned.floats());
        assert_eq!(pinned.render(), "node@sha256:abc");
        assert_eq!(ImageRef::parse("bitnami/nginx").official_name(), None);
    }
}
