//! The files the image carries besides the binaries, and the sample Dockerfiles the traffic
//! generator sends. Everything is compiled in, so firedrill needs nothing on disk to build
//! an image.

use time::{OffsetDateTime, Time};

use crate::paths::{RELEASE_FILE, SBOM_FILE, TRIVY_DB, TRIVY_DB_MIRROR};
use crate::sbom::{BaseLayer, Sbom};
use crate::scanner::Database;

/// The shipped default configuration.
const CONFIG_YML: &str = include_str!("../assets/config.yml");
/// The shipped vulnerability DB (its checksum is verified by the scanner's tests).
const VULNERABILITY_DB: &str = include_str!("../assets/trivy/vulnerabilities.json");

/// A file the image carries besides the binaries.
#[derive(Debug, Clone)]
pub struct ImageFile {
    /// Absolute path inside the image.
    pub path: String,
    pub contents: Vec<u8>,
    /// Unix permission bits, e.g. 0o644.
    pub mode: u32,
}

/// Every asset file of the image for `release` built on `base` (config, scanner DB and
/// mirror, VERSION file, SBOM).
///
/// The DB and its mirror are stamped `updated_at` = today 00:00 UTC: a freshly built image
/// has a fresh DB, as an image built by a real pipeline would, so a stale DB is something a
/// drill does on purpose rather than the baseline. Whole days keep builds of the same day
/// byte-identical. Only `updated_at` changes; the checksum covers the entries.
pub fn image_files(release: &str, base: &BaseLayer) -> Vec<ImageFile> {
    let database = fresh_database();
    vec![
        ImageFile {
            path: crate::paths::CONFIG_FILE.to_string(),
            contents: CONFIG_YML.as_bytes().to_vec(),
            mode: 0o644,
        },
        ImageFile {
            path: TRIVY_DB.to_string(),
            contents: database.clone().into_bytes(),
            mode: 0o644,
        },
        ImageFile {
            path: TRIVY_DB_MIRROR.to_string(),
            contents: database.into_bytes(),
            mode: 0o644,
        },
        ImageFile {
            path: RELEASE_FILE.to_string(),
            contents: format!("{release}\n").into_bytes(),
            mode: 0o644,
        },
        ImageFile {
            path: SBOM_FILE.to_string(),
            contents: Sbom::for_release(release, base).to_json().into_bytes(),
            mode: 0o644,
        },
    ]
}

fn fresh_database() -> String {
    let mut database =
        Database::from_bytes(std::path::Path::new(TRIVY_DB), VULNERABILITY_DB.as_bytes())
            .expect("the shipped vulnerability DB verifies (see scanner::db tests)");
    database.stamp(OffsetDateTime::now_utc().replace_time(Time::MIDNIGHT));
    database.to_json()
}

/// `(name, contents)` of one corpus file, compiled in.
macro_rules! corpus_file {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../assets/corpus/", $name, ".Dockerfile")),
        )
    };
}

/// The sample corpus of Dockerfiles the traffic sends: (name, content). A mix of stacks
/// (Python, Node, Go, Java, nginx, plain distributions), of tidy files and of the usual
/// problems: `:latest`, apt without cleanup, runs of RUNs, old vulnerable bases and pins.
pub fn corpus() -> Vec<(&'static str, &'static str)> {
    vec![
        corpus_file!("alpine-latest-script"),
        corpus_file!("debian-latest-cron"),
        corpus_file!("django-legacy"),
        corpus_file!("express-node14"),
        corpus_file!("fastapi-good"),
        corpus_file!("flask-latest"),
        corpus_file!("go-distroless"),
        corpus_file!("go-old-alpine"),
        corpus_file!("internal-base-latest"),
        corpus_file!("java-openjdk8"),
        corpus_file!("java-spring"),
        corpus_file!("ml-worker-cache-mount"),
        corpus_file!("nginx-static-good"),
        corpus_file!("node-next-good"),
        corpus_file!("react-nginx-multistage"),
        corpus_file!("ubuntu-bionic-tools"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::{db_verify, DbInfo};

    #[test]
    fn image_files_carry_config_db_mirror_release_and_sbom() {
        let files = image_files("1.4.2", &BaseLayer::default());
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                crate::paths::CONFIG_FILE,
                TRIVY_DB,
                TRIVY_DB_MIRROR,
                RELEASE_FILE,
                SBOM_FILE
            ]
        );
        let sbom = Sbom::from_json(&String::from_utf8_lossy(&files[4].contents)).unwrap();
        assert_eq!(sbom.metadata.component.version, "1.4.2");
        assert_eq!(files[3].contents, b"1.4.2\n");
        assert!(files.iter().all(|f| f.mode == 0o644));
        assert_eq!(files[1].contents, files[2].contents);
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.json");
        std::fs::write(&db, &files[1].contents).unwrap();
        let info: DbInfo = db_verify(&db).unwrap();
        assert_eq!(info.age_days, 0);
        assert!(info.updated_at.ends_with("T00:00:00Z"));
    }

    #[test]
    fn the_corpus_parses_and_mixes_good_and_bad() {
        let corpus = corpus();
        assert!(corpus.len() >= 15);
        let mut unchanged = 0;
        for (name, text) in &corpus {
            let result = crate::optimizer::optimize(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            if result.optimized_dockerfile == *text {
                unchanged += 1;
            }
        }
        assert!(
            (3..=6).contains(&unchanged),
            "{unchanged} corpus files need no change"
        );
    }
}
