//! The agent release: the image's `VERSION` file, or the crate version outside an image.

use crate::paths::RELEASE_FILE;

/// The release versions firedrill can build images for, newest last.
/// `1.4.3` is the security patch release (dependency bumps and a patched base, see
/// [`crate::sbom`]); `1.5.0` is the release with a regression (bad-release drills roll back
/// from it).
pub const KNOWN_RELEASES: [&str; 4] = ["1.3.0", "1.4.2", "1.4.3", "1.5.0"];

/// The release a sandbox runs unless told otherwise.
pub const DEFAULT_RELEASE: &str = "1.4.2";

/// The release this process runs as.
pub fn current() -> String {
    std::fs::read_to_string(RELEASE_FILE)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_RELEASE.to_string())
}
