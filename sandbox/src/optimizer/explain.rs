//! The human explanation of an optimization: what was done, in rule order, and what was
//! deliberately left alone.

use super::rules::Change;

/// How each rule's applied changes are summed up in a sentence.
const SUMMARIES: &[(&str, &str, &str)] = &[
    (
        "pin-base-image",
        "Pinned {n} base image",
        "Pinned {n} base images",
    ),
    (
        "unpinned-base-image",
        "marked {n} unknown base image to pin by hand",
        "marked {n} unknown base images to pin by hand",
    ),
    (
        "non-root-user",
        "set a non-root USER for the final stage",
        "set a non-root USER for the final stage",
    ),
    (
        "merge-run",
        "merged {n} group of consecutive RUN instructions",
        "merged {n} groups of consecutive RUN instructions",
    ),
    (
        "no-install-recommends",
        "added --no-install-recommends to {n} apt-get install",
        "added --no-install-recommends to {n} apt-get installs",
    ),
    (
        "apt-lists-cleanup",
        "removed the apt package lists in {n} RUN",
        "removed the apt package lists in {n} RUNs",
    ),
    (
        "apk-no-cache",
        "added --no-cache to {n} apk add",
        "added --no-cache to {n} apk adds",
    ),
    (
        "pip-no-cache-dir",
        "added --no-cache-dir to {n} pip install",
        "added --no-cache-dir to {n} pip installs",
    ),
];

pub(crate) fn explanation(
    changes: &[Change],
    original_layers: usize,
    optimized_layers: usize,
) -> String {
    let mut parts = Vec::new();
    for (rule, one, many) in SUMMARIES {
        let n = changes
            .iter()
            .filter(|c| c.applied && c.rule == *rule)
            .count();
        if n > 0 {
            let template = if n == 1 { one } else { many };
            parts.push(template.replace("{n}", &n.to_string()));
        }
    }
    let mut text = if parts.is_empty() {
        "No changes: the Dockerfile already follows the rules this optimizer applies (pinned base images, \
         merged RUN layers, apt/apk/pip cache hygiene, a non-root user)."
            .to_string()
    } else {
        let mut sentence = parts.join("; ");
        if let Some(first) = sentence.get(..1) {
            sentence = first.to_uppercase() + &sentence[1..];
        }
        format!("{sentence}. Layer-creating instructions (RUN/COPY/ADD): {original_layers} -> {optimized_layers}.")
    };
    for change in changes.iter().filter(|c| !c.applied) {
        text.push_str(&format!(
            " Not changed (line {}): {}",
            change.line, change.fix
        ));
        if !text.ends_with('.') {
            text.push('.');
        }
    }
    text
}
