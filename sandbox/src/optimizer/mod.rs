//! The Dockerfile optimizer: parses a Dockerfile, applies rewrite rules (pinned base images,
//! merged RUN layers, package-manager hygiene, a non-root user) and explains what it did.
//! `analyze` reports the same findings without rewriting. Scan scoring lives in [`score`].

mod base_images;
mod error;
mod explain;
pub(crate) mod parser;
mod rules;
pub mod score;
pub(crate) mod shell;
pub(crate) mod stages;
mod variables;

use serde::Serialize;

pub use error::DockerfileError;
pub use parser::MAX_DOCKERFILE_BYTES;
pub use score::{summarize, ScanSummary};

use rules::{Category, Change};

/// One thing a rule found (for `analyze`) or changed (for `optimize`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `pin-base-image`, `merge-run`, `non-root-user`.
    pub rule: String,
    pub description: String,
    /// 1-based line of the input the finding is about.
    pub line: usize,
}

/// The result of [`optimize`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Optimization {
    pub optimized_dockerfile: String,
    pub explanation: String,
    pub security_fixes: Vec<Finding>,
    pub layer_optimizations: Vec<Finding>,
    /// Layer-creating instructions (RUN, COPY, ADD) over all stages, before and after.
    pub original_layers: usize,
    pub optimized_layers: usize,
}

/// The result of [`analyze`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Analysis {
    /// The external image of every FROM, as written (references to earlier stages left out).
    pub base_images: Vec<String>,
    pub findings: Vec<Finding>,
    /// Layer-creating instructions (RUN, COPY, ADD) over all stages.
    pub layers: usize,
}

/// Rewrites `dockerfile` with every rule and explains the changes.
pub fn optimize(dockerfile: &str) -> Result<Optimization, DockerfileError> {
    optimize_unless_cancelled(dockerfile, &|| false)
}

/// [`optimize`], checking `cancelled` while it works (an operator may cancel the job).
pub fn optimize_unless_cancelled(
    dockerfile: &str,
    cancelled: &dyn Fn() -> bool,
) -> Result<Optimization, DockerfileError> {
    let mut parsed = parser::parse(dockerfile);
    parser::validate(dockerfile, &parsed)?;
    // Templated base images are resolved first, as the base-image rules need to know them.
    let build_args = variables::global_build_args(&parsed, cancelled)?;
    let original_layers = parsed.layer_count();
    let changes = rules::apply_all(&mut parsed);
    let optimized_layers = parsed.layer_count();
    let applied = |category: Category| -> Vec<Finding> {
        changes
            .iter()
            .filter(|change| change.applied && change.category == category)
            .map(|change| finding(change, &change.fix))
            .collect()
    };
    let mut explanation = explain::explanation(&changes, original_layers, optimized_layers);
    for image in templated_base_images(&parsed) {
        let resolved = variables::substitute(&image, &build_args);
        explanation.push_str(&format!(
            " Base image {image} resolves to {resolved} with the default build arguments."
        ));
    }
    Ok(Optimization {
        optimized_dockerfile: parsed.render(),
        explanation,
        security_fixes: applied(Category::Security),
        layer_optimizations: applied(Category::Layers),
        original_layers,
        optimized_layers,
    })
}

/// Reports what [`optimize`] would find, without rewriting.
pub fn analyze(dockerfile: &str) -> Result<Analysis, DockerfileError> {
    analyze_unless_cancelled(dockerfile, &|| false)
}

/// [`analyze`], checking `cancelled` while it works (an operator may cancel the job).
pub fn analyze_unless_cancelled(
    dockerfile: &str,
    cancelled: &dyn Fn() -> bool,
) -> Result<Analysis, DockerfileError> {
    let mut parsed = parser::parse(dockerfile);
    parser::validate(dockerfile, &parsed)?;
    let build_args = variables::global_build_args(&parsed, cancelled)?;
    let layers = parsed.layer_count();
    // Templated images are reported as they resolve with the default build arguments.
    let base_images = stages::stages(&parsed)
        .iter()
        .filter(|stage| stage.parent.is_none())
        .map(|stage| variables::substitute(&stage.from.image, &build_args))
        .collect();
    let findings = rules::apply_all(&mut parsed)
        .iter()
        .map(|change| finding(change, &change.problem))
        .collect();
    Ok(Analysis {
        base_images,
        findings,
        layers,
    })
}

/// The external base images written with build arguments (`FROM ${BASE}`).
fn templated_base_images(parsed: &parser::Dockerfile) -> Vec<String> {
    stages::stages(parsed)
        .iter()
        .filter(|stage| stage.parent.is_none() && stage.image().is_templated())
        .map(|stage| stage.from.image.clone())
        .collect()
}

fn finding(change: &Change, description: &str) -> Finding {
    Finding {
        rule: change.rule.to_string(),
        description: description.to_string(),
        line: change.line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSY: &str = "FROM python:latest\nRUN apt-get update\nRUN apt-get install -y gcc\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . /app\nCMD [\"python\", \"/app/main.py\"]\n";

    #[test]
    fn optimizes_a_typical_dockerfile() {
        let result = optimize(MESSY).unwrap();
        assert_eq!(
            result.optimized_dockerfile,
            "FROM python:3.12-slim\n\
             RUN apt-get update && \\\n    apt-get install --no-install-recommends -y gcc && \\\n    rm -rf /var/lib/apt/lists/*\n\
             COPY requirements.txt .\n\
             RUN pip install --no-cache-dir -r requirements.txt\n\
             COPY . /app\n\
             RUN groupadd --system app && \\\n    useradd --system --gid app --no-create-home app\n\
             USER app\n\
             CMD [\"python\", \"/app/main.py\"]\n"
        );
        let security: Vec<_> = result
            .security_fixes
            .iter()
            .map(|f| (f.rule.as_str(), f.line))
            .collect();
        assert_eq!(security, vec![("pin-base-image", 1), ("non-root-user", 7)]);
        let layers: Vec<_> = result
            .layer_optimizations
            .iter()
            .map(|f| (f.rule.as_str(), f.line))
            .collect();
        assert_eq!(
            layers,
            vec![
                ("merge-run", 2),
                ("no-install-recommends", 2),
                ("apt-lists-cleanup", 2),
                ("pip-no-cache-dir", 5)
            ]
        );
        assert_eq!((result.original_layers, result.optimized_layers), (5, 5));
        assert!(
            result.explanation.contains("Pinned 1 base image"),
            "{}",
            result.explanation
        );
    }

    #[test]
    fn analysis_reports_problems_without_rewriting() {
        let analysis = analyze(MESSY).unwrap();
        assert_eq!(analysis.base_images, vec!["python:latest"]);
        assert_eq!(analysis.layers, 5);
        assert_eq!(analysis.findings.len(), 6);
        assert!(analysis.findings[0]
            .description
            .contains("not reproducible"));
    }

    #[test]
    fn a_clean_dockerfile_is_returned_unchanged() {
        let clean = "FROM python:3.12-slim\nRUN pip install --no-cache-dir flask==3.0.2\nUSER nobody\nCMD [\"flask\", \"run\"]\n";
        let result = optimize(clean).unwrap();
        assert_eq!(result.optimized_dockerfile, clean);
        assert!(result.security_fixes.is_empty() && result.layer_optimizations.is_empty());
        assert!(result.explanation.starts_with("No changes"));
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            optimize("").unwrap_err().to_string(),
            "dockerfile content is required"
        );
        assert_eq!(
            analyze("RUN echo hi\n").unwrap_err().to_string(),
            "line 1: a Dockerfile must start with FROM (only ARG may come before it), found RUN"
        );
    }

    #[test]
    fn templated_base_images_are_resolved_and_a_cycle_can_be_cancelled() {
        let templated = "ARG TAG=3.12\nARG BASE=python:${TAG}-slim\nFROM ${BASE}\nUSER app\n";
        assert_eq!(
            analyze(templated).unwrap().base_images,
            ["python:3.12-slim"]
        );
        assert!(optimize(templated)
            .unwrap()
            .explanation
            .contains("Base image ${BASE} resolves to python:3.12-slim"));
        let cyclic = "ARG A=${B}\nARG B=${A}\nFROM ${A}\n";
        let cancel_soon = std::sync::atomic::AtomicUsize::new(0);
        let cancelled = || cancel_soon.fetch_add(1, std::sync::atomic::Ordering::Relaxed) > 100;
        assert_eq!(
            optimize_unless_cancelled(cyclic, &cancelled),
            Err(DockerfileError::Cancelled)
        );
        cancel_soon.store(0, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(
            analyze_unless_cancelled(cyclic, &cancelled),
            Err(DockerfileError::Cancelled)
        );
    }

    #[test]
    fn optimizing_is_idempotent_over_the_corpus() {
        for (name, text) in crate::assets::corpus() {
            let once = optimize(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let twice = optimize(&once.optimized_dockerfile).unwrap();
            assert_eq!(
                twice.optimized_dockerfile, once.optimized_dockerfile,
                "{name}"
            );
            assert!(
                twice
                    .security_fixes
                    .iter()
                    .all(|f| f.rule == "unpinned-base-image"),
                "{name}: {:?}",
                twice.security_fixes
            );
            assert!(
                twice.layer_optimizations.is_empty(),
                "{name}: {:?}",
                twice.layer_optimizations
            );
        }
    }
}
