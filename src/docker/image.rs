//! The sandbox image: built offline `FROM scratch`, cached by the digest of its content.

use std::fs::File;
use std::path::PathBuf;

use bollard::query_parameters::{BuildImageOptionsBuilder, RemoveImageOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;

use super::labels;
use super::rootfs::{BuildContext, ImageInputs};
use crate::error::{Error, Result};
use crate::interrupt::Interrupt;
use crate::ui::Progress;

/// How often a running build checks whether the user interrupted it.
const INTERRUPT_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Repository of the sandbox images; the tag is the agent release.
pub const REPOSITORY: &str = "firedrill/optimizer-agent";

/// A sandbox image ready to run.
#[derive(Debug, Clone)]
pub struct SandboxImage {
    /// `firedrill/optimizer-agent:<release>`
    pub tag: String,
    pub release: String,
    /// Fingerprint of the image's inputs, its `io.firedrill.inputs` label (the cache key).
    pub fingerprint: String,
    /// Whether this call built it (false: the cached image matched).
    pub built: bool,
    /// Whether the image has busybox shell tools.
    pub has_busybox: bool,
}

/// The image tag of an agent release.
pub fn tag_for(release: &str) -> String {
    format!("{REPOSITORY}:{release}")
}

/// Checks `release` is one firedrill can build.
pub fn check_release(release: &str) -> Result<()> {
    if optimizer_agent::version::KNOWN_RELEASES.contains(&release) {
        Ok(())
    } else {
        Err(Error::UnknownVersion {
            version: release.to_string(),
            known: optimizer_agent::version::KNOWN_RELEASES.join(", "),
        })
    }
}

/// Returns the image of `release`, building it only when its content changed.
///
/// Builds are serialised across processes with a lock file, so parallel commands (or tests)
/// never build the same image twice at once.
pub async fn ensure(
    docker: &Docker,
    release: &str,
    session: &str,
    progress: &Progress,
    interrupt: &Interrupt,
) -> Result<SandboxImage> {
    check_release(release)?;
    let tag = tag_for(release);
    progress.step(format!("checking image {tag}"));
    let inputs = tokio::task::spawn_blocking(ImageInputs::discover)
        .await
        .expect("the input discovery task does not panic")?;
    let fingerprint = inputs.fingerprint(release);
    let _lock = BuildLock::acquire().await?;
    let image = SandboxImage {
        tag: tag.clone(),
        release: release.to_string(),
        fingerprint: fingerprint.clone(),
        built: false,
        has_busybox: inputs.has_busybox(),
    };
    if cached_fingerprint(docker, &tag).await.as_deref() == Some(fingerprint.as_str()) {
        return Ok(image);
    }
    if !inputs.has_busybox() {
        tracing::warn!(
            "no busybox on this host (install Debian's busybox-static): the sandbox image will have \
             no shell tools (sh, ps, top, ls) for trainees"
        );
    }
    let context = {
        let release = release.to_string();
        tokio::task::spawn_blocking(move || inputs.build_context(&release))
            .await
            .expect("the build-context task does not panic")?
    };
    progress.step(format!(
        "building image {tag} ({} MiB context)",
        context.tar.len() / (1024 * 1024)
    ));
    let previous_id = image_id(docker, &tag).await;
    interrupt.check()?;
    build(
        docker,
        &tag,
        release,
        session,
        &fingerprint,
        context,
        interrupt,
    )
    .await?;
    remove_replaced(docker, previous_id, &tag).await;
    Ok(SandboxImage {
        built: true,
        ..image
    })
}

async fn build(
    docker: &Docker,
    tag: &str,
    release: &str,
    session: &str,
    fingerprint: &str,
    context: BuildContext,
    interrupt: &Interrupt,
) -> Result<()> {
    let image_labels = labels::owned(
        session,
        &[
            (labels::RELEASE, release),
            (labels::INPUTS, fingerprint),
            (labels::CONTENT_HASH, &context.content_hash),
        ],
    );
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .forcerm(true)
        // Everything comes from the context: the build needs, and gets, no network at all.
        .networkmode("none")
        .labels(&image_labels)
        .build();
    let mut stream =
        docker.build_image(options, None, Some(bollard::body_full(context.tar.into())));
    let build_error = |detail: String| Error::ImageBuild {
        tag: tag.to_string(),
        detail,
    };
    loop {
        // Dropping the stream closes the connection, which makes the engine cancel the build.
        interrupt.check()?;
        let message = match tokio::time::timeout(INTERRUPT_POLL, stream.next()).await {
            Err(_still_building) => continue,
            Ok(None) => break,
            Ok(Some(message)) => message,
        };
        let info = message.map_err(|e| build_error(e.to_string()))?;
        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
            return Err(build_error(detail));
        }
        if let Some(line) = info
            .stream
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            tracing::debug!(target: "firedrill::build", "{line}");
        }
    }
    Ok(())
}

/// The inputs fingerprint label of the image currently tagged `tag`, if any.
async fn cached_fingerprint(docker: &Docker, tag: &str) -> Option<String> {
    let inspect = docker.inspect_image(tag).await.ok()?;
    let image_labels = inspect.config?.labels?;
    image_labels.get(labels::INPUTS).cloned()
}

async fn image_id(docker: &Docker, tag: &str) -> Option<String> {
    docker.inspect_image(tag).await.ok()?.id
}

/// Removes the image a rebuild untagged, if it was firedrill's and nothing uses it.
async fn remove_replaced(docker: &Docker, previous_id: Option<String>, tag: &str) {
    let Some(previous_id) = previous_id else {
        return;
    };
    let Ok(previous) = docker.inspect_image(&previous_id).await else {
        return;
    };
    let still_tagged = previous
        .repo_tags
        .as_ref()
        .is_some_and(|tags| tags.iter().any(|t| t == tag));
    let managed = labels::is_managed(previous.config.as_ref().and_then(|c| c.labels.as_ref()));
    if still_tagged || !managed {
        return;
    }
    let options = RemoveImageOptionsBuilder::default().build();
    if let Err(error) = docker.remove_image(&previous_id, Some(options), None).await {
        // In use by a running sandbox: `firedrill cleanup` removes it once that sandbox is gone.
        tracing::debug!("kept replaced image {previous_id}: {error}");
    }
}

/// An exclusive lock on a file in the temp dir, held while an image is checked and built.
struct BuildLock {
    _file: File,
}

impl BuildLock {
    async fn acquire() -> Result<BuildLock> {
        let path: PathBuf = std::env::temp_dir().join("firedrill-image-build.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| Error::Io {
                action: "opening the image build lock",
                path: path.clone(),
                source,
            })?;
        let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .expect("the lock task does not panic")
            .map_err(|source| Error::Io {
                action: "locking",
                path,
                source,
            })?;
        Ok(BuildLock { _file: file })
    }
}
