//! The rewrite rules. Each rule edits the parsed Dockerfile in place and reports what it
//! found and what it did as [`Change`]s; `optimize` keeps the rewrite, `analyze` only the reports.

mod merge_runs;
mod package_managers;
mod pin_base_images;
mod user;

use super::parser::{Dockerfile, Instruction, Item};

pub(crate) use merge_runs::merge_runs;
pub(crate) use package_managers::{apt_lists_cleanup, package_manager_flags};
pub(crate) use pin_base_images::pin_base_images;
pub(crate) use user::non_root_user;

/// Whether a change hardens the image or slims its layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    Security,
    Layers,
}

/// One finding of a rule, with both phrasings: the problem (for `analyze`) and what was
/// done about it (for `optimize`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub rule: &'static str,
    /// 1-based line in the input; for instructions a rule added, the line they relate to.
    pub line: usize,
    pub category: Category,
    pub problem: String,
    pub fix: String,
    /// False when the rule found a problem it deliberately does not rewrite.
    pub applied: bool,
}

/// Runs every rule in order. The order matters: pins read the package manager a stage uses,
/// the user rule runs before merging so its `RUN` can join the RUN before it, and the
/// apt cleanup runs last so a merged RUN gets a single `rm -rf /var/lib/apt/lists/*`.
pub(crate) fn apply_all(dockerfile: &mut Dockerfile) -> Vec<Change> {
    let mut changes = Vec::new();
    changes.extend(pin_base_images(dockerfile));
    changes.extend(non_root_user(dockerfile));
    changes.extend(merge_runs(dockerfile));
    changes.extend(package_manager_flags(dockerfile));
    changes.extend(apt_lists_cleanup(dockerfile));
    changes.sort_by_key(|change| change.line);
    changes
}

/// Replaces an instruction's arguments and marks it for re-rendering.
fn rewrite(instruction: &mut Instruction, args: String) {
    instruction.args = args;
    instruction.original = None;
}

fn instruction_at(dockerfile: &Dockerfile, index: usize) -> Option<&Instruction> {
    match dockerfile.items.get(index) {
        Some(Item::Instruction(instruction)) => Some(instruction),
        _ => None,
    }
}
