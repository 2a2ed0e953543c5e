//! Build-argument substitution for templated base images: `ARG BASE=python:3.12` before the
//! first FROM makes `FROM ${BASE}` mean `python:3.12`, and the analysis reports that image.
//!
//! The defaults may refer to each other (`ARG TAG=3.12`, `ARG BASE=python:${TAG}`), so they are
//! substituted again and again until no reference to a declared argument is left. Known defect,
//! kept because the sandbox reproduces the production agent: defaults that refer to each other
//! in a cycle (`ARG A=${B}`, `ARG B=${A}`) never settle, and the loop spins on one core until
//! the job is cancelled (`agentctl jobs cancel`), which it checks before every round.

use std::collections::BTreeMap;

use super::parser::Dockerfile;
use super::DockerfileError;

/// The longest a resolved default may get: real ones are image names and versions.
pub(crate) const MAX_EXPANDED_BYTES: usize = 4096;

/// The global build arguments (`ARG` before the first FROM) with their defaults resolved.
/// Undeclared references resolve to the empty string, as in `docker build`.
pub(crate) fn global_build_args(
    dockerfile: &Dockerfile,
    cancelled: &dyn Fn() -> bool,
) -> Result<BTreeMap<String, String>, DockerfileError> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for instruction in dockerfile.instructions() {
        if instruction.is("FROM") {
            break;
        }
        if instruction.is("ARG") {
            let (name, default) = instruction
                .args
                .split_once('=')
                .unwrap_or((&instruction.args, ""));
            values.insert(name.trim().to_string(), unquote(default.trim()).to_string());
        }
    }
    loop {
        if cancelled() {
            return Err(DockerfileError::Cancelled);
        }
        let mut settled = true;
        let names: Vec<String> = values.keys().cloned().collect();
        for name in names {
            let substituted = substitute(&values[&name], &values);
            if substituted.len() > MAX_EXPANDED_BYTES {
                let limit = MAX_EXPANDED_BYTES;
                return Err(DockerfileError::ExpansionTooLarge { name, limit });
            }
            settled &= references(&substituted).all(|r| !values.contains_key(r));
            values.insert(name, substituted);
        }
        if settled {
            return Ok(values);
        }
    }
}

/// `text` with every `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alternative}` replaced.
pub(crate) fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        match reference_at(after) {
            Some((reference, consumed)) => {
                let value = values.get(reference.name).filter(|v| !v.is_empty());
                out.push_str(match (reference.modifier, value) {
                    (Some((":-", word)), None) => word,
                    (Some((":-", _)), Some(value)) => value,
                    (Some((":+", word)), Some(_)) => word,
                    (Some(_), None) => "",
                    (None, value) => value.map_or("", String::as_str),
                    (Some(_), Some(value)) => value,
                });
                rest = &after[consumed..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

struct Reference<'a> {
    name: &'a str,
    /// `(":-", word)` or `(":+", word)`.
    modifier: Option<(&'a str, &'a str)>,
}

/// The reference right after a `$`, and how many bytes it takes.
fn reference_at(text: &str) -> Option<(Reference<'_>, usize)> {
    if let Some(braced) = text.strip_prefix('{') {
        let end = braced.find('}')?;
        let inner = &braced[..end];
        let (name, modifier) = match inner.find(":-").or_else(|| inner.find(":+")) {
            Some(at) => (&inner[..at], Some((&inner[at..at + 2], &inner[at + 2..]))),
            None => (inner, None),
        };
        is_name(name).then_some((Reference { name, modifier }, end + 2))
    } else {
        let end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(text.len());
        let name = &text[..end];
        is_name(name).then_some((
            Reference {
                name,
                modifier: None,
            },
            end,
        ))
    }
}

/// The names `text` refers to.
fn references(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices('$')
        .filter_map(|(at, _)| reference_at(&text[at + 1..]).map(|(r, _)| r.name))
}

fn is_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::optimizer::parser::parse;

    fn resolve(text: &str) -> Result<BTreeMap<String, String>, DockerfileError> {
        global_build_args(&parse(text), &|| false)
    }

    #[test]
    fn defaults_that_build_on_each_other_resolve() {
        let args = resolve(
            "ARG FLAVOUR=\"slim\"\nARG BASE=python:${TAG}-${FLAVOUR}\nARG TAG=3.12\nARG EMPTY\nFROM ${BASE}\nARG LATER=x\n",
        )
        .unwrap();
        assert_eq!(args["BASE"], "python:3.12-slim");
        assert_eq!(args["EMPTY"], "");
        assert!(!args.contains_key("LATER"), "only global ARGs reach FROM");
    }

    #[test]
    fn substitution_follows_docker_forms() {
        let values = BTreeMap::from([("SET".to_string(), "v".to_string())]);
        assert_eq!(
            substitute(
                "$SET ${SET} ${UNSET:-d} ${SET:-d} ${SET:+a} ${UNSET:+a}|$UNSET|$",
                &values
            ),
            "v v d v a ||$"
        );
    }

    #[test]
    fn a_cycle_spins_until_the_job_is_cancelled() {
        let rounds = AtomicUsize::new(0);
        let cancelled = || rounds.fetch_add(1, Ordering::Relaxed) >= 10_000;
        let result = global_build_args(&parse("ARG A=${B}\nARG B=${A}\nFROM ${A}\n"), &cancelled);
        assert_eq!(result, Err(DockerfileError::Cancelled));
        assert!(rounds.load(Ordering::Relaxed) > 10_000);
    }

    #[test]
    fn a_self_growing_default_is_refused_not_grown_without_bound() {
        let result = resolve("ARG A=x${A}\nFROM alpine\n");
        assert_eq!(
            result,
            Err(DockerfileError::ExpansionTooLarge {
                name: "A".into(),
                limit: MAX_EXPANDED_BYTES
            })
        );
    }
}
