//! STUB — owned by the optimizer/scanner helper; replaced wholesale. Keep these signatures.

/// A file the image carries besides the binaries.
#[derive(Debug, Clone)]
pub struct ImageFile {
    /// Absolute path inside the image.
    pub path: String,
    pub contents: Vec<u8>,
    /// Unix permission bits, e.g. 0o644.
    pub mode: u32,
}

/// Every asset file of the image for `release` (config, scanner DB and mirror, VERSION file).
pub fn image_files(_release: &str) -> Vec<ImageFile> {
    Vec::new()
}

/// The sample corpus of Dockerfiles the traffic sends: (name, content).
pub fn corpus() -> Vec<(&'static str, &'static str)> {
    Vec::new()
}
